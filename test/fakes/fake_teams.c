/*
 * fake_teams.c - the fake store's teams, members, API keys and audit rows, for the team use
 * cases.  Fixed-size tables; strings are copied into the store's own arena.
 */
#include "fake_internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

/* ---- teams, members, keys ------------------------------------------------------------------ */

static struct fake_team *team_by(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->nteams; i++)
        if (fake__same(&s->teams[i].t.id, id) && !s->teams[i].deleted)
            return &s->teams[i];
    return NULL;
}

int fake__team_live(struct fake_store *s, const struct ql_uuid *id)
{
    return team_by(s, id) != NULL;
}

static struct fake_member *member_by(struct fake_store *s, const struct ql_uuid *team,
                                     const struct ql_uuid *user)
{
    for (int i = 0; i < s->nmembers; i++)
        if (fake__same(&s->members[i].team, team) && fake__same(&s->members[i].user, user))
            return &s->members[i];
    return NULL;
}

/* Add a membership; QL_ECONFLICT when there is one.  Not a store call of its own. */
/* The adapter refuses an erased user as a member (tests may name users the fake lacks). */
static int erased(const struct fake_store *s, const struct ql_uuid *user)
{
    for (int i = 0; i < s->nusers; i++)
        if (s->users[i].erased && fake__same(&s->users[i].u.id, user))
            return 1;
    return 0;
}

static int add_member(struct fake_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *user, int role, int64_t now)
{
    if (member_by(s, team, user))
        return ql_error_set(&cx->err, QL_ECONFLICT, NULL);
    if (s->nmembers == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    struct fake_member *m = &s->members[s->nmembers++];
    m->team = *team;
    m->user = *user;
    m->role = role;
    m->joined = now;
    return QL_OK;
}

static int m_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user, int role, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc == QL_OK && erased(s, user))
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return rc ? rc : add_member(s, cx, team, user, role, now);
}

/* The team and its first owner in one call, as the adapter's one statement. */
static int t_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_team *t,
                    const struct ql_uuid *owner)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (erased(s, owner))
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (s->nteams == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    struct fake_team *f = &s->teams[s->nteams++];
    f->t = *t;
    f->t.name = fake__keep(s, t->name);
    f->deleted = 0;
    return add_member(s, cx, &t->id, owner, QL_ROLE_OWNER, t->created_ms);
}

static int t_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_team *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
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
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_team *t = rc ? NULL : team_by(s, id);
    if (t) {
        t->t.name = fake__keep(s, name);
        t->t.updated_ms = now;
        *out = t->t;
    }
    return rc ? rc : t ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int t_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_team *t = rc ? NULL : team_by(s, id);
    (void)now;
    if (t)
        t->deleted = 1;
    return rc ? rc : t ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

const struct ql_teams_ops fake__teams_ops = {t_insert, t_get, t_lock, t_rename, t_remove};

static int fill_member(struct fake_store *s, struct fake_member *m, struct ql_member *out)
{
    struct fake_user *u = fake__user_by(s, &m->user, NULL);
    out->user_id = m->user;
    out->email = u ? u->u.email : "";
    out->display_name = u ? u->u.display_name : "";
    out->role = m->role;
    out->joined_ms = m->joined;
    return QL_OK;
}

/* The member of team with the least user id above after (NULL: any), or NULL. */
static struct fake_member *next_member(struct fake_store *s, const struct ql_uuid *team,
                                       const struct ql_uuid *after)
{
    struct fake_member *best = NULL;
    for (int i = 0; i < s->nmembers; i++) {
        struct fake_member *m = &s->members[i];
        if (!fake__same(&m->team, team) || (after && memcmp(m->user.b, after->b, 16) <= 0))
            continue;
        if (best == NULL || memcmp(m->user.b, best->user.b, 16) < 0)
            best = m;
    }
    return best;
}

/* By user id, as the adapter's ORDER BY. */
static int m_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *after, int limit, struct ql_member **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *n = 0;
    *more = 0;
    for (struct fake_member *m = next_member(s, team, after); m;
         m = next_member(s, team, &m->user)) {
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
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        fill_member(s, m, out);
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_set_role(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *user, int role)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        m->role = role;
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_member *m = rc ? NULL : member_by(s, team, user);
    if (m)
        *m = s->members[--s->nmembers];
    return rc ? rc : m ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int m_owners(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->nmembers; i++)
        *n += fake__same(&s->members[i].team, team) && s->members[i].role == QL_ROLE_OWNER;
    return rc;
}

const struct ql_members_ops fake__members_ops = {m_list,     m_get,    m_insert,
                                                 m_set_role, m_remove, m_owners};

static int k_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_api_key *k,
                    const uint8_t d[QL_DIGEST_LEN], const struct ql_uuid *by)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_key *f = &s->keys[s->nkeys++];
    memset(f, 0, sizeof(*f));
    f->k = *k;
    if ((f->has_creator = by != NULL))
        f->created_by = *by;
    f->k.name = fake__keep(s, k->name);
    f->k.prefix = fake__keep(s, k->prefix);
    memcpy(f->digest, d, QL_DIGEST_LEN);
    f->revoked = 0;
    return QL_OK;
}

/* The live key of team with the greatest (created, id) below (ms, id) (id NULL: any), or NULL. */
static struct fake_key *next_key(struct fake_store *s, const struct ql_uuid *team, int64_t ms,
                                 const struct ql_uuid *id)
{
    struct fake_key *best = NULL;
    for (int i = 0; i < s->nkeys; i++) {
        struct fake_key *k = &s->keys[i];
        if (k->revoked || !fake__same(&k->k.team_id, team) ||
            (id && fake__cmp_pos(k->k.created_ms, &k->k.id, ms, id) >= 0))
            continue;
        if (best == NULL ||
            fake__cmp_pos(k->k.created_ms, &k->k.id, best->k.created_ms, &best->k.id) > 0)
            best = k;
    }
    return best;
}

/* Newest first by (created, id), keyset pages, as the adapter. */
static int k_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_api_key **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *n = *more = 0;
    for (struct fake_key *k = next_key(s, team, after_ms, after_id); k;
         k = next_key(s, team, k->k.created_ms, &k->k.id)) {
        if (*n == limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = k->k;
    }
    return QL_OK;
}

static int k_revoke(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nkeys; i++) {
        if (!s->keys[i].revoked && fake__same(&s->keys[i].k.id, id) &&
            fake__same(&s->keys[i].k.team_id, team)) {
            s->keys[i].revoked = 1;
            s->keys[i].revoked_ms = now;
            return QL_OK;
        }
    }
    return rc ? rc : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int k_touch(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id, int64_t now)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nkeys; i++)
        if (fake__same(&s->keys[i].k.id, id))
            s->keys[i].k.last_used_ms = now;
    s->touches++;
    return rc;
}

const struct ql_api_keys_ops fake__keys_ops = {k_insert, k_list, k_revoke, k_touch};

/* ---- audit and throttles --------------------------------------------------------------- */

static void put_audit(struct fake_store *s, const struct ql_uuid *team,
                      const struct ql_audit_entry *e)
{
    /* The next number of the row's chain (a team's, or the account chain). */
    int64_t seq = 1;
    for (int i = s->naudit - 1; i >= 0 && i >= s->naudit - FAKE_MAX; i--) {
        struct fake_audit *prev = &s->audit[i % FAKE_MAX];
        if (prev->has_team == (team != NULL) && (!team || fake__same(&prev->team, team))) {
            seq = prev->e.seq + 1;
            break;
        }
    }
    struct fake_audit *a = &s->audit[s->naudit++ % FAKE_MAX];
    a->e = *e;
    a->e.seq = seq;
    a->e.actor = fake__keep(s, e->actor);
    a->e.action = fake__keep(s, e->action);
    a->e.target_type = fake__keep(s, e->target_type);
    a->e.target_id = fake__keep(s, e->target_id);
    a->has_team = team != NULL;
    if (team)
        a->team = *team;
    a->in_tx = s->in_tx;
}

static int a_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_audit_entry *e)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc == QL_OK)
        put_audit(s, team, e);
    return rc;
}

/* One call, as one statement: it fails whole or appends every row. */
static int a_append_many(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_uuid *const *teams, const struct ql_audit_entry *es, int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < n; i++)
        put_audit(s, teams[i], &es[i]);
    return rc;
}

static int a_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_audit_entry **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *n = *more = 0;
    /* Rows of a chain sit in the ring in sequence order: walking back is newest first. */
    for (int i = s->naudit - 1; i >= 0 && i >= s->naudit - FAKE_MAX; i--) {
        struct fake_audit *a = &s->audit[i % FAKE_MAX];
        if (!a->has_team || !fake__same(&a->team, team) || (after_id && a->e.seq >= after_ms))
            continue;
        if (*n == limit) {
            *more = 1;
            break;
        }
        (*out)[(*n)++] = a->e;
    }
    return QL_OK;
}

const struct ql_audit_ops fake__audit_ops = {a_append, a_append_many, a_list};
