/*
 * repo_journal.c - journal entries, prompts and idempotency records over PostgreSQL.
 * Entry pages are keyset queries on (created_at, id); the first page starts from
 * +infinity so one index-friendly statement serves every page.
 */
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

static const struct ql_uuid max_uuid = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

/*
 * An entry from the columns id (at c_id), then author user, author key, prompt, content,
 * version, created, updated and deleted (from c on); its team from column c_id + 1, or
 * *team when the statement leaves the column out because the caller knows it.
 */
int ql__pg_entry_in(struct ql_ctx *cx, const PGresult *r, int row, int c_id, int c,
                    const struct ql_uuid *team, struct ql_entry *e)
{
    memset(e, 0, sizeof(*e));
    ql__pg_uuid(r, row, c_id, &e->id);
    if (team)
        e->team_id = *team;
    else
        ql__pg_uuid(r, row, c_id + 1, &e->team_id);
    if ((e->has_author_user = !PQgetisnull(r, row, c)))
        ql__pg_uuid(r, row, c, &e->author_user);
    if ((e->has_author_key = !PQgetisnull(r, row, c + 1)))
        ql__pg_uuid(r, row, c + 1, &e->author_key);
    if ((e->has_prompt = !PQgetisnull(r, row, c + 2)))
        ql__pg_uuid(r, row, c + 2, &e->prompt);
    e->content_n = (size_t)PQgetlength(r, row, c + 3);
    e->content = ql__pg_text(cx, r, row, c + 3);
    e->version = ql__pg_int4(r, row, c + 4);
    e->created_ms = ql__pg_ts_ms(r, row, c + 5);
    e->updated_ms = ql__pg_ts_ms(r, row, c + 6);
    e->deleted_ms = ql__pg_ts_ms_or_0(r, row, c + 7);
    return e->content ? QL_OK : ql_error_set(&cx->err, QL_ENOMEM, NULL);
}

/* Columns: id, team, author user, author key, prompt, content, version, created, updated,
 * deleted. */
int ql__pg_entry_at(struct ql_ctx *cx, const PGresult *r, int row, int c, struct ql_entry *e)
{
    return ql__pg_entry_in(cx, r, row, c, c + 2, NULL, e);
}

int ql__pg_read_entry(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return ql__pg_entry_at(cx, r, row, 0, dst);
}

/*
 * A row of a page of entries (stmts_pages.h): its entry, or QL__PG_LARGE when it came
 * without its content, too large for the usual statement; read_listed_bytes reads the
 * _bytes statement, where that means the page's bytes end before it (QL__PG_CUT).
 */
static int read_listed(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return PQgetisnull(r, row, 5) ? QL__PG_LARGE : ql__pg_entry_at(cx, r, row, 0, dst);
}

static int read_listed_bytes(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return PQgetisnull(r, row, 5) ? QL__PG_CUT : ql__pg_entry_at(cx, r, row, 0, dst);
}

static int one_entry(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql_uuid *team, const struct ql_uuid *id, struct ql_entry *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    return ql__pg_one(pg, cx, st, &p, ql__pg_read_entry, out);
}

static int e_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &e->id);
    ql__pg_p_uuid(&p, &e->team_id);
    ql__pg_p_uuid(&p, e->has_author_user ? &e->author_user : NULL);
    ql__pg_p_uuid(&p, e->has_author_key ? &e->author_key : NULL);
    ql__pg_p_uuid(&p, e->has_prompt ? &e->prompt : NULL);
    ql__pg_p_bytes(&p, e->content, (int)e->content_n);
    ql__pg_p_int(&p, e->version);
    ql__pg_p_ts(&p, e->created_ms);
    ql__pg_p_ts(&p, e->updated_ms);
    int rc = ql__pg_run(pg_of(self), cx, QL__ST_ENTRY_INSERT, &p);
    if (rc == QL_ECONFLICT && strstr(ql__pg_last_constraint(pg_of(self)), "team_id_fkey"))
        return ql_error_set(&cx->err, QL_ENOT_FOUND, "No such team.");
    return rc;
}

static int e_insert_many(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                         int n)
{
    struct ql_buf cols[9];
    ql__pg_arr_begin(cx, cols, 9);
    for (int i = 0; i < n; i++) {
        const struct ql_entry *e = es[i];
        int first = i == 0;
        ql__pg_arr_uuid(&cols[0], &e->id, first);
        ql__pg_arr_uuid(&cols[1], &e->team_id, first);
        ql__pg_arr_uuid(&cols[2], e->has_author_user ? &e->author_user : NULL, first);
        ql__pg_arr_uuid(&cols[3], e->has_author_key ? &e->author_key : NULL, first);
        ql__pg_arr_uuid(&cols[4], e->has_prompt ? &e->prompt : NULL, first);
        ql__pg_arr_strn(&cols[5], e->content, e->content_n, first);
        ql__pg_arr_int(&cols[6], e->version, first);
        ql__pg_arr_time(&cols[7], e->created_ms, first);
        ql__pg_arr_time(&cols[8], e->updated_ms, first);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 9, &p);
    if (rc == QL_OK)
        rc = ql__pg_run(pg_of(self), cx, QL__ST_ENTRY_INSERT_MANY, &p);
    return rc;
}

static int e_exist_many(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                        int n, int *found)
{
    struct ql_buf cols[2];
    ql__pg_arr_begin(cx, cols, 2);
    for (int i = 0; i < n; i++) {
        ql__pg_arr_uuid(&cols[0], &es[i]->team_id, i == 0);
        ql__pg_arr_uuid(&cols[1], &es[i]->id, i == 0);
    }
    struct ql__pg_params p = {0};
    PGresult *r = NULL;
    int rc = ql__pg_arr_params(cx, cols, 2, &p);
    if (rc == QL_OK)
        rc = ql__pg_exec(pg_of(self), cx, QL__ST_ENTRY_EXIST_MANY, &p, &r);
    for (int row = 0; rc == QL_OK && row < PQntuples(r); row++) {
        struct ql_uuid id, team;
        ql__pg_uuid(r, row, 0, &id);
        ql__pg_uuid(r, row, 1, &team);
        for (int i = 0; i < n; i++)
            found[i] |=
                memcmp(es[i]->id.b, id.b, 16) == 0 && memcmp(es[i]->team_id.b, team.b, 16) == 0;
    }
    PQclear(r);
    return rc;
}

static int e_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *id, struct ql_entry *out)
{
    return one_entry(pg_of(self), cx, QL__ST_ENTRY_GET, team, id, out);
}

static int e_get_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                       const struct ql_uuid *id, struct ql_entry *out, ql_done_fn done, void *arg)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    return ql__pg_read_async(pg_of(self), cx, QL__ST_ENTRY_GET, &p, ql__pg_read_entry, out, done,
                             arg);
}

static int e_lock(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, struct ql_entry *out)
{
    return one_entry(pg_of(self), cx, QL__ST_ENTRY_LOCK, team, id, out);
}

/* The parameters and the statement of a page of q. */
static enum ql__pg_stmt list_params(const struct ql_uuid *team, const struct ql_entry_query *q,
                                    struct ql__pg_params *p)
{
    ql__pg_p_uuid(p, team);
    if (q->after_id) {
        ql__pg_p_ts(p, q->after_ms);
        ql__pg_p_uuid(p, q->after_id);
    } else {
        ql__pg_p_ts_infinity(p, 1);
        ql__pg_p_uuid(p, &max_uuid);
    }
    ql__pg_p_int(p, q->limit + 1);
    enum ql__pg_stmt st = QL__ST_ENTRY_LIST;
    if (q->author && q->prompt)
        st = QL__ST_ENTRY_LIST_BOTH;
    else if (q->author)
        st = QL__ST_ENTRY_LIST_AUTHOR;
    else if (q->prompt)
        st = QL__ST_ENTRY_LIST_PROMPT;
    if (q->author)
        ql__pg_p_uuid(p, q->author);
    if (q->prompt)
        ql__pg_p_uuid(p, q->prompt);
    return st;
}

/* A page of q: the usual statement, and its _bytes one when an entry is large (stmts_pages.h). */
static int e_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    enum ql__pg_stmt st = list_params(team, q, &p);
    int rc = ql__pg_page(pg_of(self), cx, st, &p, q->limit, sizeof(**out), read_listed,
                         (void **)out, n, more);
    if (rc == QL__PG_LARGE) /* the _bytes statements follow the four in the same order */
        rc = ql__pg_page(pg_of(self), cx, st + (QL__ST_ENTRY_LIST_BYTES - QL__ST_ENTRY_LIST), &p,
                         q->limit, sizeof(**out), read_listed_bytes, (void **)out, n, more);
    return rc;
}

static int e_list_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more,
                        ql_done_fn done, void *arg)
{
    if (!pg_of(self)->loop) /* a session that may wait reads both statements itself */
        return ql_ctx_defer(cx, done, e_list(self, cx, team, q, out, n, more), arg);
    struct ql__pg_params p = {0};
    enum ql__pg_stmt st = list_params(team, q, &p);
    return ql__pg_page_async(pg_of(self), cx, st, &p, q->limit, sizeof(**out), read_listed,
                             (void **)out, n, more, done, arg);
}

static int e_update(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &e->team_id);
    ql__pg_p_uuid(&p, &e->id);
    ql__pg_p_bytes(&p, e->content, (int)e->content_n);
    ql__pg_p_uuid(&p, e->has_prompt ? &e->prompt : NULL);
    ql__pg_p_int(&p, e->version);
    ql__pg_p_ts(&p, e->updated_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_ENTRY_UPDATE, &p);
}

/* Soft-delete a team's live row with st (team, id, now); QL_ENOT_FOUND when none was live. */
static int soft_delete(struct ql_store *self, struct ql_ctx *cx, enum ql__pg_stmt st,
                       const struct ql_uuid *team, const struct ql_uuid *id, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, st, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

static int e_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now_ms)
{
    return soft_delete(self, cx, QL__ST_ENTRY_DELETE, team, id, now_ms);
}

const struct ql_entries_ops ql__pg_entries_ops = {
    .insert = e_insert,
    .insert_many = e_insert_many,
    .exist_many = e_exist_many,
    .get = e_get,
    .lock = e_lock,
    .list = e_list,
    .update = e_update,
    .remove = e_remove,
    .get_async = e_get_async,
    .list_async = e_list_async,
};

/* ---- prompts ------------------------------------------------------------------------------ */

/* Columns: id, team, text, category, created, updated, deleted. */
int ql__pg_prompt_at(struct ql_ctx *cx, const PGresult *r, int row, int c, struct ql_prompt *p)
{
    memset(p, 0, sizeof(*p));
    ql__pg_uuid(r, row, c, &p->id);
    if ((p->has_team = !PQgetisnull(r, row, c + 1)))
        ql__pg_uuid(r, row, c + 1, &p->team_id);
    p->text = ql__pg_text(cx, r, row, c + 2);
    p->category = ql__pg_text(cx, r, row, c + 3);
    p->created_ms = ql__pg_ts_ms(r, row, c + 4);
    p->updated_ms = ql__pg_ts_ms(r, row, c + 5);
    p->deleted_ms = ql__pg_ts_ms_or_0(r, row, c + 6);
    return p->text && p->category ? QL_OK : ql_error_set(&cx->err, QL_ENOMEM, NULL);
}

int ql__pg_read_prompt(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return ql__pg_prompt_at(cx, r, row, 0, dst);
}

static int p_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_prompt *pr)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &pr->id);
    ql__pg_p_uuid(&p, pr->has_team ? &pr->team_id : NULL);
    ql__pg_p_text(&p, pr->text);
    ql__pg_p_text(&p, pr->category);
    ql__pg_p_ts(&p, pr->created_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_PROMPT_INSERT, &p);
}

static int p_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *id, struct ql_prompt *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    return ql__pg_one(pg_of(self), cx, QL__ST_PROMPT_GET, &p, ql__pg_read_prompt, out);
}

static int p_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const char *category, int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_prompt **out, int *n, int *more)
{
    static const struct ql_uuid zero;
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_text(&p, category);
    if (after_id) {
        ql__pg_p_ts(&p, after_ms);
        ql__pg_p_uuid(&p, after_id);
    } else {
        ql__pg_p_ts_infinity(&p, -1);
        ql__pg_p_uuid(&p, &zero);
    }
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_PROMPT_LIST, &p, limit, sizeof(**out),
                         ql__pg_read_prompt, &rows, n, more);
    *out = rows;
    return rc;
}

static int p_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now_ms)
{
    return soft_delete(self, cx, QL__ST_PROMPT_DELETE, team, id, now_ms);
}

const struct ql_prompts_ops ql__pg_prompts_ops = {
    .insert = p_insert,
    .get = p_get,
    .list = p_list,
    .remove = p_remove,
};

/* ---- idempotency records ---------------------------------------------------------------- */

static int i_get(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 int64_t now_ms, struct ql_idem_record *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, scope);
    ql__pg_p_text(&p, key);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_IDEM_GET, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    if (PQgetlength(r, 0, 0) == QL_DIGEST_LEN)
        memcpy(out->fingerprint, PQgetvalue(r, 0, 0), QL_DIGEST_LEN);
    out->status = ql__pg_int4(r, 0, 1);
    out->sealed_n = (size_t)PQgetlength(r, 0, 2);
    uint8_t *sealed = ql_arena_alloc(cx->arena, out->sealed_n + 1);
    if (sealed)
        memcpy(sealed, PQgetvalue(r, 0, 2), out->sealed_n);
    out->sealed = sealed;
    out->created_ms = ql__pg_ts_ms(r, 0, 3);
    out->expires_ms = ql__pg_ts_ms(r, 0, 4);
    PQclear(r);
    return sealed ? QL_OK : ql_error_set(&cx->err, QL_ENOMEM, NULL);
}

/*
 * The key's lock for this transaction.  The caller looked for a record before BEGIN; a
 * request with the same key may have committed one since and released the lock, so once the
 * lock is ours a second statement (a newer snapshot) looks again.  Either way the answer is
 * "in progress": a retry gets the replay.
 */
static int i_lock(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, scope);
    ql__pg_p_text(&p, key);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_IDEM_LOCK, &p, &r);
    int busy = rc == QL_OK && !ql__pg_bool(r, 0, 0);
    PQclear(r);
    if (rc == QL_OK && !busy) {
        rc = ql__pg_exec(pg_of(self), cx, QL__ST_IDEM_LIVE, &p, &r);
        busy = rc == QL_OK && ql__pg_bool(r, 0, 0);
        PQclear(r);
    }
    return busy ? ql_error_set(&cx->err, QL_EIDEM_IN_PROGRESS, NULL) : rc;
}

static int i_put(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 const struct ql_idem_record *rec)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, scope);
    ql__pg_p_text(&p, key);
    ql__pg_p_bytes(&p, rec->fingerprint, QL_DIGEST_LEN);
    ql__pg_p_int(&p, rec->status);
    ql__pg_p_bytes(&p, rec->sealed, (int)rec->sealed_n);
    ql__pg_p_ts(&p, rec->created_ms);
    ql__pg_p_ts(&p, rec->expires_ms);
    /* Deferred inside a transaction: a live record cannot exist there, since the caller holds
     * the key's lock and looked for one after taking it; outside, a lost race leaves the
     * first record. */
    return ql__pg_run(pg_of(self), cx, QL__ST_IDEM_PUT, &p);
}

const struct ql_idem_ops ql__pg_idem_ops = {
    .get = i_get,
    .lock = i_lock,
    .put = i_put,
};
