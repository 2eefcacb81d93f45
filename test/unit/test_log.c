/* Unit tests of core/log: line shape, levels and escaping. */
#include "fakes/fakes.h"
#include "log/log.h"
#include "test.h"

#include <cJSON.h>

static void test_line_shape(void)
{
    struct fake_clock c;
    struct fake_log l;
    fake_clock_init(&c, 1767225600123LL);
    fake_log_init(&l, &c.base);
    ql_log(&l.base, QL_LOG_WARN, "disk \"full\"", "path", "/tmp", "n", NULL, NULL);
    ASSERT_INT_EQ(l.count, 1);
    ASSERT_STR_EQ(l.lines.data, "{\"time\":\"2026-01-01T00:00:00.123Z\",\"level\":\"warn\",\"msg\":"
                                "\"disk \\\"full\\\"\",\"path\":\"/tmp\",\"n\":null}\n");
    cJSON *j = cJSON_Parse(l.lines.data);
    ASSERT_NOT_NULL(j);
    cJSON_Delete(j);
    fake_log_cleanup(&l);
}

static void test_levels_filter(void)
{
    struct fake_clock c;
    struct fake_log l;
    fake_clock_init(&c, 0);
    fake_log_init(&l, &c.base);
    l.base.level = QL_LOG_WARN;
    ql_log(&l.base, QL_LOG_INFO, "dropped", NULL);
    ql_log(&l.base, QL_LOG_ERROR, "kept", NULL);
    ASSERT_INT_EQ(l.count, 1);
    int lv;
    ASSERT_INT_EQ(ql_log_level_parse("debug", &lv), 0);
    ASSERT_INT_EQ(lv, QL_LOG_DEBUG);
    ASSERT_INT_NE(ql_log_level_parse("verbose", &lv), 0);
    fake_log_cleanup(&l);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_line_shape),
        TEST(test_levels_filter),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
