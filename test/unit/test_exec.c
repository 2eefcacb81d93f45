/*
 * Unit tests of the request executor (adapters/http/exec.c) and its states, over a real
 * HTTP/1.1 connection (h1.c) without sockets, a fake loop and a fake pool: where each kind
 * of route runs, that no request is ever completed inside the call that started it, the
 * loop handing a refused request to the pool, continuations that resume later, a full pool,
 * parse errors, and streams.
 */
#include "fakes/fakes.h"
#include "http/internal.h"
#include "test.h"
#include "trace/trace.h"
#include "usage/usage.h"

#include <stdio.h>

static const char date[] = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
static const size_t date_len = sizeof(date) - 1;

/* Markers for the store each place runs with, so a handler can say where it ran. */
static struct ql_store loop_store, pool_store;
static struct ql_http_req *parked; /* a request whose continuation the test runs */

/* ---- handlers ------------------------------------------------------------------------------ */

static void say(struct ql_http_req *r, const char *what)
{
    ql_buf_puts(&r->res_body, what);
    r->status = 200;
    r->content_type = "text/plain";
}

static void h_inline(struct ql_http_req *r)
{
    say(r, "inline");
}

static void h_where(struct ql_http_req *r)
{
    say(r, r->cx.ports.store == &loop_store ? "loop" : "pool");
}

/* Reads on the loop: the loop's store refuses, so only the pool answers. */
static void h_refused(struct ql_http_req *r)
{
    if (r->cx.ports.store == &loop_store) {
        ql__res_problem(r, QL_EWOULD_BLOCK);
        return;
    }
    say(r, "pool after refusal");
}

/* A handler that waits for a continuation the test runs later. */
static void h_async(struct ql_http_req *r)
{
    ql__req_wait(r);
    parked = r;
}

static void h_nothing(struct ql_http_req *r)
{
    (void)r;
}

static int stream_opened, stream_closed;

static void on_stream_open(struct ql_http_req *r, void *ud)
{
    (void)ud;
    stream_opened++;
    ql__req_stream_write(r, ": hello\n\n", 9); /* the head is out: events may follow */
}

static void on_stream_close(struct ql_http_req *r, void *ud)
{
    (void)r;
    (*(int *)ud)++;
}

static void h_stream(struct ql_http_req *r)
{
    r->content_type = "text/event-stream";
    ql__req_stream_begin(r, on_stream_open, on_stream_close, &stream_closed);
}

/* A login lockout, and a database that is down: what every 429 and 503 must carry. */
static void h_locked_out(struct ql_http_req *r)
{
    r->cx.err.retry_after_ms = 29500;
    r->cx.err.rate_limit = 5;
    ql_error_set(&r->cx.err, QL_ERATE_LIMITED, "Too many failed logins.");
    ql__res_problem(r, QL_ERATE_LIMITED);
}

static void h_db_down(struct ql_http_req *r)
{
    ql_error_set(&r->cx.err, QL_EUNAVAILABLE, "connection refused");
    ql__res_problem(r, QL_EUNAVAILABLE);
}

/* The meter refusing a team whose quota is used up: a plan of no requests, and a big one. */
static void refuse_quota(struct ql_http_req *r, int64_t quota)
{
    int64_t now = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    struct ql_usage_account a;
    struct ql_uuid team = {{1}};
    ql_usage_account_init(&a, &team, now);
    a.quota = quota;
    a.remaining = 0;
    ql__res_problem(r, ql_usage_refuse(&r->cx, &a, now));
}

static void h_quota_zero(struct ql_http_req *r)
{
    refuse_quota(r, 0);
}

static void h_quota_big(struct ql_http_req *r)
{
    refuse_quota(r, 5000000000LL);
}

/* A body in static memory: sent as it is, without a copy into the arena. */
static const char big[] = "static bytes";
static void h_static(struct ql_http_req *r)
{
    r->status = 200;
    r->content_type = "text/plain";
    r->body_ref = (struct ql_span){big, sizeof(big) - 1};
}

/* A static body, then a problem: the problem's body is what goes out. */
static void h_static_then_problem(struct ql_http_req *r)
{
    h_static(r);
    ql__res_problem(r, QL_ENOT_FOUND);
}

static const struct ql_http_route routes[] = {
    {QL_HTTP_GET, "/static", h_static, 0},
    {QL_HTTP_GET, "/static-problem", h_static_then_problem, 0},
    {QL_HTTP_GET, "/inline", h_inline, 0},
    {QL_HTTP_GET, "/pool", h_where, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/loop", h_where, QL_ROUTE_POOL | QL_ROUTE_LOOP},
    {QL_HTTP_GET, "/refused", h_refused, QL_ROUTE_POOL | QL_ROUTE_LOOP},
    {QL_HTTP_GET, "/async", h_async, QL_ROUTE_POOL | QL_ROUTE_LOOP},
    {QL_HTTP_GET, "/nothing", h_nothing, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/stream", h_stream, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/locked", h_locked_out, 0},
    {QL_HTTP_GET, "/down", h_db_down, 0},
    {QL_HTTP_GET, "/quota-zero", h_quota_zero, 0},
    {QL_HTTP_GET, "/quota-big", h_quota_big, 0},
};

#include "exec_world.h"

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_inline_routes_complete_later_on_the_loop(void)
{
    struct world w;
    setup(&w);
    get(&w, "/inline");
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ASSERT_INT_EQ(w.readies, 1);
    ASSERT_STR_EQ(out(&w), ""); /* not inside the call */
    ASSERT_INT_EQ(atomic_load(&w.x.inflight), 1);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\ninline"));
    ASSERT_INT_EQ(w.req.state, QL__REQ_IDLE);
    ASSERT_INT_EQ(w.finished, 1);
    ASSERT_INT_EQ(w.settled, 1);
    ASSERT_INT_EQ(atomic_load(&w.x.inflight), 0);
    ql__h1_cleanup(&w.h1);
}

static void test_pool_routes_run_on_a_pool_thread(void)
{
    struct world w;
    setup(&w);
    w.loop_ready = 1; /* not a loop route: the pool anyway */
    get(&w, "/pool");
    ASSERT_INT_EQ(w.req.state, QL__REQ_POOL);
    ASSERT_INT_EQ(w.readies, 0);
    run_pool(&w);
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ASSERT_INT_EQ(w.readies, 1);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\npool"));
    ASSERT_INT_EQ(w.req.state, QL__REQ_IDLE);
    ql__h1_cleanup(&w.h1);
}

static void test_loop_routes_run_on_the_loop_when_its_session_is_up(void)
{
    struct world w;
    setup(&w);
    get(&w, "/loop"); /* session down: the pool */
    ASSERT_INT_EQ(w.req.state, QL__REQ_POOL);
    run_pool(&w);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "pool"));
    w.loop_ready = 1;
    get(&w, "/loop");
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ASSERT_NULL(w.queued);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "loop"));
    ASSERT_INT_EQ(atomic_load(&w.x.loop_reads), 1);
    ASSERT_INT_EQ(atomic_load(&w.x.loop_misses), 0);
    ql__h1_cleanup(&w.h1);
}

static void test_a_refusal_on_the_loop_runs_the_whole_request_on_the_pool(void)
{
    struct world w;
    setup(&w);
    w.loop_ready = 1;
    get(&w, "/refused");
    ASSERT_INT_EQ(w.req.state, QL__REQ_POOL);
    ASSERT_INT_EQ(w.req.status, 0); /* the loop's attempt left nothing behind */
    ASSERT_INT_EQ(w.readies, 0);
    run_pool(&w);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\npool after refusal"));
    ASSERT_NULL(strstr(out(&w), "503"));
    ASSERT_INT_EQ(atomic_load(&w.x.loop_misses), 1);
    ql__h1_cleanup(&w.h1);
}

static void test_a_continuation_finishes_the_request_later(void)
{
    struct world w;
    setup(&w);
    w.loop_ready = 1;
    get(&w, "/async");
    ASSERT_INT_EQ(w.req.state, QL__REQ_WAIT);
    ASSERT_INT_EQ(w.readies, 0);
    ASSERT_NOT_NULL(parked);
    /* the answer comes (from the loop's session, in production) */
    say(parked, "answered");
    ql__req_resume(parked);
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ASSERT_STR_EQ(out(&w), "");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "answered"));
    /* a continuation that was refused where it ran sends the request to the pool */
    get(&w, "/async");
    ASSERT_INT_EQ(w.req.state, QL__REQ_WAIT);
    ql__res_problem(parked, QL_EWOULD_BLOCK);
    ql__req_resume(parked);
    ASSERT_INT_EQ(w.req.state, QL__REQ_POOL);
    ql__h1_cleanup(&w.h1);
}

static void test_a_full_pool_answers_503_with_retry_after(void)
{
    struct world w;
    setup(&w);
    w.pool_full = 1;
    get(&w, "/pool");
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 503 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRetry-After: 1\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "\"code\":\"unavailable\""));
    ql__h1_cleanup(&w.h1);
}

static void test_unroutable_and_unparsable_requests(void)
{
    struct world w;
    setup(&w);
    get(&w, "/nowhere");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 404 ", 13) == 0);
    w.h1.out.len = 0;
    const char *post = "POST /inline HTTP/1.1\r\nHost: h\r\n\r\n";
    ql__h1_input(&w.h1, post, strlen(post));
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 405 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nAllow: GET, HEAD\r\n"));
    w.h1.out.len = 0;
    ql__h1_input(&w.h1, "GARBAGE\r\n\r\n", strlen("GARBAGE\r\n\r\n"));
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 400 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "Connection: close"));
    ASSERT_INT_EQ(w.h1.state, QL__H1_CLOSING);
    ql__h1_cleanup(&w.h1);
}

/*
 * A target that is neither a path nor an http(s) URL (which is read as its path: test_h1_strict),
 * such as the asterisk form, is 400, and the connection closes (docs/api.md).
 */
static void test_a_target_that_is_not_a_path_is_400_and_closes(void)
{
    static const char *const reqs[] = {
        "GET ftp://x/inline HTTP/1.1\r\nHost: x\r\n\r\nGET /inline HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /inline HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct world w;
        setup(&w);
        ql__h1_input(&w.h1, reqs[i], strlen(reqs[i]));
        ql__exec_run_ready(&w.x);
        ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 400 ", 13) == 0);
        ASSERT_NOT_NULL(strstr(out(&w), "\"code\":\"malformed_request\""));
        ASSERT_NOT_NULL(strstr(out(&w), "Connection: close"));
        ASSERT_INT_EQ(w.h1.state, QL__H1_CLOSING);
        ql__exec_run_ready(&w.x);
        ASSERT_NULL(strstr(out(&w), "inline")); /* the request behind it is not answered */
        ql__h1_cleanup(&w.h1);
    }
}

static void test_a_handler_that_answers_nothing_gets_500(void)
{
    struct world w;
    setup(&w);
    get(&w, "/nothing");
    run_pool(&w);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 500 ", 13) == 0);
    ql__h1_cleanup(&w.h1);
}

static void test_a_stream_stays_in_flight_until_it_ends(void)
{
    struct world w;
    setup(&w);
    get(&w, "/stream");
    get(&w, "/inline"); /* pipelined behind the stream */
    run_pool(&w);
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ASSERT_INT_EQ(stream_opened, 0); /* not before the loop sent the head */
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(w.req.state, QL__REQ_STREAM);
    ASSERT_INT_EQ(stream_opened, 1);
    ASSERT_INT_EQ(w.h1.state, QL__H1_STREAM);
    ASSERT_NOT_NULL(strstr(out(&w), "Content-Type: text/event-stream\r\n"));
    ASSERT_TRUE(ends_with(out(&w), "\r\n9\r\n: hello\n\n\r\n"));
    ASSERT_INT_EQ(atomic_load(&w.x.inflight), 1);
    w.h1.out.len = 0;
    ASSERT_INT_EQ(ql__req_stream_write(&w.req, "data: x\n\n", 9), 0);
    ASSERT_STR_EQ(out(&w), "9\r\ndata: x\n\n\r\n");
    /* a reader that takes nothing: writes fail once QL__STREAM_OUT_MAX is unsent */
    static char kib[1024];
    memset(kib, 'x', sizeof(kib));
    int ok = 0;
    while (ok < 1000 && ql__req_stream_write(&w.req, kib, sizeof(kib)) == 0)
        ok++;
    ASSERT_TRUE(ok >= QL__STREAM_OUT_MAX / 1024 - 1 && ok <= QL__STREAM_OUT_MAX / 1024 + 1);
    w.h1.out.len = 0;
    ql__req_stream_end(&w.req);
    ASSERT_INT_EQ(stream_closed, 1);
    ASSERT_INT_EQ(w.settled, 1);
    ASSERT_TRUE(strncmp(out(&w), "0\r\n\r\n", 5) == 0);
    /* the pipelined request was handed over after the stream ended */
    ASSERT_INT_EQ(w.req.state, QL__REQ_DONE);
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(ends_with(out(&w), "inline"));
    /* ending twice, or aborting an ended stream, does nothing */
    ql__req_stream_end(&w.req);
    ql__exec_stream_abort(&w.req);
    ASSERT_INT_EQ(stream_closed, 1);
    ql__h1_cleanup(&w.h1);
}

/* HEAD finds GET's routes: a stream answering one sends its head and ends at once. */
static void test_a_stream_answering_head_ends_with_its_head(void)
{
    struct world w;
    setup(&w);
    const char *head = "HEAD /stream HTTP/1.1\r\nHost: h\r\n\r\n";
    ql__h1_input(&w.h1, head, strlen(head));
    get(&w, "/inline"); /* pipelined behind it */
    run_pool(&w);
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(stream_opened, 1);
    ASSERT_INT_EQ(stream_closed, 1);
    ASSERT_NOT_NULL(strstr(out(&w), "Content-Type: text/event-stream\r\n"));
    ASSERT_NULL(strstr(out(&w), "hello")); /* what the stream wrote is no part of it */
    /* the request behind it was handed over, and answered in the same turn */
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\ninline"));
    ASSERT_INT_EQ(w.req.state, QL__REQ_IDLE);
    ASSERT_INT_EQ(atomic_load(&w.x.inflight), 0);
    ql__h1_cleanup(&w.h1);
}

static void test_a_stream_whose_connection_closed_first_never_opens(void)
{
    struct world w;
    setup(&w);
    get(&w, "/stream");
    ql__exec_stream_abort(&w.req); /* the socket closes while the handler runs: no stream yet */
    ql__h1_shutdown(&w.h1);
    run_pool(&w);
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(stream_opened, 0);
    ASSERT_INT_EQ(stream_closed, 1); /* its owner still hears that it ended */
    ASSERT_INT_EQ(atomic_load(&w.x.inflight), 0);
    ASSERT_INT_EQ(w.req.state, QL__REQ_IDLE);
    ASSERT_INT_EQ(w.settled, 1);
    ql__h1_cleanup(&w.h1);
}

static void test_every_429_and_503_says_when_to_come_back(void)
{
    struct world w;
    setup(&w);
    get(&w, "/locked");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 429 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRetry-After: 30\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRateLimit-Limit: 5\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRateLimit-Remaining: 0\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRateLimit-Reset: 30\r\n"));
    w.h1.out.len = 0;
    get(&w, "/down");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 503 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRetry-After: 1\r\n"));
    ASSERT_NULL(strstr(out(&w), "connection refused")); /* the cause stays in the log */
    ql__h1_cleanup(&w.h1);
}

/* A quota refusal's RateLimit-Limit is the team's monthly quota, whatever it is. */
static void test_a_quota_refusal_states_the_quota(void)
{
    struct world w;
    setup(&w);
    get(&w, "/quota-zero");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 429 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRateLimit-Limit: 0\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRetry-After: 2678400\r\n")); /* to February */
    w.h1.out.len = 0;
    get(&w, "/quota-big");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 429 ", 13) == 0);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nRateLimit-Limit: 5000000000\r\n"));
    ASSERT_NOT_NULL(strstr(out(&w), "quota of 5000000000 API requests"));
    ql__h1_cleanup(&w.h1);
}

static void test_a_static_body_is_sent_from_where_it_lies(void)
{
    struct world w;
    setup(&w);
    get(&w, "/static");
    ql__exec_run_ready(&w.x);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nContent-Length: 12\r\n"));
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\nstatic bytes"));
    w.h1.out.len = 0;
    const char *head = "HEAD /static HTTP/1.1\r\nHost: h\r\n\r\n";
    ql__h1_input(&w.h1, head, strlen(head));
    ql__exec_run_ready(&w.x);
    ASSERT_NOT_NULL(strstr(out(&w), "\r\nContent-Length: 12\r\n"));
    ASSERT_TRUE(ends_with(out(&w), "\r\n\r\n"));
    w.h1.out.len = 0;
    get(&w, "/static-problem");
    ql__exec_run_ready(&w.x);
    ASSERT_TRUE(strncmp(out(&w), "HTTP/1.1 404 ", 13) == 0);
    ASSERT_NULL(strstr(out(&w), "static bytes"));
    ql__h1_cleanup(&w.h1);
}

/* The W3C trace context of a request, and its server span when the trace is recorded. */
static void get_traced(struct world *w, const char *path, const char *traceparent)
{
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\ntraceparent: %s\r\n\r\n", path,
             traceparent);
    ql__h1_input(&w->h1, req, strlen(req));
    if (w->queued)
        run_pool(w);
    /* answered, not yet completed: its context is still there to look at */
}

static void test_a_traceparent_is_continued_and_the_server_span_names_the_route(void)
{
    struct world w;
    setup(&w);
    struct fake_tracer t;
    fake_tracer_init(&t);
    char why[160];
    ql_sampler_parse("parentbased_always_on", NULL, &t.base.sampler, why, sizeof(why));
    w.env.tracer = &t.base;
    w.clock.mono_ns = 1000;
    get_traced(&w, "/pool?x=1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_STR_EQ(w.req.cx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_STR_EQ(w.req.cx.parent_span_id, "00f067aa0ba902b7");
    char own[17];
    memcpy(own, w.req.cx.span_id, sizeof(own));
    ASSERT_INT_EQ(t.n, 0); /* the span is made when the response is queued */
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(t.n, 1);
    const struct ql_trace_span *sp = fake_tracer_find(&t, "GET /pool");
    ASSERT_NOT_NULL(sp);
    ASSERT_INT_EQ(sp->kind, QL_SPAN_SERVER);
    ASSERT_STR_EQ(sp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_STR_EQ(sp->parent_id, "00f067aa0ba902b7");
    ASSERT_STR_EQ(sp->span_id, own);
    ASSERT_INT_EQ(sp->start_ns, 1000);
    char buf[64];
    ASSERT_STR_EQ(fake_span_str(sp, "http.request.method", buf, sizeof(buf)), "GET");
    ASSERT_STR_EQ(fake_span_str(sp, "http.route", buf, sizeof(buf)), "/pool");
    ASSERT_STR_EQ(fake_span_str(sp, "url.path", buf, sizeof(buf)), "/pool");
    ASSERT_INT_EQ(fake_span_int(sp, "http.response.status_code"), 200);
    ASSERT_INT_EQ(sp->status, QL_STATUS_UNSET);
    /* a caller that did not sample: parent-based sampling records nothing */
    get_traced(&w, "/inline", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(t.n, 1);
    /* no traceparent (a bad one is none): a new trace, a root span; a 5xx fails the span */
    get_traced(&w, "/down", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x");
    ql__exec_run_ready(&w.x);
    ASSERT_INT_EQ(t.n, 2);
    sp = fake_tracer_find(&t, "GET /down");
    ASSERT_NOT_NULL(sp);
    ASSERT_TRUE(strcmp(sp->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") != 0);
    ASSERT_STR_EQ(sp->parent_id, "");
    ASSERT_INT_EQ(fake_span_int(sp, "http.response.status_code"), 503);
    ASSERT_STR_EQ(fake_span_str(sp, "error.type", buf, sizeof(buf)), "503");
    ASSERT_INT_EQ(sp->status, QL_STATUS_ERROR);
    /* an unknown path: the span is named by its method alone */
    get_traced(&w, "/nowhere", "junk");
    ql__exec_run_ready(&w.x);
    ASSERT_NOT_NULL(fake_tracer_find(&t, "GET"));
    ql__h1_cleanup(&w.h1);
}

static void test_without_a_tracer_the_callers_context_passes_through(void)
{
    struct world w;
    setup(&w);
    get_traced(&w, "/inline", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ASSERT_STR_EQ(w.req.cx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_STR_EQ(w.req.cx.span_id, "00f067aa0ba902b7");
    ASSERT_STR_EQ(w.req.cx.parent_span_id, "");
    ASSERT_INT_EQ(w.req.cx.trace_flags, 0);
    ASSERT_NULL(w.req.cx.ports.tracer);
    ql__exec_run_ready(&w.x);
    get_traced(&w, "/inline", "nonsense");
    ASSERT_INT_EQ(strlen(w.req.cx.trace_id), 32);
    ASSERT_INT_EQ(strlen(w.req.cx.span_id), 16);
    ASSERT_INT_EQ(w.req.cx.trace_flags, QL_TRACE_SAMPLED);
    ql__exec_run_ready(&w.x);
    ql__h1_cleanup(&w.h1);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_inline_routes_complete_later_on_the_loop),
        TEST(test_pool_routes_run_on_a_pool_thread),
        TEST(test_loop_routes_run_on_the_loop_when_its_session_is_up),
        TEST(test_a_refusal_on_the_loop_runs_the_whole_request_on_the_pool),
        TEST(test_a_continuation_finishes_the_request_later),
        TEST(test_a_full_pool_answers_503_with_retry_after),
        TEST(test_unroutable_and_unparsable_requests),
        TEST(test_a_target_that_is_not_a_path_is_400_and_closes),
        TEST(test_a_handler_that_answers_nothing_gets_500),
        TEST(test_a_stream_stays_in_flight_until_it_ends),
        TEST(test_a_stream_answering_head_ends_with_its_head),
        TEST(test_a_stream_whose_connection_closed_first_never_opens),
        TEST(test_every_429_and_503_says_when_to_come_back),
        TEST(test_a_quota_refusal_states_the_quota),
        TEST(test_a_static_body_is_sent_from_where_it_lies),
        TEST(test_a_traceparent_is_continued_and_the_server_span_names_the_route),
        TEST(test_without_a_tracer_the_callers_context_passes_through),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
