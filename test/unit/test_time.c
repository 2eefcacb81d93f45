/* Unit tests of core/clock time formatting and parsing. */
#include "clock/clock.h"
#include "err/err.h"
#include "test.h"

#include <time.h>

static void test_format_known_values(void)
{
    char s[QL_TIME_LEN + 1];
    ql_time_format(0, s);
    ASSERT_STR_EQ(s, "1970-01-01T00:00:00.000Z");
    ql_time_format(1767225600000LL, s);
    ASSERT_STR_EQ(s, "2026-01-01T00:00:00.000Z");
    ql_time_format(1767312030919LL, s);
    ASSERT_STR_EQ(s, "2026-01-02T00:00:30.919Z");
    ql_time_format(951782400123LL, s); /* leap day */
    ASSERT_STR_EQ(s, "2000-02-29T00:00:00.123Z");
    ql_time_format(-1, s);
    ASSERT_STR_EQ(s, "1969-12-31T23:59:59.999Z");
}

static void test_parse_forms(void)
{
    int64_t ms;
    ASSERT_INT_EQ(ql_time_parse("2026-01-02T00:00:30.919Z", 24, &ms), QL_OK);
    ASSERT_INT_EQ(ms, 1767312030919LL);
    ASSERT_INT_EQ(ql_time_parse("2026-01-02T00:00:30Z", 20, &ms), QL_OK);
    ASSERT_INT_EQ(ms, 1767312030000LL);
    ASSERT_INT_EQ(ql_time_parse("2026-01-02T01:00:30.9+01:00", 27, &ms), QL_OK);
    ASSERT_INT_EQ(ms, 1767312030900LL);
    ASSERT_INT_EQ(ql_time_parse("2026-01-02T00:00:30.919999Z", 27, &ms), QL_OK);
    ASSERT_INT_EQ(ms, 1767312030919LL);
}

static void test_parse_rejects(void)
{
    static const char *bad[] = {
        "",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00Zjunk",
        "2026-01-01T00:00:00+0100",
        "abcd-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        ASSERT_INT_EQ(ql_time_parse(bad[i], strlen(bad[i]), &ms), QL_EVALIDATION);
    }
}

/* Property: format then parse is the identity, and agrees with libc's gmtime. */
static void test_round_trip_matches_libc(void)
{
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = (int64_t)(x % 253402300799999ULL); /* up to 9999-12-31 */
        char s[QL_TIME_LEN + 1];
        ql_time_format(ms, s);
        int64_t back;
        ASSERT_INT_EQ(ql_time_parse(s, QL_TIME_LEN, &back), QL_OK);
        ASSERT_INT_EQ(back, ms);
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char want[32];
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        ASSERT_TRUE(strncmp(s, want, 19) == 0);
    }
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_format_known_values),
        TEST(test_parse_forms),
        TEST(test_parse_rejects),
        TEST(test_round_trip_matches_libc),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
