/*
 * fake_flags.c - feature flags and their per-team overrides in the fake store (struct
 * ql_flags_ops).  They live in the table range that begin() saves, so a rollback takes them
 * back; strings are kept in the store's arena.  No cache: every read sees every write.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"

#include <stdlib.h>

static struct fake_flag *flag_by(struct fake_store *s, const char *key)
{
    for (int i = 0; i < s->nflags; i++)
        if (strcmp(s->flags[i].f.key, key) == 0)
            return &s->flags[i];
    return NULL;
}

static struct fake_flag_team *override_of(struct fake_store *s, const struct ql_uuid *flag,
                                          const struct ql_uuid *team)
{
    for (int i = 0; i < s->nflag_teams; i++)
        if (fake__same(&s->flag_teams[i].flag_id, flag) &&
            fake__same(&s->flag_teams[i].o.team_id, team))
            return &s->flag_teams[i];
    return NULL;
}

/* A copy of f with its strings in cx's arena. */
static int copy_out(struct ql_ctx *cx, const struct ql_flag *f, struct ql_flag *out)
{
    *out = *f;
    out->key = ql_arena_strdup(cx->arena, f->key);
    out->description = ql_arena_strdup(cx->arena, f->description);
    return out->key && out->description ? QL_OK : ql_error_nomem(&cx->err);
}

static int f_put(struct ql_store *self, struct ql_ctx *cx, const struct ql_flag *f, int *created,
                 struct ql_flag *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_flag *have = flag_by(s, f->key);
    *created = have == NULL;
    if (have == NULL) {
        if (s->nflags == FAKE_MAX)
            return ql_error_set(&cx->err, QL_EINTERNAL, "fake flags full");
        have = &s->flags[s->nflags++];
        have->f = *f;
        have->f.key = fake__keep(s, f->key);
    }
    have->f.description = fake__keep(s, f->description ? f->description : "");
    have->f.enabled = f->enabled != 0;
    have->f.rollout_percent = f->rollout_percent;
    have->f.updated_ms = f->updated_ms;
    return copy_out(cx, &have->f, out);
}

static int f_get(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_flag *f = flag_by(s, key);
    return f ? copy_out(cx, &f->f, out) : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct ql_flag *)a)->key, ((const struct ql_flag *)b)->key);
}

static int f_list(struct ql_store *self, struct ql_ctx *cx, const char *after_key, int limit,
                  struct ql_flag **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    if (rc)
        return rc;
    struct ql_flag *all = ql_arena_alloc(cx->arena, sizeof(*all) * (FAKE_MAX + 1));
    if (all == NULL)
        return ql_error_nomem(&cx->err);
    int k = 0;
    for (int i = 0; i < s->nflags; i++)
        if (after_key == NULL || strcmp(s->flags[i].f.key, after_key) > 0)
            all[k++] = s->flags[i].f;
    qsort(all, (size_t)k, sizeof(*all), by_key);
    *more = k > limit;
    *n = k > limit ? limit : k;
    for (int i = 0; i < *n; i++)
        if ((rc = copy_out(cx, &all[i], &all[i])) != QL_OK)
            return rc;
    *out = all;
    return QL_OK;
}

static int f_remove(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_flag *f = flag_by(s, key);
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if ((rc = copy_out(cx, &f->f, out)) != QL_OK)
        return rc;
    for (int i = 0; i < s->nflag_teams;)
        if (fake__same(&s->flag_teams[i].flag_id, &out->id))
            s->flag_teams[i] = s->flag_teams[--s->nflag_teams];
        else
            i++;
    *f = s->flags[--s->nflags];
    return QL_OK;
}

static int f_team_put(struct ql_store *self, struct ql_ctx *cx, const char *key,
                      const struct ql_uuid *team, int enabled, int64_t now_ms, int *created,
                      struct ql_flag_team *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_flag *f = flag_by(s, key);
    if (f == NULL || !fake__team_live(s, team))
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    struct fake_flag_team *o = override_of(s, &f->f.id, team);
    *created = o == NULL;
    if (o == NULL) {
        if (s->nflag_teams == FAKE_MAX)
            return ql_error_set(&cx->err, QL_EINTERNAL, "fake overrides full");
        o = &s->flag_teams[s->nflag_teams++];
        *o = (struct fake_flag_team){f->f.id, {*team, 0, now_ms, now_ms}};
    }
    o->o.enabled = enabled != 0;
    o->o.updated_ms = now_ms;
    *out = o->o;
    return QL_OK;
}

static int by_team(const void *a, const void *b)
{
    return memcmp(((const struct ql_flag_team *)a)->team_id.b,
                  ((const struct ql_flag_team *)b)->team_id.b, 16);
}

static int f_team_list(struct ql_store *self, struct ql_ctx *cx, const char *key,
                       const struct ql_uuid *after, int limit, struct ql_flag_team **out, int *n,
                       int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    if (rc)
        return rc;
    struct ql_flag_team *all = ql_arena_alloc(cx->arena, sizeof(*all) * (FAKE_MAX + 1));
    if (all == NULL)
        return ql_error_nomem(&cx->err);
    struct fake_flag *f = flag_by(s, key);
    int k = 0;
    for (int i = 0; f && i < s->nflag_teams; i++)
        if (fake__same(&s->flag_teams[i].flag_id, &f->f.id) &&
            (after == NULL || memcmp(s->flag_teams[i].o.team_id.b, after->b, 16) > 0))
            all[k++] = s->flag_teams[i].o;
    qsort(all, (size_t)k, sizeof(*all), by_team);
    *more = k > limit;
    *n = k > limit ? limit : k;
    *out = all;
    return QL_OK;
}

static int f_team_remove(struct ql_store *self, struct ql_ctx *cx, const char *key,
                         const struct ql_uuid *team)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_flag *f = flag_by(s, key);
    struct fake_flag_team *o = f ? override_of(s, &f->f.id, team) : NULL;
    if (o == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *o = s->flag_teams[--s->nflag_teams];
    return QL_OK;
}

static int f_for_team(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      struct ql_flag_state **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    struct ql_flag *sorted = ql_arena_alloc(cx->arena, sizeof(*sorted) * (FAKE_MAX + 1));
    struct ql_flag_state *st = ql_arena_alloc(cx->arena, sizeof(*st) * (FAKE_MAX + 1));
    if (sorted == NULL || st == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = 0; i < s->nflags; i++)
        sorted[i] = s->flags[i].f;
    qsort(sorted, (size_t)s->nflags, sizeof(*sorted), by_key);
    for (int i = 0; i < s->nflags; i++) {
        const struct fake_flag_team *o = override_of(s, &sorted[i].id, team);
        st[i] = (struct ql_flag_state){ql_arena_strdup(cx->arena, sorted[i].key), sorted[i].enabled,
                                       sorted[i].rollout_percent,
                                       o ? o->o.enabled : QL_FLAG_NO_OVERRIDE};
        if (st[i].key == NULL)
            return ql_error_nomem(&cx->err);
    }
    *out = st;
    *n = s->nflags;
    return QL_OK;
}

const struct ql_flags_ops fake__flags_ops = {
    .put = f_put,
    .get = f_get,
    .list = f_list,
    .remove = f_remove,
    .team_put = f_team_put,
    .team_list = f_team_list,
    .team_remove = f_team_remove,
    .for_team = f_for_team,
};
