/*
 * repo_teams.c - teams, members and API keys over PostgreSQL.  Membership and key changes
 * invalidate cached principals on every instance ("u:<user>", "t:<team>", "k:<key>").
 */
#include "internal.h"

#include "arena/arena.h"
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

static int invalidate_uuid(struct ql_pg *pg, struct ql_ctx *cx, char kind, const struct ql_uuid *u)
{
    char key[48];
    key[0] = kind;
    key[1] = ':';
    ql_uuid_format(u, key + 2);
    return ql__pg_invalidate(pg, cx, key);
}

/* Columns: team_id, name, created_at, updated_at. */
static int one_team(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                    const struct ql__pg_params *p, struct ql_team *out)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    } else if (out) {
        ql__pg_uuid(r, 0, 0, &out->id);
        out->name = ql__pg_text(cx, r, 0, 1);
        out->created_ms = ql__pg_ts_ms(r, 0, 2);
        out->updated_ms = ql__pg_ts_ms(r, 0, 3);
        if (out->name == NULL)
            rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    PQclear(r);
    return rc;
}

static int t_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_team *t,
                    const struct ql_uuid *owner)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &t->id);
    ql__pg_p_text(&p, t->name);
    ql__pg_p_ts(&p, t->created_ms);
    ql__pg_p_uuid(&p, owner);
    int rc = ql__pg_touch_one(pg, cx, QL__ST_TEAM_INSERT, &p);
    return rc ? rc : invalidate_uuid(pg, cx, 'u', owner);
}

static int t_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_team *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return one_team(pg_of(self), cx, QL__ST_TEAM_GET, &p, out);
}

static int t_lock(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_TEAM_LOCK, &p, &r);
    if (rc == QL_OK && PQntuples(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, "No such team.");
    PQclear(r);
    return rc;
}

static int t_rename(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *name, int64_t now_ms, struct ql_team *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_text(&p, name);
    ql__pg_p_ts(&p, now_ms);
    return one_team(pg_of(self), cx, QL__ST_TEAM_RENAME, &p, out);
}

static int t_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    int64_t now_ms)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_TEAM_DELETE, &p, &r);
    if (rc)
        return rc;
    int64_t changed = ql__pg_affected(r);
    PQclear(r);
    if (changed == 0)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, "No such team.");
    return invalidate_uuid(pg, cx, 't', id);
}

const struct ql_teams_ops ql__pg_teams_ops = {
    .insert = t_insert,
    .get = t_get,
    .lock = t_lock,
    .update_name = t_rename,
    .remove = t_remove,
};

/* ---- members ------------------------------------------------------------------------------ */

/* Columns: user_id, email, display_name, role, joined_at. */
int ql__pg_member_at(struct ql_ctx *cx, const PGresult *r, int row, int c, struct ql_member *m)
{
    ql__pg_uuid(r, row, c, &m->user_id);
    m->email = ql__pg_text(cx, r, row, c + 1);
    m->display_name = ql__pg_text(cx, r, row, c + 2);
    m->role = ql_role_parse(PQgetvalue(r, row, c + 3), (size_t)PQgetlength(r, row, c + 3));
    m->joined_ms = ql__pg_ts_ms(r, row, c + 4);
    return m->email && m->display_name ? QL_OK : ql_error_set(&cx->err, QL_ENOMEM, NULL);
}

int ql__pg_read_member(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return ql__pg_member_at(cx, r, row, 0, dst);
}

static int m_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *after, int limit, struct ql_member **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, after);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_MEMBERS_LIST, &p, limit, sizeof(**out),
                         ql__pg_read_member, &rows, n, more);
    *out = rows;
    return rc;
}

static int m_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *user, struct ql_member *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, user);
    return ql__pg_one(pg_of(self), cx, QL__ST_MEMBER_GET, &p, ql__pg_read_member, out);
}

static int m_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user, int role, int64_t now_ms)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, ql_role_name(role));
    ql__pg_p_ts(&p, now_ms);
    int rc = ql__pg_touch_one(pg, cx, QL__ST_MEMBER_INSERT, &p);
    return rc ? rc : invalidate_uuid(pg, cx, 'u', user);
}

static int m_set_role(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *user, int role)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, ql_role_name(role));
    int rc = ql__pg_run(pg, cx, QL__ST_MEMBER_SET_ROLE, &p);
    return rc ? rc : invalidate_uuid(pg, cx, 'u', user);
}

static int m_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, user);
    int rc = ql__pg_run(pg, cx, QL__ST_MEMBER_DELETE, &p);
    return rc ? rc : invalidate_uuid(pg, cx, 'u', user);
}

static int m_count_owners(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                          int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_OWNERS_COUNT, &p, &r);
    if (rc == QL_OK)
        *n = (int)ql__pg_int8(r, 0, 0);
    PQclear(r);
    return rc;
}

const struct ql_members_ops ql__pg_members_ops = {
    .list = m_list,
    .get = m_get,
    .insert = m_insert,
    .set_role = m_set_role,
    .remove = m_remove,
    .count_owners = m_count_owners,
};

/* ---- API keys ------------------------------------------------------------------------------ */

static int k_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_api_key *k,
                    const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *created_by)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &k->id);
    ql__pg_p_uuid(&p, &k->team_id);
    ql__pg_p_text(&p, k->name);
    ql__pg_p_text(&p, ql_role_name(k->role));
    ql__pg_p_text(&p, k->prefix);
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_uuid(&p, created_by);
    ql__pg_p_ts(&p, k->created_ms);
    ql__pg_p_ts_or_null(&p, k->expires_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_KEY_INSERT, &p);
}

/* Columns of KEYS_LIST. */
static int read_key(struct ql_ctx *cx, const PGresult *r, int i, void *dst)
{
    struct ql_api_key *k = dst;
    ql__pg_uuid(r, i, 0, &k->id);
    ql__pg_uuid(r, i, 1, &k->team_id);
    k->name = ql__pg_text(cx, r, i, 2);
    k->role = ql_role_parse(PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3));
    k->prefix = ql__pg_text(cx, r, i, 4);
    k->created_ms = ql__pg_ts_ms(r, i, 5);
    k->expires_ms = ql__pg_ts_ms_or_0(r, i, 6);
    k->last_used_ms = ql__pg_ts_ms_or_0(r, i, 7);
    if (k->name == NULL || k->prefix == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    return QL_OK;
}

static int k_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_api_key **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_ts_or_null(&p, after_id ? after_ms : 0);
    ql__pg_p_uuid(&p, after_id);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_KEYS_LIST, &p, limit, sizeof(**out), read_key,
                         &rows, n, more);
    *out = rows;
    return rc;
}

static int k_revoke(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now_ms)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_KEY_REVOKE, &p, &r);
    if (rc)
        return rc;
    int64_t changed = ql__pg_affected(r);
    PQclear(r);
    if (changed == 0)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return invalidate_uuid(pg, cx, 'k', id);
}

static int k_touch(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                   int64_t now_ms)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_ts(&p, now_ms);
    int rc = ql__pg_run(pg, cx, QL__ST_KEY_TOUCH, &p);
    if (rc == QL_OK)
        ql__pg_cache_touch(pg->cache, NULL, id, now_ms);
    return rc;
}

const struct ql_api_keys_ops ql__pg_api_keys_ops = {
    .insert = k_insert,
    .list = k_list,
    .revoke = k_revoke,
    .touch = k_touch,
};
