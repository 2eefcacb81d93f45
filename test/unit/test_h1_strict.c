/*
 * What h1_strict.c leaves to llhttp, held to it: a more lenient llhttp fails here rather
 * than letting through what a proxy in front might read otherwise (the refusals h1.c and
 * h1_strict.c add: test_h1.c).
 */
#include "h1_world.h"

/*
 * h1_strict.c does not look at header bytes again: llhttp (strict) takes only token
 * characters in a name, and in a value only HTAB, visible ASCII and obs-text.
 */
static void test_header_bytes_are_checked_by_llhttp(void)
{
    int wrong = 0;
    for (int b = 0; b < 256; b++) {
        int tchar = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
                    (b && strchr("!#$%&'*+-.^_`|~", b) != NULL);
        int vchar = b == '\t' || (b >= 0x20 && b != 0x7f);
        for (int in_value = 0; in_value < 2; in_value++) {
            if (!in_value && b == ':')
                continue; /* ends the name */
            char req[64];
            int n =
                snprintf(req, sizeof(req), in_value ? "%sX-A: 1%c2\r\n\r\n" : "%sX%cA: 1\r\n\r\n",
                         "GET / HTTP/1.1\r\nHost: h\r\n", b ? b : '@');
            if (!b)
                *strchr(req + 25, '@') = '\0';
            struct tconn t;
            open_conn(&t, 16);
            ql__h1_input(&t.h1, req, (size_t)n);
            if (t.requests != 1 || (t.errors[0] == 0) != (in_value ? vchar : tchar)) {
                printf("# byte 0x%02x in a %s: status %d\n", b, in_value ? "value" : "name",
                       t.errors[0]);
                wrong++;
            }
            ql__h1_cleanup(&t.h1);
        }
    }
    ASSERT_INT_EQ(wrong, 0);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_header_bytes_are_checked_by_llhttp),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
