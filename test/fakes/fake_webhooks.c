/*
 * fake_webhooks.c - webhook endpoints, deliveries and attempts of the fake store
 * (struct ql_webhooks_ops).  They live in the table range that begin() saves, so a
 * rollback takes them back; strings are kept in the store's arena.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "uuid/uuid.h"

static struct fake_webhook *hook_of(struct fake_store *s, const struct ql_uuid *team,
                                    const struct ql_uuid *id, int live)
{
    for (int i = 0; i < s->nwebhooks; i++) {
        struct fake_webhook *h = &s->webhooks[i];
        if (fake__same(&h->w.id, id) && (team == NULL || fake__same(&h->w.team_id, team)) &&
            !(live && h->deleted))
            return h;
    }
    return NULL;
}

static struct fake_delivery *delivery_of(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->ndeliveries; i++)
        if (fake__same(&s->deliveries[i].d.id, id))
            return &s->deliveries[i];
    return NULL;
}

static int w_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_webhook *w,
                    const uint8_t *secret, size_t n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (s->nwebhooks == FAKE_MAX || n > sizeof(s->webhooks[0].secret))
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake webhooks full");
    if (!fake__team_live(s, &w->team_id))
        return ql_error_set(&cx->err, QL_ECONFLICT, NULL);
    struct fake_webhook *h = &s->webhooks[s->nwebhooks++];
    memset(h, 0, sizeof(*h));
    h->w = *w;
    h->w.url = fake__keep(s, w->url);
    h->w.description = fake__keep(s, w->description);
    for (int i = 0; i < w->nevents; i++)
        h->w.events[i] = fake__keep(s, w->events[i]);
    memcpy(h->secret, secret, n);
    h->secret_n = n;
    return QL_OK;
}

static int w_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after, int limit, struct ql_webhook **out,
                  int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX + 1, sizeof(**out));
    if (*out == NULL)
        return ql_error_nomem(&cx->err);
    for (;;) { /* newest first, one at a time: the table is small */
        const struct ql_webhook *best = NULL;
        for (int i = 0; i < s->nwebhooks; i++) {
            const struct fake_webhook *h = &s->webhooks[i];
            if (h->deleted || !fake__same(&h->w.team_id, team) ||
                (after && fake__cmp_pos(h->w.created_ms, &h->w.id, after_ms, after) >= 0))
                continue;
            if (best == NULL ||
                fake__cmp_pos(h->w.created_ms, &h->w.id, best->created_ms, &best->id) > 0)
                best = &h->w;
        }
        if (best == NULL)
            return QL_OK;
        if (*n == limit) {
            *more = 1;
            return QL_OK;
        }
        (*out)[(*n)++] = *best;
        after_ms = best->created_ms;
        after = &best->id;
    }
}

static int w_count(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    for (int i = 0; i < s->nwebhooks; i++)
        *n += !s->webhooks[i].deleted && fake__same(&s->webhooks[i].w.team_id, team);
    return QL_OK;
}

static int w_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *id, struct ql_webhook *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct fake_webhook *h = hook_of(s, team, id, 1);
    if (h == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *out = h->w;
    return QL_OK;
}

static int w_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now_ms)
{
    (void)now_ms;
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_webhook *h = hook_of(s, team, id, 1);
    if (h == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    h->deleted = 1;
    return QL_OK;
}

static int w_subscribed(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *teams,
                        int nteams, struct ql_webhook **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = 0; i < s->nwebhooks; i++) {
        const struct fake_webhook *h = &s->webhooks[i];
        int mine = 0;
        for (int t = 0; t < nteams && !mine; t++)
            mine = fake__same(&teams[t], &h->w.team_id);
        if (mine && !h->deleted && h->w.disabled_ms == 0)
            (*out)[(*n)++] = h->w;
    }
    return QL_OK;
}

static int w_deliveries_add(struct ql_store *self, struct ql_ctx *cx, const struct ql_delivery *d,
                            int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (s->ndeliveries + n > FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake deliveries full");
    for (int i = 0; i < n; i++) {
        struct fake_delivery *f = &s->deliveries[s->ndeliveries++];
        f->d = d[i];
        f->d.event = fake__keep(s, d[i].event);
        f->d.body = fake__keep(s, d[i].body);
        f->d.attempts = 0;
        f->state = "pending";
    }
    return QL_OK;
}

static int w_target(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *delivery,
                    struct ql_delivery *d, struct ql_webhook *w, int *deleted, uint8_t **secret,
                    size_t *secret_n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct fake_delivery *f = delivery_of(s, delivery);
    const struct fake_webhook *h = f ? hook_of(s, NULL, &f->d.webhook_id, 0) : NULL;
    if (h == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *d = f->d;
    d->succeeded = strcmp(f->state, "succeeded") == 0;
    *w = h->w;
    *deleted = h->deleted || !fake__team_live(s, &h->w.team_id);
    *secret = ql_arena_alloc(cx->arena, h->secret_n);
    if (*secret == NULL)
        return ql_error_nomem(&cx->err);
    memcpy(*secret, h->secret, h->secret_n);
    *secret_n = h->secret_n;
    return QL_OK;
}

static int w_attempt_add(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_delivery_attempt *a, int final, int *failures)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_delivery *f = delivery_of(s, &a->delivery_id);
    struct fake_webhook *h = hook_of(s, NULL, &a->webhook_id, 0);
    if (f == NULL || h == NULL || s->nattempts == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake attempt without its delivery");
    /* the next number, or a->attempt when it is later (the delivery's row lock) */
    f->d.attempts = a->attempt > f->d.attempts + 1 ? a->attempt : f->d.attempts + 1;
    struct ql_delivery_attempt *k = &s->attempts[s->nattempts++];
    *k = *a;
    k->attempt = f->d.attempts;
    k->team_id = f->d.team_id;
    k->event = fake__keep(s, f->d.event);
    k->error = fake__keep(s, a->error);
    if (a->ok || strcmp(f->state, "succeeded") != 0)
        f->state = a->ok ? "succeeded" : final ? "failed" : "pending";
    h->w.failures = a->ok ? 0 : h->w.failures + 1;
    *failures = h->w.failures;
    return QL_OK;
}

static int w_disable(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *webhook,
                     int64_t now_ms)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct fake_webhook *h = rc ? NULL : hook_of(s, NULL, webhook, 0);
    if (h && h->w.disabled_ms == 0)
        h->w.disabled_ms = now_ms;
    else if (rc == QL_OK)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return rc;
}

/* Newest first: (at, delivery, attempt) descending. */
static int attempt_cmp(const struct ql_delivery_attempt *a, const struct ql_delivery_attempt *b)
{
    int c = fake__cmp_pos(a->at_ms, &a->delivery_id, b->at_ms, &b->delivery_id);
    return c ? c : a->attempt - b->attempt;
}

static int w_attempts(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *webhook, const struct ql_delivery_attempt *after,
                      int limit, struct ql_delivery_attempt **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX + 1, sizeof(**out));
    if (*out == NULL)
        return ql_error_nomem(&cx->err);
    if (hook_of(s, team, webhook, 1) == NULL)
        return QL_OK;
    for (;;) {
        const struct ql_delivery_attempt *best = NULL;
        for (int i = 0; i < s->nattempts; i++) {
            const struct ql_delivery_attempt *a = &s->attempts[i];
            if (!fake__same(&a->webhook_id, webhook) || (after && attempt_cmp(a, after) >= 0))
                continue;
            if (best == NULL || attempt_cmp(a, best) > 0)
                best = a;
        }
        if (best == NULL)
            return QL_OK;
        if (*n == limit) {
            *more = 1;
            return QL_OK;
        }
        (*out)[(*n)++] = *best;
        after = best;
    }
}

static int w_reopen(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *webhook, const struct ql_uuid *delivery)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_delivery *f = delivery_of(s, delivery);
    if (f == NULL || !fake__same(&f->d.webhook_id, webhook) || hook_of(s, team, webhook, 1) == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    f->state = "pending";
    return QL_OK;
}

static int w_failures(struct ql_store *self, struct ql_ctx *cx, int limit,
                      struct ql_delivery_attempt **out, int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX, sizeof(**out));
    if (*out == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = s->nattempts - 1; i >= 0 && *n < limit; i--) /* appended in time order */
        if (!s->attempts[i].ok)
            (*out)[(*n)++] = s->attempts[i];
    return QL_OK;
}

/* When the delivery was last touched: its newest attempt, or its making. */
static int64_t last_touched(const struct fake_store *s, const struct fake_delivery *f)
{
    int64_t at = f->d.created_ms;
    for (int i = 0; i < s->nattempts; i++)
        if (fake__same(&s->attempts[i].delivery_id, &f->d.id) && s->attempts[i].at_ms > at)
            at = s->attempts[i].at_ms;
    return at;
}

/* Keep the deliveries and attempts in order (w_failures reads attempts as appended). */
static int w_purge(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int limit,
                   int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    int kept = 0;
    for (int i = 0; rc == QL_OK && i < s->ndeliveries; i++) {
        struct fake_delivery f = s->deliveries[i];
        if (*n == limit || strcmp(f.state, "pending") == 0 || last_touched(s, &f) >= before_ms) {
            s->deliveries[kept++] = f;
            continue;
        }
        int left = 0; /* ON DELETE CASCADE */
        for (int k = 0; k < s->nattempts; k++)
            if (!fake__same(&s->attempts[k].delivery_id, &f.d.id))
                s->attempts[left++] = s->attempts[k];
        s->nattempts = left;
        (*n)++;
    }
    if (rc == QL_OK)
        s->ndeliveries = kept;
    return rc;
}

/* Whether a job of the fake queue that is not done yet delivers f. */
static int has_live_job(const struct fake_store *s, const struct fake_delivery *f)
{
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&f->d.id, id);
    for (int i = 0; s->queue && i < s->queue->n; i++) {
        const struct fake_job *j = &s->queue->jobs[i];
        if (!j->done && strcmp(j->kind, "webhook.deliver") == 0 && strstr(j->payload, id))
            return 1;
    }
    return 0;
}

static int w_fail_orphans(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms,
                          const char *error, int limit, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    for (int i = 0; rc == QL_OK && i < s->ndeliveries && *n < limit; i++) {
        struct fake_delivery *f = &s->deliveries[i];
        if (strcmp(f->state, "pending") != 0 || has_live_job(s, f))
            continue;
        if (s->nattempts == FAKE_MAX)
            return ql_error_set(&cx->err, QL_EINTERNAL, "fake attempts full");
        f->state = "failed";
        struct ql_delivery_attempt *k = &s->attempts[s->nattempts++];
        *k = (struct ql_delivery_attempt){.delivery_id = f->d.id,
                                          .webhook_id = f->d.webhook_id,
                                          .team_id = f->d.team_id,
                                          .event = f->d.event,
                                          .attempt = ++f->d.attempts,
                                          .error = fake__keep(s, error),
                                          .at_ms = now_ms};
        (*n)++;
    }
    return rc;
}

const struct ql_webhooks_ops fake__webhooks_ops = {
    .insert = w_insert,
    .list = w_list,
    .count = w_count,
    .get = w_get,
    .remove = w_remove,
    .subscribed = w_subscribed,
    .deliveries_add = w_deliveries_add,
    .target = w_target,
    .attempt_add = w_attempt_add,
    .disable = w_disable,
    .attempts = w_attempts,
    .reopen = w_reopen,
    .failures = w_failures,
    .purge = w_purge,
    .fail_orphans = w_fail_orphans,
};
