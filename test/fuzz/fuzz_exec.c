/*
 * libFuzzer target: the request executor (adapters/http/exec.c) over a real HTTP/1.1
 * connection (h1.c), a fake loop and a fake pool, as in test/unit/test_exec.c, with the
 * client's bytes and the order of everything else chosen by the fuzzer: when the pool runs
 * a task, when the loop completes its ready list, when a continuation comes back (with an
 * answer, or refused so the request goes to the pool), when a stream writes or ends, when
 * the pool is full or the loop's session down, when the socket takes output, and when the
 * peer goes away or a deadline passes.
 *
 * The first 4 bytes seed those choices; the rest is the client's byte stream, whose paths
 * pick the routes below.  The target aborts when a response is written inside the call that
 * started a request, when a request is not completed and settled exactly once (or a stream
 * not closed exactly once), when requests are left in flight once nothing can happen, or
 * when the responses on the wire are not, in order, those of the requests handed over
 * (X-Request-Id), framed as HTTP/1.1 says (Content-Length, chunks, no body for HEAD, 204 and
 * 304), with Retry-After on every 429 and 503.
 */
#include "b64/b64.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "http/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 16384
#define EXPECT_MAX 2048 /* a request is at least 16 bytes */
#define READ_MAX 4096

static const char date[] = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
static const size_t date_len = sizeof(date) - 1;

/* Markers for where a handler runs: the loop's ports or a pool thread's. */
static struct ql_store loop_store, pool_store;

struct expect {
    char id[40]; /* the request id the executor gave it */
    int head;    /* a HEAD request: no body on the wire */
};

struct world {
    struct ql__exec x; /* first, as in a loop */
    struct fake_clock clock;
    struct ql_http_env env;
    struct ql__h1 h1;
    struct ql_http_req req;
    struct ql__h1_limits lim;
    uint64_t rng;
    int split;
    struct ql__task *queued; /* the fake pool: this connection's one task */
    int pool_full;
    int loop_ready;
    struct ql_http_req *parked; /* a request whose continuation comes later, on the loop */
    int readies;                /* x->ops->ready calls not yet followed by run_ready */
    int handed, finished, settled;
    int streams_begun, streams_closed;
    int in_call; /* inside ql__exec_request or a handler's call from the driver */
    int shut;
    size_t pending;
    struct ql_buf wire;
    int nread;
    struct expect exp[EXPECT_MAX];
};

/* FUZZ_TRACE=1 in the environment: each step of the driver on stderr, to read a crash. */
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_TRACE") != NULL;
    if (!on)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_exec: %s\n", what);
        abort();
    }
}

static uint64_t rnd(struct world *w)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int chance(struct world *w, int percent)
{
    return (int)(rnd(w) % 100) < percent;
}

static struct world *of_req(struct ql_http_req *r)
{
    return (struct world *)((char *)r - offsetof(struct world, req));
}

static const char *find(const char *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s));
}

/* ---- handlers -------------------------------------------------------------------------------- */

static void say(struct ql_http_req *r, size_t n)
{
    char *b = ql_buf_reserve(&r->res_body, n);
    if (b) {
        memset(b, 'x', n);
        r->res_body.len = n;
    }
    r->status = 200;
    r->content_type = "text/plain";
}

static void h_inline(struct ql_http_req *r)
{
    say(r, 6);
}

static void h_pool(struct ql_http_req *r)
{
    static const size_t sizes[] = {0, 5, 3000, 70000};
    say(r, sizes[rnd(of_req(r)) % 4]);
}

/* Tries the loop first: the loop's port refuses half the time, and the pool answers. */
static void h_loop(struct ql_http_req *r)
{
    if (r->cx.ports.store == &loop_store && chance(of_req(r), 50))
        ql__res_problem(r, QL_EWOULD_BLOCK);
    else
        say(r, 4);
}

/* A read with a continuation: on the loop it comes later (the driver), on the pool at once. */
static void h_async(struct ql_http_req *r)
{
    ql__req_wait(r);
    if (r->state == QL__REQ_WAIT)
        of_req(r)->parked = r;
    else
        say(r, 5);
}

static void h_nothing(struct ql_http_req *r)
{
    (void)r; /* complete() answers 500 */
}

static void on_stream_open(struct ql_http_req *r, void *ud)
{
    (void)ud;
    if (chance(of_req(r), 30))
        ql__req_stream_end(r); /* ends at once */
    else
        ql__req_stream_write(r, ": hello\n\n", 9);
}

static void on_stream_close(struct ql_http_req *r, void *ud)
{
    (void)ud;
    of_req(r)->streams_closed++;
}

static void h_stream(struct ql_http_req *r)
{
    r->content_type = "text/event-stream";
    of_req(r)->streams_begun++;
    ql__req_stream_begin(r, on_stream_open, on_stream_close, NULL);
}

static void h_problem(struct ql_http_req *r)
{
    static const int codes[] = {QL_ERATE_LIMITED, QL_EUNAVAILABLE, QL_EVALIDATION, QL_ENOT_FOUND,
                                QL_EINTERNAL};
    int code = codes[rnd(of_req(r)) % 5];
    if (code == QL_EVALIDATION)
        ql_error_field(&r->cx.err, "name", "required", "is required");
    ql__res_problem(r, code);
}

static void h_body(struct ql_http_req *r)
{
    say(r, r->body.n);
}

static const struct ql_http_route routes[] = {
    {QL_HTTP_GET, "/i", h_inline, 0},
    {QL_HTTP_GET, "/p", h_pool, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/l", h_loop, QL_ROUTE_POOL | QL_ROUTE_LOOP},
    {QL_HTTP_GET, "/a", h_async, QL_ROUTE_POOL | QL_ROUTE_LOOP},
    {QL_HTTP_GET, "/n", h_nothing, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/s", h_stream, QL_ROUTE_POOL},
    {QL_HTTP_GET, "/e", h_problem, QL_ROUTE_POOL},
    {QL_HTTP_POST, "/b", h_body, QL_ROUTE_POOL | QL_ROUTE_BODY | QL_ROUTE_GROUP},
    {QL_HTTP_DELETE, "/b/{id}", h_inline, QL_ROUTE_POOL | QL_ROUTE_BODY},
};

/* ---- the loop and the pool ------------------------------------------------------------------- */

static struct world *of_exec(struct ql__exec *x)
{
    return (struct world *)x;
}

static int x_submit(struct ql__exec *x, struct ql__task *t, int grouped)
{
    (void)grouped;
    struct world *w = of_exec(x);
    if (w->pool_full)
        return QL_EUNAVAILABLE;
    check(w->queued == NULL, "two tasks of one connection on the pool");
    w->queued = t;
    return QL_OK;
}

static int x_loop_ports(struct ql__exec *x, struct ql_ports *out)
{
    struct world *w = of_exec(x);
    if (!w->loop_ready)
        return 0;
    *out = (struct ql_ports){.store = &loop_store, .clock = &w->clock.base};
    return 1;
}

static void x_ready(struct ql__exec *x)
{
    of_exec(x)->readies++;
}

static void x_finished(struct ql__exec *x, struct ql_http_req *r, int64_t ns)
{
    (void)r;
    check(ns >= 0, "a request that took negative time");
    of_exec(x)->finished++;
}

static void x_settled(struct ql__exec *x, struct ql_http_req *r)
{
    (void)r;
    of_exec(x)->settled++;
}

static uint64_t x_rand(struct ql__exec *x)
{
    return rnd(of_exec(x));
}

static const struct ql__exec_ops xops = {x_submit,   x_loop_ports, x_ready,
                                         x_finished, x_settled,    x_rand};

/* ---- the client: reading responses back ------------------------------------------------------ */

static size_t chunked(const char *p, size_t n)
{
    size_t pos = 0;
    for (;;) {
        const char *eol = find(p + pos, n - pos, "\r\n");
        if (eol == NULL)
            return 0;
        size_t len = 0, digits = (size_t)(eol - (p + pos));
        check(digits > 0 && digits <= 8, "a chunk size line that is no size");
        for (size_t i = 0; i < digits; i++) {
            int d = ql_hex_digit(p[pos + i]);
            check(d >= 0, "a chunk size that is not hex");
            len = len * 16 + (size_t)d;
        }
        pos += digits + 2;
        if (n - pos < len + 2)
            return 0;
        check(memcmp(p + pos + len, "\r\n", 2) == 0, "a chunk without its CRLF");
        pos += len + 2;
        if (len == 0)
            return pos;
    }
}

static void read_wire(struct world *w)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    for (;;) {
        const char *p = w->wire.data;
        size_t n = w->wire.len;
        if (n >= sizeof(cont) - 1 && memcmp(p, cont, sizeof(cont) - 1) == 0) {
            ql_buf_consume(&w->wire, sizeof(cont) - 1);
            continue;
        }
        const char *end = n ? find(p, n, "\r\n\r\n") : NULL;
        if (end == NULL)
            return;
        check(w->nread < w->handed, "a response to no request");
        const struct expect *e = &w->exp[w->nread];
        size_t hn = (size_t)(end + 4 - p);
        check(hn > 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[12] == ' ', "no status line");
        int status = atoi(p + 9);
        char line[64];
        snprintf(line, sizeof(line), "\r\nX-Request-Id: %s\r\n", e->id);
        check(find(p, hn, line) != NULL, "a response out of order (X-Request-Id)");
        if (status == 429 || status == 503)
            check(find(p, hn, "\r\nRetry-After: ") != NULL, "a 429 or 503 without Retry-After");
        const char *cl = find(p, hn, "\r\nContent-Length: ");
        const char *te = find(p, hn, "\r\nTransfer-Encoding: chunked\r\n");
        size_t total = hn;
        if (status == 204 || status == 304) {
            check(cl == NULL && te == NULL, "a 204 or 304 that announces a body");
        } else if (te) {
            check(cl == NULL, "both Content-Length and chunked");
            if (!e->head) {
                size_t len = chunked(p + hn, n - hn);
                if (len == 0)
                    return;
                total += len;
            }
        } else {
            check(cl != NULL, "a response without its length");
            size_t len = (size_t)strtoull(cl + 18, NULL, 10);
            if (!e->head) {
                if (n - hn < len)
                    return;
                total += len;
            }
        }
        ql_buf_consume(&w->wire, total);
        w->nread++;
    }
}

/* conn.c's flush: the socket takes it all, or some now and the rest later. */
static void flush(struct world *w)
{
    struct ql_buf *out = &w->h1.out;
    if (out->len == 0 || w->pending)
        return;
    trace("write %zu bytes: %.*s", out->len, out->len > 200 ? 200 : (int)out->len, out->data);
    ql_buf_append(&w->wire, out->data, out->len);
    check(ql_buf_ok(&w->wire) == 0, "out of memory for the wire");
    size_t n = out->len;
    out->len = 0;
    if (chance(w, 30)) {
        w->pending = 1 + rnd(w) % n;
        w->h1.in_flight = w->pending;
    }
    read_wire(w);
}

/* ---- the connection ---------------------------------------------------------------------- */

static void c_request(struct ql__h1 *h)
{
    struct world *w = (struct world *)((char *)h - offsetof(struct world, h1));
    check(w->handed < EXPECT_MAX, "more requests than the driver keeps");
    check(!w->shut, "a request handed over after the socket closed");
    w->in_call = 1;
    ql__exec_request(&w->x, &w->req);
    w->in_call = 0;
    struct expect *e = &w->exp[w->handed++];
    snprintf(e->id, sizeof(e->id), "%s", w->req.cx.request_id);
    trace("request %d: %u %.*s, id %s, error %d: state %d", w->handed - 1, w->req.method,
          (int)w->req.path.n, w->req.path.p, e->id, h->error_status, (int)w->req.state);
    e->head = w->req.method == QL_HTTP_HEAD;
}

static void c_output(struct ql__h1 *h)
{
    struct world *w = (struct world *)((char *)h - offsetof(struct world, h1));
    check(!w->in_call, "a response written inside the call that started it");
    flush(w);
}

static const struct ql__h1_ops cops = {c_request, c_output};

/* conn.c's sock_close: the stream ends, the protocol closes; a request in flight goes on. */
static void sock_close(struct world *w)
{
    trace("socket closes: request state %d, connection state %d", (int)w->req.state,
          (int)w->h1.state);
    w->shut = 1;
    ql__exec_stream_abort(&w->req);
    ql__h1_shutdown(&w->h1);
}

/* ---- the driver ------------------------------------------------------------------------------ */

static void run_pool(struct world *w)
{
    struct ql__task *t = w->queued;
    w->queued = NULL;
    trace("pool runs a task");
    struct ql_ports ports = {.store = &pool_store, .clock = &w->clock.base};
    t->run(t, &ports);
    t->done(t);
}

static void resume(struct world *w)
{
    struct ql_http_req *r = w->parked;
    w->parked = NULL;
    trace("continuation");
    if (chance(w, 30))
        ql__res_problem(r, QL_EWOULD_BLOCK); /* refused where it ran: to the pool */
    else
        say(r, 7);
    ql__req_resume(r);
}

static void stream_step(struct world *w)
{
    static char chunk[2048];
    if (chance(w, 75)) {
        size_t n = rnd(w) % sizeof(chunk);
        memset(chunk, 'c', n);
        trace("stream writes %zu", n);
        if (ql__req_stream_write(&w->req, chunk, n) == 0)
            return;
    }
    trace("stream ends");
    ql__req_stream_end(&w->req); /* ended, or the reader is too slow */
}

static void feed(struct world *w, const char *in, size_t n, size_t *pos)
{
    size_t k = n - *pos;
    if (w->split == 1)
        k = 1 + rnd(w) % 8;
    else if (w->split == 2)
        k = 1 + rnd(w) % 256;
    if (k > n - *pos)
        k = n - *pos;
    if (k > READ_MAX)
        k = READ_MAX;
    trace("read %zu", k);
    ql__h1_input(&w->h1, in + *pos, k);
    *pos += k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct world w;
    if (size < 4 || size > INPUT_MAX + 4)
        return 0;
    memset(&w, 0, sizeof(w));
    w.rng = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
            (uint64_t)data[3] << 24;
    w.split = data[0] % 3;
    fake_clock_init(&w.clock, 1767225600000LL);
    w.env.clock = &w.clock.base;
    w.lim = (struct ql__h1_limits){1024, 1000, 2000, 3000, 4000, 0};
    ql__exec_init(&w.x, &xops, &w.env, NULL, routes, (int)(sizeof(routes) / sizeof(routes[0])));
    w.req.env = &w.env;
    w.req.exec = &w.x;
    w.req.conn = &w.h1;
    ql_buf_init(&w.wire, NULL);
    check(ql__h1_init(&w.h1, &cops, &w.lim, &w.clock.base, date, &date_len, &w.req) == 0,
          "cannot start a connection");
    const char *in = (const char *)data + 4;
    size_t n = size - 4, pos = 0;
    for (long steps = 0;; steps++) {
        check(steps < 10000000, "the driver does not end");
        int streaming = w.req.state == QL__REQ_STREAM;
        int can_feed =
            pos < n && !w.shut && w.h1.state != QL__H1_CLOSING && ql__h1_wants_input(&w.h1);
        int r = (int)(rnd(&w) % 100);
        if (r < 3) {
            w.pool_full = chance(&w, 20);
            w.loop_ready = chance(&w, 60);
        } else if (r < 5) {
            fake_clock_advance(&w.clock, (int64_t)(rnd(&w) % 5000));
            if (!w.shut && ql__h1_expired(&w.h1, w.clock.mono_ns / 1000000))
                sock_close(&w);
        } else if (r < 6 && !w.shut && pos == n && data[3] & 1) {
            sock_close(&w); /* the peer goes away */
        } else if (r < 40 && can_feed) {
            feed(&w, in, n, &pos);
        } else if (r < 55 && w.queued) {
            run_pool(&w);
        } else if (r < 70 && w.readies) {
            w.readies = 0;
            trace("loop completes its ready list");
            ql__exec_run_ready(&w.x);
        } else if (r < 80 && w.parked) {
            resume(&w);
        } else if (r < 90 && streaming) {
            stream_step(&w);
        } else if (r < 95 && w.pending) {
            size_t k = w.pending; /* conn.c's write_cb: report it, then write what waits */
            w.pending = 0;
            ql__h1_sent(&w.h1, k);
            flush(&w);
        } else if (!can_feed && !w.queued && !w.readies && !w.parked && !w.pending) {
            if (!streaming)
                break; /* nothing can happen any more */
            ql__req_stream_end(&w.req);
        }
    }
    check(atomic_load(&w.x.inflight) == 0, "requests left in flight");
    check(w.req.state == QL__REQ_IDLE, "the request record is not idle at the end");
    check(w.finished == w.handed, "a request completed other than once");
    check(w.settled == w.handed, "a request settled other than once");
    check(w.streams_closed == w.streams_begun, "a stream closed other than once");
    if (!w.shut) {
        check(w.h1.state == QL__H1_CLOSING || w.h1.held.len == w.h1.held_off,
              "input left unparsed while nothing is in flight");
        check(w.nread == w.handed, "a request whose response never came whole");
        check(w.wire.len == 0, "bytes written that are no response");
    }
    ql__h1_cleanup(&w.h1);
    ql_buf_cleanup(&w.wire);
    return 0;
}
