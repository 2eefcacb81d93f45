/*
 * repo_rights.c - the store's data-rights table (core/store/store_rights.h) over
 * PostgreSQL: the reads of an export, exports and their parts, and erasure.  The SQL is in
 * stmts_rights.h.
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "store/store_rights.h"

#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* Where a keyset page starts: after the nil UUID when the caller gave no position. */
static const struct ql_uuid nil;

static const struct ql_uuid *from(const struct ql_uuid *after)
{
    return after ? after : &nil;
}

/* A page of st for user after *after, limit rows of size bytes read with read. */
static int user_page(struct ql_store *self, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql_uuid *user, const struct ql_uuid *after, int limit,
                     size_t size, ql__pg_row_fn read, void **rows, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_uuid(&p, from(after));
    ql__pg_p_int(&p, limit + 1);
    return ql__pg_page(pg_of(self), cx, st, &p, limit, size, read, rows, n, more);
}

/* A nullable text column as ql__pg_text reads it: 0, or QL_ENOMEM when it had a value. */
static int nullable_ok(const PGresult *r, int row, int col, const char *got)
{
    return got == NULL && !PQgetisnull(r, row, col) ? QL_ENOMEM : QL_OK;
}

/* ---- what an export holds ------------------------------------------------------------------ */

static int read_account(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_rights_account *a = dst;
    ql__pg_uuid(r, row, 0, &a->user.id);
    a->user.email = ql__pg_text(cx, r, row, 1);
    a->user.display_name = ql__pg_text(cx, r, row, 2);
    a->user.password_hash = ql__pg_text(cx, r, row, 3);
    a->user.created_ms = ql__pg_ts_ms(r, row, 4);
    a->user.updated_ms = ql__pg_ts_ms(r, row, 5);
    a->oidc_issuer = ql__pg_text(cx, r, row, 6);
    a->oidc_subject = ql__pg_text(cx, r, row, 7);
    if (!a->user.email || !a->user.display_name || nullable_ok(r, row, 3, a->user.password_hash) ||
        nullable_ok(r, row, 6, a->oidc_issuer) || nullable_ok(r, row, 7, a->oidc_subject))
        return ql_error_nomem(&cx->err);
    return QL_OK;
}

static int r_account(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                     struct ql_rights_account *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    memset(out, 0, sizeof(*out));
    return ql__pg_one(pg_of(self), cx, QL__ST_R_ACCOUNT, &p, read_account, out);
}

static int read_membership(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_rights_membership *m = dst;
    ql__pg_uuid(r, row, 0, &m->team_id);
    m->team_name = ql__pg_text(cx, r, row, 1);
    m->role = ql_role_parse(PQgetvalue(r, row, 2), (size_t)PQgetlength(r, row, 2));
    m->joined_ms = ql__pg_ts_ms(r, row, 3);
    m->team_deleted = ql__pg_bool(r, row, 4);
    return m->team_name ? QL_OK : ql_error_nomem(&cx->err);
}

static int r_memberships(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         const struct ql_uuid *after, int limit, struct ql_rights_membership **out,
                         int *n, int *more)
{
    void *rows;
    int rc = user_page(self, cx, QL__ST_R_MEMBERSHIPS, user, after, limit, sizeof(**out),
                       read_membership, &rows, n, more);
    *out = rows;
    return rc;
}

/* A row of r_entries: its entry, or QL__PG_CUT where the page's bytes end (stmts_rights.h). */
static int read_entry(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return PQgetisnull(r, row, 5) ? QL__PG_CUT : ql__pg_read_entry(cx, r, row, dst);
}

static int r_entries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                     const struct ql_uuid *after, int limit, struct ql_entry **out, int *n,
                     int *more)
{
    void *rows;
    int rc = user_page(self, cx, QL__ST_R_ENTRIES, user, after, limit, sizeof(**out), read_entry,
                       &rows, n, more);
    *out = rows;
    return rc;
}

static int read_session(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)cx;
    struct ql_rights_session *s = dst;
    ql__pg_uuid(r, row, 0, &s->id);
    s->created_ms = ql__pg_ts_ms(r, row, 1);
    s->last_seen_ms = ql__pg_ts_ms(r, row, 2);
    s->expires_ms = ql__pg_ts_ms(r, row, 3);
    return QL_OK;
}

static int r_sessions(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const struct ql_uuid *after, int limit, struct ql_rights_session **out,
                      int *n, int *more)
{
    void *rows;
    int rc = user_page(self, cx, QL__ST_R_SESSIONS, user, after, limit, sizeof(**out), read_session,
                       &rows, n, more);
    *out = rows;
    return rc;
}

static int read_key(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_rights_key *k = dst;
    ql__pg_uuid(r, row, 0, &k->key.id);
    ql__pg_uuid(r, row, 1, &k->key.team_id);
    k->key.name = ql__pg_text(cx, r, row, 2);
    k->key.role = ql_role_parse(PQgetvalue(r, row, 3), (size_t)PQgetlength(r, row, 3));
    k->key.prefix = ql__pg_text(cx, r, row, 4);
    k->key.created_ms = ql__pg_ts_ms(r, row, 5);
    k->key.expires_ms = ql__pg_ts_ms_or_0(r, row, 6);
    k->key.last_used_ms = ql__pg_ts_ms_or_0(r, row, 7);
    k->revoked_ms = ql__pg_ts_ms_or_0(r, row, 8);
    return k->key.name && k->key.prefix ? QL_OK : ql_error_nomem(&cx->err);
}

static int r_api_keys(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const struct ql_uuid *after, int limit, struct ql_rights_key **out, int *n,
                      int *more)
{
    void *rows;
    int rc = user_page(self, cx, QL__ST_R_KEYS, user, after, limit, sizeof(**out), read_key, &rows,
                       n, more);
    *out = rows;
    return rc;
}

/* Columns: chain, seq, audit_id, team_id, at, actor, action, target_type, target_id. */
static int read_audit(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_rights_audit *a = dst;
    a->chain = ql__pg_text(cx, r, row, 0);
    a->e.seq = ql__pg_int8(r, row, 1);
    ql__pg_uuid(r, row, 2, &a->e.id);
    if ((a->has_team = !PQgetisnull(r, row, 3)))
        ql__pg_uuid(r, row, 3, &a->team_id);
    a->e.at_ms = ql__pg_ts_ms(r, row, 4);
    a->e.actor = ql__pg_text(cx, r, row, 5);
    a->e.action = ql__pg_text(cx, r, row, 6);
    a->e.target_type = ql__pg_text(cx, r, row, 7);
    a->e.target_id = ql__pg_text(cx, r, row, 8);
    return a->chain && a->e.actor && a->e.action && a->e.target_type && a->e.target_id
               ? QL_OK
               : ql_error_nomem(&cx->err);
}

static int r_audit(struct ql_store *self, struct ql_ctx *cx, const char *actor, const char *target,
                   const char *after_chain, int64_t after_seq, int limit,
                   struct ql_rights_audit **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, actor);
    ql__pg_p_text(&p, target);
    ql__pg_p_text(&p, after_chain ? after_chain : "");
    ql__pg_p_int(&p, after_chain ? after_seq : 0);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_R_AUDIT, &p, limit, sizeof(**out), read_audit,
                         &rows, n, more);
    *out = rows;
    return rc;
}

/* ---- exports ------------------------------------------------------------------------------- */

static int status_of(const char *s)
{
    return strcmp(s, "ready") == 0    ? QL_EXPORT_READY
           : strcmp(s, "failed") == 0 ? QL_EXPORT_FAILED
                                      : QL_EXPORT_PENDING;
}

static const char *status_name(int status)
{
    return status == QL_EXPORT_READY ? "ready" : status == QL_EXPORT_FAILED ? "failed" : "pending";
}

/* An export from columns at c: id, user, status, error, bytes, created, ready, expires. */
static int export_at(struct ql_ctx *cx, const PGresult *r, int row, int c, struct ql_export *e)
{
    memset(e, 0, sizeof(*e));
    ql__pg_uuid(r, row, c, &e->id);
    ql__pg_uuid(r, row, c + 1, &e->user_id);
    e->status = status_of(PQgetvalue(r, row, c + 2));
    e->error = ql__pg_text(cx, r, row, c + 3);
    e->bytes = ql__pg_int8(r, row, c + 4);
    e->created_ms = ql__pg_ts_ms(r, row, c + 5);
    e->ready_ms = ql__pg_ts_ms_or_0(r, row, c + 6);
    e->expires_ms = ql__pg_ts_ms(r, row, c + 7);
    return nullable_ok(r, row, c + 3, e->error) ? ql_error_nomem(&cx->err) : QL_OK;
}

static int read_export(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return export_at(cx, r, row, 0, dst);
}

static int x_state(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                   int64_t now_ms, struct ql_export *pending, int *has_pending, int *live,
                   int64_t *first_expiry_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_EXPORT_STATE, &p, &r);
    if (rc)
        return rc;
    *has_pending = *live = 0;
    *first_expiry_ms = 0;
    if (PQntuples(r) == 0) {
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    } else {
        *live = (int)ql__pg_int8(r, 0, 0);
        *first_expiry_ms = ql__pg_ts_ms_or_0(r, 0, 1);
        *has_pending = !PQgetisnull(r, 0, 2);
        if (*has_pending)
            rc = export_at(cx, r, 0, 2, pending);
    }
    PQclear(r);
    return rc;
}

static int x_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &e->id);
    ql__pg_p_uuid(&p, &e->user_id);
    ql__pg_p_ts(&p, e->created_ms);
    ql__pg_p_ts(&p, e->expires_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_EXPORT_INSERT, &p);
}

static int x_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_export *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return ql__pg_one(pg_of(self), cx, QL__ST_EXPORT_GET, &p, read_export, out);
}

static int x_reset(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return ql__pg_run(pg_of(self), cx, QL__ST_EXPORT_RESET, &p);
}

static int x_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int part,
                    const char *data, size_t n)
{
    if (n > INT32_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "export part too large");
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_int(&p, part);
    ql__pg_p_bytes(&p, data, (int)n); /* text in binary format: its bytes as they are */
    return ql__pg_run(pg_of(self), cx, QL__ST_EXPORT_APPEND, &p);
}

static int x_finish(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &e->id);
    ql__pg_p_text(&p, status_name(e->status));
    ql__pg_p_text(&p, e->error);
    ql__pg_p_int(&p, e->bytes);
    ql__pg_p_ts_or_null(&p, e->ready_ms);
    ql__pg_p_ts(&p, e->expires_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_EXPORT_FINISH, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

static int read_part(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_export_part *part = dst;
    part->part = ql__pg_int4(r, row, 0);
    part->n = (size_t)PQgetlength(r, row, 1);
    part->data = ql__pg_text(cx, r, row, 1);
    return part->data ? QL_OK : ql_error_nomem(&cx->err);
}

static int x_parts(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int after,
                   int limit, struct ql_export_part **out, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_int(&p, after);
    ql__pg_p_int(&p, limit);
    void *rows;
    int more;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_EXPORT_PARTS, &p, limit, sizeof(**out), read_part,
                         &rows, n, &more);
    *out = rows;
    return rc;
}

/* Run st with one parameter (a time, or a user) and count the rows it touched into *n. */
static int count_run(struct ql_store *self, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql__pg_params *p, int64_t *n)
{
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, st, p, &r);
    *n = rc == QL_OK ? ql__pg_affected(r) : 0;
    PQclear(r);
    return rc;
}

static int x_purge(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    return count_run(self, cx, QL__ST_EXPORTS_PURGE, &p, n);
}

static int x_remove_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    return count_run(self, cx, QL__ST_EXPORTS_REMOVE_USER, &p, n);
}

/* ---- erasure ------------------------------------------------------------------------------- */

static int e_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                  int64_t now_ms, const char **email)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_ERASE_USER, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    else if ((*email = ql__pg_text(cx, r, 0, 0)) == NULL)
        rc = ql_error_nomem(&cx->err);
    PQclear(r);
    return rc;
}

static int read_erased(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)cx;
    struct ql_erased_entry *e = dst;
    ql__pg_uuid(r, row, 0, &e->team_id);
    ql__pg_uuid(r, row, 1, &e->id);
    e->was_live = ql__pg_bool(r, row, 2);
    return QL_OK;
}

static int e_entries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                     int limit, struct ql_erased_entry **out, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_int(&p, limit);
    void *rows;
    int more;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_ERASE_ENTRIES, &p, limit, sizeof(**out),
                         read_erased, &rows, n, &more);
    *out = rows;
    return rc;
}

static int e_deliveries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *after,
                        int limit, const char *p1, const char *p2, struct ql_uuid *last,
                        int *scanned, int *deleted)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, from(after));
    ql__pg_p_int(&p, limit);
    ql__pg_p_text(&p, p1);
    ql__pg_p_text(&p, p2);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_SCRUB_DELIVERIES, &p, &r);
    if (rc)
        return rc;
    *scanned = (int)ql__pg_int8(r, 0, 1);
    *deleted = (int)ql__pg_int8(r, 0, 2);
    if (*scanned > 0)
        ql__pg_uuid(r, 0, 0, last);
    PQclear(r);
    return QL_OK;
}

static int e_idem_scope(struct ql_store *self, struct ql_ctx *cx, const char *scope, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, scope);
    return count_run(self, cx, QL__ST_IDEM_REMOVE_SCOPE, &p, n);
}

/*
 * Columns: scope, key, fingerprint, status, response, created_at, expires_at; no response:
 * the page's bytes end before this row (QL__PG_CUT, stmts_rights.h).
 */
static int read_idem(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_idem_row *x = dst;
    if (PQgetisnull(r, row, 4))
        return QL__PG_CUT;
    x->scope = ql__pg_text(cx, r, row, 0);
    x->key = ql__pg_text(cx, r, row, 1);
    if (PQgetlength(r, row, 2) == QL_DIGEST_LEN)
        memcpy(x->r.fingerprint, PQgetvalue(r, row, 2), QL_DIGEST_LEN);
    x->r.status = ql__pg_int4(r, row, 3);
    x->r.sealed_n = (size_t)PQgetlength(r, row, 4);
    uint8_t *sealed = ql_arena_alloc(cx->arena, x->r.sealed_n ? x->r.sealed_n : 1);
    if (sealed)
        memcpy(sealed, PQgetvalue(r, row, 4), x->r.sealed_n);
    x->r.sealed = sealed;
    x->r.created_ms = ql__pg_ts_ms(r, row, 5);
    x->r.expires_ms = ql__pg_ts_ms(r, row, 6);
    return x->scope && x->key && sealed ? QL_OK : ql_error_nomem(&cx->err);
}

static int e_idem_page(struct ql_store *self, struct ql_ctx *cx, const char *after_scope,
                       const char *after_key, int limit, struct ql_idem_row **out, int *n,
                       int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, after_scope ? after_scope : "");
    ql__pg_p_text(&p, after_scope ? after_key : "");
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_IDEM_PAGE, &p, limit, sizeof(**out), read_idem,
                         &rows, n, more);
    *out = rows;
    return rc;
}

static int e_idem_remove(struct ql_store *self, struct ql_ctx *cx, const char *scope,
                         const char *key)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, scope);
    ql__pg_p_text(&p, key);
    return ql__pg_run(pg_of(self), cx, QL__ST_IDEM_REMOVE, &p);
}

const struct ql_rights_ops ql__pg_rights_ops = {
    .account = r_account,
    .memberships = r_memberships,
    .entries = r_entries,
    .sessions = r_sessions,
    .api_keys = r_api_keys,
    .audit = r_audit,
    .export_state = x_state,
    .export_insert = x_insert,
    .export_get = x_get,
    .export_reset = x_reset,
    .export_append = x_append,
    .export_finish = x_finish,
    .export_parts = x_parts,
    .exports_purge = x_purge,
    .exports_remove_user = x_remove_user,
    .erase_user = e_user,
    .erase_entries = e_entries,
    .scrub_deliveries = e_deliveries,
    .idem_remove_scope = e_idem_scope,
    .idem_page = e_idem_page,
    .idem_remove = e_idem_remove,
};
