/*
 * repo_identity.c - users, sessions and principals over PostgreSQL.  Principal loads go
 * through the process's principal cache (cache.c); everything that revokes a session
 * invalidates it on every instance.
 */
#include "internal.h"

#include "arena/arena.h"
#include "b64/b64.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/*
 * Columns: user_id, email, display_name, password_hash, created_at, updated_at, MFA on, then
 * email_verified_at wherever the statement puts it (found by name).
 */
static int read_user(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_user *u = dst;
    ql__pg_uuid(r, row, 0, &u->id);
    u->email = ql__pg_text(cx, r, row, 1);
    u->display_name = ql__pg_text(cx, r, row, 2);
    u->password_hash = ql__pg_text(cx, r, row, 3);
    u->created_ms = ql__pg_ts_ms(r, row, 4);
    u->updated_ms = ql__pg_ts_ms(r, row, 5);
    u->mfa_enabled = ql__pg_bool(r, row, 6);
    int verified = PQfnumber(r, "email_verified_at");
    u->email_verified_ms = verified >= 0 ? ql__pg_ts_ms_or_0(r, row, verified) : 0;
    if (u->email == NULL || u->display_name == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    return QL_OK;
}

static int one_user(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                    const struct ql__pg_params *p, struct ql_user *out)
{
    return ql__pg_one(pg, cx, st, p, read_user, out);
}

static int u_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_user *u,
                    const char *oidc_issuer, const char *oidc_subject)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &u->id);
    ql__pg_p_text(&p, u->email);
    ql__pg_p_text(&p, u->display_name);
    ql__pg_p_text(&p, u->password_hash);
    ql__pg_p_text(&p, oidc_issuer);
    ql__pg_p_text(&p, oidc_subject);
    ql__pg_p_ts(&p, u->created_ms);
    int rc = ql__pg_run(pg_of(self), cx, QL__ST_USER_INSERT, &p);
    if (rc == QL_ECONFLICT && strcmp(ql__pg_last_constraint(pg_of(self)), "users_email_key") == 0)
        return ql_error_set(&cx->err, QL_EEMAIL_TAKEN, NULL);
    return rc;
}

static int u_by_email(struct ql_store *self, struct ql_ctx *cx, const char *email,
                      struct ql_user *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, email);
    return one_user(pg_of(self), cx, QL__ST_USER_BY_EMAIL, &p, out);
}

static int u_by_id(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                   struct ql_user *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return one_user(pg_of(self), cx, QL__ST_USER_BY_ID, &p, out);
}

static int u_by_oidc(struct ql_store *self, struct ql_ctx *cx, const char *issuer,
                     const char *subject, struct ql_user *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, issuer);
    ql__pg_p_text(&p, subject);
    return one_user(pg_of(self), cx, QL__ST_USER_BY_OIDC, &p, out);
}

static int u_rename(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *name, int64_t now_ms, struct ql_user *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_text(&p, name);
    ql__pg_p_ts(&p, now_ms);
    return one_user(pg_of(self), cx, QL__ST_USER_RENAME, &p, out);
}

static int u_set_password(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                          const char *hash, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_text(&p, hash);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_USER_SET_PASSWORD, &p);
}

/* Where a profile goes: the user (may be NULL) and its teams. */
struct profile {
    struct ql_user *user;
    struct ql_team_role **teams;
    int *n;
};

/* A ql__pg_row_fn over the whole result (row is 0): the user once, a team per row. */
static int read_profile(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)row;
    struct profile *pr = dst;
    int rows = PQntuples(r), rc = QL_OK;
    if (pr->user)
        rc = read_user(cx, r, 0, pr->user);
    *pr->n = 0;
    struct ql_team_role *teams = ql_arena_calloc(cx->arena, (size_t)rows, sizeof(*teams));
    *pr->teams = teams;
    if (teams == NULL)
        rc = ql_error_nomem(&cx->err);
    for (int i = 0; rc == QL_OK && i < rows; i++) {
        if (PQgetisnull(r, i, 7))
            continue; /* the user belongs to no team: one row of NULLs */
        struct ql_team_role *t = &teams[*pr->n];
        ql__pg_uuid(r, i, 7, &t->team_id);
        t->name = ql__pg_text(cx, r, i, 8);
        t->role = ql_role_parse(PQgetvalue(r, i, 9), (size_t)PQgetlength(r, i, 9));
        if (t->name == NULL)
            rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
        (*pr->n)++;
    }
    return rc;
}

static int u_profile(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                     struct ql_user *user, struct ql_team_role **out, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    struct profile pr = {user, out, n};
    return ql__pg_one(pg_of(self), cx, QL__ST_USER_PROFILE, &p, read_profile, &pr);
}

/* On an event loop's session the read is pipelined with the turn's other reads. */
static int u_profile_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                           struct ql_user *user, struct ql_team_role **out, int *n, ql_done_fn done,
                           void *arg)
{
    struct profile *pr = ql_arena_alloc(cx->arena, sizeof(*pr));
    if (pr == NULL)
        return ql_error_nomem(&cx->err);
    *pr = (struct profile){user, out, n};
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return ql__pg_read_async(pg_of(self), cx, QL__ST_USER_PROFILE, &p, read_profile, pr, done, arg);
}

const struct ql_users_ops ql__pg_users_ops = {
    .insert = u_insert,
    .by_email = u_by_email,
    .by_id = u_by_id,
    .by_oidc = u_by_oidc,
    .update_name = u_rename,
    .set_password = u_set_password,
    .profile = u_profile,
    .profile_async = u_profile_async,
};

/* ---- sessions ---------------------------------------------------------------------------- */

static void digest_key(const uint8_t *d, char *out)
{
    out[0] = 'd';
    out[1] = ':';
    ql_hex_encode(d, QL_DIGEST_LEN, out + 2);
}

static void uuid_key(char kind, const struct ql_uuid *u, char *out)
{
    out[0] = kind;
    out[1] = ':';
    ql_uuid_format(u, out + 2);
}

static int s_insert(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                    const struct ql_uuid *session_id, const struct ql_uuid *user_id, int64_t now_ms,
                    int64_t expires_ms, const char *user_agent, const char *client_ip)
{
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_uuid(&p, session_id);
    ql__pg_p_uuid(&p, user_id);
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_ts(&p, expires_ms);
    ql__pg_p_text(&p, user_agent);
    ql__pg_p_text(&p, client_ip);
    return ql__pg_run(pg_of(self), cx, QL__ST_SESSION_INSERT, &p);
}

static int s_remove(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN])
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_SESSION_DELETE, &p, &r);
    if (rc)
        return rc;
    int found = PQntuples(r) > 0;
    PQclear(r);
    char key[80];
    digest_key(digest, key);
    rc = ql__pg_invalidate(pg, cx, key);
    if (rc == QL_OK && !found)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return rc;
}

static int s_remove_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user_id,
                         const uint8_t *keep)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user_id);
    ql__pg_p_bytes(&p, keep, keep ? QL_DIGEST_LEN : 0);
    int rc = ql__pg_run(pg, cx, QL__ST_SESSIONS_DELETE_USER, &p);
    if (rc)
        return rc;
    char key[48];
    uuid_key('u', user_id, key);
    return ql__pg_invalidate(pg, cx, key);
}

static int s_touch(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                   int64_t now_ms)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_ts(&p, now_ms);
    int rc = ql__pg_run(pg, cx, QL__ST_SESSION_TOUCH, &p);
    if (rc == QL_OK)
        ql__pg_cache_touch(pg->cache, digest, NULL, now_ms);
    return rc;
}

const struct ql_sessions_ops ql__pg_sessions_ops = {
    .insert = s_insert,
    .remove = s_remove,
    .remove_user = s_remove_user,
    .touch = s_touch,
};

/* ---- principals ------------------------------------------------------------------------ */

/* Parse "uuid role,uuid role" into memberships in the arena. */
static int parse_teams(struct ql_ctx *cx, const char *s, struct ql_principal *out)
{
    out->nteams = 0;
    out->teams = NULL;
    if (s == NULL || *s == '\0')
        return QL_OK;
    int count = 1;
    for (const char *q = s; *q; q++)
        count += *q == ',';
    struct ql_membership *m = ql_arena_calloc(cx->arena, (size_t)count, sizeof(*m));
    if (m == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    const char *q = s;
    int n = 0;
    while (*q && n < count) {
        const char *end = strchr(q, ',');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > QL_UUID_STR_LEN + 1 &&
            ql_uuid_parse(q, QL_UUID_STR_LEN, &m[n].team_id) == QL_OK) {
            m[n].role = ql_role_parse(q + QL_UUID_STR_LEN + 1, len - QL_UUID_STR_LEN - 1);
            n++;
        }
        q += len + (end ? 1 : 0);
    }
    out->teams = m;
    out->nteams = n;
    return QL_OK;
}

static int p_load(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                  struct ql_principal *out)
{
    struct ql_pg *pg = pg_of(self);
    if (ql__pg_cache_get(pg->cache, cx->arena, digest, out))
        return QL_OK;
    uint64_t gen = pg->cache ? ql__pg_cache_gen(pg->cache) : 0;
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_PRINCIPAL_LOAD, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    memset(out, 0, sizeof(*out));
    out->kind = ql__pg_int4(r, 0, 0) == 1 ? QL_PRINCIPAL_USER : QL_PRINCIPAL_API_KEY;
    if (!PQgetisnull(r, 0, 1))
        ql__pg_uuid(r, 0, 1, &out->user_id);
    ql__pg_uuid(r, 0, 2, &out->credential_id);
    if (!PQgetisnull(r, 0, 3))
        ql__pg_uuid(r, 0, 3, &out->key_team_id);
    if (!PQgetisnull(r, 0, 4))
        out->key_role = ql_role_parse(PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4));
    out->created_ms = ql__pg_ts_ms(r, 0, 5);
    out->expires_ms = ql__pg_ts_ms_or_0(r, 0, 6);
    out->last_seen_ms = ql__pg_ts_ms_or_0(r, 0, 7);
    memcpy(out->digest, digest, QL_DIGEST_LEN);
    rc = parse_teams(cx, PQgetisnull(r, 0, 8) ? NULL : PQgetvalue(r, 0, 8), out);
    PQclear(r);
    if (rc == QL_OK)
        ql__pg_cache_put(pg->cache, gen, digest, out);
    return rc;
}

static int p_load_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user_id,
                       struct ql_principal *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user_id);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_PRINCIPAL_LOAD_USER, &p, &r);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->user_id = *user_id;
    rc = parse_teams(cx, PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : NULL, out);
    PQclear(r);
    return rc;
}

const struct ql_principals_ops ql__pg_principals_ops = {
    .load = p_load,
    .load_user = p_load_user,
};
