/*
 * test.c - the TAP runner behind test.h.
 */
#include "test.h"

jmp_buf ql__test_jmp;
int ql__test_failed;

int ql_test_run(const struct ql_test *tests, int n, int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int planned = 0;
    for (int i = 0; i < n; i++)
        if (!filter || strstr(tests[i].name, filter))
            planned++;
    printf("1..%d\n", planned);
    int failed = 0, k = 0;
    for (int i = 0; i < n; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        k++;
        ql__test_failed = 0;
        if (setjmp(ql__test_jmp) == 0)
            tests[i].fn();
        printf("%s %d - %s\n", ql__test_failed ? "not ok" : "ok", k, tests[i].name);
        fflush(stdout);
        failed += ql__test_failed;
    }
    return failed ? 1 : 0;
}
