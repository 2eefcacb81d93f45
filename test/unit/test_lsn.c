/* Unit tests of ql_db_lsn_parse (core/db/lsn.c): WAL positions as PostgreSQL prints them. */
#include "db/db.h"
#include "test.h"

#include <string.h>

static uint64_t parse(const char *s)
{
    return ql_db_lsn_parse(s, strlen(s));
}

static void test_lsn_parses_what_postgres_prints(void)
{
    ASSERT_TRUE(parse("0/0") == 0);
    ASSERT_TRUE(parse("16/B374D848") == ((uint64_t)0x16 << 32 | 0xB374D848));
    ASSERT_TRUE(parse("ffffffff/ffffffff") == UINT64_MAX);
    ASSERT_TRUE(parse("0/1a") == 0x1a);
}

static void test_lsn_refuses_what_is_not_one(void)
{
    static const char *const bad[] = {
        "",      "/",   "16",          "16/",         "/1",  "16/B374D848 ",
        "1/2/3", "g/1", "123456789/1", "1/123456789", "-1/1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_TRUE(parse(bad[i]) == 0);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_lsn_parses_what_postgres_prints),
        TEST(test_lsn_refuses_what_is_not_one),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
