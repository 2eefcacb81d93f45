/*
 * repo_security.c - the security repository (core/store/store_security.h) over PostgreSQL:
 * the sessions list and its revocations, TOTP enrolments, recovery codes and MFA challenges.
 * The SQL is in stmts_security.h.  A revoked session is forgotten by the principal cache of
 * every instance when the transaction commits, as a logout is (cache.c).
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- sessions ----------------------------------------------------------------------------- */

/* Columns: session_id, created_at, last_seen_at, expires_at, user_agent, client_ip. */
static int read_session(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_session_info *s = dst;
    ql__pg_uuid(r, row, 0, &s->id);
    s->created_ms = ql__pg_ts_ms(r, row, 1);
    s->last_used_ms = ql__pg_ts_ms(r, row, 2);
    s->expires_ms = ql__pg_ts_ms(r, row, 3);
    s->user_agent = ql__pg_text(cx, r, row, 4);
    s->client_ip = ql__pg_text(cx, r, row, 5);
    if ((s->user_agent == NULL && !PQgetisnull(r, row, 4)) ||
        (s->client_ip == NULL && !PQgetisnull(r, row, 5)))
        return ql_error_nomem(&cx->err);
    return QL_OK;
}

static int sessions_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int64_t now_ms, int64_t idle_ms, int64_t after_ms,
                         const struct ql_uuid *after, int limit, struct ql_session_info **out,
                         int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_ts(&p, now_ms - idle_ms);
    ql__pg_p_uuid(&p, after);
    ql__pg_p_ts(&p, after ? after_ms : now_ms);
    ql__pg_p_int(&p, limit + 1);
    return ql__pg_page(pg_of(self), cx, QL__ST_SESSIONS_LIST, &p, limit, sizeof(**out),
                       read_session, (void **)out, n, more);
}

static int session_revoke(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                          const struct ql_uuid *id)
{
    struct ql_pg *pg = pg_of(self);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_uuid(&p, id);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_SESSION_REVOKE, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0 || PQgetlength(r, 0, 0) != QL_DIGEST_LEN) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    char key[2 + 2 * QL_DIGEST_LEN + 1] = "d:"; /* the cache key of one token (cache.c) */
    hex((const uint8_t *)PQgetvalue(r, 0, 0), QL_DIGEST_LEN, key + 2);
    PQclear(r);
    return ql__pg_invalidate(pg, cx, key);
}

/* ---- TOTP and recovery codes -------------------------------------------------------------- */

static int totp_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    struct ql_totp_row *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_TOTP_GET, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    size_t n = (size_t)PQgetlength(r, 0, 0);
    uint8_t *sealed = ql_arena_alloc(cx->arena, n ? n : 1);
    if (sealed == NULL) {
        PQclear(r);
        return ql_error_nomem(&cx->err);
    }
    memcpy(sealed, PQgetvalue(r, 0, 0), n);
    out->sealed = sealed;
    out->sealed_n = n;
    out->created_ms = ql__pg_ts_ms(r, 0, 1);
    out->confirmed_ms = ql__pg_ts_ms_or_0(r, 0, 2);
    out->last_step = ql__pg_int8(r, 0, 3);
    PQclear(r);
    return QL_OK;
}

static int totp_begin(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const uint8_t *sealed, size_t n, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_bytes(&p, sealed, (int)n);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_TOTP_BEGIN, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) /* the row exists and is confirmed: the upsert left it alone */
        rc = ql_error_set(&cx->err, QL_ECONFLICT, "a confirmed enrolment exists");
    PQclear(r);
    return rc;
}

static int totp_confirm(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int64_t step, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_int(&p, step);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_TOTP_CONFIRM, &p);
}

static int totp_use(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    int64_t step)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_int(&p, step);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_TOTP_USE, &p);
}

static int totp_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_TOTP_REMOVE, &p);
}

static int recovery_set(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t (*digests)[QL_DIGEST_LEN], int n, int64_t now_ms)
{
    /* '{hex,hex,...}': a text[] the statement decodes, one element per code. */
    char *list = ql_arena_alloc(cx->arena, (size_t)n * (2 * QL_DIGEST_LEN + 1) + 2);
    if (list == NULL)
        return ql_error_nomem(&cx->err);
    char *o = list;
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        hex(digests[i], QL_DIGEST_LEN, o);
        o += 2 * QL_DIGEST_LEN;
    }
    *o++ = '}';
    *o = '\0';
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, list);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_RECOVERY_SET, &p);
}

static int recovery_use(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_RECOVERY_USE, &p);
}

static int recovery_left(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_RECOVERY_LEFT, &p, &r);
    if (rc)
        return rc;
    *n = PQntuples(r) ? ql__pg_int4(r, 0, 0) : 0;
    PQclear(r);
    return QL_OK;
}

/* ---- challenges --------------------------------------------------------------------------- */

static int challenge_insert(struct ql_store *self, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *user,
                            int64_t now_ms, int64_t expires_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_uuid(&p, user);
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_ts(&p, expires_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_CHALLENGE_INSERT, &p);
}

/* Columns: user_id, failures, created_at, expires_at. */
static int read_challenge(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)cx;
    struct ql_mfa_challenge *c = dst;
    ql__pg_uuid(r, row, 0, &c->user_id);
    c->failures = ql__pg_int4(r, row, 1);
    c->created_ms = ql__pg_ts_ms(r, row, 2);
    c->expires_ms = ql__pg_ts_ms(r, row, 3);
    return QL_OK;
}

static int challenge_get(struct ql_store *self, struct ql_ctx *cx,
                         const uint8_t digest[QL_DIGEST_LEN], struct ql_mfa_challenge *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    return ql__pg_one(pg_of(self), cx, QL__ST_CHALLENGE_GET, &p, read_challenge, out);
}

static int read_failures(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    (void)cx;
    *(int *)dst = ql__pg_int4(r, row, 0);
    return QL_OK;
}

static int challenge_fail(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int *failures)
{
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    return ql__pg_one(pg_of(self), cx, QL__ST_CHALLENGE_FAIL, &p, read_failures, failures);
}

static int challenge_take(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms, int max_failures)
{
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_int(&p, max_failures);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_CHALLENGE_TAKE, &p);
}

static int challenge_purge(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_CHALLENGE_PURGE, &p, &r);
    if (rc)
        return rc;
    *n = ql__pg_affected(r);
    PQclear(r);
    return QL_OK;
}

const struct ql_security_ops ql__pg_security_ops = {
    .sessions_list = sessions_list,
    .session_revoke = session_revoke,
    .totp_get = totp_get,
    .totp_begin = totp_begin,
    .totp_confirm = totp_confirm,
    .totp_use = totp_use,
    .totp_remove = totp_remove,
    .recovery_set = recovery_set,
    .recovery_use = recovery_use,
    .recovery_left = recovery_left,
    .challenge_insert = challenge_insert,
    .challenge_get = challenge_get,
    .challenge_fail = challenge_fail,
    .challenge_take = challenge_take,
    .challenge_purge = challenge_purge,
};
