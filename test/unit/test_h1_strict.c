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

/* Feed req in two pieces, cut at `cut` (0: whole): the status of its one request, or -1. */
static int status_cut(const char *req, size_t cut, int *keepalive)
{
    struct tconn t;
    open_conn(&t, 1024);
    size_t n = strlen(req);
    if (cut > 0)
        ql__h1_input(&t.h1, req, cut);
    ql__h1_input(&t.h1, req + cut, n - cut);
    int status = t.requests == 1 ? t.errors[0] : -1;
    *keepalive = t.h1.keepalive;
    ql__h1_cleanup(&t.h1);
    return status;
}

/*
 * A folded line (obs-fold) is refused wherever it is, also when the value before the fold
 * is empty or blank: llhttp then hands the folded text over as the header's only value span,
 * so "Transfer-Encoding:" CRLF " chunked" framed the body as chunked for Quill while a proxy
 * that does not unfold reads an empty Transfer-Encoding (request smuggling).  However the
 * bytes arrive; and an empty value that is not folded, or a value cut between two reads,
 * is still fine.
 */
static void test_a_fold_after_an_empty_value_is_refused(void)
{
    static const char *folded[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\nHost:\r\n h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: \t \r\n\tb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T:\r\n t\r\n\r\n",
    };
    static const char *fine[] = {
        "GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\nX-B: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: \r\nX-B:  b c \r\n\r\n",
    };
    int wrong = 0;
    for (size_t i = 0; i < sizeof(folded) / sizeof(folded[0]); i++)
        for (size_t cut = 0; cut < strlen(folded[i]); cut++) {
            int keepalive, status = status_cut(folded[i], cut, &keepalive);
            if (status != 400 || keepalive) {
                printf("# folded %zu cut at %zu: status %d\n", i, cut, status);
                wrong++;
            }
        }
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
        for (size_t cut = 0; cut < strlen(fine[i]); cut++) {
            int keepalive, status = status_cut(fine[i], cut, &keepalive);
            if (status != 0 || !keepalive) {
                printf("# fine %zu cut at %zu: status %d\n", i, cut, status);
                wrong++;
            }
        }
    ASSERT_INT_EQ(wrong, 0);
}

/*
 * A server must accept a target in absolute form (RFC 9112 3.2.2), though clients send it
 * only to proxies: its path and query are those of the origin form, and an empty path is /.
 */
static void test_an_absolute_target_is_read_as_its_path(void)
{
    static const struct {
        const char *target, *path, *query;
    } cases[] = {
        {"http://example.com/v1/me?x=1", "/v1/me", "x=1"},
        {"HTTPS://example.com:8443/a/b", "/a/b", ""},
        {"http://example.com", "/", ""},
        {"http://example.com?q", "/", "q"},
        {"/plain?y", "/plain", "y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tconn t;
        open_conn(&t, 1024);
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].target);
        ql__h1_input(&t.h1, req, strlen(req));
        ASSERT_INT_EQ(t.requests, 1);
        ASSERT_INT_EQ(t.errors[0], 0);
        ASSERT_STR_EQ(t.paths[0], cases[i].path);
        ASSERT_INT_EQ(t.req.query.n, strlen(cases[i].query));
        ASSERT_INT_EQ(memcmp(t.req.query.p, cases[i].query, t.req.query.n), 0);
        ql__h1_cleanup(&t.h1);
    }
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_header_bytes_are_checked_by_llhttp),
        TEST(test_a_fold_after_an_empty_value_is_refused),
        TEST(test_an_absolute_target_is_read_as_its_path),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
