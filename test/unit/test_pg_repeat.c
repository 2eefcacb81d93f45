/*
 * Unit tests of adapters/postgres/repeat.c: every statement that writes (or locks) says
 * whether running it again after its answer was lost is harmless, so that conn.c never sends
 * a write twice because nobody thought about it; and a statement said to write does.
 */
#include "postgres/internal.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

/* Does sql write, lock or notify?  The keywords are upper case; column names are not. */
static int writes(const char *sql)
{
    static const char *const words[] = {"INSERT",   "UPDATE",    "DELETE", "nextval",
                                        "advisory", "pg_notify", "SHARE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(sql, words[i]) != NULL)
            return 1;
    return 0;
}

static void test_every_writing_statement_says_whether_it_may_run_again(void)
{
    int unnamed = 0;
    for (int st = 0; st < QL__ST_COUNT; st++) {
        const struct ql__pg_stmt_def *d = &ql__pg_stmts[st];
        if (writes(d->sql) && ql__pg_repeat((enum ql__pg_stmt)st) == QL__PG_READ) {
            printf("#   %s writes but repeat.c does not name it\n", d->name);
            unnamed++;
        }
    }
    ASSERT_INT_EQ(unnamed, 0);
}

static void test_every_statement_named_in_repeat_c_writes(void)
{
    int reads = 0;
    for (int st = 0; st < QL__ST_COUNT; st++) {
        const struct ql__pg_stmt_def *d = &ql__pg_stmts[st];
        if (!writes(d->sql) && ql__pg_repeat((enum ql__pg_stmt)st) != QL__PG_READ) {
            printf("#   %s is named in repeat.c but only reads\n", d->name);
            reads++;
        }
    }
    ASSERT_INT_EQ(reads, 0);
}

/* The writes whose second run does harm (a second increment, a second row). */
static void test_increments_and_insertions_run_once(void)
{
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_RATE_HIT), QL__PG_ONCE);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_USAGE_RESERVE), QL__PG_ONCE);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_USAGE_RELEASE), QL__PG_ONCE);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_JOB_INSERT), QL__PG_ONCE);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_JOB_CLAIM), QL__PG_ONCE);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_USAGE_RATES), QL__PG_REPEAT);
    ASSERT_INT_EQ(ql__pg_repeat(QL__ST_PING), QL__PG_READ);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_every_writing_statement_says_whether_it_may_run_again),
        TEST(test_every_statement_named_in_repeat_c_writes),
        TEST(test_increments_and_insertions_run_once),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
