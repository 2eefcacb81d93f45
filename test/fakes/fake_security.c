/*
 * fake_security.c - the fake store's security repository (core/store/store_security.h): the
 * sessions list over the fake's sessions, TOTP enrolments, recovery codes and MFA challenges
 * in fixed tables that transactions roll back like the others.
 */
#include "fake_internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"

#include <stdlib.h>
#include <string.h>

static int full(struct ql_ctx *cx)
{
    return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int newest_first(const void *a, const void *b)
{
    const struct ql_session_info *x = a, *y = b;
    return -fake__cmp_pos(x->created_ms, &x->id, y->created_ms, &y->id);
}

static int sessions_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int64_t now, int64_t idle, int64_t after_ms, const struct ql_uuid *after,
                         int limit, struct ql_session_info **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct ql_session_info *all = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(*all));
    if (all == NULL)
        return ql_error_nomem(&cx->err);
    int got = 0;
    for (int i = 0; i < FAKE_MAX && i < s->nsessions; i++) {
        const struct fake_session *f = &s->sessions[i];
        if (!f->live || !fake__same(&f->user, user) || f->expires <= now ||
            f->last_seen <= now - idle)
            continue;
        if (after && fake__cmp_pos(f->created, &f->id, after_ms, after) >= 0)
            continue;
        all[got++] = (struct ql_session_info){f->id,      f->created,    f->last_seen,
                                              f->expires, f->user_agent, f->client_ip};
    }
    qsort(all, (size_t)got, sizeof(*all), newest_first);
    *more = got > limit;
    *n = got > limit ? limit : got;
    *out = all;
    return QL_OK;
}

static int session_revoke(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                          const struct ql_uuid *id)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < FAKE_MAX && i < s->nsessions; i++) {
        struct fake_session *f = &s->sessions[i];
        if (f->live && fake__same(&f->user, user) && fake__same(&f->id, id)) {
            f->live = 0;
            return QL_OK;
        }
    }
    return rc ? rc : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

/* ---- TOTP and recovery codes -------------------------------------------------------------- */

static struct fake_totp *totp_of(struct fake_store *s, const struct ql_uuid *user)
{
    for (int i = 0; i < s->ntotp; i++)
        if (fake__same(&s->totp[i].user, user))
            return &s->totp[i];
    return NULL;
}

int fake__mfa_on(struct fake_store *s, const struct ql_uuid *user)
{
    const struct fake_totp *t = totp_of(s, user);
    return t != NULL && t->confirmed != 0;
}

static int totp_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    struct ql_totp_row *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    const struct fake_totp *t = rc ? NULL : totp_of(s, user);
    if (rc == QL_OK && t == NULL)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    uint8_t *copy = rc ? NULL : ql_arena_alloc(cx->arena, t->sealed_n);
    if (rc == QL_OK && copy == NULL)
        rc = ql_error_nomem(&cx->err);
    if (rc)
        return rc;
    memcpy(copy, t->sealed, t->sealed_n);
    *out = (struct ql_totp_row){copy, t->sealed_n, t->created, t->confirmed, t->last_step};
    return QL_OK;
}

static int totp_begin(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const uint8_t *sealed, size_t n, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_totp *t = totp_of(s, user);
    if (t && t->confirmed)
        return ql_error_set(&cx->err, QL_ECONFLICT, "a confirmed enrolment exists");
    if (t == NULL && s->ntotp == FAKE_MAX)
        return full(cx);
    if (n > sizeof(t->sealed))
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake secret too long");
    if (t == NULL)
        t = &s->totp[s->ntotp++];
    *t = (struct fake_totp){.user = *user, .sealed_n = n, .created = now};
    memcpy(t->sealed, sealed, n);
    return QL_OK;
}

static int totp_confirm(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int64_t step, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_totp *t = rc ? NULL : totp_of(s, user);
    if (rc == QL_OK && (t == NULL || t->confirmed))
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK) {
        t->confirmed = now;
        t->last_step = step;
    }
    return rc;
}

static int totp_use(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    int64_t step)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_totp *t = rc ? NULL : totp_of(s, user);
    if (rc == QL_OK && (t == NULL || !t->confirmed || t->last_step >= step))
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK)
        t->last_step = step;
    return rc;
}

/* Delete the user's recovery codes, keeping the table packed. */
static void drop_codes(struct fake_store *s, const struct ql_uuid *user)
{
    int o = 0;
    for (int i = 0; i < s->nrecovery; i++)
        if (!fake__same(&s->recovery[i].user, user))
            s->recovery[o++] = s->recovery[i];
    s->nrecovery = o;
}

static int totp_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_totp *t = rc ? NULL : totp_of(s, user);
    if (rc == QL_OK && t == NULL)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK) {
        *t = s->totp[--s->ntotp];
        drop_codes(s, user);
    }
    return rc;
}

static int recovery_set(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t (*digests)[QL_DIGEST_LEN], int n, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    drop_codes(s, user);
    if (s->nrecovery + n > FAKE_RECOVERY_MAX)
        return full(cx);
    for (int i = 0; i < n; i++) {
        struct fake_recovery *r = &s->recovery[s->nrecovery++];
        *r = (struct fake_recovery){.user = *user, .created = now};
        memcpy(r->digest, digests[i], QL_DIGEST_LEN);
    }
    return QL_OK;
}

static int recovery_use(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t digest[QL_DIGEST_LEN], int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nrecovery; i++) {
        struct fake_recovery *r = &s->recovery[i];
        if (fake__same(&r->user, user) && r->used == 0 &&
            memcmp(r->digest, digest, QL_DIGEST_LEN) == 0) {
            r->used = now;
            return QL_OK;
        }
    }
    return rc ? rc : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int recovery_left(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->nrecovery; i++)
        *n += fake__same(&s->recovery[i].user, user) && s->recovery[i].used == 0;
    return rc;
}

/* ---- challenges --------------------------------------------------------------------------- */

static struct fake_challenge *challenge_of(struct fake_store *s, const uint8_t *digest)
{
    for (int i = 0; i < s->nchallenges; i++)
        if (memcmp(s->challenges[i].digest, digest, QL_DIGEST_LEN) == 0)
            return &s->challenges[i];
    return NULL;
}

static int challenge_insert(struct ql_store *self, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *user,
                            int64_t now, int64_t expires)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc == QL_OK && challenge_of(s, digest))
        rc = ql_error_set(&cx->err, QL_ECONFLICT, "duplicate challenge");
    if (rc == QL_OK && s->nchallenges == FAKE_MAX)
        rc = full(cx);
    if (rc)
        return rc;
    struct fake_challenge *c = &s->challenges[s->nchallenges++];
    *c = (struct fake_challenge){.user = *user, .created = now, .expires = expires};
    memcpy(c->digest, digest, QL_DIGEST_LEN);
    return QL_OK;
}

static int challenge_get(struct ql_store *self, struct ql_ctx *cx,
                         const uint8_t digest[QL_DIGEST_LEN], struct ql_mfa_challenge *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    const struct fake_challenge *c = rc ? NULL : challenge_of(s, digest);
    if (rc == QL_OK && c == NULL)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK)
        *out = (struct ql_mfa_challenge){c->user, c->failures, c->created, c->expires};
    return rc;
}

static int challenge_fail(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int *failures)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_challenge *c = rc ? NULL : challenge_of(s, digest);
    if (rc == QL_OK && c == NULL)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK)
        *failures = ++c->failures;
    return rc;
}

static int challenge_take(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int64_t now, int max_failures)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_challenge *c = rc ? NULL : challenge_of(s, digest);
    if (rc == QL_OK && (c == NULL || c->expires <= now || c->failures >= max_failures))
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (rc == QL_OK)
        *c = s->challenges[--s->nchallenges];
    return rc;
}

static int challenge_purge(struct ql_store *self, struct ql_ctx *cx, int64_t now, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->nchallenges;) {
        if (s->challenges[i].expires <= now) {
            s->challenges[i] = s->challenges[--s->nchallenges];
            (*n)++;
        } else {
            i++;
        }
    }
    return rc;
}

const struct ql_security_ops fake__security_ops = {
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
