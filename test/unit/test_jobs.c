/* Unit tests of core/jobs: cron parsing and next-tick search, backoff, the catalogue. */
#include "clock/clock.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "ops/ops.h"
#include "test.h"

static int64_t at(int y, int mo, int d, int h, int mi)
{
    return (ql_days_from_civil(y, (unsigned)mo, (unsigned)d) * 1440 + h * 60 + mi) * 60000;
}

static void test_cron_parse_rejects(void)
{
    static const char *bad[] = {
        "",           "* * * *",   "* * * * * *", "60 * * * *",  "* 24 * * *", "* * 0 * *",
        "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *",  "1,,2 * * * *"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ql_cron c;
        struct ql_error e;
        ql_error_clear(&e);
        ASSERT_INT_EQ(ql_cron_parse(bad[i], &c, &e), QL_EVALIDATION);
    }
}

static void test_cron_next_known_cases(void)
{
    struct ql_cron c;
    struct ql_error e;
    ASSERT_INT_EQ(ql_cron_parse("0 0 * * *", &c, &e), QL_OK);
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 11, 30, 20, 50)), at(2026, 12, 1, 0, 0));
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 12, 1, 0, 0)), at(2026, 12, 2, 0, 0));
    ASSERT_INT_EQ(ql_cron_parse("*/15 9-17 * * 1-5", &c, &e), QL_OK);
    /* 2026-11-28 is a Saturday: next is Monday 30th 09:00 */
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 11, 28, 12, 0)), at(2026, 11, 30, 9, 0));
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 11, 30, 9, 0)), at(2026, 11, 30, 9, 15));
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 11, 30, 17, 45)), at(2026, 12, 1, 9, 0));
    ASSERT_INT_EQ(ql_cron_parse("0 12 29 2 *", &c, &e), QL_OK); /* leap days only */
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 3, 1, 0, 0)), at(2028, 2, 29, 12, 0));
    ASSERT_INT_EQ(ql_cron_parse("0 0 1 * 0", &c, &e), QL_OK); /* the 1st, or any Sunday */
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 11, 30, 0, 0)), at(2026, 12, 1, 0, 0));
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 12, 1, 0, 0)), at(2026, 12, 6, 0, 0));
    ASSERT_INT_EQ(ql_cron_parse("30 4 * * 7", &c, &e), QL_OK); /* 7 is Sunday */
    ASSERT_INT_EQ(ql_cron_next(&c, at(2026, 12, 1, 0, 0)), at(2026, 12, 6, 4, 30));
}

/* Times before 1970 are negative: the day of a minute is still the floor, as in matches(). */
static void test_cron_next_before_1970(void)
{
    struct ql_cron c;
    struct ql_error e;
    ASSERT_INT_EQ(ql_cron_parse("0 0 * * *", &c, &e), QL_OK);
    ASSERT_INT_EQ(ql_cron_next(&c, at(1969, 12, 31, 23, 30)), 0);
    ASSERT_INT_EQ(ql_cron_parse("15 * * * *", &c, &e), QL_OK);
    ASSERT_INT_EQ(ql_cron_next(&c, at(1969, 12, 31, 22, 30)), at(1969, 12, 31, 23, 15));
}

/* Property: next() agrees with a minute-by-minute scan using matches(). */
static void test_cron_next_matches_brute_force(void)
{
    static const char *exprs[] = {"*/7 * * * *",   "3,17 */5 * * *",      "0 0 13 * 5",
                                  "59 23 31 12 *", "10-20/3 1-3 * 1,6 *", "0 6 * * 0,6",
                                  "* * * * *"};
    uint64_t x = 42;
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct ql_cron c;
        struct ql_error e;
        ASSERT_INT_EQ(ql_cron_parse(exprs[i], &c, &e), QL_OK);
        for (int round = 0; round < 20; round++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t from = at(2026, 1, 1, 0, 0) + (int64_t)(x % (366ULL * 86400000));
            int64_t got = ql_cron_next(&c, from);
            int64_t m = (from / 60000 + 1) * 60000;
            while (!ql_cron_matches(&c, m))
                m += 60000;
            ASSERT_INT_EQ(got, m);
        }
    }
}

static void test_backoff_grows_with_jitter_and_cap(void)
{
    int64_t prev = 0;
    for (int n = 1; n <= 8; n++) {
        int64_t base = 1000LL << (n - 1);
        for (uint64_t r = 0; r < 500; r += 7) {
            int64_t d = ql_job_backoff_ms(n, 1000, r * 2654435761u);
            ASSERT_TRUE(d >= base * 3 / 4 && d < base * 5 / 4 + 1);
        }
        int64_t mid = ql_job_backoff_ms(n, 1000, 0);
        ASSERT_TRUE(mid >= prev);
        prev = mid;
    }
    int64_t capped = ql_job_backoff_ms(40, 1000, 123);
    ASSERT_TRUE(capped <= 3600000LL * 5 / 4);
}

static void test_catalogue(void)
{
    ASSERT_NOT_NULL(ql_job_kind_find("prompts.daily_pick", 0));
    ASSERT_NULL(ql_job_kind_find("debug.fail", 0));
    ASSERT_NOT_NULL(ql_job_kind_find("debug.fail", 1));
    ASSERT_NULL(ql_job_kind_find("nope", 1));
    ASSERT_NULL(ql_job_kind_find("activity.record", 1)); /* a consumer of the log now */
    ASSERT_NOT_NULL(ql_job_kind_find("purge.changes", 0));
    ASSERT_NOT_NULL(ql_job_kind_find("export.build", 0));
    ASSERT_NOT_NULL(ql_job_kind_find("account.erase", 0));
    int n;
    const struct ql_schedule *s = ql_schedules(0, &n);
    ASSERT_INT_EQ(n, 10); /* daily prompts and nine purges (requests: the request log; mail) */
    ASSERT_STR_EQ(s[0].name, "daily-prompts");
    for (int i = 0; i < n; i++) {
        struct ql_cron c;
        struct ql_error e;
        ASSERT_INT_EQ(ql_cron_parse(s[i].expr, &c, &e), QL_OK);
        ASSERT_NOT_NULL(ql_job_kind_find(s[i].kind, 0));
        ASSERT_TRUE(strcmp(s[i].name, "debug-tick") != 0);
    }
    int nd;
    ASSERT_STR_EQ(ql_schedules(1, &nd)[0].name, "debug-tick");
    ASSERT_INT_EQ(nd, n + 1);
}

static void test_job_ids(void)
{
    struct fixture f;
    fixture_init(&f);
    int64_t id;
    ASSERT_INT_EQ(ql_ops_job_id(&f.cx, "123", 3, &id), QL_OK);
    ASSERT_INT_EQ(id, 123);
    ASSERT_INT_EQ(ql_ops_job_id(&f.cx, "0", 1, &id), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_ops_job_id(&f.cx, "12a", 3, &id), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_ops_job_id(&f.cx, "", 0, &id), QL_EVALIDATION);
    fixture_cleanup(&f);
}

/* A monotonic clock that moves 15 ms at every read: a machine where 10 ms sleeps take 15. */
struct slow_clock {
    struct ql_clock base;
    int64_t mono_ns;
};

static int64_t slow_now(struct ql_clock *self)
{
    (void)self;
    return T0;
}

static int64_t slow_mono(struct ql_clock *self)
{
    struct slow_clock *c = (struct slow_clock *)self;
    c->mono_ns += 15000000;
    return c->mono_ns;
}

/*
 * debug.sleep sleeps its payload's time as the clock measures it: 300 ms within a 350 ms
 * deadline however long each step takes.  (It used to count 10 ms a step, and on a loaded
 * machine its 900 ms jobs overran the kind's 1 s deadline: the e2e SIGTERM test failed.)
 */
static void test_debug_sleep_counts_the_time_it_took(void)
{
    static const struct ql_clock_ops ops = {slow_now, slow_mono};
    struct fixture f;
    fixture_init(&f);
    struct slow_clock clock = {{&ops}, 1000000000};
    f.cx.ports.clock = &clock.base;
    f.cx.deadline_ns = clock.mono_ns + 350000000;
    const struct ql_job_kind *k = ql_job_kind_find("debug.sleep", 1);
    ASSERT_NOT_NULL(k);
    struct ql_job job = {.kind = "debug.sleep", .payload = "{\"ms\":300}"};
    ASSERT_INT_EQ(k->fn(&f.cx, &job), QL_OK);
    ASSERT_TRUE(clock.mono_ns - 1000000000 <= 330000000); /* 20 steps of 15 ms, plus one */
    /* and past the deadline it gives up */
    f.cx.deadline_ns = clock.mono_ns + 100000000;
    ASSERT_INT_EQ(k->fn(&f.cx, &job), QL_EUNAVAILABLE);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_cron_parse_rejects),
        TEST(test_cron_next_known_cases),
        TEST(test_cron_next_before_1970),
        TEST(test_cron_next_matches_brute_force),
        TEST(test_backoff_grows_with_jitter_and_cap),
        TEST(test_catalogue),
        TEST(test_job_ids),
        TEST(test_debug_sleep_counts_the_time_it_took),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
