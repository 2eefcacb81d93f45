/*
 * libFuzzer target: one HTTP/1.1 connection (adapters/http/h1.c) without sockets, driven
 * the way conn.c and exec.c drive it: bytes in, requests handed over, responses out, with
 * pipelining, chunked bodies, 100-continue, slow readers, streams, timeouts and a peer that
 * goes away.
 *
 * The first 4 bytes of an input choose the schedule (the body limit, how reads are split,
 * how soon requests are answered, whether the owner writes inside the output callback) and
 * seed the generator that decides the rest: each answer (status, body size, stream or not,
 * Connection: close), how much the "socket" takes, when time passes.  The rest is the
 * byte stream of the client.  Every response written is read back as a client would read
 * it.  The target aborts when:
 *   - a request is handed over while another is answered, or after the connection was to
 *     close (a Connection: close response, a timeout, the peer gone);
 *   - a refused request carries a status other than 400, 413, 431 or 501, or a request
 *     over the limits is handed over as a good one;
 *   - the unsent output passes QL__H1_OUT_MAX and one response, or the held input passes
 *     QL__H1_HELD_MAX and one read;
 *   - the responses on the wire are not, in order, the answers given: status, X-Request-Id,
 *     Connection: close, and the framing (Content-Length, chunks, no body for HEAD, 204 and
 *     304);
 *   - input is left unparsed once nothing is in flight (a connection that stalls).
 */
#include "b64/b64.h"
#include "fakes/fakes.h"
#include "http/h1.h"
#include "http/req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 16384 /* a request is at least 16 bytes: at most 1024 of them */
#define EXPECT_MAX 2048
#define READ_MAX 4096 /* the most one read hands over */
/* The largest response body the driver writes: with its head, past QL__H1_OUT_MAX. */
#define BODY_MAX 262000
#define CHUNK_MAX 3000 /* the largest chunk of a stream */

static const char date[] = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
static const size_t date_len = sizeof(date) - 1;

/* A response the driver gave, as the client must read it. */
struct expect {
    int seq;
    int status;
    int head;    /* it answers a HEAD request: no body on the wire */
    int stream;  /* a chunked stream */
    int close;   /* with Connection: close */
    size_t body; /* body bytes given (a stream: written so far) */
    int ended;   /* a stream's last chunk was written */
};

struct world {
    struct ql__h1 h1; /* first: the callbacks find the world from it */
    struct ql_http_req req;
    struct fake_clock clock;
    struct ql__h1_limits lim;
    uint64_t rng;
    int split;          /* how reads are cut: whole, single bytes, up to 16, up to 512 */
    int answer_pct;     /* how eagerly a request is answered rather than more bytes read */
    int sync_flush;     /* the owner writes inside the output callback, as conn.c does */
    int in_request;     /* inside ops->request */
    int busy;           /* a request was handed over and is not answered yet */
    int streaming;      /* ... and its answer is an open stream */
    int no_more;        /* no request may be handed over from now on */
    int shut;           /* ql__h1_shutdown was called (timeout, peer gone) */
    unsigned method;    /* of the request being answered */
    int error;          /* its error_status */
    size_t pending;     /* bytes the socket took but has not written yet (h1.in_flight) */
    struct ql_buf wire; /* what was written and not read back yet (heap) */
    int nexp, nread;    /* responses given, read back */
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
        fprintf(stderr, "fuzz_h1: %s\n", what);
        abort();
    }
}

/* splitmix64: the schedule's choices, from the seed the input starts with. */
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

static const char *find(const char *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s));
}

/* ---- the client: reading responses back ---------------------------------------------------- */

/* A chunked body at p (n bytes): its length on the wire, 0 while incomplete; *sum gets data. */
static size_t chunked(const char *p, size_t n, size_t *sum)
{
    size_t pos = 0;
    *sum = 0;
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
        *sum += len;
        if (len == 0)
            return pos;
    }
}

/* Read back the complete responses on the wire, in order, against the answers given. */
static void read_wire(struct world *w)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    for (;;) {
        const char *p = w->wire.data;
        size_t n = w->wire.len;
        if (n == 0)
            return;
        if (n >= sizeof(cont) - 1 && memcmp(p, cont, sizeof(cont) - 1) == 0) {
            ql_buf_consume(&w->wire, sizeof(cont) - 1);
            continue;
        }
        const char *end = find(p, n, "\r\n\r\n");
        if (end == NULL)
            return;
        check(w->nread < w->nexp, "a response nobody gave");
        const struct expect *e = &w->exp[w->nread];
        size_t hn = (size_t)(end + 4 - p);
        char line[64];
        int ln = snprintf(line, sizeof(line), "HTTP/1.1 %d ", e->status);
        check(hn > (size_t)ln && memcmp(p, line, (size_t)ln) == 0,
              "a response out of order, or not one (status line)");
        snprintf(line, sizeof(line), "\r\nX-Request-Id: q%d\r\n", e->seq);
        check(find(p, hn, line) != NULL, "a response out of order (X-Request-Id)");
        check(!find(p, hn, "\r\nConnection: close\r\n") == !e->close,
              "Connection: close missing, or where it does not belong");
        const char *cl = find(p, hn, "\r\nContent-Length: ");
        const char *te = find(p, hn, "\r\nTransfer-Encoding: chunked\r\n");
        size_t total = hn;
        if (e->status == 204 || e->status == 304) {
            check(cl == NULL && te == NULL, "a 204 or 304 that announces a body");
        } else if (e->stream) {
            check(te != NULL && cl == NULL, "a stream without chunked framing");
            if (!e->head) {
                size_t sum, len = chunked(p + hn, n - hn, &sum);
                if (len == 0)
                    return; /* the stream goes on */
                check(e->ended && sum == e->body, "a stream's chunks are not what was written");
                total += len;
            }
        } else {
            check(cl != NULL && te == NULL, "a response without Content-Length");
            unsigned long long len = strtoull(cl + 18, NULL, 10);
            check(len == e->body, "Content-Length is not the length of the body given");
            if (!e->head) {
                if (n - hn < len)
                    return;
                for (size_t i = 0; i < len; i += 1 + len / 16) /* a sample: bodies are big */
                    check(p[hn + i] == 'b', "a body that is not the one given");
                total += len;
            }
        }
        ql_buf_consume(&w->wire, total);
        w->nread++;
    }
}

/*
 * The socket takes what is in out: all of it now, or some now and the rest later.  Inside
 * ops->output that is conn.c's flush; an owner that writes later reports what it wrote.
 */
static void flush(struct world *w, int inside)
{
    struct ql_buf *out = &w->h1.out;
    if (out->len == 0 || w->pending)
        return;
    trace("write %zu bytes: %.*s", out->len, out->len > 300 ? 300 : (int)out->len, out->data);
    ql_buf_append(&w->wire, out->data, out->len);
    check(ql_buf_ok(&w->wire) == 0, "out of memory for the wire");
    size_t n = out->len;
    out->len = 0;
    if (chance(w, 40)) {
        w->pending = 1 + rnd(w) % n;
        w->h1.in_flight = w->pending;
    }
    read_wire(w);
    if (!inside && w->pending == 0)
        ql__h1_sent(&w->h1, n);
}

/* The socket wrote what it had pending: the owner says so (conn.c's write_cb). */
static void written(struct world *w)
{
    size_t n = w->pending;
    trace("written %zu", n);
    w->pending = 0;
    ql__h1_sent(&w->h1, n);
}

/* ---- the owner: callbacks and answers ------------------------------------------------------- */

static void t_request(struct ql__h1 *h)
{
    struct world *w = (struct world *)h;
    struct ql_http_req *r = &w->req;
    check(!w->in_request, "ops->request re-entered");
    check(!w->busy, "a request handed over while another is answered");
    check(!w->no_more, "a request handed over after the connection was to close");
    w->in_request = 1;
    int err = h->error_status;
    check(err == 0 || err == 400 || err == 413 || err == 431 || err == 501,
          "a refused request with a status other than 400, 413, 431, 501");
    if (err == 0) {
        check(r->body.n <= w->lim.max_body, "a body over the limit handed over");
        check(r->nheaders <= QL__H1_MAX_HEADERS, "more headers than allowed handed over");
        check(r->path.n + r->query.n <= QL__H1_HEAD_MAX, "a target over the limit handed over");
        for (int i = 0; i < r->nheaders; i++)
            check(r->headers[i].name.n > 0, "a header without a name handed over");
    }
    trace("request %d: method %u, path %.*s, error %d, body %zu (out %zu, in flight %zu)", w->nexp,
          r->method, (int)r->path.n, r->path.p, err, r->body.n, h->out.len, h->in_flight);
    w->busy = 1;
    w->method = r->method;
    w->error = err;
    w->in_request = 0;
}

static void t_output(struct ql__h1 *h)
{
    struct world *w = (struct world *)h;
    if (w->sync_flush)
        flush(w, 1);
}

static const struct ql__h1_ops ops = {.request = t_request, .output = t_output};

/* Answer the request handed over, as the executor would: a response, or a stream. */
static void answer(struct world *w)
{
    static const int statuses[] = {200, 200, 201, 204, 304, 404, 422, 500, 503};
    static const size_t bodies[] = {0, 3, 700, 60000, 0, 3, 700, BODY_MAX};
    struct ql_http_req *r = &w->req;
    int status = w->error ? w->error : statuses[rnd(w) % 9];
    /* the largest only where the connection's arena has room for it (max_body 64 KiB) */
    size_t body = bodies[rnd(w) % (w->lim.max_body >= 65536 ? 8 : 4)];
    if (status == 204 || status == 304)
        body = 0;
    char *b = body ? ql_buf_reserve(&r->res_body, body) : NULL;
    if (b == NULL) {
        r->res_body.failed = 0; /* the driver's own memory ran out: an empty body then */
        body = 0;
    }
    r->status = status;
    r->content_type = chance(w, 50) ? "text/plain" : NULL;
    snprintf(r->cx.request_id, sizeof(r->cx.request_id), "q%d", w->nexp);
    if (chance(w, 20))
        ql_buf_puts(&r->res_headers, "X-Extra: 1\r\n");
    r->close = chance(w, 5);
    if (chance(w, 3))
        ql__h1_no_more(&w->h1); /* the server is stopping */
    /* exec.c opens a stream only for a request still being answered (BUSY) */
    int stream = !w->error && status == 200 && w->h1.state == QL__H1_BUSY && chance(w, 20);
    check(w->nexp < EXPECT_MAX, "more responses than the driver keeps");
    struct expect *e = &w->exp[w->nexp];
    *e = (struct expect){w->nexp,           status, w->method == QL_HTTP_HEAD, stream, 0,
                         stream ? 0 : body, 0};
    e->close = r->close || !w->h1.keepalive;
    trace("answer %d: status %d, body %zu, stream %d, close %d, state %d", e->seq, status, e->body,
          stream, e->close, (int)w->h1.state);
    w->nexp++;
    if (e->close)
        w->no_more = 1;
    if (stream) {
        w->streaming = 1;
        ql__h1_stream_open(&w->h1);
        return;
    }
    if (body) {
        memset(b, 'b', body);
        r->res_body.len = body;
    }
    w->busy = 0;
    ql__h1_respond(&w->h1); /* may hand over the next request at once */
}

/* A step of the open stream: a chunk, or its end. */
static void stream_step(struct world *w)
{
    struct expect *e = &w->exp[w->nexp - 1];
    if (chance(w, 70)) {
        static char chunk[CHUNK_MAX];
        size_t n = rnd(w) % CHUNK_MAX; /* 0 writes nothing */
        memset(chunk, 'c', n);
        trace("stream %d: chunk of %zu", e->seq, n);
        if (ql__h1_stream_write(&w->h1, chunk, n, QL__STREAM_OUT_MAX) == 0) {
            e->body += n;
            return;
        }
        /* the reader is too slow: the stream ends */
    }
    trace("stream %d: end", e->seq);
    e->ended = 1;
    w->streaming = 0;
    w->busy = 0;
    ql__h1_stream_close(&w->h1);
}

/* The connection's deadline passed or the peer went away: conn.c's sock_close. */
static void shut(struct world *w)
{
    trace("shutdown in state %d", (int)w->h1.state);
    w->shut = 1;
    w->no_more = 1;
    if (w->streaming) { /* the stream is aborted; a plain request still finishes later */
        w->streaming = 0;
        w->busy = 0;
    }
    ql__h1_shutdown(&w->h1);
}

static void feed(struct world *w, const char *in, size_t n, size_t *pos)
{
    size_t k = n - *pos;
    if (w->split == 1)
        k = 1;
    else if (w->split == 2)
        k = 1 + rnd(w) % 16;
    else if (w->split == 3)
        k = 1 + rnd(w) % 512;
    if (k > n - *pos)
        k = n - *pos;
    if (k > READ_MAX)
        k = READ_MAX;
    trace("read %zu bytes", k);
    ql__h1_input(&w->h1, in + *pos, k);
    *pos += k;
}

static void check_bounds(struct world *w)
{
    check(w->h1.out.len + w->h1.in_flight <= QL__H1_OUT_MAX + BODY_MAX + 1024,
          "unsent output past QL__H1_OUT_MAX and one response");
    check(w->h1.held.len - w->h1.held_off <= QL__H1_HELD_MAX + READ_MAX,
          "held input past QL__H1_HELD_MAX and one read");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct world w;
    if (size < 4 || size > INPUT_MAX + 4)
        return 0;
    memset(&w, 0, sizeof(w));
    w.rng = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
            (uint64_t)data[3] << 24;
    static const size_t max_body[] = {16, 1024, 65536, 1024};
    w.lim = (struct ql__h1_limits){max_body[data[0] & 3], 1000, 2000, 3000, 4000, data[0] >> 7};
    w.split = data[1] & 3;
    w.sync_flush = data[1] >> 2 & 1;
    w.answer_pct = 10 + data[2] % 90;
    int peer_closes = data[3] & 1;
    fake_clock_init(&w.clock, 1767225600000LL);
    ql_buf_init(&w.wire, NULL);
    check(ql__h1_init(&w.h1, &ops, &w.lim, &w.clock.base, date, &date_len, &w.req) == 0,
          "cannot start a connection");
    const char *in = (const char *)data + 4;
    size_t n = size - 4, pos = 0;
    for (long steps = 0;; steps++) {
        check(steps < 10000000, "the driver does not end");
        check_bounds(&w);
        int can_feed =
            pos < n && w.h1.state != QL__H1_CLOSING && ql__h1_wants_input(&w.h1) && !w.shut;
        if (chance(&w, 2)) {
            fake_clock_advance(&w.clock, (int64_t)(rnd(&w) % 5000));
            if (ql__h1_expired(&w.h1, w.clock.mono_ns / 1000000) && !w.shut)
                shut(&w);
            continue;
        }
        if (peer_closes && pos == n && !w.shut && chance(&w, 10)) {
            shut(&w);
            continue;
        }
        int eager = chance(&w, w.answer_pct);
        if (w.busy && (eager || !can_feed)) {
            if (w.streaming)
                stream_step(&w);
            else
                answer(&w);
        } else if (can_feed && chance(&w, 85)) {
            feed(&w, in, n, &pos);
        } else if (w.h1.out.len && !w.pending) {
            flush(&w, 0);
        } else if (w.pending) {
            written(&w);
        } else if (can_feed) {
            feed(&w, in, n, &pos);
        } else {
            break; /* nothing in flight, nothing to read or write */
        }
    }
    check(!w.busy, "a request left unanswered");
    if (!w.shut) {
        check(w.h1.state == QL__H1_CLOSING || w.h1.held.len == w.h1.held_off,
              "input left unparsed while nothing is in flight: the connection stalls");
        check(w.nread == w.nexp, "a response given was never written whole");
        check(w.wire.len == 0, "bytes written that are no response");
    }
    ql__h1_cleanup(&w.h1);
    ql_buf_cleanup(&w.wire);
    return 0;
}
