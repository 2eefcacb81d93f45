/*
 * Unit tests of the statement parameters of adapters/postgres/params.c: a time goes to
 * PostgreSQL as its binary timestamptz (microseconds since 2000), and a time outside
 * PostgreSQL's range as -infinity or infinity, never as an overflowed product.
 */
#include "clock/clock.h"
#include "postgres/internal.h"
#include "test.h"

#include <stdint.h>

#define PG_EPOCH_MS INT64_C(946684800000) /* 2000-01-01T00:00:00Z */

/* The timestamptz a time is sent as. */
static int64_t sent(int64_t ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, ms);
    ASSERT_INT_EQ(p.n, 1);
    ASSERT_INT_EQ(p.lengths[0], 8);
    ASSERT_INT_EQ(p.formats[0], 1);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p.values[0][i];
    return (int64_t)v;
}

static void test_times_are_sent_as_microseconds_since_2000(void)
{
    ASSERT_INT_EQ(sent(PG_EPOCH_MS), 0);
    ASSERT_INT_EQ(sent(1767225600123LL), (1767225600123LL - PG_EPOCH_MS) * 1000);
    ASSERT_INT_EQ(sent(-1), (-1 - PG_EPOCH_MS) * 1000);
    ASSERT_INT_EQ(sent(QL_TIME_MIN_MS), (QL_TIME_MIN_MS - PG_EPOCH_MS) * 1000);
    ASSERT_INT_EQ(sent(QL_TIME_MAX_MS), (QL_TIME_MAX_MS - PG_EPOCH_MS) * 1000);
}

/* PostgreSQL's range (4714-11-24 BC to 294277-01-01, src/include/datatype/timestamp.h). */
static void test_times_past_postgresqls_range_are_sent_as_infinities(void)
{
    const int64_t min_ms = INT64_C(-210866803200000), end_ms = INT64_C(9224318016000000);
    ASSERT_INT_EQ(sent(min_ms), INT64_C(-211813488000000000)); /* MIN_TIMESTAMP */
    ASSERT_INT_EQ(sent(end_ms - 1), INT64_C(9223371331200000000) - 1000);
    ASSERT_INT_EQ(sent(min_ms - 1), INT64_MIN); /* -infinity */
    ASSERT_INT_EQ(sent(end_ms), INT64_MAX);     /* infinity */
    ASSERT_INT_EQ(sent(INT64_MIN), INT64_MIN);
    ASSERT_INT_EQ(sent(INT64_MAX), INT64_MAX);
    ASSERT_INT_EQ(sent(INT64_MAX / 1000 + PG_EPOCH_MS), INT64_MAX); /* would overflow */
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_times_are_sent_as_microseconds_since_2000),
        TEST(test_times_past_postgresqls_range_are_sent_as_infinities),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
