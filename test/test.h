/*
 * test.h - Quill's in-house test harness: typed assertions that print both values and a
 * runner that prints TAP (one "ok"/"not ok" line per case), which meson and tools/test.sh
 * count.  A failed assertion ends its case with longjmp; the next case starts clean.
 *
 *   static void test_x(void) { ASSERT_INT_EQ(1 + 1, 2); }
 *   static const struct ql_test tests[] = {TEST(test_x), ...};
 *   int main(int argc, char **argv) { return ql_test_run(tests, QL_NTESTS(tests), argc, argv); }
 */
#ifndef QL_TEST_H
#define QL_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ql_test {
    const char *name;
    void (*fn)(void);
};

#define TEST(fn)                                                                                   \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define QL_NTESTS(a) ((int)(sizeof(a) / sizeof((a)[0])))

extern jmp_buf ql__test_jmp;
extern int ql__test_failed;

static inline void ql__test_fail(const char *file, int line, const char *what)
{
    printf("#   %s:%d: %s\n", file, line, what);
    fflush(stdout);
    ql__test_failed = 1;
    longjmp(ql__test_jmp, 1);
}

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ql__test_fail(__FILE__, __LINE__, "expected true: " #c);                               \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                                        \
    do {                                                                                           \
        long long ql__a = (long long)(a), ql__b = (long long)(b);                                  \
        if (ql__a != ql__b) {                                                                      \
            char ql__m[512];                                                                       \
            snprintf(ql__m, sizeof(ql__m), "%s == %s: got %lld, want %lld", #a, #b, ql__a, ql__b); \
            ql__test_fail(__FILE__, __LINE__, ql__m);                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_INT_NE(a, b)                                                                        \
    do {                                                                                           \
        long long ql__a = (long long)(a), ql__b = (long long)(b);                                  \
        if (ql__a == ql__b) {                                                                      \
            char ql__m[512];                                                                       \
            snprintf(ql__m, sizeof(ql__m), "%s != %s: both are %lld", #a, #b, ql__a);              \
            ql__test_fail(__FILE__, __LINE__, ql__m);                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *ql__a = (a), *ql__b = (b);                                                     \
        if (ql__a == NULL || ql__b == NULL || strcmp(ql__a, ql__b) != 0) {                         \
            char ql__m[1024];                                                                      \
            snprintf(ql__m, sizeof(ql__m), "%s == %s: got \"%.400s\", want \"%.400s\"", #a, #b,    \
                     ql__a ? ql__a : "(null)", ql__b ? ql__b : "(null)");                          \
            ql__test_fail(__FILE__, __LINE__, ql__m);                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            ql__test_fail(__FILE__, __LINE__, "memory differs: " #a " vs " #b);                    \
    } while (0)

#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

/*
 * Run the cases (all, or those whose names contain argv[1]) and print TAP.  Returns the
 * process exit status: 0 when every case passed.
 */
int ql_test_run(const struct ql_test *tests, int n, int argc, char **argv);

#endif
