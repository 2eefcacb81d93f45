/*
 * fake_usage.c - the usage repository of the fake store: plans, periods with their reserved
 * and used counts, the request log and the rate counts instances share, in fixed arrays
 * inside the transactional range of struct fake_store (so a rollback undoes them too).
 * Reservations apply ql_usage_grant_rule as PostgreSQL does.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store_usage.h"
#include "usage/usage.h"

#include <stdio.h>
#include <string.h>

static struct fake_subscription *sub_of(struct fake_usage *u, const struct ql_uuid *team)
{
    for (int i = 0; i < u->nsubs; i++)
        if (fake__same(&u->subs[i].team, team))
            return &u->subs[i];
    return NULL;
}

static struct fake_period *period_of(struct fake_usage *u, const struct ql_uuid *team,
                                     int64_t start)
{
    for (int i = 0; i < u->nperiods; i++)
        if (u->periods[i].start == start && fake__same(&u->periods[i].team, team))
            return &u->periods[i];
    return NULL;
}

static int64_t quota_of(struct fake_usage *u, const struct ql_uuid *team, int64_t def)
{
    const struct fake_subscription *s = sub_of(u, team);
    return s ? s->quota : def;
}

static int u_state(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   int64_t period_ms, struct ql_usage_state *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (!fake__team_live(s, team))
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    const struct fake_subscription *sub = sub_of(&s->usage, team);
    const struct fake_period *p = period_of(&s->usage, team, period_ms);
    memset(out, 0, sizeof(*out));
    out->plan = sub ? fake__keep(s, sub->plan) : NULL;
    out->monthly_quota = sub ? sub->quota : 0;
    out->used = p ? p->used : 0;
    out->alerted = p ? p->alerted : 0;
    return QL_OK;
}

static int u_subscribe(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                       const char *plan, int64_t quota, int64_t now_ms)
{
    (void)now_ms;
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (!fake__team_live(s, team))
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    struct fake_usage *u = &s->usage;
    struct fake_subscription *sub = sub_of(u, team);
    if (sub == NULL) {
        if (u->nsubs == FAKE_MAX)
            return ql_error_set(&cx->err, QL_EINTERNAL, "fake subscriptions full");
        sub = &u->subs[u->nsubs++];
        sub->team = *team;
    }
    snprintf(sub->plan, sizeof(sub->plan), "%s", plan);
    sub->quota = quota;
    return QL_OK;
}

static int u_reserve(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     int64_t period_ms, int64_t want, int64_t default_quota,
                     struct ql_usage_grant *out)
{
    struct fake_store *s = fake__store(self);
    memset(out, 0, sizeof(*out));
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_usage *u = &s->usage;
    u->reserves++;
    struct fake_period *p = period_of(u, team, period_ms);
    if (p == NULL) {
        if (!fake__team_live(s, team))
            return QL_OK; /* nothing to reserve from */
        if (u->nperiods == FAKE_MAX)
            return ql_error_set(&cx->err, QL_EINTERNAL, "fake periods full");
        p = &u->periods[u->nperiods++];
        memset(p, 0, sizeof(*p));
        p->team = *team;
        p->start = period_ms;
    }
    out->quota = quota_of(u, team, default_quota);
    out->granted = ql_usage_grant_rule(out->quota, p->reserved, want);
    p->reserved += out->granted;
    out->reserved = p->reserved;
    return QL_OK;
}

static int u_release(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_return *rows,
                     int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        struct fake_period *p = period_of(&s->usage, &rows[i].team, rows[i].period_ms);
        if (p)
            p->reserved = p->reserved > rows[i].n ? p->reserved - rows[i].n : 0;
    }
    return rc;
}

static int u_log(struct ql_store *self, struct ql_ctx *cx, const struct ql_request_row *rows, int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_usage *u = &s->usage;
    if (u->nrequests + n > FAKE_REQUESTS_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake request log full");
    for (int i = 0; i < n; i++) {
        struct fake_request *q = &u->requests[u->nrequests++];
        memset(q, 0, sizeof(*q));
        q->team = rows[i].team;
        q->key = rows[i].key;
        q->at_ms = rows[i].at_ms;
        q->duration_us = rows[i].duration_us;
        q->status = rows[i].status;
        q->billed = rows[i].billed;
        snprintf(q->method, sizeof(q->method), "%s", rows[i].method);
        snprintf(q->route, sizeof(q->route), "%s", rows[i].route);
    }
    return QL_OK;
}

static int u_add_used(struct ql_store *self, struct ql_ctx *cx, struct ql_usage_tally *t, int n,
                      int64_t default_quota)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        struct fake_period *p = period_of(&s->usage, &t[i].team, t[i].period_ms);
        t[i].quota = quota_of(&s->usage, &t[i].team, default_quota);
        t[i].used = -1;
        t[i].alerted = 0;
        if (p == NULL)
            continue;
        p->used += t[i].n;
        t[i].used = p->used;
        t[i].alerted = p->alerted;
    }
    return rc;
}

static int u_alert(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   int64_t period_ms, int *raised)
{
    struct fake_store *s = fake__store(self);
    *raised = 0;
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_period *p = period_of(&s->usage, team, period_ms);
    if (p && !p->alerted) {
        p->alerted = 1;
        *raised = 1;
    }
    return QL_OK;
}

static int u_flushed(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_flush *f,
                     int64_t now_ms, int *fresh)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_usage *u = &s->usage;
    for (int i = 0; i < u->nflushes; i++) {
        struct fake_flush *k = &u->flushes[i];
        if (memcmp(k->f.instance.b, f->instance.b, 16) != 0)
            continue;
        *fresh = k->f.seq < f->seq;
        if (*fresh)
            *k = (struct fake_flush){*f, now_ms};
        return QL_OK;
    }
    if (u->nflushes == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake flush marks full");
    u->flushes[u->nflushes++] = (struct fake_flush){*f, now_ms};
    *fresh = 1;
    return QL_OK;
}

static int u_purge(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_usage *u = &s->usage;
    int kept = 0;
    for (int i = 0; i < u->nrequests; i++)
        if (u->requests[i].at_ms >= before_ms)
            u->requests[kept++] = u->requests[i];
    *n = u->nrequests - kept;
    u->nrequests = kept;
    kept = 0;
    for (int i = 0; i < u->nflushes; i++)
        if (u->flushes[i].at_ms >= before_ms)
            u->flushes[kept++] = u->flushes[i];
    u->nflushes = kept;
    return QL_OK;
}

static int u_rates_share(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *instance,
                         const struct ql_rate_count *mine, int n, int64_t since,
                         struct ql_rate_count **out, int *nout)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_usage *u = &s->usage;
    int kept = 0; /* forget seconds more than a minute old */
    for (int i = 0; i < u->nrates; i++)
        if (u->rates[i].second >= since - 60)
            u->rates[kept++] = u->rates[i];
    u->nrates = kept;
    for (int i = 0; i < n; i++) {
        struct fake_rate *r = NULL;
        for (int j = 0; j < u->nrates && r == NULL; j++)
            if (u->rates[j].second == mine[i].second &&
                fake__same(&u->rates[j].principal, &mine[i].principal) &&
                fake__same(&u->rates[j].instance, instance))
                r = &u->rates[j];
        if (r == NULL) {
            if (u->nrates == FAKE_MAX)
                return ql_error_set(&cx->err, QL_EINTERNAL, "fake rate counts full");
            r = &u->rates[u->nrates++];
            r->principal = mine[i].principal;
            r->instance = *instance;
            r->second = mine[i].second;
        }
        r->n = mine[i].n;
    }
    struct ql_rate_count *o = ql_arena_alloc(cx->arena, sizeof(*o) * (size_t)(u->nrates + 1));
    if (o == NULL)
        return ql_error_nomem(&cx->err);
    int m = 0;
    for (int i = 0; i < u->nrates; i++) {
        const struct fake_rate *r = &u->rates[i];
        if (r->second < since || fake__same(&r->instance, instance))
            continue;
        int j = 0;
        while (j < m && !(o[j].second == r->second && fake__same(&o[j].principal, &r->principal)))
            j++;
        if (j == m)
            o[m++] = (struct ql_rate_count){r->principal, r->second, 0};
        o[j].n += r->n;
    }
    *out = o;
    *nout = m;
    return QL_OK;
}

const struct ql_usage_ops fake__usage_ops = {
    .state = u_state,
    .subscribe = u_subscribe,
    .reserve = u_reserve,
    .release = u_release,
    .log = u_log,
    .add_used = u_add_used,
    .alert = u_alert,
    .flushed = u_flushed,
    .purge = u_purge,
    .rates_share = u_rates_share,
};
