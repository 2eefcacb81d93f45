/*
 * Unit tests of how the HTTP adapter runs a use case under an Idempotency-Key
 * (adapters/http/idem.c, over core/idem): a repeated request is answered with the recorded
 * response, whatever headers the first one had (none, here), and keeps the headers the
 * request had before its use case ran (the caller's RateLimit-*).
 */
#include "err/err.h"
#include "fixture.h"
#include "http/internal.h"
#include "test.h"

static int runs;

/* A use case that refuses its input, before any transaction: the response has no headers. */
static int refuse(struct ql_http_req *r, void *arg)
{
    (void)arg;
    runs++;
    return ql_error_field(&r->cx.err, "name", "required", "is required");
}

static void render_nothing(struct ql_http_req *r, void *arg)
{
    (void)arg;
    r->status = 204;
}

/* POST /v1/x with an Idempotency-Key, run on the fixture's ports, after the admission's
 * RateLimit-Limit header when rated; the status. */
static int post_rated(struct fixture *f, struct ql_arena *a, struct ql_http_req *r, int rated)
{
    static const struct ql_http_env env = {0};
    memset(r, 0, sizeof(*r));
    r->env = &env;
    r->peer = "127.0.0.1";
    ql__req_reset(r, a);
    r->cx.ports = f->cx.ports;
    r->method = QL_HTTP_POST;
    r->path = (struct ql_span){"/v1/x", 5};
    r->body = (struct ql_span){"{}", 2};
    r->nheaders = 1;
    r->headers[0].name = (struct ql_span){"idempotency-key", 15};
    r->headers[0].value = (struct ql_span){"k-1", 3};
    struct ql_principal p = {.kind = QL_PRINCIPAL_OPERATOR};
    if (rated)
        ql__res_header(r, "RateLimit-Limit", "100");
    ql__run(r, &p, refuse, render_nothing, NULL);
    return r->status;
}

static int post(struct fixture *f, struct ql_arena *a, struct ql_http_req *r)
{
    return post_rated(f, a, r, 0);
}

static void test_a_refusal_without_headers_is_replayed(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_http_req r;
    ASSERT_INT_EQ(post(&f, &a, &r), 422);
    size_t n = r.res_body.len;
    ASSERT_INT_EQ(post(&f, &a, &r), 422);
    ASSERT_INT_EQ(runs, 1);
    ASSERT_INT_EQ(r.res_body.len, n);
    ASSERT_NOT_NULL(strstr(ql_buf_cstr(&r.res_headers), "Idempotent-Replayed: true\r\n"));
    ql_arena_cleanup(&a);
    fake_store_cleanup(&f.store);
    fake_log_cleanup(&f.log);
    ql_arena_cleanup(&f.arena);
}

/* The replay replaces what the use case answered, not what the request carried before it:
 * an authenticated replay still tells the caller its rate limit. */
static void test_a_replay_keeps_the_headers_set_before_the_use_case(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_http_req r;
    runs = 0;
    ASSERT_INT_EQ(post_rated(&f, &a, &r, 1), 422);
    ASSERT_INT_EQ(post_rated(&f, &a, &r, 1), 422);
    ASSERT_INT_EQ(runs, 1);
    const char *h = ql_buf_cstr(&r.res_headers);
    ASSERT_NOT_NULL(strstr(h, "Idempotent-Replayed: true\r\n"));
    const char *rl = strstr(h, "RateLimit-Limit: 100\r\n");
    ASSERT_NOT_NULL(rl);
    ASSERT_NULL(strstr(rl + 1, "RateLimit-Limit"));
    ql_arena_cleanup(&a);
    fake_store_cleanup(&f.store);
    fake_log_cleanup(&f.log);
    ql_arena_cleanup(&f.arena);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_refusal_without_headers_is_replayed),
        TEST(test_a_replay_keeps_the_headers_set_before_the_use_case),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
