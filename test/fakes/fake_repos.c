/*
 * fake_repos.c - the in-memory repositories of the fake store: enough of users, sessions,
 * teams, members, API keys, audit rows and throttles for the account and team use cases
 * to run against.  Fixed-size tables; strings are copied into the store's own arena.
 */
#include "fakes.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

static struct fake_store *fs(struct ql_store *s)
{
    return (struct fake_store *)s;
}

static int enter(struct fake_store *s, struct ql_ctx *cx)
{
    if (s->down)
        return ql_error_set(&cx->err, QL_EUNAVAILABLE, "fake store is down");
    if (s->fail_call > 0 && --s->fail_call == 0)
        return ql_error_set(&cx->err, s->fail_code ? s->fail_code : QL_EINTERNAL,
                            "fake store failure");
    return QL_OK;
}

static const char *keep(struct fake_store *s, const char *str)
{
    return str ? ql_arena_strdup(&s->mem, str) : NULL;
}

static int same(const struct ql_uuid *a, const struct ql_uuid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* ---- users ------------------------------------------------------------------------------- */

static struct fake_user *user_by(struct fake_store *s, const struct ql_uuid *id, const char *email)
{
    for (int i = 0; i < s->nusers; i++)
        if ((id && same(&s->users[i].u.id, id)) || (email && !strcmp(s->users[i].u.email, email)))
            return &s->users[i];
    return NULL;
}

static int u_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_user *u,
                    const char *iss, const char *sub)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    if (user_by(s, NULL, u->email))
        return ql_error_set(&cx->err, QL_EEMAIL_TAKEN, NULL);
    if (s->nusers == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    struct fake_user *f = &s->users[s->nusers++];
    f->u = *u;
    f->u.email = keep(s, u->email);
    f->u.display_name = keep(s, u->display_name);
    f->u.password_hash = keep(s, u->password_hash);
    f->iss = keep(s, iss);
    f->sub = keep(s, sub);
    return QL_OK;
}

static int found_user(struct ql_ctx *cx, struct fake_user *f, struct ql_user *out)
{
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *out = f->u;
    return QL_OK;
}

static int u_by_email(struct ql_store *self, struct ql_ctx *cx, const char *email,
                      struct ql_user *out)
{
    int rc = enter(fs(self), cx);
    return rc ? rc : found_user(cx, user_by(fs(self), NULL, email), out);
}

static int u_by_id(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                   struct ql_user *out)
{
    int rc = enter(fs(self), cx);
    return rc ? rc : found_user(cx, user_by(fs(self), id, NULL), out);
}

static int u_by_oidc(struct ql_store *self, struct ql_ctx *cx, const char *iss, const char *sub,
                     struct ql_user *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; i < s->nusers; i++)
        if (s->users[i].iss && !strcmp(s->users[i].iss, iss) && !strcmp(s->users[i].sub, sub))
            return found_user(cx, &s->users[i], out);
    return found_user(cx, NULL, out);
}

static int u_rename(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *name, int64_t now, struct ql_user *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_user *f = rc ? NULL : user_by(s, id, NULL);
    if (rc == QL_OK && f) {
        f->u.display_name = keep(s, name);
        f->u.updated_ms = now;
    }
    return rc ? rc : found_user(cx, f, out);
}

static int u_set_password(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                          const char *hash, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_user *f = rc ? NULL : user_by(s, id, NULL);
    if (f) {
        f->u.password_hash = keep(s, hash);
        f->u.updated_ms = now;
    }
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int u_profile(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                     struct ql_user *user, struct ql_team_role **out, int *n)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    struct fake_user *u = user_by(s, id, NULL);
    if (u == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (user)
        *user = u->u;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = 0;
    for (int i = 0; i < s->nmembers; i++) {
        struct fake_member *m = &s->members[i];
        if (!same(&m->user, id))
            continue;
        for (int t = 0; t < s->nteams; t++) {
            if (same(&s->teams[t].t.id, &m->team) && !s->teams[t].deleted) {
                (*out)[*n].team_id = m->team;
                (*out)[*n].name = s->teams[t].t.name;
                (*out)[*n].role = m->role;
                (*n)++;
            }
        }
    }
    return QL_OK;
}

static const struct ql_users_ops users_ops = {u_insert, u_by_email,     u_by_id,  u_by_oidc,
                                              u_rename, u_set_password, u_profile};

/* ---- sessions and principals ------------------------------------------------------------ */

static int s_insert(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN],
                    const struct ql_uuid *sid, const struct ql_uuid *uid, int64_t now,
                    int64_t expires)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    struct fake_session *f = &s->sessions[s->nsessions++ % FAKE_MAX];
    memcpy(f->digest, d, QL_DIGEST_LEN);
    f->id = *sid;
    f->user = *uid;
    f->created = f->last_seen = now;
    f->expires = expires;
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
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_session *f = rc ? NULL : session_by(s, d);
    if (f)
        f->live = 0;
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int s_remove_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *uid,
                         const uint8_t *keep_digest)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    for (int i = 0; rc == QL_OK && i < FAKE_MAX && i < s->nsessions; i++) {
        struct fake_session *f = &s->sessions[i];
        if (same(&f->user, uid) && !(keep_digest && !memcmp(f->digest, keep_digest, 32)))
            f->live = 0;
    }
    return rc;
}

static int s_touch(struct ql_store *self, struct ql_ctx *cx, const uint8_t d[QL_DIGEST_LEN],
                   int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_session *f = rc ? NULL : session_by(s, d);
    if (f)
        f->last_seen = now;
    s->touches++;
    return rc;
}

static const struct ql_sessions_ops sessions_ops = {s_insert, s_remove, s_remove_user, s_touch};

static int memberships(struct fake_store *s, struct ql_ctx *cx, const struct ql_uuid *uid,
                       struct ql_principal *out)
{
    struct ql_membership *m = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(*m));
    out->teams = m;
    out->nteams = 0;
    for (int i = 0; i < s->nmembers; i++) {
        if (!same(&s->members[i].user, uid))
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
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
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
        if (k->revoked || memcmp(k->digest, d, QL_DIGEST_LEN) != 0)
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
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->user_id = *uid;
    return memberships(s, cx, uid, out);
}

static const struct ql_principals_ops principals_ops = {p_load, p_load_user};

/* ---- teams, members, keys ------------------------------------------------------------------ */

static struct fake_team *team_by(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->nteams; i++)
        if (same(&s->teams[i].t.id, id) && !s->teams[i].deleted)
            return &s->teams[i];
    return NULL;
}

static struct fake_member *member_by(struct fake_store *s, const struct ql_uuid *team,
                                     const struct ql_uuid *user)
{
    for (int i = 0; i < s->nmembers; i++)
        if (same(&s->members[i].team, team) && same(&s->members[i].user, user))
            return &s->members[i];
    return NULL;
}

static int m_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user, int role, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    if (member_by(s, team, user))
        return ql_error_set(&cx->err, QL_ECONFLICT, NULL);
    struct fake_member *m = &s->members[s->nmembers++];
    m->team = *team;
    m->user = *user;
    m->role = role;
    m->joined = now;
    return QL_OK;
}

static int t_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_team *t,
                    const struct ql_uuid *owner)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    struct fake_team *f = &s->teams[s->nteams++];
    f->t = *t;
    f->t.name = keep(s, t->name);
    f->deleted = 0;
    return m_insert(self, cx, &t->id, owner, QL_ROLE_OWNER, t->created_ms);
}

static int t_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_team *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_team *t = rc ? NULL : team_by(s, id);
    if (t && out)
        *out = t->t;
    return rc ? rc : t ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int t_lock(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id)
{
    return t_get(self, cx, id, NULL);
}

static int t_rename(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *name, int64_t now, struct ql_team *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_team *t = rc ? NULL : team_by(s, id);
    if (t) {
        t->t.name = keep(s, name);
        t->t.updated_ms = now;
        *out = t->t;
    }
    return rc ? rc : t ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int t_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_team *t = rc ? NULL : team_by(s, id);
    (void)now;
    if (t)
        t->deleted = 1;
    return rc ? rc : t ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static const struct ql_teams_ops teams_ops = {t_insert, t_get, t_lock, t_rename, t_remove};

static int fill_member(struct fake_store *s, struct fake_member *m, struct ql_member *out)
{
    struct fake_user *u = user_by(s, &m->user, NULL);
    out->user_id = m->user;
    out->email = u ? u->u.email : "";
    out->display_name = u ? u->u.display_name : "";
    out->role = m->role;
    out->joined_ms = m->joined;
    return QL_OK;
}

static int m_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *after, int limit, struct ql_member **out, int *n, int *more)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = 0;
    *more = 0;
    for (int i = 0; i < s->nmembers; i++) {
        struct fake_member *m = &s->members[i];
        if (!same(&m->team, team) || (after && memcmp(m->user.b, after->b, 16) <= 0))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        fill_member(s, m, &(*out)[(*n)++]);
    }
    return QL_OK;
}

static int m_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *user, struct ql_member *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        fill_member(s, m, out);
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_set_role(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *user, int role)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        m->role = role;
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        *m = s->members[--s->nmembers];
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_owners(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int *n)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->nmembers; i++)
        *n += same(&s->members[i].team, team) && s->members[i].role == QL_ROLE_OWNER;
    return rc;
}

static const struct ql_members_ops members_ops = {m_list,     m_get,    m_insert,
                                                  m_set_role, m_remove, m_owners};

static int k_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_api_key *k,
                    const uint8_t d[QL_DIGEST_LEN], const struct ql_uuid *by)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    (void)by;
    if (rc)
        return rc;
    struct fake_key *f = &s->keys[s->nkeys++];
    f->k = *k;
    f->k.name = keep(s, k->name);
    f->k.prefix = keep(s, k->prefix);
    memcpy(f->digest, d, QL_DIGEST_LEN);
    f->revoked = 0;
    return QL_OK;
}

static int k_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_api_key **out, int *n, int *more)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    (void)after_ms;
    (void)after_id;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = *more = 0;
    for (int i = s->nkeys - 1; i >= 0; i--) {
        if (s->keys[i].revoked || !same(&s->keys[i].k.team_id, team))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = s->keys[i].k;
    }
    return QL_OK;
}

static int k_revoke(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    (void)now;
    for (int i = 0; rc == QL_OK && i < s->nkeys; i++) {
        if (!s->keys[i].revoked && same(&s->keys[i].k.id, id) &&
            same(&s->keys[i].k.team_id, team)) {
            s->keys[i].revoked = 1;
            return QL_OK;
        }
    }
    return rc ? rc : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int k_touch(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nkeys; i++)
        if (same(&s->keys[i].k.id, id))
            s->keys[i].k.last_used_ms = now;
    s->touches++;
    return rc;
}

static const struct ql_api_keys_ops keys_ops = {k_insert, k_list, k_revoke, k_touch};

/* ---- audit and throttles --------------------------------------------------------------- */

static void put_audit(struct fake_store *s, const struct ql_uuid *team,
                      const struct ql_audit_entry *e)
{
    struct fake_audit *a = &s->audit[s->naudit++ % FAKE_MAX];
    a->e = *e;
    a->e.actor = keep(s, e->actor);
    a->e.action = keep(s, e->action);
    a->e.target_type = keep(s, e->target_type);
    a->e.target_id = keep(s, e->target_id);
    a->has_team = team != NULL;
    if (team)
        a->team = *team;
    a->in_tx = s->in_tx;
}

static int a_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_audit_entry *e)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc == QL_OK)
        put_audit(s, team, e);
    return rc;
}

/* One call, as one statement: it fails whole or appends every row. */
static int a_append_many(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_uuid *const *teams, const struct ql_audit_entry *es, int n)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    for (int i = 0; rc == QL_OK && i < n; i++)
        put_audit(s, teams[i], &es[i]);
    return rc;
}

static int a_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_audit_entry **out, int *n, int *more)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    (void)after_ms;
    (void)after_id;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = *more = 0;
    for (int i = s->naudit - 1; i >= 0 && i >= s->naudit - FAKE_MAX; i--) {
        struct fake_audit *a = &s->audit[i % FAKE_MAX];
        if (!a->has_team || !same(&a->team, team))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = a->e;
    }
    return QL_OK;
}

static const struct ql_audit_ops audit_ops = {a_append, a_append_many, a_list};

static int th_failures(struct ql_store *self, struct ql_ctx *cx, const char *email, int64_t since,
                       int *count, int64_t *oldest)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
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
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc == QL_OK && s->nfailures < FAKE_MAX) {
        snprintf(s->failures[s->nfailures].email, sizeof(s->failures[0].email), "%s", email);
        s->failures[s->nfailures++].at = now;
    }
    return rc;
}

static int th_clear(struct ql_store *self, struct ql_ctx *cx, const char *email)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
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
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
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

static const struct ql_throttle_ops throttle_ops = {th_failures, th_record, th_clear, th_hit};

/* ---- entries, prompts, idempotency ------------------------------------------------------ */

static struct fake_entry *entry_by(struct fake_store *s, const struct ql_uuid *team,
                                   const struct ql_uuid *id)
{
    for (int i = 0; i < s->nentries; i++) {
        struct ql_entry *e = &s->entries[i].e;
        if (same(&e->team_id, team) && same(&e->id, id) && e->deleted_ms == 0)
            return &s->entries[i];
    }
    return NULL;
}

static int e_insert_many(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                         int n)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    if (s->nentries + n > FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    for (int i = 0; i < n; i++) {
        struct ql_entry *f = &s->entries[s->nentries++].e;
        *f = *es[i];
        f->content = ql_arena_strndup(&s->mem, es[i]->content, es[i]->content_n);
    }
    return QL_OK;
}

static int e_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e)
{
    return e_insert_many(self, cx, &e, 1);
}

static int e_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *id, struct ql_entry *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_entry *f = rc ? NULL : entry_by(s, team, id);
    if (f)
        *out = f->e;
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

/* Newest first by (created, id); the fake keeps insertion order, which matches time order. */
static int e_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = *more = 0;
    for (int i = s->nentries - 1; i >= 0; i--) {
        struct ql_entry *e = &s->entries[i].e;
        if (!same(&e->team_id, team) || e->deleted_ms)
            continue;
        if (q->after_id &&
            (e->created_ms > q->after_ms ||
             (e->created_ms == q->after_ms && memcmp(e->id.b, q->after_id->b, 16) >= 0)))
            continue;
        if (q->author && !(e->has_author_user && same(&e->author_user, q->author)))
            continue;
        if (q->prompt && !(e->has_prompt && same(&e->prompt, q->prompt)))
            continue;
        if (*n == q->limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = *e;
    }
    return QL_OK;
}

static int e_update(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_entry *f = rc ? NULL : entry_by(s, &e->team_id, &e->id);
    if (f) {
        f->e = *e;
        f->e.content = ql_arena_strndup(&s->mem, e->content, e->content_n);
    }
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int e_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct fake_entry *f = rc ? NULL : entry_by(s, team, id);
    if (f) {
        f->e.deleted_ms = now;
        f->e.version++;
    }
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static const struct ql_entries_ops entries_ops = {e_insert, e_insert_many, e_get,   e_get,
                                                  e_list,   e_update,      e_remove};

static int pr_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_prompt *p)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    struct ql_prompt *f = &s->prompts[s->nprompts++].p;
    *f = *p;
    f->text = keep(s, p->text);
    f->category = keep(s, p->category);
    return QL_OK;
}

static struct ql_prompt *prompt_by(struct fake_store *s, const struct ql_uuid *team,
                                   const struct ql_uuid *id)
{
    for (int i = 0; i < s->nprompts; i++) {
        struct ql_prompt *p = &s->prompts[i].p;
        if (same(&p->id, id) && !p->deleted_ms && (!p->has_team || same(&p->team_id, team)))
            return p;
    }
    return NULL;
}

static int pr_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, struct ql_prompt *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct ql_prompt *p = rc ? NULL : prompt_by(s, team, id);
    if (p)
        *out = *p;
    return rc ? rc : p ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int pr_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   const char *category, int64_t after_ms, const struct ql_uuid *after_id,
                   int limit, struct ql_prompt **out, int *n, int *more)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    (void)after_ms;
    (void)after_id;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    *n = *more = 0;
    for (int i = 0; i < s->nprompts; i++) {
        struct ql_prompt *p = &s->prompts[i].p;
        if (p->deleted_ms || (p->has_team && !same(&p->team_id, team)) ||
            (category && strcmp(category, p->category) != 0))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = *p;
    }
    return QL_OK;
}

static int pr_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    struct ql_prompt *p = rc ? NULL : prompt_by(s, team, id);
    if (p && p->has_team)
        p->deleted_ms = now;
    return rc ? rc : p && p->has_team ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static const struct ql_prompts_ops prompts_ops = {pr_insert, pr_get, pr_list, pr_remove};

static int i_get(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 int64_t now, struct ql_idem_record *out)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nidem; i++) {
        struct fake_idem *f = &s->idem[i];
        if (!strcmp(f->scope, scope) && !strcmp(f->key, key) && f->r.expires_ms > now) {
            *out = f->r;
            return QL_OK;
        }
    }
    return rc ? rc : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int i_lock(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key)
{
    struct fake_store *s = fs(self);
    (void)scope;
    (void)key;
    int rc = enter(s, cx);
    return rc ? rc : s->idem_locked ? ql_error_set(&cx->err, QL_EIDEM_IN_PROGRESS, NULL) : QL_OK;
}

static int i_put(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 const struct ql_idem_record *r)
{
    struct fake_store *s = fs(self);
    int rc = enter(s, cx);
    if (rc)
        return rc;
    if (s->nidem == 8 || r->sealed_n > sizeof(s->idem[0].sealed))
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    struct fake_idem *f = &s->idem[s->nidem++];
    snprintf(f->scope, sizeof(f->scope), "%s", scope);
    snprintf(f->key, sizeof(f->key), "%s", key);
    f->r = *r;
    memcpy(f->sealed, r->sealed, r->sealed_n);
    f->r.sealed = f->sealed;
    return QL_OK;
}

static const struct ql_idem_ops idem_ops = {i_get, i_lock, i_put};

void fake_store_wire_repos(struct ql_store_ops *ops)
{
    ops->users = &users_ops;
    ops->sessions = &sessions_ops;
    ops->principals = &principals_ops;
    ops->teams = &teams_ops;
    ops->members = &members_ops;
    ops->api_keys = &keys_ops;
    ops->audit = &audit_ops;
    ops->throttle = &throttle_ops;
    ops->entries = &entries_ops;
    ops->prompts = &prompts_ops;
    ops->idem = &idem_ops;
}
