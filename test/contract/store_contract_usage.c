/*
 * store_contract_usage.c - the store contract's cases for plans and metering
 * (core/store/store_usage.h): the plan of a team, reservations by the grant rule and never
 * past the quota, giving units back, the request log with the used counts and the alert
 * flag, the purge, and the rate counts instances share.
 */
#include "contract/store_contract.h"

#include "store/store_usage.h"
#include "usage/usage.h"

#include <string.h>

#define DAY_MS 86400000LL

struct usage_case {
    struct cc c;
    struct ql_user owner;
    struct ql_team team;
    int64_t period; /* the month of c.now */
};

static void open_case(struct usage_case *u)
{
    cc_open(&u->c);
    u->owner = cc_user(&u->c, "Quota Owner");
    u->team = cc_team(&u->c, "Metered", &u->owner);
    int64_t end;
    ql_usage_period(u->c.now, &u->period, &end);
}

static void test_a_team_without_a_plan_has_none_until_an_operator_sets_one(void)
{
    struct usage_case u;
    open_case(&u);
    struct cc *c = &u.c;
    struct ql_usage_state st;
    ASSERT_INT_EQ(ql_store_usage_state(c->s, &c->cx, &u.team.id, u.period, &st), QL_OK);
    ASSERT_NULL(st.plan);
    ASSERT_INT_EQ(st.used, 0);
    ASSERT_INT_EQ(ql_store_usage_subscribe(c->s, &c->cx, &u.team.id, "pro", 5000, c->now), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_subscribe(c->s, &c->cx, &u.team.id, "team", 7000, c->now), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_state(c->s, &c->cx, &u.team.id, u.period, &st), QL_OK);
    ASSERT_STR_EQ(st.plan, "team");
    ASSERT_INT_EQ(st.monthly_quota, 7000);
    struct ql_uuid nobody = cc_id();
    CC_FAILS(c, ql_store_usage_state(c->s, &c->cx, &nobody, u.period, &st), QL_ENOT_FOUND);
    CC_FAILS(c, ql_store_usage_subscribe(c->s, &c->cx, &nobody, "pro", 1, c->now), QL_ENOT_FOUND);
    cc_close(c);
}

static void test_reservations_follow_the_grant_rule_and_stop_at_the_quota(void)
{
    struct usage_case u;
    open_case(&u);
    struct cc *c = &u.c;
    ASSERT_INT_EQ(ql_store_usage_subscribe(c->s, &c->cx, &u.team.id, "pro", 100, c->now), QL_OK);
    struct ql_usage_grant g;
    int64_t total = 0, blocks = 0, singles = 0;
    for (int i = 0; i < 200; i++) {
        int64_t before = total;
        ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 16, 1, &g), QL_OK);
        ASSERT_INT_EQ(g.granted, ql_usage_grant_rule(100, before, 16));
        ASSERT_INT_EQ(g.quota, 100); /* the plan's, not the default's */
        total += g.granted;
        ASSERT_INT_EQ(g.reserved, total);
        blocks += g.granted == 16;
        singles += g.granted == 1;
        if (g.granted == 0)
            break;
    }
    ASSERT_INT_EQ(total, 100);
    ASSERT_INT_EQ(blocks, 5);   /* 100 -> 20 left in blocks of 16 while 32 remain */
    ASSERT_INT_EQ(singles, 20); /* then one at a time */
    /* units given back are reserved again */
    struct ql_usage_return back = {u.team.id, u.period, 3};
    ASSERT_INT_EQ(ql_store_usage_release(c->s, &c->cx, &back, 1), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 16, 1, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 1);
    ASSERT_INT_EQ(g.reserved, 98);
    cc_close(c);
}

static void test_a_team_without_a_plan_reserves_from_the_default_quota(void)
{
    struct usage_case u;
    open_case(&u);
    struct cc *c = &u.c;
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 10, 40, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 10);
    ASSERT_INT_EQ(g.quota, 40);
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 10, 40, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 10);
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 10, 40, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 10); /* 20 left: still two blocks */
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 10, 40, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 1); /* 10 left: fewer than two blocks */
    /* another month is another count */
    ASSERT_INT_EQ(
        ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period + 40 * DAY_MS, 10, 40, &g),
        QL_OK);
    ASSERT_INT_EQ(g.granted, 10);
    ASSERT_INT_EQ(g.reserved, 10);
    /* a team that does not exist gets nothing */
    struct ql_uuid nobody = cc_id();
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &nobody, u.period, 10, 40, &g), QL_OK);
    ASSERT_INT_EQ(g.granted, 0);
    cc_close(c);
}

static void test_recorded_requests_count_as_used_and_the_alert_is_raised_once(void)
{
    struct usage_case u;
    open_case(&u);
    struct cc *c = &u.c;
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_store_usage_reserve(c->s, &c->cx, &u.team.id, u.period, 16, 50, &g), QL_OK);
    struct ql_uuid key = cc_id();
    struct ql_request_row rows[3] = {
        {u.team.id, key, c->now, "GET", "/v1/teams/{teamId}", 200, 1500, 1},
        {u.team.id, key, c->now + 1, "POST", "/v1/teams/{teamId}/journal-entries", 201, 90, 1},
        {u.team.id, key, c->now + 2, "GET", "/v1/teams/{teamId}", 429, 12, 0},
    };
    struct ql_usage_tally t = {.team = u.team.id, .period_ms = u.period, .n = 2};
    ASSERT_INT_EQ(ql_store_begin(c->s, &c->cx), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_log(c->s, &c->cx, rows, 3), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_add_used(c->s, &c->cx, &t, 1, 50), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c->s, &c->cx), QL_OK);
    ASSERT_INT_EQ(t.used, 2);
    ASSERT_INT_EQ(t.quota, 50);
    ASSERT_INT_EQ(t.alerted, 0);
    struct ql_usage_state st;
    ASSERT_INT_EQ(ql_store_usage_state(c->s, &c->cx, &u.team.id, u.period, &st), QL_OK);
    ASSERT_INT_EQ(st.alerted, 0);
    int raised = -1;
    ASSERT_INT_EQ(ql_store_usage_alert(c->s, &c->cx, &u.team.id, u.period, &raised), QL_OK);
    ASSERT_INT_EQ(raised, 1);
    ASSERT_INT_EQ(ql_store_usage_alert(c->s, &c->cx, &u.team.id, u.period, &raised), QL_OK);
    ASSERT_INT_EQ(raised, 0);
    t.n = 3;
    ASSERT_INT_EQ(ql_store_usage_add_used(c->s, &c->cx, &t, 1, 50), QL_OK);
    ASSERT_INT_EQ(t.used, 5);
    ASSERT_INT_EQ(t.alerted, 1);
    ASSERT_INT_EQ(ql_store_usage_state(c->s, &c->cx, &u.team.id, u.period, &st), QL_OK);
    ASSERT_INT_EQ(st.used, 5);
    ASSERT_INT_EQ(st.alerted, 1);
    /* a period nobody reserved from has no count to add to */
    struct ql_usage_tally none = {.team = u.team.id, .period_ms = u.period - 40 * DAY_MS, .n = 1};
    ASSERT_INT_EQ(ql_store_usage_add_used(c->s, &c->cx, &none, 1, 50), QL_OK);
    ASSERT_INT_EQ(none.used, -1);
    /* a rolled-back flush leaves no count behind */
    ASSERT_INT_EQ(ql_store_begin(c->s, &c->cx), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_add_used(c->s, &c->cx, &t, 1, 50), QL_OK);
    ql_store_rollback(c->s, &c->cx);
    ASSERT_INT_EQ(ql_store_usage_state(c->s, &c->cx, &u.team.id, u.period, &st), QL_OK);
    ASSERT_INT_EQ(st.used, 5);
    cc_close(c);
}

static void test_the_purge_deletes_requests_older_than_its_cutoff(void)
{
    struct usage_case u;
    open_case(&u);
    struct cc *c = &u.c;
    struct ql_uuid key = cc_id();
    int64_t old = c->now - 40 * DAY_MS;
    struct ql_request_row rows[3] = {
        {u.team.id, key, old, "GET", "/v1/me", 200, 1, 1},
        {u.team.id, key, old + 1, "GET", "/v1/me", 200, 1, 1},
        {u.team.id, key, c->now, "GET", "/v1/me", 200, 1, 1},
    };
    ASSERT_INT_EQ(ql_store_usage_log(c->s, &c->cx, rows, 3), QL_OK);
    int64_t n = 0;
    ASSERT_INT_EQ(ql_store_usage_purge(c->s, &c->cx, c->now - 30 * DAY_MS, &n), QL_OK);
    ASSERT_TRUE(n >= 2); /* and whatever older rows other runs left */
    ASSERT_INT_EQ(ql_store_usage_purge(c->s, &c->cx, c->now - 30 * DAY_MS, &n), QL_OK);
    ASSERT_INT_EQ(n, 0);
    cc_close(c);
}

/* A flush's mark: stored once per number, later numbers only; purged with the old log. */
static void test_a_flush_is_marked_once_and_its_mark_purged_when_old(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_usage_flush a = {cc_id(), 1}, b = {cc_id(), 1};
    int fresh = -1;
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &a, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 1);
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &a, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 0); /* the same flush again */
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &b, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 1); /* another process's */
    a.seq = 2;
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &a, c.now - 40 * DAY_MS, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 1);
    a.seq = 1;
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &a, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 0); /* older than the last */
    int64_t n = 0;
    ASSERT_INT_EQ(ql_store_usage_purge(c.s, &c.cx, c.now - 30 * DAY_MS, &n), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &a, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 1); /* a's mark was old: purged */
    ASSERT_INT_EQ(ql_store_usage_flushed(c.s, &c.cx, &b, c.now, &fresh), QL_OK);
    ASSERT_INT_EQ(fresh, 0); /* b's was not */
    cc_close(&c);
}

/* The count of principal p in second s among out[0..n), or -1. */
static int64_t count_of(const struct ql_rate_count *out, int n, const struct ql_uuid *p, int64_t s)
{
    for (int i = 0; i < n; i++)
        if (out[i].second == s && memcmp(out[i].principal.b, p->b, 16) == 0)
            return out[i].n;
    return -1;
}

static void test_instances_read_each_others_rate_counts(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_uuid a = cc_id(), b = cc_id(), d = cc_id(), p = cc_id(), q = cc_id();
    int64_t s = c.now / 1000;
    struct ql_rate_count *out;
    int n;
    struct ql_rate_count mine_a[2] = {{p, s, 3}, {q, s - 1, 7}};
    ASSERT_INT_EQ(ql_store_usage_rates_share(c.s, &c.cx, &a, mine_a, 2, s - 2, &out, &n), QL_OK);
    ASSERT_INT_EQ(count_of(out, n, &p, s), -1); /* its own counts are not read back */
    struct ql_rate_count mine_b = {p, s, 2};
    ASSERT_INT_EQ(ql_store_usage_rates_share(c.s, &c.cx, &b, &mine_b, 1, s - 2, &out, &n), QL_OK);
    ASSERT_INT_EQ(count_of(out, n, &p, s), 3);
    ASSERT_INT_EQ(count_of(out, n, &q, s - 1), 7);
    /* a count replaces the last one of its second; counts of other instances add up */
    mine_a[0].n = 5;
    ASSERT_INT_EQ(ql_store_usage_rates_share(c.s, &c.cx, &a, mine_a, 1, s - 2, &out, &n), QL_OK);
    ASSERT_INT_EQ(count_of(out, n, &p, s), 2);
    ASSERT_INT_EQ(ql_store_usage_rates_share(c.s, &c.cx, &d, NULL, 0, s - 2, &out, &n), QL_OK);
    ASSERT_INT_EQ(count_of(out, n, &p, s), 7);
    ASSERT_INT_EQ(count_of(out, n, &q, s - 1), 7);
    /* only the seconds asked for */
    ASSERT_INT_EQ(ql_store_usage_rates_share(c.s, &c.cx, &d, NULL, 0, s, &out, &n), QL_OK);
    ASSERT_INT_EQ(count_of(out, n, &q, s - 1), -1);
    ASSERT_INT_EQ(count_of(out, n, &p, s), 7);
    cc_close(&c);
}

const struct ql_test contract_usage_tests[] = {
    TEST(test_a_team_without_a_plan_has_none_until_an_operator_sets_one),
    TEST(test_reservations_follow_the_grant_rule_and_stop_at_the_quota),
    TEST(test_a_team_without_a_plan_reserves_from_the_default_quota),
    TEST(test_recorded_requests_count_as_used_and_the_alert_is_raised_once),
    TEST(test_the_purge_deletes_requests_older_than_its_cutoff),
    TEST(test_instances_read_each_others_rate_counts),
    TEST(test_a_flush_is_marked_once_and_its_mark_purged_when_old),
};
const int contract_usage_ntests = QL_NTESTS(contract_usage_tests);
