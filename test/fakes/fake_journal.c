/*
 * fake_journal.c - the fake store's journal entries, prompts and idempotency records, for the
 * entry and prompt use cases.  Fixed-size tables; strings are copied into the store's own arena.
 */
#include "fake_internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

/* ---- entries, prompts, idempotency ------------------------------------------------------ */

static struct fake_entry *entry_by(struct fake_store *s, const struct ql_uuid *team,
                                   const struct ql_uuid *id)
{
    for (int i = 0; i < s->nentries; i++) {
        struct ql_entry *e = &s->entries[i].e;
        if (fake__same(&e->team_id, team) && fake__same(&e->id, id) && e->deleted_ms == 0)
            return &s->entries[i];
    }
    return NULL;
}

/* The entry with this id, live or deleted, of any team; NULL when none has it. */
static struct fake_entry *entry_any(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->nentries; i++)
        if (fake__same(&s->entries[i].e.id, id))
            return &s->entries[i];
    return NULL;
}

static int e_insert_many(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                         int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (entry_any(s, &es[i]->id)) /* the primary key */
            return ql_error_set(&cx->err, QL_ECONFLICT, NULL);
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
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_entry *f = rc ? NULL : entry_by(s, team, id);
    if (f)
        *out = f->e;
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

/* Does e pass q's filters (team, liveness, author, prompt; not the position)? */
static int entry_matches(const struct ql_entry *e, const struct ql_uuid *team,
                         const struct ql_entry_query *q)
{
    return fake__same(&e->team_id, team) && e->deleted_ms == 0 &&
           (!q->author || (e->has_author_user && fake__same(&e->author_user, q->author))) &&
           (!q->prompt || (e->has_prompt && fake__same(&e->prompt, q->prompt)));
}

/* The matching entry with the greatest (created, id) below (ms, id) (id NULL: any), or NULL. */
static struct ql_entry *next_entry(struct fake_store *s, const struct ql_uuid *team,
                                   const struct ql_entry_query *q, int64_t ms,
                                   const struct ql_uuid *id)
{
    struct ql_entry *best = NULL;
    for (int i = 0; i < s->nentries; i++) {
        struct ql_entry *e = &s->entries[i].e;
        if (!entry_matches(e, team, q) || (id && fake__cmp_pos(e->created_ms, &e->id, ms, id) >= 0))
            continue;
        if (best == NULL || fake__cmp_pos(e->created_ms, &e->id, best->created_ms, &best->id) > 0)
            best = e;
    }
    return best;
}

/* Newest first by (created, id) in keyset pages, as the adapter: not in insertion order. */
static int e_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *n = *more = 0;
    size_t bytes = 0; /* the page's content so far: it ends at QL_PAGE_CONTENT_MAX too */
    for (struct ql_entry *e = next_entry(s, team, q, q->after_ms, q->after_id); e;
         e = next_entry(s, team, q, e->created_ms, &e->id)) {
        if (*n == q->limit || bytes >= QL_PAGE_CONTENT_MAX) {
            *more = 1;
            break;
        }
        bytes += e->content_n;
        (*out)[(*n)++] = *e;
    }
    return QL_OK;
}

static int e_update(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
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
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_entry *f = rc ? NULL : entry_by(s, team, id);
    if (f) {
        f->e.deleted_ms = now;
        f->e.version++;
    }
    return rc ? rc : f ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

static int e_exist_many(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                        int n, int *found)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_entry *f;
    for (int i = 0; rc == QL_OK && i < n; i++)
        found[i] =
            (f = entry_any(s, &es[i]->id)) != NULL && fake__same(&f->e.team_id, &es[i]->team_id);
    return rc;
}

const struct ql_entries_ops fake__entries_ops = {.insert = e_insert,
                                                 .insert_many = e_insert_many,
                                                 .exist_many = e_exist_many,
                                                 .get = e_get,
                                                 .lock = e_get,
                                                 .list = e_list,
                                                 .update = e_update,
                                                 .remove = e_remove};

static int pr_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_prompt *p)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct ql_prompt *f = &s->prompts[s->nprompts++].p;
    *f = *p;
    f->text = fake__keep(s, p->text);
    f->category = fake__keep(s, p->category);
    return QL_OK;
}

static struct ql_prompt *prompt_by(struct fake_store *s, const struct ql_uuid *team,
                                   const struct ql_uuid *id)
{
    for (int i = 0; i < s->nprompts; i++) {
        struct ql_prompt *p = &s->prompts[i].p;
        if (fake__same(&p->id, id) && !p->deleted_ms &&
            (!p->has_team || fake__same(&p->team_id, team)))
            return p;
    }
    return NULL;
}

static int pr_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, struct ql_prompt *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct ql_prompt *p = rc ? NULL : prompt_by(s, team, id);
    if (p)
        *out = *p;
    return rc ? rc : p ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

/*
 * The live prompt team may see (global or its own), of category (NULL: any), with the least
 * (created, id) above (ms, id) (id NULL: any), or NULL.
 */
static struct ql_prompt *next_prompt(struct fake_store *s, const struct ql_uuid *team,
                                     const char *category, int64_t ms, const struct ql_uuid *id)
{
    struct ql_prompt *best = NULL;
    for (int i = 0; i < s->nprompts; i++) {
        struct ql_prompt *p = &s->prompts[i].p;
        if (p->deleted_ms || (p->has_team && !fake__same(&p->team_id, team)) ||
            (category && strcmp(category, p->category) != 0) ||
            (id && fake__cmp_pos(p->created_ms, &p->id, ms, id) <= 0))
            continue;
        if (best == NULL || fake__cmp_pos(p->created_ms, &p->id, best->created_ms, &best->id) < 0)
            best = p;
    }
    return best;
}

/* Oldest first by (created, id) in keyset pages, as the adapter. */
static int pr_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   const char *category, int64_t after_ms, const struct ql_uuid *after_id,
                   int limit, struct ql_prompt **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *n = *more = 0;
    for (struct ql_prompt *p = next_prompt(s, team, category, after_ms, after_id); p;
         p = next_prompt(s, team, category, p->created_ms, &p->id)) {
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
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct ql_prompt *p = rc ? NULL : prompt_by(s, team, id);
    if (p && p->has_team)
        p->deleted_ms = now;
    return rc ? rc : p && p->has_team ? QL_OK : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
}

const struct ql_prompts_ops fake__prompts_ops = {pr_insert, pr_get, pr_list, pr_remove};

static int i_get(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 int64_t now, struct ql_idem_record *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
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
    struct fake_store *s = fake__store(self);
    (void)scope;
    (void)key;
    int rc = fake__enter(s, cx);
    return rc ? rc : s->idem_locked ? ql_error_set(&cx->err, QL_EIDEM_IN_PROGRESS, NULL) : QL_OK;
}

/*
 * One record per (scope, key), as the adapter's primary key: a record that expired by the new
 * one's creation is replaced; a live one is kept and the call still answers QL_OK, as the
 * adapter's INSERT ... ON CONFLICT DO UPDATE ... WHERE does (store.h promises QL_ECONFLICT:
 * see the FIXME in test/contract/store_contract_journal.c).
 */
static int i_put(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
                 const struct ql_idem_record *r)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (r->sealed_n > sizeof(s->idem[0].sealed))
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake record too large");
    struct fake_idem *f = NULL;
    for (int i = 0; i < s->nidem && f == NULL; i++)
        if (!strcmp(s->idem[i].scope, scope) && !strcmp(s->idem[i].key, key))
            f = &s->idem[i];
    if (f && f->r.expires_ms > r->created_ms)
        return QL_OK;
    if (f == NULL && s->nidem == 8)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake table full");
    if (f == NULL)
        f = &s->idem[s->nidem++];
    snprintf(f->scope, sizeof(f->scope), "%s", scope);
    snprintf(f->key, sizeof(f->key), "%s", key);
    f->r = *r;
    memcpy(f->sealed, r->sealed, r->sealed_n);
    f->r.sealed = f->sealed;
    return QL_OK;
}

const struct ql_idem_ops fake__idem_ops = {i_get, i_lock, i_put};
