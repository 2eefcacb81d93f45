/*
 * fake_identity.c - the fake store's users, sessions, principals and login throttles: enough
 * for the account use cases to run against.  Fixed-size tables; strings are copied into the
 * store's own arena.
 */
#include "fake_internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

/* ---- users ------------------------------------------------------------------------------- */

struct fake_user *fake__user_by(struct fake_store *s, const struct ql_uuid *id, const char *email)
{
    for (int i = 0; i < s->nusers; i++)
        if (!s->users[i].erased && ((id && fake__same(&s->users[i].u.id, id)) ||
                                    (email && !strcmp(s->users[i].u.email, email))))
            return &s->users[i];
    return NULL;
}

static int u_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_user *u,
                    const char *iss, const char *sub)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (fake__user_by(s, NULL, u->email))
        return ql_error_set(&cx->err, QL_EEMAIL_TAKEN, NULL);
    if (s->nusers == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    struct fake_user *f = &s->users[s->nusers++];
    f->u = *u;
    f->u.email = fake__keep(s, u->email);
    f->u.display_name = fake__keep(s, u->display_name);
    f->u.password_hash = fake__keep(s, u->password_hash);
    f->iss = fake__keep(s, iss);
    f->sub = fake__keep(s, sub);
    return QL_OK;
}

static int found_user(struct fake_store *s, struct ql_ctx *cx, struct fake_user *f,
                      struct ql_user *out)
{
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *out = f->u;
    out->mfa_enabled = fake__mfa_on(s, &f->u.id);
    return QL_OK;
}

static int u_by_email(struct ql_store *self, struct ql_ctx *cx, const char *email,
                      struct ql_user *out)
{
    int rc = fake__enter(fake__store(self), cx);
    return rc ? rc
              : found_user(fake__store(self), cx, fake__user_by(fake__store(self), NULL, email),
                           out);
}

static int u_by_id(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                   struct ql_user *out)
{
    int rc = fake__enter(fake__store(self), cx);
    return rc ? rc
              : found_user(fake__store(self), cx, fake__user_by(fake__store(self), id, NULL), out);
}

static int u_by_oidc(struct ql_store *self, struct ql_ctx *cx, const char *iss, const char *sub,
                     struct ql_user *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; i < s->nusers; i++)
        if (s->users[i].iss && !strcmp(s->users[i].iss, iss) && !strcmp(s->users[i].sub, sub))
            return found_user(s, cx, &s->users[i], out);
    return found_user(s, cx, NULL, out);
}

static int u_rename(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *name, int64_t now, struct ql_user *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_user *f = rc ? NULL : fake__user_by(s, id, NULL);
    if (rc == QL_OK && f) {
        f->u.display_name = fake__keep(s, name);
        f->u.updated_ms = now;
    }
    return rc ? rc : found_user(s, cx, f, out);
}

static int u_set_password(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                          const char *hash, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_user *f = rc ? NULL : fake__user_by(s, id, NULL);
    if (f) {
        f->u.password_hash = fake__keep(s, hash);
        f->u.updated_ms = now;
    }
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int u_profile(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                     struct ql_user *user, struct ql_team_role **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_user *u = fake__user_by(s, id, NULL);
    if (u == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (user) {
        *user = u->u;
        user->mfa_enabled = fake__mfa_on(s, id);
    }
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = 0;
    for (int i = 0; i < s->nmembers; i++) {
        struct fake_member *m = &s->members[i];
        if (!fake__same(&m->user, id))
            continue;
        for (int t = 0; t < s->nteams; t++) {
            if (fake__same(&s->teams[t].t.id, &m->team) && !s->teams[t].deleted) {
                (*out)[*n].team_id = m->team;
                (*out)[*n].name = s->teams[t].t.name;
                (*out)[*n].role = m->role;
                (*n)++;
            }
        }
    }
    return QL_OK;
}

const struct ql_users_ops fake__users_ops = {u_insert, u_by_email,     u_by_id,  u_by_oidc,
                                             u_rename, u_set_password, u_profile};

/* ---- sessions and principals ------------------------------------------------------------ */

static int s_insert(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN],
                    const struct ql_uuid *sid, const struct ql_uuid *uid, int64_t now,
                    int64_t expires, const char *user_agent, const char *client_ip)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_session *f = &s->sessions[s->nsessions++ % FAKE_MAX];
    memcpy(f->digest, d, QL_DIGEST_LEN);
    f->id = *sid;
    f->user = *uid;
    f->created = f->last_seen = now;
    f->expires = expires;
    f->user_agent = fake__keep(s, user_agent);
    f->client_ip = fake__keep(s, client_ip);
    f->live = 1;
    return QL_OK;
}

static struct fake_session *session_by(struct fake_store *s, const uint8_t *d)
{
    for (int i = 0; i < FAKE_MAX && i < s->nsessions; i++)
        if (s->sessions[i].live && !memcmp(s->sessions[i].digest, d, QL_DIGEST_LEN))
            return &s->sessions[i];
    return NULL;
}

static int s_remove(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN])
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_session *f = rc ? NULL : session_by(s, d);
    if (f)
        f->live = 0;
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int s_remove_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *uid,
                         const uint8_t *keep_digest)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < FAKE_MAX && i < s->nsessions; i++) {
        struct fake_session *f = &s->sessions[i];
        if (fake__same(&f->user, uid) && !(keep_digest && !memcmp(f->digest, keep_digest, 32)))
            f->live = 0;
    }
    return rc;
}

static int s_touch(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN],
                   int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_session *f = rc ? NULL : session_by(s, d);
    if (f)
        f->last_seen = now;
    s->touches++;
    return rc;
}

const struct ql_sessions_ops fake__sessions_ops = {s_insert, s_remove, s_remove_user, s_touch};

static int memberships(struct fake_store *s, struct ql_ctx *cx, const struct ql_uuid *uid,
                       struct ql_principal *out)
{
    struct ql_membership *m = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(*m));
    out->teams = m;
    out->nteams = 0;
    if (m == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    for (int i = 0; i < s->nmembers; i++) {
        /* a soft-deleted team's memberships are gone with it */
        if (!fake__same(&s->members[i].user, uid) || !fake__team_live(s, &s->members[i].team))
            continue;
        m[out->nteams].team_id = s->members[i].team;
        m[out->nteams].role = s->members[i].role;
        out->nteams++;
    }
    return QL_OK;
}

static int p_load(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN],
                  struct ql_principal *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    memcpy(out->digest, d, QL_DIGEST_LEN);
    struct fake_session *f = session_by(s, d);
    if (f) {
        out->kind = QL_PRINCIPAL_USER;
        out->user_id = f->user;
        out->credential_id = f->id;
        out->created_ms = f->created;
        out->expires_ms = f->expires;
        out->last_seen_ms = f->last_seen;
        return memberships(s, cx, &f->user, out);
    }
    for (int i = 0; i < s->nkeys; i++) {
        struct fake_key *k = &s->keys[i];
        if (k->revoked || memcmp(k->digest, d, QL_DIGEST_LEN) != 0 ||
            !fake__team_live(s, &k->k.team_id))
            continue;
        out->kind = QL_PRINCIPAL_API_KEY;
        out->credential_id = k->k.id;
        out->key_team_id = k->k.team_id;
        out->key_role = k->k.role;
        out->created_ms = k->k.created_ms;
        out->expires_ms = k->k.expires_ms;
        out->last_seen_ms = k->k.last_used_ms;
        return QL_OK;
    }
    return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int p_load_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *uid,
                       struct ql_principal *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->user_id = *uid;
    return memberships(s, cx, uid, out);
}

const struct ql_principals_ops fake__principals_ops = {p_load, p_load_user};

/* ---- throttles ---------------------------------------------------------------------- */

static int th_failures(struct ql_store *self, struct ql_ctx *cx, const char *email, int64_t since,
                       int *count, int64_t *oldest)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *count = 0;
    *oldest = 0;
    for (int i = 0; rc == QL_OK && i < s->nfailures; i++) {
        struct fake_failure *f = &s->failures[i];
        if (strcmp(f->email, email) != 0 || f->at <= since)
            continue;
        (*count)++;
        if (*oldest == 0 || f->at < *oldest)
            *oldest = f->at;
    }
    return rc;
}

static int th_record(struct ql_store *self, struct ql_ctx *cx, const char *email, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc == QL_OK && s->nfailures < FAKE_MAX) {
        snprintf(s->failures[s->nfailures].email, sizeof(s->failures[0].email), "%s", email);
        s->failures[s->nfailures++].at = now;
    }
    return rc;
}

/* One row of key at that time, as PostgreSQL's ctid picks one. */
static int th_forget(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t at)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nfailures; i++) {
        if (s->failures[i].at == at && strcmp(s->failures[i].email, key) == 0) {
            s->failures[i] = s->failures[--s->nfailures];
            break;
        }
    }
    return rc;
}

static int th_clear(struct ql_store *self, struct ql_ctx *cx, const char *email)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nfailures;) {
        if (strcmp(s->failures[i].email, email) == 0)
            s->failures[i] = s->failures[--s->nfailures];
        else
            i++;
    }
    return rc;
}

static int th_hit(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t window,
                  int *count, int *prev)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *prev = 0;
    for (int i = 0; i < s->ncounters; i++)
        if (s->counters[i].window == window - 60000 && !strcmp(s->counters[i].key, key))
            *prev = s->counters[i].count;
    for (int i = 0; i < s->ncounters; i++) {
        if (s->counters[i].window == window && !strcmp(s->counters[i].key, key)) {
            *count = ++s->counters[i].count;
            return QL_OK;
        }
    }
    struct fake_counter *c = &s->counters[s->ncounters++ % FAKE_MAX];
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->window = window;
    c->count = 1;
    *count = 1;
    return QL_OK;
}

const struct ql_throttle_ops fake__throttle_ops = {
    .failures = th_failures,
    .record_failure = th_record,
    .forget_failure = th_forget,
    .clear_failures = th_clear,
    .hit = th_hit,
};
