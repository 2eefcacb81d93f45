/*
 * h1.c - the HTTP/1.1 protocol of one connection: llhttp callbacks that assemble a request,
 * the limits, pipelining order and keep-alive (see h1.h); the bytes of each response are
 * h1_out.c's.
 *
 * Everything a request allocates lives in the connection's arena, reset once the request
 * is answered (its response is in `out` by then) and again when the next message begins;
 * that is safe because the next message is only parsed once the previous one has been
 * answered.  Header names and values are collected as offsets into one buffer
 * (`head`) and turned into spans when the head is complete, since the buffer may move while
 * it grows.
 */
#include "h1.h"
#include "req.h"

#include "clock/clock.h"
#include "err/err.h"

#include <string.h>
#include <strings.h>

static int64_t now_ms(struct ql__h1 *c)
{
    return ql_clock_mono_ns(c->clock) / 1000000;
}

void ql__h1_set_deadline(struct ql__h1 *c, int ms)
{
    c->deadline_ms = ms > 0 ? now_ms(c) + ms : 0;
}

/* ---- parser callbacks ---------------------------------------------------------------------- */

static struct ql__h1 *conn_of(llhttp_t *p)
{
    return p->data;
}

/*
 * The most a request may take from the arena: enough for the largest body, its JSON and the
 * response, in a few blocks.  A body without a length (chunked) grows by doubling, and the
 * blocks it outgrew stay in the arena: with them it takes up to four times its size, so one
 * of exactly max_body bytes would otherwise fail as if it were malformed.
 */
static size_t arena_limit(const struct ql__h1_limits *lim)
{
    return lim->max_body * 6 + (256 << 10);
}

/*
 * Let go of the last request: its memory goes back to the arena's first chunk, and the
 * arena's limit to the usual one (a handler may have lifted it for its answer, ql__req_room).
 */
void ql__h1_forget(struct ql__h1 *c)
{
    ql_arena_reset(&c->arena);
    c->arena.limit = arena_limit(c->lim);
    ql__req_reset(c->req, &c->arena);
    ql_buf_init(&c->head, &c->arena);
    ql_buf_init(&c->body, &c->arena);
}

static int on_message_begin(llhttp_t *p)
{
    struct ql__h1 *c = conn_of(p);
    ql__h1_forget(c);
    c->url_len = 0;
    c->nh = 0;
    c->last_was_value = 0;
    c->ext_len = 0;
    c->head_before = 0;
    c->lf_after_span = 0;
    c->state = QL__H1_HEAD;
    ql__h1_set_deadline(c, c->lim->header_timeout_ms);
    return 0;
}

/*
 * What the head takes on the wire counts toward its limit, not only what is kept of it: the
 * whitespace llhttp skips (before a value, say) goes to no callback.  Trailers, after the
 * body, count what is kept.
 */
static int head_append(struct ql__h1 *c, const char *at, size_t n)
{
    size_t size = c->state == QL__H1_HEAD ? c->head_before + (size_t)(at + n - c->exec_start)
                                          : c->head.len + n;
    if (size > QL__H1_HEAD_MAX) {
        c->error_status = 431;
        return -1;
    }
    ql_buf_append(&c->head, at, n);
    return c->head.failed ? -1 : 0;
}

/*
 * llhttp 8.1 ends a line at a bare LF as it does at CRLF, strict mode or not: the request
 * line, the empty line that ends the head, one before the request, the end of a chunked
 * body (after a header value it wants CRLF).  A proxy in front that does not may read a
 * different request out of the same bytes, so a bare LF is refused.  Line ends never fall
 * inside the spans the callbacks are given (the URL, header names and values, body data),
 * so only the bytes between them are looked at, and not those between two headers, which
 * llhttp checks: the head costs a few bytes (too few for memchr to pay for its call), not
 * a few per header.  1 when [from, to) of the running execute holds an LF without a CR.
 */
static int bare_lf(const struct ql__h1 *c, const char *from, const char *to)
{
    for (const char *q = from; q < to; q++)
        if (*q == '\n' && (q > c->exec_start ? q[-1] : c->last_byte) != '\r')
            return 1;
    return 0;
}

/* A span [at, at + n) begins: check the bytes since the last one, and skip it. */
static int span(struct ql__h1 *c, const char *at, size_t n)
{
    if (bare_lf(c, c->scan, at)) {
        c->error_status = 400;
        return -1;
    }
    c->scan = at + n;
    c->lf_after_span = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct ql__h1 *c = conn_of(p);
    if (span(c, at, n) != 0)
        return -1;
    if (memchr(at, '#', n)) { /* a fragment is the client's own (RFC 9112 3.2) */
        c->error_status = 400;
        return -1;
    }
    c->url_len += (uint32_t)n;
    return head_append(c, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct ql__h1 *c = conn_of(p);
    /* the first one: the request line ended; or one of the trailers */
    if ((c->nh == 0 || c->state != QL__H1_HEAD) && span(c, at, n) != 0)
        return -1;
    c->scan = at + n;
    c->lf_after_span = 0;
    if (c->nh == 0 || c->last_was_value) {
        if (c->nh == QL__H1_MAX_HEADERS) {
            c->error_status = 431;
            return -1;
        }
        c->hoff[c->nh] = (struct ql__h1_hoff){(uint32_t)c->head.len, 0, 0, 0};
        c->nh++;
        c->last_was_value = 0;
    }
    c->hoff[c->nh - 1].nl += (uint32_t)n;
    return head_append(c, at, n);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct ql__h1 *c = conn_of(p);
    struct ql__h1_hoff *h = &c->hoff[c->nh - 1];
    if (n > 0 && ql__h1_folded(c, at)) { /* the first span too: the value before was blank */
        c->error_status = 400;
        return -1;
    }
    c->scan = at + n;
    c->lf_after_span = 0;
    if (!c->last_was_value) {
        h->vo = (uint32_t)c->head.len;
        c->last_was_value = 1;
    }
    h->vl += (uint32_t)n;
    return head_append(c, at, n);
}

static unsigned method_of(uint8_t m)
{
    switch (m) {
    case HTTP_GET:
        return QL_HTTP_GET;
    case HTTP_HEAD:
        return QL_HTTP_HEAD;
    case HTTP_POST:
        return QL_HTTP_POST;
    case HTTP_PUT:
        return QL_HTTP_PUT;
    case HTTP_PATCH:
        return QL_HTTP_PATCH;
    case HTTP_DELETE:
        return QL_HTTP_DELETE;
    case HTTP_OPTIONS:
        return QL_HTTP_OPTIONS;
    default:
        return QL_HTTP_OTHER;
    }
}

static int on_headers_complete(llhttp_t *p)
{
    struct ql__h1 *c = conn_of(p);
    struct ql_http_req *r = c->req;
    /* The head buffer no longer grows, so spans into it are stable from here on. */
    const char *base = c->head.data;
    r->nheaders = c->nh;
    for (int i = 0; i < c->nh; i++) {
        r->headers[i].name = (struct ql_span){base + c->hoff[i].no, c->hoff[i].nl};
        r->headers[i].value =
            (struct ql_span){c->hoff[i].vl ? base + c->hoff[i].vo : "", c->hoff[i].vl};
    }
    r->method = method_of(llhttp_get_method(p));
    if ((c->error_status = ql__h1_strict(p, r)) != 0)
        return -1;
    int has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->lim->max_body) {
        c->error_status = 413;
        return -1;
    }
    if (has_body) {
        if (p->flags & F_CONTENT_LENGTH)
            ql_buf_reserve(&c->body, (size_t)p->content_length);
        const struct ql_span *ex = ql__req_header(r, "expect");
        if (ex && ex->n == 12 && strncasecmp(ex->p, "100-continue", 12) == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            ql_buf_append(&c->out, cont, sizeof(cont) - 1);
            c->ops->output(c);
        }
        c->state = QL__H1_BODY;
        ql__h1_set_deadline(c, c->lim->body_timeout_ms);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct ql__h1 *c = conn_of(p);
    if (span(c, at, n) != 0)
        return -1;
    if (c->body.len + c->ext_len + n > c->lim->max_body) {
        c->error_status = 413;
        return -1;
    }
    ql_buf_append(&c->body, at, n);
    return c->body.failed ? -1 : 0;
}

/*
 * Chunk extensions mean nothing here and are skipped (RFC 9112 7.1.1), but nothing in llhttp
 * bounds them: a client could send them for as long as the body timeout lets it.  What
 * they take counts as the body's bytes: each name or value, and the ';' or '=' before it
 * (a span cut by a read counts that byte twice, erring on the strict side).
 */
static int on_chunk_extension(llhttp_t *p, const char *at, size_t n)
{
    struct ql__h1 *c = conn_of(p);
    (void)at;
    c->ext_len += n + 1;
    if (c->body.len + c->ext_len > c->lim->max_body) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct ql__h1 *c = conn_of(p);
    c->keepalive = llhttp_should_keep_alive(p);
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_extension_name = on_chunk_extension,
    .on_chunk_extension_value = on_chunk_extension,
    .on_message_complete = on_message_complete,
};

/* ---- requests ------------------------------------------------------------------------------- */

/*
 * How much of a target in absolute form (http://host:port/path?query) comes before its
 * path; 0 for the origin form.  A server must accept the absolute form (RFC 9112 3.2.2),
 * though clients send it only to proxies; the host it names is not consulted, as Host is not.
 */
static size_t authority_len(const char *url, size_t n)
{
    size_t k = n >= 7 && strncasecmp(url, "http://", 7) == 0    ? 7
               : n >= 8 && strncasecmp(url, "https://", 8) == 0 ? 8
                                                                : 0;
    while (k > 0 && k < n && url[k] != '/' && url[k] != '?')
        k++;
    return k;
}

/* A whole request was parsed: point the request at its parts and hand it over. */
static void hand_over(struct ql__h1 *c)
{
    struct ql_http_req *r = c->req;
    const char *url = c->head.data ? c->head.data : "";
    size_t n = c->url_len, skip = authority_len(url, n);
    url += skip;
    n -= skip;
    const char *q = memchr(url, '?', n);
    r->path = (struct ql_span){url, q ? (size_t)(q - url) : n};
    if (skip > 0 && r->path.n == 0)
        r->path = (struct ql_span){"/", 1}; /* http://host?q: the path is / */
    r->query = q ? (struct ql_span){q + 1, n - (size_t)(q - url) - 1} : (struct ql_span){"", 0};
    r->body = (struct ql_span){c->body.data ? c->body.data : "", c->body.len};
    c->state = QL__H1_BUSY;
    c->deadline_ms = 0;
    c->ops->request(c);
}

/* A request that cannot be parsed: hand over what there is, to be answered with an error. */
static void parse_failed(struct ql__h1 *c)
{
    if (c->error_status == 0)
        c->error_status = 400;
    if (c->state == QL__H1_IDLE) /* failed before a message began: nothing was reset */
        ql__h1_forget(c);
    c->keepalive = 0;
    c->state = QL__H1_BUSY;
    c->deadline_ms = 0;
    c->ops->request(c);
}

/* Parse what is held, one request at a time, while nothing is being answered. */
void ql__h1_parse_held(struct ql__h1 *c)
{
    while (c->held.len > c->held_off &&
           (c->state == QL__H1_IDLE || c->state == QL__H1_HEAD || c->state == QL__H1_BODY) &&
           c->out.len + c->in_flight <= QL__H1_OUT_MAX) {
        const char *data = c->held.data + c->held_off;
        size_t len = c->held.len - c->held_off;
        c->exec_start = c->scan = data;
        enum llhttp_errno e = llhttp_execute(&c->parser, data, len);
        const char *end = e == HPE_OK ? data + len : llhttp_get_error_pos(&c->parser);
        if ((e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) &&
            bare_lf(c, c->scan, end)) { /* after the last span: the end of a head, say */
            c->error_status = 400;
            e = HPE_USER;
        } else if (e == HPE_OK && c->state == QL__H1_HEAD &&
                   (c->head_before += len) > QL__H1_HEAD_MAX) { /* the head goes on */
            c->error_status = 431;
            e = HPE_USER;
        }
        if (e == HPE_OK && memchr(c->scan, '\n', (size_t)(end - c->scan)))
            c->lf_after_span = 1; /* for ql__h1_folded, when the next execute goes on */
        if (end && end > data)
            c->last_byte = end[-1];
        if (e == HPE_OK) {
            c->held_off = c->held.len;
        } else if (e == HPE_PAUSED) {
            c->held_off += (size_t)(llhttp_get_error_pos(&c->parser) - data);
            llhttp_resume(&c->parser);
            hand_over(c);
        } else if (e == HPE_PAUSED_UPGRADE) {
            /*
             * The request asked for another protocol (Upgrade: h2c, from curl --http2) and
             * was answered in this one, which ignores the Upgrade (RFC 9110 7.8): the bytes
             * after it are HTTP/1.1 too.  llhttp stops before them, having consumed none,
             * and resumes where a message ends.
             */
            c->held_off += (size_t)(llhttp_get_error_pos(&c->parser) - data);
            llhttp_resume_after_upgrade(&c->parser);
        } else {
            c->held_off = c->held.len;
            parse_failed(c);
        }
    }
    if (c->held_off == c->held.len) {
        c->held.len = 0;
        c->held_off = 0;
    }
}

void ql__h1_input(struct ql__h1 *c, const char *data, size_t n)
{
    /*
     * The deadline stays: a request that begins sets its header timeout (on_message_begin),
     * while the empty lines llhttp skips between requests begin nothing, and moving it for
     * them would let a client keep a connection open with one every second.
     */
    if (c->state == QL__H1_CLOSING || n == 0)
        return;
    /*
     * Everything goes through `held`: one path for parsing, and its bound is the backlog's.
     * What was parsed goes first, or a client that always has another request queued makes
     * it grow by every request it sends.  Nothing points into it once llhttp_execute has
     * returned: the parser callbacks copy the head and the body into the arena.
     */
    ql_buf_consume(&c->held, c->held_off);
    c->held_off = 0;
    ql_buf_append(&c->held, data, n);
    if (c->held.failed) {
        ql__h1_shutdown(c);
        return;
    }
    ql__h1_parse_held(c);
}

int ql__h1_wants_input(const struct ql__h1 *c)
{
    return c->state != QL__H1_CLOSING && c->held.len - c->held_off < QL__H1_HELD_MAX &&
           c->out.len + c->in_flight <= QL__H1_OUT_MAX;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

void ql__h1_shutdown(struct ql__h1 *c)
{
    if (c->state == QL__H1_CLOSING)
        return;
    c->state = QL__H1_CLOSING;
    c->deadline_ms = 0;
    c->ops->output(c);
}

int ql__h1_expired(const struct ql__h1 *c, int64_t now)
{
    return c->deadline_ms != 0 && now >= c->deadline_ms;
}

int ql__h1_init(struct ql__h1 *c, const struct ql__h1_ops *ops, const struct ql__h1_limits *lim,
                struct ql_clock *clock, const char *date, const size_t *date_len,
                struct ql_http_req *req)
{
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->lim = lim;
    c->clock = clock;
    c->date = date;
    c->date_len = date_len;
    c->req = req;
    ql_arena_init(&c->arena, 4096, arena_limit(lim));
    ql_buf_init(&c->held, NULL);
    ql_buf_init(&c->out, NULL);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    ql__req_reset(req, &c->arena);
    c->state = QL__H1_IDLE;
    ql__h1_set_deadline(c, lim->header_timeout_ms);
    return QL_OK;
}

void ql__h1_cleanup(struct ql__h1 *c)
{
    ql_arena_cleanup(&c->arena);
    ql_buf_cleanup(&c->held);
    ql_buf_cleanup(&c->out);
}
