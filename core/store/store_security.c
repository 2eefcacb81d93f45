/*
 * store_security.c - the wrappers of the store's security repositories (store_security.h):
 * the one place for what every call shares.  A store without the security repository
 * answers QL_EINTERNAL; a page of no rows and an empty set of codes are refused as the
 * programmer errors they are, before any round trip.  Every store has the throttles.
 */
#include "store/store_security.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store.h"

static int missing(struct ql_store *s, struct ql_ctx *cx)
{
    if (s->ops->security)
        return QL_OK;
    return ql_error_set(&cx->err, QL_EINTERNAL, "this store keeps no account security");
}

int ql_store_sessions_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                           int64_t now_ms, int64_t idle_ms, int64_t after_ms,
                           const struct ql_uuid *after, int limit, struct ql_session_info **out,
                           int *n, int *more)
{
    int rc = missing(s, cx);
    if (rc == QL_OK && limit < 1)
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "a page of %d sessions", limit);
    return rc ? rc
              : s->ops->security->sessions_list(s, cx, user, now_ms, idle_ms, after_ms, after,
                                                limit, out, n, more);
}

int ql_store_sessions_revoke(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                             const struct ql_uuid *id)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->session_revoke(s, cx, user, id);
}

int ql_store_totp_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                      struct ql_totp_row *out)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->totp_get(s, cx, user, out);
}

int ql_store_totp_begin(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t *sealed, size_t n, int64_t now_ms)
{
    int rc = missing(s, cx);
    if (rc == QL_OK && n <= QL_SEAL_OVERHEAD)
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "a TOTP secret that is not sealed");
    return rc ? rc : s->ops->security->totp_begin(s, cx, user, sealed, n, now_ms);
}

int ql_store_totp_confirm(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          int64_t step, int64_t now_ms)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->totp_confirm(s, cx, user, step, now_ms);
}

int ql_store_totp_use(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                      int64_t step)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->totp_use(s, cx, user, step);
}

int ql_store_totp_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->totp_remove(s, cx, user);
}

int ql_store_recovery_set(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          const uint8_t (*digests)[QL_DIGEST_LEN], int n, int64_t now_ms)
{
    int rc = missing(s, cx);
    if (rc == QL_OK && n < 1)
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "a set of %d recovery codes", n);
    return rc ? rc : s->ops->security->recovery_set(s, cx, user, digests, n, now_ms);
}

int ql_store_recovery_use(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->recovery_use(s, cx, user, digest, now_ms);
}

int ql_store_recovery_left(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                           int *n)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->recovery_left(s, cx, user, n);
}

int ql_store_challenge_insert(struct ql_store *s, struct ql_ctx *cx,
                              const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *user,
                              int64_t now_ms, int64_t expires_ms)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->challenge_insert(s, cx, digest, user, now_ms, expires_ms);
}

int ql_store_challenge_get(struct ql_store *s, struct ql_ctx *cx,
                           const uint8_t digest[QL_DIGEST_LEN], struct ql_mfa_challenge *out)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->challenge_get(s, cx, digest, out);
}

int ql_store_challenge_fail(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int *failures)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->challenge_fail(s, cx, digest, failures);
}

int ql_store_challenge_take(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms, int max_failures)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->challenge_take(s, cx, digest, now_ms, max_failures);
}

int ql_store_challenge_purge(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->security->challenge_purge(s, cx, now_ms, n);
}

int ql_store_throttle_failures(struct ql_store *s, struct ql_ctx *cx, const char *key,
                               int64_t since_ms, int *count, int64_t *oldest_ms)
{
    return s->ops->throttle->failures(s, cx, key, since_ms, count, oldest_ms);
}

int ql_store_throttle_record_failure(struct ql_store *s, struct ql_ctx *cx, const char *key,
                                     int64_t now_ms)
{
    return s->ops->throttle->record_failure(s, cx, key, now_ms);
}

int ql_store_throttle_forget_failure(struct ql_store *s, struct ql_ctx *cx, const char *key,
                                     int64_t at_ms)
{
    return s->ops->throttle->forget_failure(s, cx, key, at_ms);
}

int ql_store_throttle_clear_failures(struct ql_store *s, struct ql_ctx *cx, const char *key)
{
    return s->ops->throttle->clear_failures(s, cx, key);
}

int ql_store_throttle_hit(struct ql_store *s, struct ql_ctx *cx, const char *key, int64_t window_ms,
                          int *count, int *prev)
{
    return s->ops->throttle->hit(s, cx, key, window_ms, count, prev);
}
