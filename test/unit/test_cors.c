/*
 * Unit tests of CORS (adapters/http/cors.c): parsing QUILL_CORS_ORIGINS (and the message
 * naming the variable), and, through the executor and a real HTTP/1.1 connection without
 * sockets, preflights and the headers of responses to listed and unlisted origins.
 */
#include "config/config.h"
#include "fakes/fakes.h"
#include "http/cors.h"
#include "http/internal.h"
#include "test.h"

#include <stdio.h>

static const char date[] = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
static const size_t date_len = sizeof(date) - 1;

/* ---- parsing ------------------------------------------------------------------------------- */

static void test_origins_parse_and_normalise(void)
{
    struct ql_http_cors c;
    char msg[200];
    ASSERT_INT_EQ(ql__cors_parse("https://app.example.com, HTTP://127.0.0.1:5173,"
                                 "https://Docs.Example.com:443,http://[::1]:8080,http://a.b:80",
                                 &c, msg, sizeof(msg)),
                  0);
    ASSERT_INT_EQ(c.n, 5);
    ASSERT_STR_EQ(c.origin[0], "https://app.example.com");
    ASSERT_STR_EQ(c.origin[1], "http://127.0.0.1:5173");
    ASSERT_STR_EQ(c.origin[2], "https://docs.example.com"); /* the default port goes */
    ASSERT_STR_EQ(c.origin[3], "http://[::1]:8080");
    ASSERT_STR_EQ(c.origin[4], "http://a.b");
    ASSERT_TRUE(ql__cors_allowed(&c, "http://127.0.0.1:5173", 21));
    ASSERT_TRUE(!ql__cors_allowed(&c, "http://127.0.0.1:5174", 21));
    ASSERT_TRUE(!ql__cors_allowed(&c, "http://127.0.0.1:517", 20));
    ASSERT_TRUE(!ql__cors_allowed(&c, "null", 4));
    ASSERT_INT_EQ(ql__cors_parse(NULL, &c, msg, sizeof(msg)), 0);
    ASSERT_INT_EQ(c.n, 0);
}

static void test_malformed_origins_are_refused(void)
{
    static const char *bad[] = {
        "*",
        "https://app.example.com/",
        "https://app.example.com/path",
        "app.example.com",
        "ftp://x.example.com",
        "https://",
        "https://x:0",
        "https://x:70000",
        "https://x:",
        "https://a,,https://b",
        "https://a,",
        "null",
        "https://a b",
        "https://[zz]",
        "https://*.example.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ql_http_cors c;
        char msg[200] = "";
        if (ql__cors_parse(bad[i], &c, msg, sizeof(msg)) != -1) {
            printf("# accepted '%s'\n", bad[i]);
            ASSERT_TRUE(0);
        }
        ASSERT_INT_EQ(c.n, 0);
        ASSERT_TRUE(msg[0] != '\0');
    }
}

struct env {
    const char *kv[8];
};

static const char *get(void *ud, const char *name)
{
    struct env *e = ud;
    size_t n = strlen(name);
    for (int i = 0; e->kv[i]; i++)
        if (strncmp(e->kv[i], name, n) == 0 && e->kv[i][n] == '=')
            return e->kv[i] + n + 1;
    return NULL;
}

static void test_a_bad_list_is_a_config_error_naming_the_variable(void)
{
    struct env e = {{"QUILL_CORS_ORIGINS=https://ok.example.com,https://bad.example.com/", NULL}};
    struct ql_config_errors errs;
    struct ql_env r;
    static struct ql_http_config c;
    ql_env_init(&r, get, &e, &errs);
    ql_http_config_read(&r, 1, &c);
    ASSERT_INT_EQ(ql_env_status(&r), QL_ECONFIG);
    ASSERT_INT_EQ(errs.n, 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_CORS_ORIGINS: ", 20) == 0);
    ASSERT_NOT_NULL(strstr(errs.msg[0], "bad.example.com/"));
    struct env ok = {{"QUILL_CORS_ORIGINS=https://ok.example.com", "QUILL_CORS_MAX_AGE=60", NULL}};
    ql_env_init(&r, get, &ok, &errs);
    ql_http_config_read(&r, 1, &c);
    ASSERT_INT_EQ(ql_env_status(&r), QL_OK);
    ASSERT_INT_EQ(c.cors.n, 1);
    ASSERT_INT_EQ(c.cors_max_age, 60);
}

/* ---- through the executor ------------------------------------------------------------------ */

static void h_hello(struct ql_http_req *r)
{
    ql__res_header(r, "ETag", "\"1\"");
    ql__res_text(r, 200, "text/plain", "hello", 5);
}

static const struct ql_http_route routes[] = {
    {QL_HTTP_GET, "/things/{id}", h_hello, 0},
    {QL_HTTP_PATCH, "/things/{id}", h_hello, 0},
    {QL_HTTP_DELETE, "/things/{id}", h_hello, 0},
};

struct world {
    struct ql__exec x; /* first, as in a loop */
    struct fake_clock clock;
    struct ql_http_config cfg;
    struct ql_http_env env;
    struct ql__h1 h1;
    struct ql_http_req req;
    struct ql__h1_limits lim;
    uint64_t seed;
};

static int w_submit(struct ql__exec *x, struct ql__task *t, int grouped)
{
    (void)x, (void)t, (void)grouped;
    return QL_EUNAVAILABLE;
}

static int w_loop_ports(struct ql__exec *x, struct ql_ports *out)
{
    (void)x, (void)out;
    return 0;
}

static void w_ready(struct ql__exec *x)
{
    (void)x;
}

static void w_finished(struct ql__exec *x, struct ql_http_req *r, int64_t ns)
{
    (void)x, (void)r, (void)ns;
}

static void w_settled(struct ql__exec *x, struct ql_http_req *r)
{
    (void)x, (void)r;
}

static uint64_t w_rand(struct ql__exec *x)
{
    return ++((struct world *)x)->seed * 0x9e3779b97f4a7c15ull;
}

static const struct ql__exec_ops xops = {w_submit,   w_loop_ports, w_ready,
                                         w_finished, w_settled,    w_rand};

static void c_request(struct ql__h1 *h)
{
    struct world *w = (struct world *)((char *)h - offsetof(struct world, h1));
    ql__exec_request(&w->x, &w->req);
}

static void c_output(struct ql__h1 *h)
{
    (void)h;
}

static const struct ql__h1_ops cops = {c_request, c_output};

static struct world *setup(const char *origins)
{
    static struct world w;
    memset(&w, 0, sizeof(w));
    char msg[200];
    ASSERT_INT_EQ(ql__cors_parse(origins, &w.cfg.cors, msg, sizeof(msg)), 0);
    w.cfg.cors_max_age = 600;
    fake_clock_init(&w.clock, 1767225600000LL);
    w.env.clock = &w.clock.base;
    w.env.cfg = &w.cfg;
    w.lim = (struct ql__h1_limits){1024, 1000, 1000, 1000, 1000, 0};
    ql__exec_init(&w.x, &xops, &w.env, NULL, routes, QL_NTESTS(routes));
    w.req.env = &w.env;
    w.req.exec = &w.x;
    w.req.conn = &w.h1;
    ql__h1_init(&w.h1, &cops, &w.lim, &w.clock.base, date, &date_len, &w.req);
    return &w;
}

/* Send one request, complete it, and return the response (the connection's output). */
static const char *roundtrip(struct world *w, const char *req)
{
    w->h1.out.len = 0;
    ql__h1_input(&w->h1, req, strlen(req));
    ql__exec_run_ready(&w->x);
    ql_buf_cstr(&w->h1.out);
    return w->h1.out.data ? w->h1.out.data : "";
}

static void test_a_listed_origin_gets_its_preflight_answered(void)
{
    struct world *w = setup("https://app.example.com");
    const char *o =
        roundtrip(w, "OPTIONS /things/1 HTTP/1.1\r\nHost: h\r\n"
                     "Origin: https://app.example.com\r\n"
                     "Access-Control-Request-Method: PATCH\r\n"
                     "Access-Control-Request-Headers: authorization, content-type\r\n\r\n");
    ASSERT_TRUE(strncmp(o, "HTTP/1.1 204 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Methods: GET, HEAD, PATCH, DELETE\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Headers: Authorization, Content-Type, "));
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Max-Age: 600\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nVary: Origin, Access-Control-Request-Method"));
    ASSERT_NULL(strstr(o, "Content-Length")); /* 204: no body */
    /* a method the path does not have: routed as any OPTIONS (405), so the browser refuses */
    o = roundtrip(w, "OPTIONS /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n"
                     "Access-Control-Request-Method: POST\r\n\r\n");
    ASSERT_TRUE(strncmp(o, "HTTP/1.1 405 ", 13) == 0);
    /* a path the API does not have */
    o = roundtrip(w, "OPTIONS /nowhere HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n"
                     "Access-Control-Request-Method: GET\r\n\r\n");
    ASSERT_TRUE(strncmp(o, "HTTP/1.1 404 ", 13) == 0);
    ql__h1_cleanup(&w->h1);
}

static void test_a_listed_origin_can_read_responses_and_their_headers(void)
{
    struct world *w = setup("https://app.example.com,http://127.0.0.1:5173");
    const char *o =
        roundtrip(w, "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: http://127.0.0.1:5173\r\n\r\n");
    ASSERT_TRUE(strncmp(o, "HTTP/1.1 200 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Origin: http://127.0.0.1:5173\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    ASSERT_NOT_NULL(strstr(o, "\r\nVary: Origin\r\n"));
    const char *expose = strstr(o, "\r\nAccess-Control-Expose-Headers: ");
    ASSERT_NOT_NULL(expose);
    ASSERT_NOT_NULL(strstr(expose, "ETag"));
    ASSERT_NOT_NULL(strstr(expose, "Location"));
    ASSERT_NOT_NULL(strstr(expose, "Retry-After"));
    ASSERT_NOT_NULL(strstr(expose, "RateLimit-Remaining"));
    /* errors carry them too, or a page could not read why it failed */
    o = roundtrip(w, "POST /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n"
                     "Content-Length: 0\r\n\r\n");
    ASSERT_TRUE(strncmp(o, "HTTP/1.1 405 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(o, "\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"));
    ql__h1_cleanup(&w->h1);
}

static void test_an_unlisted_origin_gets_no_cors_headers(void)
{
    struct world *w = setup("https://app.example.com");
    static const char *reqs[] = {
        "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example.com\r\n\r\n",
        "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com.evil.com\r\n\r\n",
        "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://APP.example.com\r\n\r\n",
        "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: null\r\n\r\n",
        "GET /things/1 HTTP/1.1\r\nHost: h\r\n\r\n",
        ("OPTIONS /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example.com\r\n"
         "Access-Control-Request-Method: GET\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        const char *o = roundtrip(w, reqs[i]);
        ASSERT_NULL(strstr(o, "Access-Control-"));
        ASSERT_NOT_NULL(strstr(o, "\r\nVary: Origin\r\n")); /* a cache must still tell them apart */
    }
    /* the preflight of an unlisted origin is any OPTIONS: 405 */
    ASSERT_TRUE(strncmp(roundtrip(w, reqs[5]), "HTTP/1.1 405 ", 13) == 0);
    ql__h1_cleanup(&w->h1);
    /* with no list at all, nothing changes */
    w = setup(NULL);
    const char *o = roundtrip(
        w, "GET /things/1 HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example.com\r\n\r\n");
    ASSERT_NULL(strstr(o, "Access-Control-"));
    ASSERT_NULL(strstr(o, "Vary"));
    ql__h1_cleanup(&w->h1);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_origins_parse_and_normalise),
        TEST(test_malformed_origins_are_refused),
        TEST(test_a_bad_list_is_a_config_error_naming_the_variable),
        TEST(test_a_listed_origin_gets_its_preflight_answered),
        TEST(test_a_listed_origin_can_read_responses_and_their_headers),
        TEST(test_an_unlisted_origin_gets_no_cors_headers),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
