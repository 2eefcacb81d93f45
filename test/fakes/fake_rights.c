/*
 * fake_rights.c - the fake store's data-rights table (struct ql_rights_ops): the reads of
 * an export over the other fake tables, exports and their parts, and erasure.  Exports and
 * parts live in the table range that begin() saves, so a rollback takes them back; strings
 * are kept in the store's arena.  Keyset orders are those of the PostgreSQL adapter.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int before(const struct ql_uuid *a, const struct ql_uuid *b)
{
    return memcmp(a->b, b->b, 16) < 0;
}

/* Is x after the position after (NULL: everything is)? */
static int past(const struct ql_uuid *x, const struct ql_uuid *after)
{
    return after == NULL || memcmp(x->b, after->b, 16) > 0;
}

/*
 * A keyset page over a fake table: the rows that match (match(s, i, ud)), in id order
 * (id(s, i)), after *after, copied out with put; at most limit.  Small tables: each step
 * looks at every row.
 */
typedef int (*match_fn)(struct fake_store *s, int i, const void *ud);
typedef const struct ql_uuid *(*id_fn)(struct fake_store *s, int i);
typedef void (*put_fn)(struct fake_store *s, int i, void *dst);

static int page(struct fake_store *s, struct ql_ctx *cx, int rows, match_fn match, id_fn id,
                put_fn put, const void *ud, const struct ql_uuid *after, int limit, size_t size,
                void **out, int *n, int *more)
{
    *n = *more = 0;
    char *buf = ql_arena_calloc(cx->arena, (size_t)(limit > 0 ? limit : 1), size);
    *out = buf;
    if (buf == NULL)
        return ql_error_nomem(&cx->err);
    struct ql_uuid pos;
    int has_pos = after != NULL;
    if (after)
        pos = *after;
    for (;;) {
        int best = -1;
        for (int i = 0; i < rows; i++)
            if (match(s, i, ud) && past(id(s, i), has_pos ? &pos : NULL) &&
                (best < 0 || before(id(s, i), id(s, best))))
                best = i;
        if (best < 0)
            return QL_OK;
        if (*n == limit) {
            *more = 1;
            return QL_OK;
        }
        put(s, best, buf + (size_t)(*n)++ * size);
        pos = *id(s, best);
        has_pos = 1;
    }
}

/* ---- what an export holds ------------------------------------------------------------------ */

static int r_account(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                     struct ql_rights_account *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct fake_user *u = fake__user_by(s, user, NULL);
    if (u == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    out->user = u->u;
    out->oidc_issuer = u->iss;
    out->oidc_subject = u->sub;
    return QL_OK;
}

static int member_match(struct fake_store *s, int i, const void *ud)
{
    return fake__same(&s->members[i].user, ud);
}

static const struct ql_uuid *member_id(struct fake_store *s, int i)
{
    return &s->members[i].team;
}

static void member_put(struct fake_store *s, int i, void *dst)
{
    struct ql_rights_membership *m = dst;
    const struct fake_member *f = &s->members[i];
    m->team_id = f->team;
    m->role = f->role;
    m->joined_ms = f->joined;
    m->team_name = "";
    m->team_deleted = 1;
    for (int t = 0; t < s->nteams; t++) {
        if (fake__same(&s->teams[t].t.id, &f->team)) {
            m->team_name = s->teams[t].t.name;
            m->team_deleted = s->teams[t].deleted;
        }
    }
}

static int r_memberships(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         const struct ql_uuid *after, int limit, struct ql_rights_membership **out,
                         int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    void *rows = NULL;
    if (rc == QL_OK)
        rc = page(s, cx, s->nmembers, member_match, member_id, member_put, user, after, limit,
                  sizeof(**out), &rows, n, more);
    *out = rows;
    return rc;
}

static int entry_match(struct fake_store *s, int i, const void *ud)
{
    const struct ql_entry *e = &s->entries[i].e;
    return e->has_author_user && fake__same(&e->author_user, ud);
}

static const struct ql_uuid *entry_id(struct fake_store *s, int i)
{
    return &s->entries[i].e.id;
}

static void entry_put(struct fake_store *s, int i, void *dst)
{
    *(struct ql_entry *)dst = s->entries[i].e;
}

static int r_entries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                     const struct ql_uuid *after, int limit, struct ql_entry **out, int *n,
                     int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    void *rows = NULL;
    if (rc == QL_OK)
        rc = page(s, cx, s->nentries, entry_match, entry_id, entry_put, user, after, limit,
                  sizeof(**out), &rows, n, more);
    *out = rows;
    size_t bytes = 0; /* the page ends after the entry that reaches QL_PAGE_CONTENT_MAX too */
    for (int i = 0; rc == QL_OK && i < *n; i++) {
        bytes += (*out)[i].content_n;
        if (bytes >= QL_PAGE_CONTENT_MAX && i + 1 < *n) {
            *n = i + 1;
            *more = 1;
        }
    }
    return rc;
}

static int session_match(struct fake_store *s, int i, const void *ud)
{
    return s->sessions[i].live && fake__same(&s->sessions[i].user, ud);
}

static const struct ql_uuid *session_id(struct fake_store *s, int i)
{
    return &s->sessions[i].id;
}

static void session_put(struct fake_store *s, int i, void *dst)
{
    struct ql_rights_session *r = dst;
    r->id = s->sessions[i].id;
    r->created_ms = s->sessions[i].created;
    r->last_seen_ms = s->sessions[i].last_seen;
    r->expires_ms = s->sessions[i].expires;
}

static int r_sessions(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const struct ql_uuid *after, int limit, struct ql_rights_session **out,
                      int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    void *rows = NULL;
    if (rc == QL_OK)
        rc = page(s, cx, s->nsessions, session_match, session_id, session_put, user, after, limit,
                  sizeof(**out), &rows, n, more);
    *out = rows;
    return rc;
}

static int key_match(struct fake_store *s, int i, const void *ud)
{
    return s->keys[i].has_creator && fake__same(&s->keys[i].created_by, ud);
}

static const struct ql_uuid *key_id(struct fake_store *s, int i)
{
    return &s->keys[i].k.id;
}

static void key_put(struct fake_store *s, int i, void *dst)
{
    struct ql_rights_key *k = dst;
    k->key = s->keys[i].k;
    k->revoked_ms = s->keys[i].revoked ? s->keys[i].revoked_ms : 0;
}

static int r_api_keys(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const struct ql_uuid *after, int limit, struct ql_rights_key **out, int *n,
                      int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    void *rows = NULL;
    if (rc == QL_OK)
        rc = page(s, cx, s->nkeys, key_match, key_id, key_put, user, after, limit, sizeof(**out),
                  &rows, n, more);
    *out = rows;
    return rc;
}

/* The audit ring's rows that match, with their chain names, sorted by (chain, seq). */
static int by_place(const void *a, const void *b)
{
    const struct ql_rights_audit *x = a, *y = b;
    int c = strcmp(x->chain, y->chain);
    return c ? c : (x->e.seq > y->e.seq) - (x->e.seq < y->e.seq);
}

static int r_audit(struct ql_store *self, struct ql_ctx *cx, const char *actor, const char *target,
                   const char *after_chain, int64_t after_seq, int limit,
                   struct ql_rights_audit **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_nomem(&cx->err);
    if (rc)
        return rc;
    int k = 0;
    for (int i = s->naudit - 1; i >= 0 && i >= s->naudit - FAKE_MAX; i--) {
        const struct fake_audit *a = &s->audit[i % FAKE_MAX];
        if (strcmp(a->e.actor, actor) != 0 && strcmp(a->e.target_id, target) != 0)
            continue;
        struct ql_rights_audit *r = &(*out)[k++];
        r->e = a->e;
        r->has_team = a->has_team;
        r->team_id = a->team;
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&a->team, id);
        r->chain = a->has_team ? ql_arena_sprintf(cx->arena, "team:%s", id) : "account";
        if (r->chain == NULL)
            return ql_error_nomem(&cx->err);
    }
    qsort(*out, (size_t)k, sizeof(**out), by_place);
    int first = 0;
    while (after_chain && first < k &&
           by_place(&(*out)[first],
                    &(struct ql_rights_audit){.chain = after_chain, .e.seq = after_seq}) <= 0)
        first++;
    *n = k - first < limit ? k - first : limit;
    *more = k - first > limit;
    memmove(*out, *out + first, sizeof(**out) * (size_t)*n);
    return QL_OK;
}

/* ---- exports ------------------------------------------------------------------------------- */

static struct fake_export *export_of(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->nexports; i++)
        if (fake__same(&s->exports[i].e.id, id))
            return &s->exports[i];
    return NULL;
}

static int x_state(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                   int64_t now_ms, struct ql_export *pending, int *has_pending, int *live,
                   int64_t *first_expiry_ms)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (fake__user_by(s, user, NULL) == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *has_pending = *live = 0;
    *first_expiry_ms = 0;
    for (int i = 0; i < s->nexports; i++) {
        const struct ql_export *e = &s->exports[i].e;
        if (!fake__same(&e->user_id, user) || e->expires_ms <= now_ms)
            continue;
        (*live)++;
        if (*first_expiry_ms == 0 || e->expires_ms < *first_expiry_ms)
            *first_expiry_ms = e->expires_ms;
        if (e->status == QL_EXPORT_PENDING) {
            *pending = *e;
            *has_pending = 1;
        }
    }
    return QL_OK;
}

static int x_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (s->nexports == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake exports full");
    s->exports[s->nexports++].e = *e;
    return QL_OK;
}

static int x_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_export *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    const struct fake_export *x = rc ? NULL : export_of(s, id);
    if (x)
        *out = x->e;
    return rc ? rc : x ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

/* Drop the parts of export id (NULL: of every export that is gone). */
static void drop_parts(struct fake_store *s, const struct ql_uuid *id)
{
    int k = 0;
    for (int i = 0; i < s->nparts; i++) {
        int gone = id ? fake__same(&s->parts[i].export_id, id)
                      : export_of(s, &s->parts[i].export_id) == NULL;
        if (!gone)
            s->parts[k++] = s->parts[i];
    }
    s->nparts = k;
}

static int x_reset(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc == QL_OK)
        drop_parts(s, id);
    return rc;
}

static int x_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int part,
                    const char *data, size_t n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (export_of(s, id) == NULL)
        return ql_error_set(&cx->err, QL_ECONFLICT, "no such export");
    for (int i = 0; i < s->nparts; i++)
        if (fake__same(&s->parts[i].export_id, id) && s->parts[i].part == part)
            return ql_error_set(&cx->err, QL_ECONFLICT, "part exists");
    if (s->nparts == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake parts full");
    char *copy = ql_arena_strndup(&s->mem, data, n);
    if (copy == NULL)
        return ql_error_nomem(&cx->err);
    s->parts[s->nparts++] = (struct fake_part){*id, part, copy, n};
    return QL_OK;
}

static int x_finish(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_export *x = rc ? NULL : export_of(s, &e->id);
    if (rc)
        return rc;
    if (x == NULL || x->e.status != QL_EXPORT_PENDING)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    x->e.status = e->status;
    x->e.error = fake__keep(s, e->error);
    x->e.bytes = e->bytes;
    x->e.ready_ms = e->ready_ms;
    x->e.expires_ms = e->expires_ms;
    return QL_OK;
}

static int x_parts(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int after,
                   int limit, struct ql_export_part **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    *out = ql_arena_calloc(cx->arena, (size_t)(limit > 0 ? limit : 1), sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_nomem(&cx->err);
    while (rc == QL_OK && *n < limit) {
        const struct fake_part *best = NULL;
        for (int i = 0; i < s->nparts; i++) {
            const struct fake_part *p = &s->parts[i];
            if (fake__same(&p->export_id, id) && p->part > after &&
                (best == NULL || p->part < best->part))
                best = p;
        }
        if (best == NULL)
            break;
        (*out)[(*n)++] = (struct ql_export_part){best->part, best->data, best->n};
        after = best->part;
    }
    return rc;
}

/* Delete the exports that expire by now_ms (user NULL) or the user's, with their parts. */
static int drop_exports(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int64_t now_ms, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    int k = 0;
    for (int i = 0; i < s->nexports; i++) {
        const struct ql_export *e = &s->exports[i].e;
        if (user ? fake__same(&e->user_id, user) : e->expires_ms <= now_ms)
            (*n)++;
        else
            s->exports[k++] = s->exports[i];
    }
    s->nexports = k;
    drop_parts(s, NULL);
    return QL_OK;
}

static int x_purge(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    return drop_exports(self, cx, NULL, now_ms, n);
}

static int x_remove_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int64_t *n)
{
    return drop_exports(self, cx, user, 0, n);
}

const struct ql_rights_ops fake__rights_ops = {
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
    .erase_user = fake__e_user,
    .erase_entries = fake__e_entries,
    .scrub_deliveries = fake__e_deliveries,
    .idem_remove_scope = fake__e_idem_scope,
    .idem_page = fake__e_idem_page,
    .idem_remove = fake__e_idem_remove,
};
