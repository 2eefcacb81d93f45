/* Unit tests of core/arena: alignment, reuse after reset, limits and injected failures. */
#include "arena/arena.h"
#include "test.h"

#include <stdint.h>

static void test_alignment_and_distinct_blocks(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 256, 0);
    char *p = ql_arena_alloc(&a, 3), *q = ql_arena_alloc(&a, 5);
    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(q);
    ASSERT_INT_EQ((uintptr_t)p % 16, 0);
    ASSERT_INT_EQ((uintptr_t)q % 16, 0);
    ASSERT_TRUE(q >= p + 3);
    ql_arena_cleanup(&a);
}

static void test_reset_keeps_first_chunk(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 0);
    void *first = ql_arena_alloc(&a, 100);
    for (int i = 0; i < 50; i++)
        ASSERT_NOT_NULL(ql_arena_alloc(&a, 900));
    ASSERT_TRUE(ql_arena_held(&a) > 1024);
    ql_arena_reset(&a);
    ASSERT_INT_EQ(ql_arena_held(&a), 1024);
    ASSERT_TRUE(ql_arena_alloc(&a, 100) == first);
    ql_arena_cleanup(&a);
    ASSERT_INT_EQ(ql_arena_held(&a), 0);
}

/*
 * A large allocation must never become the chunk that reset keeps: a connection that once
 * read a 1 MiB body would hold that memory for as long as it stays open.
 */
static void test_reset_frees_large_chunks(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 0);
    void *first = ql_arena_alloc(&a, 16);
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 100000));
    ql_arena_reset(&a);
    ASSERT_INT_EQ(ql_arena_held(&a), 1024);
    ASSERT_TRUE(ql_arena_alloc(&a, 16) == first);
    ql_arena_cleanup(&a);
    /* an arena whose first allocation was large keeps none of it */
    ql_arena_init(&a, 1024, 0);
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 100000));
    ql_arena_reset(&a);
    ASSERT_INT_EQ(ql_arena_held(&a), 0);
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 16));
    ASSERT_INT_EQ(ql_arena_held(&a), 1024);
    ql_arena_cleanup(&a);
}

static void test_large_allocation_gets_own_chunk(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 0);
    char *small = ql_arena_alloc(&a, 16);
    char *big = ql_arena_alloc(&a, 100000);
    char *small2 = ql_arena_alloc(&a, 16);
    ASSERT_NOT_NULL(big);
    memset(big, 1, 100000);
    /* the small allocations still share the first chunk */
    ASSERT_TRUE(small2 == small + 16);
    ql_arena_cleanup(&a);
}

static void test_limit_fails_cleanly(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 4096);
    int got = 0;
    while (ql_arena_alloc(&a, 1000) != NULL)
        got++;
    /* a 1000-byte allocation fills a 1024-byte chunk: four chunks reach the 4096 limit */
    ASSERT_INT_EQ(got, 4);
    ASSERT_INT_EQ(ql_arena_held(&a), 4096);
    ASSERT_NULL(ql_arena_alloc(&a, 100000));
    ql_arena_cleanup(&a);
}

static void test_fail_after_injects_failure(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    a.fail_after = 2;
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 8));
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 8));
    ASSERT_NULL(ql_arena_alloc(&a, 8));
    ASSERT_NOT_NULL(ql_arena_alloc(&a, 8));
    ql_arena_cleanup(&a);
}

static void test_string_helpers(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    ASSERT_STR_EQ(ql_arena_strndup(&a, "hello world", 5), "hello");
    ASSERT_STR_EQ(ql_arena_strdup(&a, "x"), "x");
    ASSERT_STR_EQ(ql_arena_sprintf(&a, "%d-%s", 42, "y"), "42-y");
    char *z = ql_arena_calloc(&a, 10, 10);
    for (int i = 0; i < 100; i++)
        ASSERT_INT_EQ(z[i], 0);
    ASSERT_NULL(ql_arena_calloc(&a, SIZE_MAX / 2, 4));
    ql_arena_cleanup(&a);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_alignment_and_distinct_blocks),   TEST(test_reset_keeps_first_chunk),
        TEST(test_large_allocation_gets_own_chunk), TEST(test_limit_fails_cleanly),
        TEST(test_fail_after_injects_failure),      TEST(test_string_helpers),
        TEST(test_reset_frees_large_chunks),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
