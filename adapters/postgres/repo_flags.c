/*
 * repo_flags.c - feature flags and their per-team overrides over PostgreSQL
 * (core/flag/flag.h, struct ql_flags_ops; the tables are in migrations/0013_flags.up.sql,
 * the SQL in stmts_flags.h).
 *
 * Every write also sends NOTIFY quill_flags in its transaction, so each instance's flag
 * cache (flagcache.c) empties once it commits; this session empties its own at the commit
 * (store.c).  for_team reads through that cache.
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "flag/flag.h"

#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* A flag from seven columns (QL__PG_FLAG_COLS). */
static int read_flag(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_flag *f = dst;
    memset(f, 0, sizeof(*f));
    ql__pg_uuid(r, row, 0, &f->id);
    f->key = ql__pg_text(cx, r, row, 1);
    f->description = ql__pg_text(cx, r, row, 2);
    f->enabled = ql__pg_bool(r, row, 3);
    f->rollout_percent = ql__pg_int4(r, row, 4);
    f->created_ms = ql__pg_ts_ms(r, row, 5);
    f->updated_ms = ql__pg_ts_ms(r, row, 6);
    return f->key && f->description ? QL_OK : ql_error_nomem(&cx->err);
}

static int read_override(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)cx;
    struct ql_flag_team *o = dst;
    ql__pg_uuid(r, row, 0, &o->team_id);
    o->enabled = ql__pg_bool(r, row, 1);
    o->created_ms = ql__pg_ts_ms(r, row, 2);
    o->updated_ms = ql__pg_ts_ms(r, row, 3);
    return QL_OK;
}

/* Tell every instance that flags changed, in the open transaction (or at once). */
static int announce(struct ql_pg *pg, struct ql_ctx *cx, const char *key)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    int rc = ql__pg_run(pg, cx, QL__ST_FLAGS_NOTIFY, &p);
    if (rc)
        return rc;
    if (pg->in_tx)
        pg->flags_dirty = 1;
    else
        ql__pg_flags_cache_flush(pg->db->flags);
    return QL_OK;
}

static int f_put(struct ql_store *self, struct ql_ctx *cx, const struct ql_flag *f, int *created,
                 struct ql_flag *out)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &f->id);
    ql__pg_p_text(&p, f->key);
    ql__pg_p_text(&p, f->description ? f->description : "");
    ql__pg_p_int(&p, f->enabled != 0);
    ql__pg_p_int(&p, f->rollout_percent);
    ql__pg_p_ts(&p, f->updated_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_FLAG_PUT, &p, &r);
    if (rc == QL_OK) {
        rc = read_flag(cx, r, 0, out);
        *created = ql__pg_bool(r, 0, 7);
    }
    PQclear(r);
    return rc ? rc : announce(pg, cx, f->key);
}

static int f_get(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    return ql__pg_one(pg_of(self), cx, QL__ST_FLAG_GET, &p, read_flag, out);
}

static int f_list(struct ql_store *self, struct ql_ctx *cx, const char *after_key, int limit,
                  struct ql_flag **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, after_key);
    ql__pg_p_int(&p, limit + 1);
    void *rows = NULL;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_FLAGS_LIST, &p, limit, sizeof(**out), read_flag,
                         &rows, n, more);
    *out = rows;
    return rc;
}

static int f_remove(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    int rc = ql__pg_one(pg, cx, QL__ST_FLAG_DELETE, &p, read_flag, out);
    return rc ? rc : announce(pg, cx, key);
}

static int f_team_put(struct ql_store *self, struct ql_ctx *cx, const char *key,
                      const struct ql_uuid *team, int enabled, int64_t now_ms, int *created,
                      struct ql_flag_team *out)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    ql__pg_p_uuid(&p, team);
    ql__pg_p_int(&p, enabled != 0);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_FLAG_TEAM_PUT, &p, &r);
    if (rc == QL_OK && PQntuples(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK) {
        read_override(cx, r, 0, out);
        *created = ql__pg_bool(r, 0, 4);
    }
    PQclear(r);
    return rc ? rc : announce(pg, cx, key);
}

static int f_team_list(struct ql_store *self, struct ql_ctx *cx, const char *key,
                       const struct ql_uuid *after, int limit, struct ql_flag_team **out, int *n,
                       int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    ql__pg_p_uuid(&p, after);
    ql__pg_p_int(&p, limit + 1);
    void *rows = NULL;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_FLAG_TEAMS_LIST, &p, limit, sizeof(**out),
                         read_override, &rows, n, more);
    *out = rows;
    return rc;
}

static int f_team_remove(struct ql_store *self, struct ql_ctx *cx, const char *key,
                         const struct ql_uuid *team)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    ql__pg_p_uuid(&p, team);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_FLAG_TEAM_DELETE, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc ? rc : announce(pg, cx, key);
}

static int read_state(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_flag_state *s = dst;
    s->key = ql__pg_text(cx, r, row, 0);
    s->enabled = ql__pg_bool(r, row, 1);
    s->rollout_percent = ql__pg_int4(r, row, 2);
    s->override = ql__pg_int4(r, row, 3);
    return s->key ? QL_OK : ql_error_nomem(&cx->err);
}

static int f_for_team(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      struct ql_flag_state **out, int *n)
{
    struct ql_pg *pg = pg_of(self);
    struct ql_pg_flags_cache *cache = pg->db->flags;
    /* Inside a transaction that wrote flags, the cache is behind: read the database. */
    if (!pg->flags_dirty && ql__pg_flags_cache_get(cache, cx->arena, team, out, n))
        return QL_OK;
    uint64_t gen = ql__pg_flags_cache_gen(cache);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    void *rows = NULL;
    int more = 0;
    int rc = ql__pg_page(pg, cx, QL__ST_FLAGS_FOR_TEAM, &p, 1 << 20, sizeof(**out), read_state,
                         &rows, n, &more);
    *out = rows;
    if (rc == QL_OK && !pg->flags_dirty)
        ql__pg_flags_cache_put(cache, gen, team, *out, *n);
    return rc;
}

const struct ql_flags_ops ql__pg_flags_ops = {
    .put = f_put,
    .get = f_get,
    .list = f_list,
    .remove = f_remove,
    .team_put = f_team_put,
    .team_list = f_team_list,
    .team_remove = f_team_remove,
    .for_team = f_for_team,
};
