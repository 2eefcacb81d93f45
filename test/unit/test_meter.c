/* Unit tests of the HTTP adapter's meter (adapters/http/meter.h): its table of accounts. */
#include "err/err.h"
#include "http/internal.h"
#include "http/meter.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Teams whose ids differ in a few bytes only (here one byte of the timestamp, as ids made
 * by hand or seeded often do) each keep their account: they must not all land in one probe
 * window, where each new one would recycle another's account and give back its units.
 */
static void test_similar_team_ids_keep_their_accounts(void)
{
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(m != NULL);
    pthread_mutex_init(&m->lock, NULL);
    int64_t now = 1767225600000LL;
    struct ql_uuid team;
    for (int i = 0; i < 64; i++) {
        memset(team.b, 0x5a, sizeof(team.b));
        team.b[5] = (uint8_t)i;
        uint32_t base;
        struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
        ql__meter_account(m, s, base, &team, now)->held = 100 + i;
    }
    for (int i = 0; i < 64; i++) {
        memset(team.b, 0x5a, sizeof(team.b));
        team.b[5] = (uint8_t)i;
        uint32_t base;
        struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
        ASSERT_INT_EQ(ql__meter_account(m, s, base, &team, now)->held, 100 + i);
    }
    ASSERT_INT_EQ(m->nreturns, 0); /* nothing recycled, so nothing given back */
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/*
 * A billed request that ends after the month turned is dated when it took its unit, so the
 * flush counts it in the period the unit was reserved from (not in the next one, where it
 * would be lost or counted beyond what was reserved); others are dated when they end.
 */
static void test_a_billed_row_is_dated_when_its_unit_was_taken(void)
{
    int64_t jan_end = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct ql__admission a = {.metered = QL__METER_BILLED, .at_ms = jan_end - 1};
    memset(a.team.b, 1, 16);
    memset(a.key.b, 2, 16);
    struct ql_request_row row = {.method = "GET", .status = 200};
    ql__meter_row(&a, jan_end + 30, &row);
    ASSERT_INT_EQ(row.at_ms, jan_end - 1);
    ASSERT_INT_EQ(row.billed, 1);
    ASSERT_MEM_EQ(row.team.b, a.team.b, 16);
    ASSERT_MEM_EQ(row.key.b, a.key.b, 16);
    ASSERT_STR_EQ(row.method, "GET");
    int64_t start, end;
    ql_usage_period(row.at_ms, &start, &end);
    ASSERT_INT_EQ(end, jan_end);
    /* refused with 429: no unit, dated when answered */
    a.metered = QL__METER_REFUSED;
    ql__meter_row(&a, jan_end + 30, &row);
    ASSERT_INT_EQ(row.at_ms, jan_end + 30);
    ASSERT_INT_EQ(row.billed, 0);
}

/*
 * A request that read the clock in the last millisecond of January and reaches the meter
 * after another took the team's account into February spends a unit of February's block,
 * and is dated February's first millisecond, so the flush counts it where its unit came from.
 */
static void test_a_request_late_across_midnight_counts_in_the_new_month(void)
{
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(m != NULL);
    pthread_mutex_init(&m->lock, NULL);
    for (int i = 0; i < QL__METER_STRIPES; i++)
        pthread_mutex_init(&m->stripes[i].lock, NULL);
    int64_t feb = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct ql_uuid team;
    memset(team.b, 0x33, sizeof(team.b));
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
    ql__meter_account(m, s, base, &team, feb)->held = 100; /* February's block */
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    int64_t now = feb;
    ASSERT_INT_EQ(ql__meter_admit(m, &cx, &team, &now, 0), QL_OK);
    ASSERT_INT_EQ(now, feb);
    now = feb - 1;
    ASSERT_INT_EQ(ql__meter_admit(m, &cx, &team, &now, 0), QL_OK);
    ASSERT_INT_EQ(now, feb);
    ASSERT_INT_EQ(ql__meter_account(m, s, base, &team, feb)->held, 98);
    ASSERT_INT_EQ(m->nreturns, 0);
    for (int i = 0; i < QL__METER_STRIPES; i++)
        pthread_mutex_destroy(&m->stripes[i].lock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_similar_team_ids_keep_their_accounts),
        TEST(test_a_billed_row_is_dated_when_its_unit_was_taken),
        TEST(test_a_request_late_across_midnight_counts_in_the_new_month),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
