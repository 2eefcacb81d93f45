/*
 * account.c - the arithmetic of metering (core/usage/usage.h): periods, the alert mark, the
 * grant rule, and a process's account of one team: spending units, when to reserve more
 * and how many, what to give back.  No I/O here except in ql_usage_admit, which makes the
 * one reservation a caller without locks needs.
 */
#include "usage/usage.h"

#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"

#include <string.h>

#define DAY_MS 86400000LL

void ql_usage_period(int64_t now_ms, int64_t *start_ms, int64_t *end_ms)
{
    char t[QL_TIME_LEN + 1]; /* "2026-11-21T23:36:18.123Z": the year and month are all we need */
    ql_time_format(now_ms, t);
    int64_t y = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
    unsigned m = (unsigned)((t[5] - '0') * 10 + (t[6] - '0'));
    *start_ms = ql_days_from_civil(y, m, 1) * DAY_MS;
    *end_ms = ql_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * DAY_MS;
}

int64_t ql_usage_alert_mark(int64_t quota)
{
    int64_t mark = quota / 10 * 9 + (quota % 10 * 9 + 9) / 10; /* ceil(0.9 q) without overflow */
    return mark < 1 ? 1 : mark;
}

int64_t ql_usage_grant_rule(int64_t quota, int64_t reserved, int64_t want)
{
    int64_t left = quota - reserved;
    if (want < 1)
        want = 1;
    if (left / 2 >= want) /* at least two blocks' worth left */
        return want;
    return left > 0 ? 1 : 0;
}

void ql_usage_account_init(struct ql_usage_account *a, const struct ql_uuid *team, int64_t now_ms)
{
    memset(a, 0, sizeof(*a));
    a->team = *team;
    ql_usage_period(now_ms, &a->period_start, &a->period_end);
    a->remaining = -1;
    a->epoch = now_ms; /* not an epoch of an account of the team this one replaces */
}

/*
 * A new month: what the account held belongs to the old one, which is over.  Never back to
 * an earlier month: a request that read the clock just before another took the account into
 * the new one is served from the new one (dropping its block would lose those units).
 */
static void roll(struct ql_usage_account *a, int64_t now_ms)
{
    if (now_ms < a->period_end)
        return;
    ql_usage_period(now_ms, &a->period_start, &a->period_end);
    a->held = 0;
    a->remaining = -1;
    a->recheck_ms = 0;
    if (a->refilling == QL_USAGE_REFILL_DECIDES) /* it reserves for the old month */
        a->refilling = QL_USAGE_REFILL_ASKED;
}

int64_t ql_usage_want(const struct ql_usage_account *a, int64_t now_ms)
{
    int64_t age = now_ms - a->win_ms, want = 0;
    if (age < QL_USAGE_BLOCK_MS)
        want = a->win_n > a->win_prev ? a->win_n : a->win_prev;
    else if (age < 2 * QL_USAGE_BLOCK_MS)
        want = a->win_n; /* the current window is over: it is the one before now */
    if (want < QL_USAGE_BLOCK_MIN)
        return QL_USAGE_BLOCK_MIN;
    return want > QL_USAGE_BLOCK_MAX ? QL_USAGE_BLOCK_MAX : want;
}

/* Count a unit spent at now_ms in the rate's window. */
static void count(struct ql_usage_account *a, int64_t now_ms)
{
    int64_t age = now_ms - a->win_ms;
    if (age >= QL_USAGE_BLOCK_MS || age < 0) {
        a->win_prev = age < 2 * QL_USAGE_BLOCK_MS && age >= 0 ? a->win_n : 0;
        a->win_ms = now_ms;
        a->win_n = 0;
    }
    a->win_n++;
}

enum ql_usage_verdict ql_usage_take(struct ql_usage_account *a, int64_t now_ms, int may_wait,
                                    int *refill)
{
    *refill = 0;
    roll(a, now_ms);
    a->last_take_ms = now_ms;
    if (a->held > 0) {
        a->held--;
        count(a, now_ms);
        /* Half a block left: ask for the next one now, so it lands before this one ends. */
        if (a->refilling == QL_USAGE_REFILL_NONE && a->remaining != 0 &&
            a->held * 2 <= ql_usage_want(a, now_ms)) {
            a->refilling = QL_USAGE_REFILL_ASKED;
            *refill = 1;
        }
        return QL_USAGE_TAKEN;
    }
    /* the last units may be on their way to this process: its own reservation says */
    if (a->refilling == QL_USAGE_REFILL_DECIDES)
        return may_wait ? QL_USAGE_WAIT : QL_USAGE_RESERVE;
    if (a->recheck_ms > now_ms)
        return QL_USAGE_EXHAUSTED;
    if (a->recheck_ms != 0) { /* refused before: time to ask again whether any came back */
        if (may_wait) {
            a->recheck_ms = now_ms + QL_USAGE_RECHECK_MS; /* this caller asks; the others wait */
            return QL_USAGE_RESERVE;
        }
        if (a->refilling == QL_USAGE_REFILL_NONE) {
            a->refilling = QL_USAGE_REFILL_ASKED;
            *refill = 1;
        }
        return QL_USAGE_EXHAUSTED;
    }
    return QL_USAGE_RESERVE;
}

int64_t ql_usage_granted(struct ql_usage_account *a, int64_t period_ms, int64_t epoch,
                         const struct ql_usage_grant *g, int64_t now_ms)
{
    if (g == NULL || period_ms != a->period_start)
        return 0; /* failed, or for a month that is over */
    if (epoch != a->epoch)
        return g->granted; /* under a quota that has changed since */
    a->held += g->granted;
    a->quota = g->quota;
    a->remaining = g->quota > g->reserved ? g->quota - g->reserved : 0;
    if (g->granted == 0 && a->refilling != QL_USAGE_REFILL_NONE) {
        /*
         * None left, but the background reservation on its way may be what took the last
         * units (it ran first): refusing now would refuse a request while a unit comes to
         * this very process.  Its answer decides; until it lands, takers wait for it.
         */
        a->refilling = QL_USAGE_REFILL_DECIDES;
        return 0;
    }
    a->recheck_ms = g->granted > 0 ? 0 : now_ms + QL_USAGE_RECHECK_MS;
    return 0;
}

int64_t ql_usage_refilled(struct ql_usage_account *a, int64_t period_ms, int64_t epoch,
                          const struct ql_usage_grant *g, int64_t now_ms)
{
    a->refilling = QL_USAGE_REFILL_NONE;
    return ql_usage_granted(a, period_ms, epoch, g, now_ms);
}

int64_t ql_usage_surplus(struct ql_usage_account *a, int64_t now_ms, int force, int64_t *period_ms)
{
    *period_ms = a->period_start;
    if (now_ms >= a->period_end)
        a->held = 0; /* a month that is over: nobody can spend them anyway */
    if (a->held <= 0)
        return 0;
    if (!force &&
        (a->refilling != QL_USAGE_REFILL_NONE || now_ms - a->last_take_ms < QL_USAGE_IDLE_MS))
        return 0;
    int64_t n = a->held;
    a->held = 0;
    return n;
}

void ql_usage_forget(struct ql_usage_account *a)
{
    a->remaining = -1;
    a->recheck_ms = 0;
    a->epoch++;
    if (a->refilling == QL_USAGE_REFILL_DECIDES) /* its answer counts for nothing now */
        a->refilling = QL_USAGE_REFILL_ASKED;
}

int ql_usage_refuse(struct ql_ctx *cx, const struct ql_usage_account *a, int64_t now_ms)
{
    char end[QL_TIME_LEN + 1];
    ql_time_format(a->period_end, end);
    if (a->quota > 0)
        ql_error_set(&cx->err, QL_EQUOTA,
                     "The team's monthly quota of %lld API requests is used up; it renews at %s.",
                     (long long)a->quota, end);
    else
        ql_error_set(&cx->err, QL_EQUOTA,
                     "The team's monthly quota of API requests is used up; it renews at %s.", end);
    cx->err.retry_after_ms = a->period_end > now_ms ? a->period_end - now_ms : 1000;
    cx->err.rate_limit = a->quota;
    return QL_EQUOTA;
}

int ql_usage_admit(struct ql_ctx *cx, struct ql_usage_account *a, int may_wait, int *refill)
{
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    enum ql_usage_verdict v = ql_usage_take(a, now, may_wait, refill);
    if (v == QL_USAGE_TAKEN)
        return QL_OK;
    if (v == QL_USAGE_EXHAUSTED)
        return ql_usage_refuse(cx, a, now);
    if (v == QL_USAGE_WAIT)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the background reservation decides");
    if (!may_wait)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "a reservation must wait");
    int64_t period = a->period_start, epoch = a->epoch;
    struct ql_usage_grant g;
    int rc = ql_usage_reserve(cx, &a->team, period, ql_usage_want(a, now), &g);
    if (rc)
        return rc;
    ql_usage_granted(a, period, epoch, &g, now); /* the caller's own: nothing changed meanwhile */
    int again = 0;
    v = ql_usage_take(a, now, 1, &again);
    *refill |= again;
    if (v == QL_USAGE_TAKEN)
        return QL_OK;
    if (v == QL_USAGE_WAIT)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the background reservation decides");
    return ql_usage_refuse(cx, a, now);
}
