/*
 * usage.c - the use cases of plans and metering (core/usage/usage.h): reading and setting a
 * team's subscription, reserving and giving back quota units, recording the request log
 * with the used counts and the 90 % alert, and purging the log.
 */
#include "usage/usage.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "policy/policy.h"
#include "store/store.h"
#include "store/store_usage.h"
#include "tx/tx.h"

#include <string.h>

static int64_t default_quota(const struct ql_ctx *cx)
{
    return cx->cfg ? cx->cfg->free_quota : 10000;
}

/* The subscription of team in the period holding at_ms, whoever asks; *alerted: its alert. */
static int read_period(struct ql_ctx *cx, const struct ql_uuid *team, int64_t at_ms,
                       struct ql_subscription *out, int *alerted)
{
    memset(out, 0, sizeof(*out));
    ql_usage_period(at_ms, &out->period_start_ms, &out->period_end_ms);
    struct ql_usage_state st;
    int rc = ql_store_usage_state(cx->ports.store, cx, team, out->period_start_ms, &st);
    if (rc)
        return rc;
    out->plan = st.plan ? st.plan : QL_PLAN_DEFAULT;
    out->monthly_quota = st.plan ? st.monthly_quota : default_quota(cx);
    out->used = st.used;
    *alerted = st.alerted;
    return QL_OK;
}

static int read_subscription(struct ql_ctx *cx, const struct ql_uuid *team,
                             struct ql_subscription *out)
{
    int alerted;
    return read_period(cx, team, ql_clock_now_ms(cx->ports.clock), out, &alerted);
}

int ql_usage_alerted(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_subscription *out)
{
    int alerted;
    int rc = read_period(cx, team, ql_clock_now_ms(cx->ports.clock), out, &alerted);
    if (rc || alerted)
        return rc;
    struct ql_subscription before;
    rc = read_period(cx, team, out->period_start_ms - 1, &before, &alerted);
    if (rc == QL_OK && alerted)
        *out = before;
    return rc;
}

int ql_usage_percent(const struct ql_subscription *s)
{
    if (s->monthly_quota <= 0 || s->used >= s->monthly_quota)
        return 100;
    return (int)(s->used * 100 / s->monthly_quota); /* < 10^17: quotas stop at QL_QUOTA_MAX */
}

int ql_subscription_get(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_subscription *out)
{
    int rc = ql_authorize(cx, QL_ACT_SUBSCRIPTION_READ, team);
    return rc ? rc : read_subscription(cx, team, out);
}

static int valid_plan(struct ql_ctx *cx, const char *plan, size_t n)
{
    int ok = plan != NULL && n >= 1 && n <= QL_PLAN_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = plan[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.';
    }
    if (ok)
        return QL_OK;
    return ql_error_field(&cx->err, "plan", "invalid", "1 to %d letters, digits, '-', '_' or '.'",
                          QL_PLAN_MAX);
}

/*
 * A quota lowered to or below the alert mark of what the current period has already used
 * crosses 90 % as surely as a request does: raise the period's alert with the change, once
 * (the store's alert mark is the same one a flush sets, so neither raises it twice).  A flush
 * running at the same moment may read the old quota; then the next flush of the team, which
 * reads the new one, raises it.
 */
static int alert_if_crossed(struct ql_ctx *cx, const struct ql_uuid *team, int64_t quota,
                            int64_t now_ms)
{
    int64_t start, end;
    ql_usage_period(now_ms, &start, &end);
    struct ql_usage_state st;
    int rc = ql_store_usage_state(cx->ports.store, cx, team, start, &st);
    if (rc || st.alerted || st.used < ql_usage_alert_mark(quota))
        return rc;
    int raised = 0;
    rc = ql_store_usage_alert(cx->ports.store, cx, team, start, &raised);
    if (rc == QL_OK && raised)
        rc = ql_change(cx, team, QL_EVENT_USAGE_ALERT, team);
    return rc;
}

int ql_subscription_set(struct ql_ctx *cx, const struct ql_uuid *team, const char *plan,
                        size_t plan_n, int64_t quota, struct ql_subscription *out)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, team);
    if (rc)
        return rc;
    rc = valid_plan(cx, plan, plan_n);
    if (quota < 0 || quota > QL_QUOTA_MAX)
        rc = ql_error_field(&cx->err, "monthlyQuota", "out_of_range", "from 0 to %lld",
                            (long long)QL_QUOTA_MAX);
    if (rc)
        return rc;
    char *copy = ql_arena_strndup(cx->arena, plan, plan_n);
    if (copy == NULL)
        return ql_error_nomem(&cx->err);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    rc = ql_store_usage_subscribe(cx->ports.store, cx, team, copy, quota, now);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "subscription.update", "Team", team, NULL);
    if (rc == QL_OK)
        rc = alert_if_crossed(cx, team, quota, now);
    rc = ql_tx_end(cx, rc);
    return rc ? rc : read_subscription(cx, team, out);
}

int ql_usage_reserve(struct ql_ctx *cx, const struct ql_uuid *team, int64_t period_ms, int64_t want,
                     struct ql_usage_grant *out)
{
    return ql_store_usage_reserve(cx->ports.store, cx, team, period_ms, want, default_quota(cx),
                                  out);
}

int ql_usage_release(struct ql_ctx *cx, const struct ql_usage_flush *mark,
                     const struct ql_usage_return *rows, int n)
{
    struct ql_store *st = cx->ports.store;
    if (n <= 0)
        return QL_OK;
    if (mark == NULL)
        return ql_store_usage_release(st, cx, rows, n);
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    int fresh = 1; /* this give-back was not recorded before */
    rc = ql_store_usage_flushed(st, cx, mark, ql_clock_now_ms(cx->ports.clock), &fresh);
    if (rc == QL_OK && fresh)
        rc = ql_store_usage_release(st, cx, rows, n);
    return ql_tx_end(cx, rc);
}

/*
 * The billed rows of rows[0..n) counted per team and period into *out (arena), *k of them:
 * a small open-addressed table on the team id, since a flush holds thousands of rows of a
 * few teams.
 */
static int tally(struct ql_ctx *cx, const struct ql_request_row *rows, int n,
                 struct ql_usage_tally **out, int *k)
{
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap *= 2;
    struct ql_usage_tally *t = ql_arena_alloc(cx->arena, sizeof(*t) * (size_t)n);
    int *slot = ql_arena_alloc(cx->arena, sizeof(*slot) * cap);
    if (t == NULL || slot == NULL)
        return ql_error_nomem(&cx->err);
    memset(slot, 0xff, sizeof(*slot) * cap); /* -1: empty */
    int64_t start = 0, end = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const struct ql_request_row *w = &rows[i];
        if (!w->billed)
            continue;
        if (w->at_ms < start || w->at_ms >= end)
            ql_usage_period(w->at_ms, &start, &end);
        size_t at = (size_t)(ql_uuid_hash(&w->team) ^ (uint64_t)(start / 86400000)) & (cap - 1);
        while (slot[at] >= 0 &&
               (t[slot[at]].period_ms != start || memcmp(t[slot[at]].team.b, w->team.b, 16) != 0))
            at = (at + 1) & (cap - 1);
        if (slot[at] < 0) {
            slot[at] = m;
            memset(&t[m], 0, sizeof(t[m]));
            t[m].team = w->team;
            t[m].period_ms = start;
            m++;
        }
        t[slot[at]].n++;
    }
    *out = t;
    *k = m;
    return QL_OK;
}

int ql_usage_record(struct ql_ctx *cx, const struct ql_usage_flush *flush,
                    const struct ql_request_row *rows, int n)
{
    if (n <= 0)
        return QL_OK;
    struct ql_store *st = cx->ports.store;
    struct ql_usage_tally *t;
    int k;
    int rc = tally(cx, rows, n, &t, &k);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    int fresh = 1; /* this flush was not recorded before */
    if (flush)
        rc = ql_store_usage_flushed(st, cx, flush, ql_clock_now_ms(cx->ports.clock), &fresh);
    if (rc || !fresh)
        return ql_tx_end(cx, rc);
    rc = ql_store_usage_log(st, cx, rows, n);
    if (rc == QL_OK)
        rc = ql_store_usage_add_used(st, cx, t, k, default_quota(cx));
    for (int i = 0; rc == QL_OK && i < k; i++) {
        if (t[i].used < 0 || t[i].alerted || t[i].used < ql_usage_alert_mark(t[i].quota))
            continue;
        /* These requests crossed 90 %: the alert goes out with them, once per period. */
        int raised = 0;
        rc = ql_store_usage_alert(st, cx, &t[i].team, t[i].period_ms, &raised);
        if (rc == QL_OK && raised)
            rc = ql_change(cx, &t[i].team, QL_EVENT_USAGE_ALERT, &t[i].team);
    }
    return ql_tx_end(cx, rc);
}

int ql_usage_purge(struct ql_ctx *cx, int64_t before_ms, int64_t *n)
{
    *n = 0;
    return ql_store_usage_purge(cx->ports.store, cx, before_ms, n);
}
