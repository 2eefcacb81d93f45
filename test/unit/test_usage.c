/*
 * Unit tests of plans and metering (core/usage) against the fake store: periods and their
 * boundaries, the alert mark and the grant rule, block sizes, the exact one-at-a-time mode
 * near the end of a quota, background refills, refusals with the time to the period's end,
 * rechecks, idle returns, month rollover, the 90 % alert raised exactly once, and the
 * subscription use cases.
 */
#include "changes/changes.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "store/store_usage.h"
#include "test.h"
#include "usage/usage.h"

#include <string.h>

#define DAY_MS 86400000LL
#define T_FEB_2028 1832976000000LL /* 2028-02-01T00:00:00Z */

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    ASSERT_INT_EQ(ql_time_parse(rfc3339, strlen(rfc3339), &ms), QL_OK);
    return ms;
}

static void test_periods_are_calendar_months_in_utc(void)
{
    int64_t s, e;
    ql_usage_period(at("2026-11-21T23:36:18.123Z"), &s, &e);
    ASSERT_INT_EQ(s, at("2026-11-01T00:00:00Z"));
    ASSERT_INT_EQ(e, at("2026-12-01T00:00:00Z"));
    ql_usage_period(at("2026-12-01T00:00:00Z"), &s, &e); /* the first ms belongs to its month */
    ASSERT_INT_EQ(s, at("2026-12-01T00:00:00Z"));
    ASSERT_INT_EQ(e, at("2027-01-01T00:00:00Z")); /* December ends with the year */
    ql_usage_period(at("2026-12-31T23:59:59.999Z"), &s, &e);
    ASSERT_INT_EQ(s, at("2026-12-01T00:00:00Z"));
    ql_usage_period(T_FEB_2028 + 28 * DAY_MS, &s, &e); /* 2028-02-29: a leap day */
    ASSERT_INT_EQ(s, T_FEB_2028);
    ASSERT_INT_EQ(e, at("2028-03-01T00:00:00Z"));
    ASSERT_INT_EQ(e - s, 29 * DAY_MS);
}

static void test_the_alert_mark_and_the_grant_rule(void)
{
    ASSERT_INT_EQ(ql_usage_alert_mark(1000), 900);
    ASSERT_INT_EQ(ql_usage_alert_mark(11), 10); /* 9.9, rounded up */
    ASSERT_INT_EQ(ql_usage_alert_mark(10), 9);
    ASSERT_INT_EQ(ql_usage_alert_mark(1), 1);
    ASSERT_INT_EQ(ql_usage_alert_mark(0), 1);
    ASSERT_INT_EQ(ql_usage_alert_mark(QL_QUOTA_MAX), QL_QUOTA_MAX / 10 * 9);
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 0, 16), 16);
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 68, 16), 16); /* 32 left: two blocks */
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 69, 16), 1);  /* 31 left: one at a time */
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 99, 16), 1);
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 100, 16), 0);
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 120, 16), 0); /* quota lowered below what is out */
    ASSERT_INT_EQ(ql_usage_grant_rule(100, 0, 0), 1);
}

static void test_blocks_follow_the_recent_rate(void)
{
    struct ql_usage_account a;
    struct ql_uuid team = {{1}};
    ql_usage_account_init(&a, &team, T0);
    ASSERT_INT_EQ(ql_usage_want(&a, T0), QL_USAGE_BLOCK_MIN); /* nothing known yet */
    struct ql_usage_grant g = {100000, 100000, 1000000};
    ql_usage_granted(&a, a.period_start, a.epoch, &g, T0);
    int refill;
    for (int i = 0; i < 600; i++) /* a request a millisecond */
        ASSERT_INT_EQ(ql_usage_take(&a, T0 + i, 1, &refill), QL_USAGE_TAKEN);
    /* a block is what the last QL_USAGE_BLOCK_MS took */
    ASSERT_INT_EQ(ql_usage_want(&a, T0 + 600), QL_USAGE_BLOCK_MS);
    ASSERT_INT_EQ(ql_usage_want(&a, T0 + 1100), 100); /* only the last window's 100 count */
    ASSERT_INT_EQ(ql_usage_want(&a, T0 + 10000), QL_USAGE_BLOCK_MIN); /* gone quiet */
    for (int i = 0; i < 10000; i++)                                   /* ten a millisecond */
        ql_usage_take(&a, T0 + 600 + i / 10, 1, &refill);
    ASSERT_INT_EQ(ql_usage_want(&a, T0 + 1601), QL_USAGE_BLOCK_MAX);
}

/* A fixture with one team whose plan has quota units, and its account in this "process". */
struct metered {
    struct fixture f;
    struct ql_uuid team;
    struct ql_usage_account a;
};

static void metered_init(struct metered *m, int64_t quota)
{
    fixture_init(&m->f);
    memset(m->team.b, 0, 16);
    m->team.b[0] = 7;
    m->team.b[15] = 9;
    struct ql_team t = {.id = m->team, .name = "Metered", .created_ms = T0, .updated_ms = T0};
    struct ql_uuid owner = {{2}};
    ASSERT_INT_EQ(ql_store_teams_insert(m->f.cx.ports.store, &m->f.cx, &t, &owner), QL_OK);
    ASSERT_INT_EQ(
        ql_store_usage_subscribe(m->f.cx.ports.store, &m->f.cx, &m->team, "pro", quota, T0), QL_OK);
    ql_usage_account_init(&m->a, &m->team, T0);
}

/* What the meter's thread does with a background refill. */
static void refill_now(struct metered *m)
{
    int64_t now = ql_clock_now_ms(m->f.cx.ports.clock);
    struct ql_usage_grant g;
    ASSERT_INT_EQ(
        ql_usage_reserve(&m->f.cx, &m->team, m->a.period_start, ql_usage_want(&m->a, now), &g),
        QL_OK);
    ql_usage_refilled(&m->a, m->a.period_start, m->a.epoch, &g, now);
}

/* Admit requests, refilling in the background when asked, until one is refused. */
static int64_t admit_all(struct metered *m, int may_wait)
{
    int64_t ok = 0;
    for (;;) {
        int refill = 0;
        int rc = ql_usage_admit(&m->f.cx, &m->a, may_wait, &refill);
        if (rc == QL_EQUOTA)
            return ok;
        ASSERT_INT_EQ(rc, QL_OK);
        ok++;
        if (refill)
            refill_now(m);
        fake_clock_advance(&m->f.clock, 1);
    }
}

static void test_exactly_the_quota_is_admitted_then_429_until_the_period_ends(void)
{
    struct metered m;
    metered_init(&m, 1000);
    ASSERT_INT_EQ(admit_all(&m, 1), 1000);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].reserved, 1000);
    /* the refusal says when the period ends, and which allowance ran out */
    int64_t now = ql_clock_now_ms(m.f.cx.ports.clock);
    ASSERT_INT_EQ(m.f.cx.err.code, QL_EQUOTA);
    ASSERT_INT_EQ(m.f.cx.err.retry_after_ms, at("2026-02-01T00:00:00Z") - now);
    ASSERT_INT_EQ(m.f.cx.err.rate_limit, 1000);
    ASSERT_TRUE(strstr(m.f.cx.err.msg, "2026-02-01T00:00:00.000Z") != NULL);
    /* refused again without asking the store until the recheck is due */
    int reserves = m.f.store.usage.reserves, refill;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EQUOTA);
    ASSERT_INT_EQ(m.f.store.usage.reserves, reserves);
    fixture_cleanup(&m.f);
}

static void test_the_last_units_are_reserved_one_at_a_time(void)
{
    struct metered m;
    metered_init(&m, 10000);
    int64_t ok = 0;
    int big = 0, singles = 0;
    for (;;) { /* every reservation a request makes itself, as on a pool thread */
        int64_t before = m.f.store.usage.periods[0].reserved;
        int refill;
        int rc = ql_usage_admit(&m.f.cx, &m.a, 1, &refill);
        int64_t got = m.f.store.usage.periods[0].reserved - before;
        if (got > 1)
            big++;
        else if (got == 1)
            singles++;
        if (rc == QL_EQUOTA)
            break;
        ASSERT_INT_EQ(rc, QL_OK);
        ok++;
        if (refill) /* the background refills asked for all fail: they reserve nothing */
            ql_usage_refilled(&m.a, m.a.period_start, m.a.epoch, NULL, T0);
        /* a steady 1 request per ms: blocks of 500 */
        fake_clock_advance(&m.f.clock, 1);
    }
    ASSERT_INT_EQ(ok, 10000);
    ASSERT_TRUE(big >= 10);
    /* blocks of 500 while two blocks' worth remained; every unit after that on its own */
    ASSERT_TRUE(singles >= 500 && singles < 1000);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].reserved, 10000);
    fixture_cleanup(&m.f);
}

static void test_an_event_loop_never_waits_for_a_reservation(void)
{
    struct metered m;
    metered_init(&m, 100);
    int refill = 0;
    /* nothing held: the request must go where waiting is allowed */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(m.f.store.usage.reserves, 0);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK); /* the pool's turn */
    ASSERT_INT_EQ(m.a.held, QL_USAGE_BLOCK_MIN - 1);
    /* the loop spends what is held, and asks for the next block before it runs out */
    int asked = 0;
    for (int i = 0; i < QL_USAGE_BLOCK_MIN - 1; i++) {
        fake_clock_advance(&m.f.clock, 100); /* 10 requests a second: the smallest blocks */
        ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_OK);
        if (refill) {
            asked++;
            ASSERT_TRUE(m.a.held * 2 <= QL_USAGE_BLOCK_MIN);
            refill_now(&m);
        }
    }
    ASSERT_INT_EQ(asked, 1);
    ASSERT_INT_EQ(m.f.store.usage.reserves, 2); /* the pool's and the background one */
    ASSERT_TRUE(m.a.held > 0);
    fixture_cleanup(&m.f);
}

static void test_a_refused_process_asks_again_and_gets_units_given_back(void)
{
    struct metered m;
    metered_init(&m, 100);
    /* another process holds everything */
    struct ql_usage_account other;
    ql_usage_account_init(&other, &m.team, T0);
    struct ql_usage_grant g;
    for (int i = 0; i < 100; i++) {
        ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, other.period_start, 50, &g), QL_OK);
        ql_usage_granted(&other, other.period_start, other.epoch, &g, T0);
    }
    ASSERT_INT_EQ(other.held, 100);
    int refill = 0;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EQUOTA);
    /* the other one goes idle and gives its units back */
    fake_clock_advance(&m.f.clock, QL_USAGE_IDLE_MS);
    int64_t period, n = ql_usage_surplus(&other, T0 + QL_USAGE_IDLE_MS, 0, &period);
    ASSERT_INT_EQ(n, 100);
    struct ql_usage_return back = {m.team, period, n};
    ASSERT_INT_EQ(ql_usage_release(&m.f.cx, NULL, &back, 1), QL_OK);
    /* an event loop cannot ask itself: it refuses and asks for a background recheck, once */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_EQUOTA);
    ASSERT_INT_EQ(refill, 1);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_EQUOTA);
    ASSERT_INT_EQ(refill, 0);
    refill_now(&m);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_OK);
    fixture_cleanup(&m.f);
}

/*
 * The background refill took the last unit and has not landed when a request reserves itself
 * and gets nothing: no request is refused until the refill's answer lands (one that owns the
 * account is told to land it first), and its unit is spent before the quota is refused.
 */
static void test_a_refill_on_its_way_decides_whether_the_quota_is_spent(void)
{
    struct metered m;
    metered_init(&m, 2);
    int refill = 0;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK); /* 1 of 2 reserved */
    /* the refill's reservation runs, takes the last unit, and has not landed yet */
    int64_t period = m.a.period_start, epoch = m.a.epoch;
    struct ql_usage_grant bg;
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, period, 16, &bg), QL_OK);
    /* a request reserves itself meanwhile and gets nothing: not a refusal */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EWOULD_BLOCK);
    int reserves = m.f.store.usage.reserves;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_EWOULD_BLOCK); /* a loop's */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EWOULD_BLOCK); /* waits */
    ASSERT_INT_EQ(m.f.store.usage.reserves, reserves); /* without asking the store again */
    ASSERT_INT_EQ(ql_usage_refilled(&m.a, period, epoch, &bg, T0), 0); /* it lands */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 0, &refill), QL_OK);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EQUOTA);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].reserved, 2);
    fixture_cleanup(&m.f);
}

/* A plan change voids the answer of the refill on its way: it no longer decides. */
static void test_a_plan_change_ends_the_wait_for_a_refill(void)
{
    struct metered m;
    metered_init(&m, 2);
    int refill = 0;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK);
    struct ql_usage_grant bg;
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, m.a.period_start, 16, &bg), QL_OK);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(ql_store_usage_subscribe(m.f.cx.ports.store, &m.f.cx, &m.team, "p", 3, T0), 0);
    ql_usage_forget(&m.a); /* the change is heard: the next request asks under the new plan */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].reserved, 3);
    fixture_cleanup(&m.f);
}

static void test_idle_units_go_back_and_all_of_them_at_shutdown(void)
{
    struct metered m;
    metered_init(&m, 100000);
    int refill;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK);
    int64_t period, now = T0 + QL_USAGE_IDLE_MS - 1;
    ASSERT_INT_EQ(ql_usage_surplus(&m.a, now, 0, &period), 0); /* not idle yet */
    ASSERT_INT_EQ(ql_usage_surplus(&m.a, now, 1, &period), QL_USAGE_BLOCK_MIN - 1); /* shutdown */
    ASSERT_INT_EQ(period, m.a.period_start);
    ASSERT_INT_EQ(m.a.held, 0);
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_OK);
    int64_t held = m.a.held;
    ASSERT_TRUE(held > 0);
    ASSERT_INT_EQ(ql_usage_surplus(&m.a, T0 + QL_USAGE_IDLE_MS, 0, &period), held);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].reserved, QL_USAGE_BLOCK_MIN + held + 1);
    fixture_cleanup(&m.f);
}

static void test_a_new_month_starts_a_new_count(void)
{
    struct metered m;
    metered_init(&m, 20);
    ASSERT_INT_EQ(admit_all(&m, 1), 20);
    int64_t old = m.a.period_start;
    /* the last millisecond of January is still January's */
    m.f.clock.now_ms = at("2026-01-31T23:59:59.999Z");
    int refill;
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EQUOTA);
    m.f.clock.now_ms = at("2026-02-01T00:00:00Z");
    ASSERT_INT_EQ(admit_all(&m, 1), 20);
    ASSERT_INT_EQ(m.a.period_start, at("2026-02-01T00:00:00Z"));
    ASSERT_INT_EQ(m.f.store.usage.nperiods, 2);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].start, old);
    /* a reservation that comes back for the month that ended is dropped */
    struct ql_usage_grant g = {5, 25, 20};
    ASSERT_INT_EQ(ql_usage_refilled(&m.a, old, m.a.epoch, &g, m.f.clock.now_ms), 0);
    ASSERT_INT_EQ(m.a.held, 0);
    fixture_cleanup(&m.f);
}

/*
 * Requests read the clock before they reach the account, so around midnight on the 1st one
 * dated the last millisecond of January can arrive after one of February took the account
 * into February.  It is counted in February, from the block held: the account does not go
 * back a month, dropping that block (its units would stay reserved and be lost to the team
 * for all of February).
 */
static void test_a_request_late_across_midnight_keeps_the_new_months_block(void)
{
    struct ql_usage_account a;
    struct ql_uuid team = {{3}};
    int64_t feb = at("2026-02-01T00:00:00Z");
    ql_usage_account_init(&a, &team, feb);
    struct ql_usage_grant g = {16, 16, 1000};
    ql_usage_granted(&a, a.period_start, a.epoch, &g, feb);
    int refill;
    ASSERT_INT_EQ(ql_usage_take(&a, feb, 1, &refill), QL_USAGE_TAKEN);
    ASSERT_INT_EQ(ql_usage_take(&a, feb - 1, 1, &refill), QL_USAGE_TAKEN);
    ASSERT_INT_EQ(a.period_start, feb);
    ASSERT_INT_EQ(a.held, 14);
}

/*
 * A reservation asked for before a plan change may have read the old quota, however late it
 * ran (it waited for the period's row): when it lands after the change was heard, what it
 * got goes back and its verdict is not kept; one asked for after counts.
 */
static void test_a_reservation_asked_before_a_plan_change_counts_for_nothing(void)
{
    struct metered m;
    metered_init(&m, 1000);
    int64_t period = m.a.period_start, epoch = m.a.epoch;
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, period, 16, &g), QL_OK); /* quota 1000 */
    ASSERT_INT_EQ(ql_store_usage_subscribe(m.f.cx.ports.store, &m.f.cx, &m.team, "off", 0, T0),
                  QL_OK);
    ql_usage_forget(&m.a);                                             /* the change is heard */
    ASSERT_INT_EQ(ql_usage_refilled(&m.a, period, epoch, &g, T0), 16); /* to give back */
    ASSERT_INT_EQ(m.a.held, 0);
    struct ql_usage_grant none = {0, 1000, 1000}; /* a stale "nothing left" is not kept either */
    ASSERT_INT_EQ(ql_usage_granted(&m.a, period, epoch, &none, T0), 0);
    ASSERT_INT_EQ(m.a.recheck_ms, 0);
    struct ql_usage_return back = {m.team, period, 16};
    ASSERT_INT_EQ(ql_usage_release(&m.f.cx, NULL, &back, 1), QL_OK);
    int refill = 0; /* the next request asks under the new plan */
    ASSERT_INT_EQ(ql_usage_admit(&m.f.cx, &m.a, 1, &refill), QL_EQUOTA);
    ASSERT_INT_EQ(ql_usage_granted(&m.a, period, m.a.epoch, &g, T0), 0); /* asked after: counts */
    ASSERT_INT_EQ(m.a.held, 16);
    fixture_cleanup(&m.f);
}

static struct ql_request_row row(const struct ql_uuid *team, int64_t when, int billed)
{
    struct ql_uuid key = {{5}};
    return (struct ql_request_row){
        *team, key, when, "GET", "/v1/teams/{teamId}", billed ? 200 : 429, 250, billed};
}

static int alerts(struct fake_store *s)
{
    int n = 0;
    for (int i = 0; i < s->nchanges; i++)
        n += s->changes[i].event == QL_EVENT_USAGE_ALERT;
    return n;
}

static void test_crossing_90_percent_raises_one_alert_per_period(void)
{
    struct metered m;
    metered_init(&m, 100);
    struct ql_usage_grant g; /* a process reserved (the period's row exists) */
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, m.a.period_start, 50, &g), QL_OK);
    struct ql_request_row rows[60];
    for (int i = 0; i < 60; i++)
        rows[i] = row(&m.team, T0 + i, i % 2 == 0 || i < 40); /* 50 billed, 10 refused */
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 60), QL_OK);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].used, 50);
    ASSERT_INT_EQ(m.f.store.usage.nrequests, 60);
    ASSERT_INT_EQ(alerts(&m.f.store), 0);
    /* 39 more: 89, still under the mark */
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 39), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 0);
    /* the flush that reaches 90 raises it, in its own transaction, about the team */
    int commits = m.f.store.commits;
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 1), QL_OK);
    ASSERT_INT_EQ(m.f.store.usage.periods[0].used, 90);
    ASSERT_INT_EQ(alerts(&m.f.store), 1);
    ASSERT_INT_EQ(m.f.store.commits, commits + 1);
    const struct fake_change *c = &m.f.store.changes[m.f.store.nchanges - 1];
    ASSERT_MEM_EQ(c->team.b, m.team.b, 16);
    ASSERT_MEM_EQ(c->id.b, m.team.b, 16);
    ASSERT_INT_EQ(c->in_tx, 1);
    /* and never again this month */
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 10), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 1);
    /* next month has its own */
    m.f.clock.now_ms = at("2026-02-03T00:00:00Z");
    int64_t feb = at("2026-02-01T00:00:00Z");
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, feb, 50, &g), QL_OK);
    for (int i = 0; i < 60; i++)
        rows[i] = row(&m.team, feb + i, 1);
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 60), QL_OK);
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 30), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 2);
    fixture_cleanup(&m.f);
}

static void test_a_quota_lowered_below_what_was_used_raises_the_alert_once(void)
{
    struct metered m;
    metered_init(&m, 100);
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR};
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, m.a.period_start, 50, &g), QL_OK);
    struct ql_request_row rows[50];
    for (int i = 0; i < 50; i++)
        rows[i] = row(&m.team, T0 + i, 1);
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 50), QL_OK);
    struct ql_subscription sub;
    /* 50 of 56 is 89 %: no alert, and none for a raise */
    fixture_next(&m.f);
    m.f.cx.principal = &op;
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 56, &sub), QL_OK);
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 1000, &sub), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 0);
    /* 50 of 40: the quota crossed both marks, with no request to carry the alert */
    int commits = m.f.store.commits;
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 40, &sub), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 1);
    ASSERT_INT_EQ(m.f.store.commits, commits + 1);
    const struct fake_change *c = &m.f.store.changes[m.f.store.nchanges - 1];
    ASSERT_MEM_EQ(c->id.b, m.team.b, 16);
    ASSERT_INT_EQ(c->in_tx, 1);
    /* once per period: not again for another change, nor for the flushes after it */
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 30, &sub), QL_OK);
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 200, &sub), QL_OK);
    ASSERT_INT_EQ(ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 50, &sub), QL_OK);
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 5), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 1);
    /* a failed change raises nothing: the alert goes with the transaction */
    m.f.clock.now_ms = at("2026-02-03T00:00:00Z");
    int64_t feb = at("2026-02-01T00:00:00Z");
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, feb, 50, &g), QL_OK);
    for (int i = 0; i < 50; i++)
        rows[i] = row(&m.team, feb + i, 1);
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 20), QL_OK);
    for (int nth = 1; nth <= 20; nth++) {
        fixture_next(&m.f);
        m.f.cx.principal = &op;
        m.f.store.fail_call = nth;
        commits = m.f.store.commits;
        int rc = ql_subscription_set(&m.f.cx, &m.team, "pro", 3, 10, &sub);
        ASSERT_INT_EQ(alerts(&m.f.store), m.f.store.commits > commits ? 2 : 1);
        if (rc == QL_OK)
            break;
    }
    ASSERT_INT_EQ(alerts(&m.f.store), 2); /* February's, by the change that succeeded */
    fixture_cleanup(&m.f);
}

static void test_a_failed_flush_leaves_nothing_behind(void)
{
    struct metered m;
    metered_init(&m, 10);
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&m.f.cx, &m.team, m.a.period_start, 5, &g), QL_OK);
    struct ql_request_row rows[9];
    for (int i = 0; i < 9; i++)
        rows[i] = row(&m.team, T0 + i, 1);
    for (int nth = 1; nth <= 4; nth++) { /* begin, log, add_used, alert: each fails once */
        m.f.store.fail_call = nth;
        ASSERT_INT_NE(ql_usage_record(&m.f.cx, NULL, rows, 9), QL_OK);
        ASSERT_INT_EQ(m.f.store.usage.periods[0].used, 0);
        ASSERT_INT_EQ(m.f.store.usage.nrequests, 0);
        ASSERT_INT_EQ(alerts(&m.f.store), 0);
        fixture_next(&m.f);
    }
    ASSERT_INT_EQ(ql_usage_record(&m.f.cx, NULL, rows, 9), QL_OK);
    ASSERT_INT_EQ(alerts(&m.f.store), 1);
    fixture_cleanup(&m.f);
}

static void test_subscriptions_are_read_by_admins_and_set_by_operators(void)
{
    struct metered m;
    metered_init(&m, 1);
    struct fixture *f = &m.f;
    struct ql_uuid other = {{3}};
    struct ql_team t = {.id = other, .name = "Free", .created_ms = T0, .updated_ms = T0};
    ASSERT_INT_EQ(ql_store_teams_insert(f->cx.ports.store, &f->cx, &t, &other), QL_OK);
    struct ql_membership ms[2] = {{other, QL_ROLE_ADMIN}, {m.team, QL_ROLE_MEMBER}};
    struct ql_principal admin = {.kind = QL_PRINCIPAL_USER, .nteams = 2, .teams = ms};
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR};
    struct ql_subscription sub;
    f->cx.principal = &admin;
    ASSERT_INT_EQ(ql_subscription_get(&f->cx, &other, &sub), QL_OK);
    ASSERT_STR_EQ(sub.plan, "free"); /* no plan set: the default, with the configured quota */
    ASSERT_INT_EQ(sub.monthly_quota, f->cfg.free_quota);
    ASSERT_INT_EQ(sub.used, 0);
    ASSERT_INT_EQ(sub.period_start_ms, T0);
    ASSERT_INT_EQ(sub.period_end_ms, at("2026-02-01T00:00:00Z"));
    fixture_next(f);
    f->cx.principal = &admin;
    ASSERT_INT_EQ(ql_subscription_get(&f->cx, &m.team, &sub), QL_EFORBIDDEN); /* a member */
    ASSERT_INT_EQ(ql_subscription_set(&f->cx, &other, "pro", 3, 10, &sub), QL_EFORBIDDEN);
    fixture_next(f);
    f->cx.principal = &op;
    ASSERT_INT_EQ(ql_subscription_get(&f->cx, &other, &sub), QL_ENOT_FOUND); /* not a member */
    fixture_next(f);
    f->cx.principal = &op;
    ASSERT_INT_EQ(ql_subscription_set(&f->cx, &other, "bad plan!", 9, -1, &sub), QL_EVALIDATION);
    ASSERT_INT_EQ(f->cx.err.nfields, 2);
    fixture_next(f);
    f->cx.principal = &op;
    int naudit = f->store.naudit;
    ASSERT_INT_EQ(ql_subscription_set(&f->cx, &other, "pro", 3, 250000, &sub), QL_OK);
    ASSERT_STR_EQ(sub.plan, "pro");
    ASSERT_INT_EQ(sub.monthly_quota, 250000);
    ASSERT_INT_EQ(f->store.naudit, naudit + 1);
    ASSERT_STR_EQ(f->store.audit[naudit].e.action, "subscription.update");
    ASSERT_STR_EQ(f->store.audit[naudit].e.actor, "Operator");
    struct ql_uuid nobody = {{4}};
    ASSERT_INT_EQ(ql_subscription_set(&f->cx, &nobody, "pro", 3, 1, &sub), QL_ENOT_FOUND);
    fixture_next(f);
    f->cx.principal = &admin;
    ASSERT_INT_EQ(ql_subscription_get(&f->cx, &other, &sub), QL_OK);
    ASSERT_STR_EQ(sub.plan, "pro");
    fixture_cleanup(f);
}

static void test_the_purge_job_keeps_thirty_days(void)
{
    struct metered m;
    metered_init(&m, 10);
    struct ql_request_row rows[3] = {row(&m.team, T0 - 31 * DAY_MS, 1),
                                     row(&m.team, T0 - 29 * DAY_MS, 1), row(&m.team, T0, 0)};
    ASSERT_INT_EQ(ql_store_usage_log(m.f.cx.ports.store, &m.f.cx, rows, 3), QL_OK);
    const struct ql_job_kind *k = ql_job_kind_find("purge.requests", 0);
    ASSERT_NOT_NULL(k);
    struct ql_job job = {.kind = "purge.requests"};
    ASSERT_INT_EQ(k->fn(&m.f.cx, &job), QL_OK);
    ASSERT_INT_EQ(m.f.store.usage.nrequests, 2);
    int n, found = 0;
    const struct ql_schedule *s = ql_schedules(0, &n);
    for (int i = 0; i < n; i++)
        found += strcmp(s[i].kind, "purge.requests") == 0;
    ASSERT_INT_EQ(found, 1);
    fixture_cleanup(&m.f);
}

static const struct ql_test tests[] = {
    TEST(test_periods_are_calendar_months_in_utc),
    TEST(test_the_alert_mark_and_the_grant_rule),
    TEST(test_blocks_follow_the_recent_rate),
    TEST(test_exactly_the_quota_is_admitted_then_429_until_the_period_ends),
    TEST(test_the_last_units_are_reserved_one_at_a_time),
    TEST(test_an_event_loop_never_waits_for_a_reservation),
    TEST(test_a_refused_process_asks_again_and_gets_units_given_back),
    TEST(test_a_refill_on_its_way_decides_whether_the_quota_is_spent),
    TEST(test_a_plan_change_ends_the_wait_for_a_refill),
    TEST(test_idle_units_go_back_and_all_of_them_at_shutdown),
    TEST(test_a_new_month_starts_a_new_count),
    TEST(test_a_reservation_asked_before_a_plan_change_counts_for_nothing),
    TEST(test_a_request_late_across_midnight_keeps_the_new_months_block),
    TEST(test_crossing_90_percent_raises_one_alert_per_period),
    TEST(test_a_quota_lowered_below_what_was_used_raises_the_alert_once),
    TEST(test_a_failed_flush_leaves_nothing_behind),
    TEST(test_subscriptions_are_read_by_admins_and_set_by_operators),
    TEST(test_the_purge_job_keeps_thirty_days),
};

int main(int argc, char **argv)
{
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
