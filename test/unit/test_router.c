/* Unit tests of the HTTP router: literal and parameter segments, 404 and 405 with Allow. */
#include "err/err.h"
#include "http/internal.h"
#include "test.h"

static void test_literal_routes(void)
{
    struct ql_span p[QL_HTTP_MAX_PARAMS];
    int np = 0;
    unsigned allow;
    int i = ql__router_match(ql__http_routes, ql__http_nroutes, QL_HTTP_GET, "/livez", 6, p, &np,
                             &allow);
    ASSERT_TRUE(i >= 0);
    ASSERT_STR_EQ(ql__http_routes[i].tmpl, "/livez");
    ASSERT_INT_EQ(np, 0);
    /* HEAD is served by the GET route */
    ASSERT_INT_EQ(ql__router_match(ql__http_routes, ql__http_nroutes, QL_HTTP_HEAD, "/livez", 6, p,
                                   &np, &allow),
                  i);
}

static void test_not_found_and_method_not_allowed(void)
{
    struct ql_span p[QL_HTTP_MAX_PARAMS];
    int np;
    unsigned allow;
    ASSERT_INT_EQ(ql__router_match(ql__http_routes, ql__http_nroutes, QL_HTTP_GET, "/nope", 5, p,
                                   &np, &allow),
                  -1);
    ASSERT_INT_EQ(allow, 0);
    ASSERT_INT_EQ(ql__router_match(ql__http_routes, ql__http_nroutes, QL_HTTP_GET, "/livez/", 7, p,
                                   &np, &allow),
                  -1);
    ASSERT_INT_EQ(ql__router_match(ql__http_routes, ql__http_nroutes, QL_HTTP_POST, "/livez", 6, p,
                                   &np, &allow),
                  -1);
    ASSERT_INT_EQ(allow, QL_HTTP_GET | QL_HTTP_HEAD);
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    ql__method_list(allow, &b);
    ASSERT_STR_EQ(ql_buf_cstr(&b), "GET, HEAD");
    ql_buf_cleanup(&b);
}

static void test_every_route_matches_itself(void)
{
    for (int i = 0; i < ql__http_nroutes; i++) {
        const struct ql_http_route *r = &ql__http_routes[i];
        /* Build a concrete path by replacing each {param} with "x1". */
        char path[256];
        size_t n = 0;
        int params = 0;
        for (const char *t = r->tmpl; *t && n < sizeof(path) - 3;) {
            if (*t == '{') {
                memcpy(path + n, "x1", 2);
                n += 2;
                params++;
                t = strchr(t, '}') + 1;
            } else {
                path[n++] = *t++;
            }
        }
        struct ql_span p[QL_HTTP_MAX_PARAMS];
        int np;
        unsigned allow;
        int got =
            ql__router_match(ql__http_routes, ql__http_nroutes, r->method, path, n, p, &np, &allow);
        ASSERT_TRUE(got >= 0);
        ASSERT_STR_EQ(ql__http_routes[got].tmpl, r->tmpl);
        ASSERT_INT_EQ(ql__http_routes[got].method, r->method);
        ASSERT_INT_EQ(np, params);
        for (int k = 0; k < np; k++)
            ASSERT_TRUE(p[k].n == 2 && memcmp(p[k].p, "x1", 2) == 0);
    }
}

/* Every error code maps to the status the contract gives it. */
static void test_error_codes_map_to_statuses(void)
{
    ASSERT_INT_EQ(ql__http_status(QL_EVALIDATION), 422);
    ASSERT_INT_EQ(ql__http_status(QL_EIDEM_REUSED), 422);
    ASSERT_INT_EQ(ql__http_status(QL_EIDEM_IN_PROGRESS), 409);
    ASSERT_INT_EQ(ql__http_status(QL_EQUOTA), 429);
    ASSERT_INT_EQ(ql__http_status(QL_EUNAUTHENTICATED), 401);
    ASSERT_INT_EQ(ql__http_status(QL_ENOT_MODIFIED), 304);
    ASSERT_INT_EQ(ql__http_status(QL_EWOULD_BLOCK), 503);
    ASSERT_INT_EQ(ql__http_status(QL_ENOMEM), 500);
    ASSERT_INT_EQ(ql__http_status(-9999), 500);
    for (int c = -1; c >= -26; c--) {
        int s = ql__http_status(c);
        ASSERT_TRUE(s >= 300 && s < 600);
        /* a 5xx is exactly what the core calls transient, or an internal failure */
        ASSERT_TRUE(s < 500 || ql_err_transient(c) || c == QL_ECONFIG);
    }
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_literal_routes),
        TEST(test_not_found_and_method_not_allowed),
        TEST(test_every_route_matches_itself),
        TEST(test_error_codes_map_to_statuses),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
