/*
 * fake_erase.c - the erasure methods of the fake store's data-rights table (the rest is
 * fake_rights.c): an erased user, entries deleted in pages, webhook bodies (a delivery
 * deleted with its attempts, as in PostgreSQL) and idempotency records looked through.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"

#include <stdio.h>
#include <string.h>

static int before(const struct ql_uuid *a, const struct ql_uuid *b)
{
    return memcmp(a->b, b->b, 16) < 0;
}

static int past(const struct ql_uuid *x, const struct ql_uuid *after)
{
    return after == NULL || memcmp(x->b, after->b, 16) > 0;
}

int fake__e_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                 int64_t now_ms, const char **email)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_user *u = fake__user_by(s, user, NULL);
    if (u == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(user, id);
    *email = ql_arena_strdup(cx->arena, u->u.email);
    u->u.email = ql_arena_sprintf(&s->mem, "erased:%s", id);
    u->u.display_name = "";
    u->u.password_hash = NULL;
    u->u.updated_ms = now_ms;
    u->iss = u->sub = NULL;
    u->erased = 1;
    return *email && u->u.email ? QL_OK : ql_error_nomem(&cx->err);
}

int fake__e_entries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user, int limit,
                    struct ql_erased_entry **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    *out = ql_arena_calloc(cx->arena, (size_t)(limit > 0 ? limit : 1), sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_nomem(&cx->err);
    while (rc == QL_OK && *n < limit) { /* the user's entry with the least id, each time */
        int best = -1;
        for (int i = 0; i < s->nentries; i++) {
            const struct ql_entry *e = &s->entries[i].e;
            if (e->has_author_user && fake__same(&e->author_user, user) &&
                (best < 0 || memcmp(e->id.b, s->entries[best].e.id.b, 16) < 0))
                best = i;
        }
        if (best < 0)
            break;
        const struct ql_entry *e = &s->entries[best].e;
        (*out)[(*n)++] = (struct ql_erased_entry){e->team_id, e->id, e->deleted_ms == 0};
        s->entries[best] = s->entries[--s->nentries];
    }
    return rc;
}

/* Delete the attempts of delivery. */
static void drop_attempts(struct fake_store *s, const struct ql_uuid *delivery)
{
    int left = 0;
    for (int k = 0; k < s->nattempts; k++)
        if (!fake__same(&s->attempts[k].delivery_id, delivery))
            s->attempts[left++] = s->attempts[k];
    s->nattempts = left;
}

int fake__e_deliveries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *after,
                       int limit, const char *p1, const char *p2, struct ql_uuid *last,
                       int *scanned, int *deleted)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *scanned = *deleted = 0;
    struct ql_uuid pos;
    int has_pos = after != NULL;
    if (after)
        pos = *after;
    while (rc == QL_OK && *scanned < limit) {
        int best = -1;
        for (int i = 0; i < s->ndeliveries; i++)
            if (past(&s->deliveries[i].d.id, has_pos ? &pos : NULL) &&
                (best < 0 || before(&s->deliveries[i].d.id, &s->deliveries[best].d.id)))
                best = i;
        if (best < 0)
            break;
        (*scanned)++;
        pos = *last = s->deliveries[best].d.id;
        has_pos = 1;
        const char *body = s->deliveries[best].d.body;
        if (strstr(body, p1) || strstr(body, p2)) {
            drop_attempts(s, &pos); /* as webhook_attempts' ON DELETE CASCADE */
            s->deliveries[best] = s->deliveries[--s->ndeliveries];
            (*deleted)++;
        }
    }
    return rc;
}

int fake__e_idem_scope(struct ql_store *self, struct ql_ctx *cx, const char *scope, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->nidem;) {
        if (strcmp(s->idem[i].scope, scope) == 0) {
            s->idem[i] = s->idem[--s->nidem];
            s->idem[i].r.sealed = s->idem[i].sealed; /* it points into its own row */
            (*n)++;
        } else {
            i++;
        }
    }
    return rc;
}

/* -1, 0, 1 as (scope, key) of idem row i is before, at or after (scope, key). */
static int idem_cmp(const struct fake_idem *f, const char *scope, const char *key)
{
    int c = strcmp(f->scope, scope);
    return c ? c : strcmp(f->key, key);
}

int fake__e_idem_page(struct ql_store *self, struct ql_ctx *cx, const char *after_scope,
                      const char *after_key, int limit, struct ql_idem_row **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    size_t bytes = 0; /* the page ends after the record that reaches QL_PAGE_CONTENT_MAX too */
    *out = ql_arena_calloc(cx->arena, (size_t)(limit > 0 ? limit : 1), sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_nomem(&cx->err);
    const char *sc = after_scope ? after_scope : "", *k = after_scope ? after_key : "";
    while (rc == QL_OK) {
        const struct fake_idem *best = NULL;
        for (int i = 0; i < s->nidem; i++)
            if (idem_cmp(&s->idem[i], sc, k) > 0 &&
                (best == NULL || idem_cmp(&s->idem[i], best->scope, best->key) < 0))
                best = &s->idem[i];
        if (best == NULL)
            break;
        if (*n == limit || bytes >= QL_PAGE_CONTENT_MAX) {
            *more = 1;
            break;
        }
        bytes += best->r.sealed_n;
        struct ql_idem_row *r = &(*out)[(*n)++];
        r->scope = ql_arena_strdup(cx->arena, best->scope);
        r->key = ql_arena_strdup(cx->arena, best->key);
        r->r = best->r;
        if (r->scope == NULL || r->key == NULL)
            rc = ql_error_nomem(&cx->err);
        sc = best->scope;
        k = best->key;
    }
    return rc;
}

int fake__e_idem_remove(struct ql_store *self, struct ql_ctx *cx, const char *scope,
                        const char *key)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < s->nidem; i++) {
        if (idem_cmp(&s->idem[i], scope, key) == 0) {
            s->idem[i] = s->idem[--s->nidem];
            s->idem[i].r.sealed = s->idem[i].sealed;
            break;
        }
    }
    return rc;
}
