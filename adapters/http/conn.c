/*
 * conn.c - one client connection: reading, llhttp parsing, dispatch, responses, writing
 * and timeouts.
 *
 * Requests on a connection are handled strictly one at a time, which is what keeps
 * pipelining correct: the parser pauses after every complete message (on_message_complete
 * returns HPE_PAUSED), the message is dispatched, and parsing resumes only once its
 * response is queued.  A request that runs on the pool leaves the connection "busy"; bytes
 * that arrive meanwhile wait in `pending` (bounded: reading stops when it fills) and are
 * parsed when the response is done.
 *
 * Everything a request allocates lives in the connection's arena, reset when the next
 * message begins.  Output is collected in `out` and written with uv_try_write, falling back
 * to uv_write (from `wbuf`) only when the socket is full.
 *
 * A connection is freed only when it is both closed (uv_close finished) and not busy, so a
 * pool task never writes into freed memory when its client went away.
 */
#include "internal.h"

#include "clock/clock.h"
#include "config/config.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PENDING_MAX (256 * 1024)
#define OUT_HIGH_WATER (1024 * 1024)
#define HEAD_MAX (16 * 1024)

enum phase { PH_IDLE, PH_HEADERS, PH_BODY, PH_BUSY };

struct hoff {
    uint32_t no, nl, vo, vl;
};

struct ql__conn {
    uv_tcp_t tcp;
    struct ql__loop *loop;
    struct ql__conn *prev, *next;
    llhttp_t parser;
    struct ql_arena arena;
    struct ql_http_req req;
    /* parsing */
    struct ql_buf head; /* URL then header names and values (arena) */
    uint32_t url_len;
    int nh;
    int last_was_value;
    struct hoff hoff[QL_HTTP_MAX_HEADERS];
    int error_status; /* 413 or 431 decided inside a callback */
    struct ql_buf body;
    /* input that arrived while busy */
    struct ql_buf pending;
    size_t pending_off;
    /* output */
    struct ql_buf out;
    struct ql_buf wbuf;
    uv_write_t wreq;
    int writing;
    int reading;
    int busy;
    int closing;
    int closed;
    int close_after_write;
    int keepalive;
    int counted;
    char peer[64];
    enum phase phase;
    uint64_t deadline_ms;
    struct ql__task task;
};

static void conn_close(struct ql__conn *c);
static void flush(struct ql__conn *c);
static void consume(struct ql__conn *c, const char *data, size_t len, int from_pending);
static void resume_reading(struct ql__conn *c);

/* ---- small helpers --------------------------------------------------------------------- */

static const struct ql_config *cfg_of(const struct ql__conn *c)
{
    return c->loop->server->env->cfg;
}

static int64_t mono_ns(void)
{
    return (int64_t)uv_hrtime();
}

static void set_deadline(struct ql__conn *c, int ms)
{
    c->deadline_ms = ms > 0 ? uv_now(&c->loop->loop) + (uint64_t)ms : 0;
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

const char *ql__http_reason(int status);
const char *ql__http_reason(int status)
{
    return reason(status);
}

static void hex_random(struct ql__loop *l, char *out, int nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < nbytes; i += 8) {
        uint64_t r = ql__loop_rand(l);
        for (int k = 0; k < 8 && i + k < nbytes; k++) {
            out[2 * (i + k)] = hex[(r >> (8 * k + 4)) & 15];
            out[2 * (i + k) + 1] = hex[(r >> (8 * k)) & 15];
        }
    }
    out[2 * nbytes] = '\0';
}

static int is_hex(const char *p, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return 0;
        nonzero |= ch != '0';
    }
    return nonzero;
}

/* Continue a valid W3C traceparent ("00-<trace>-<parent>-<flags>") or start a trace. */
static void trace_ids(struct ql__conn *c)
{
    struct ql_http_req *r = &c->req;
    const struct ql_span *tp = ql__req_header(r, "traceparent");
    if (tp && tp->n >= 55 && tp->p[2] == '-' && tp->p[35] == '-' && tp->p[52] == '-' &&
        !(tp->p[0] == 'f' && tp->p[1] == 'f') && is_hex(tp->p + 3, 32) && is_hex(tp->p + 36, 16)) {
        memcpy(r->cx.trace_id, tp->p + 3, 32);
        r->cx.trace_id[32] = '\0';
    } else {
        hex_random(c->loop, r->cx.trace_id, 16);
    }
    hex_random(c->loop, r->cx.span_id, 8);
    const struct ql_span *rid = ql__req_header(r, "x-request-id");
    int ok = rid && rid->n > 0 && rid->n < sizeof(r->cx.request_id);
    for (size_t i = 0; ok && i < rid->n; i++) {
        char ch = rid->p[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.' || ch == ':';
    }
    if (ok) {
        memcpy(r->cx.request_id, rid->p, rid->n);
        r->cx.request_id[rid->n] = '\0';
    } else {
        hex_random(c->loop, r->cx.request_id, 16);
    }
}

/* ---- parser callbacks ---------------------------------------------------------------- */

static struct ql__conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static void req_reset(struct ql__conn *c)
{
    ql_arena_reset(&c->arena);
    struct ql_http_req *r = &c->req;
    memset(r, 0, sizeof(*r));
    r->cx.arena = &c->arena;
    r->env = c->loop->server->env;
    r->server = c->loop->server;
    r->cx.ports.clock = r->env->clock;
    r->cx.ports.auth = r->env->auth;
    r->cx.ports.log = r->env->log;
    r->cx.cfg = r->env->cfg;
    r->peer = c->peer;
    r->route = -1;
    ql_buf_init(&r->res_headers, &c->arena);
    ql_buf_init(&r->res_body, &c->arena);
    ql_buf_init(&c->head, &c->arena);
    ql_buf_init(&c->body, &c->arena);
    c->url_len = 0;
    c->nh = 0;
    c->last_was_value = 0;
    c->error_status = 0;
}

static int on_message_begin(llhttp_t *p)
{
    struct ql__conn *c = conn_of(p);
    req_reset(c);
    c->req.start_ns = mono_ns();
    c->phase = PH_HEADERS;
    set_deadline(c, cfg_of(c)->header_timeout_ms);
    return 0;
}

static int head_append(struct ql__conn *c, const char *at, size_t n)
{
    if (c->head.len + n > HEAD_MAX) {
        c->error_status = 431;
        return -1;
    }
    ql_buf_append(&c->head, at, n);
    return c->head.failed ? -1 : 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    struct ql__conn *c = conn_of(p);
    c->url_len += (uint32_t)n;
    return head_append(c, at, n);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct ql__conn *c = conn_of(p);
    if (c->nh == 0 || c->last_was_value) {
        if (c->nh == QL_HTTP_MAX_HEADERS) {
            c->error_status = 431;
            return -1;
        }
        c->hoff[c->nh].no = (uint32_t)c->head.len;
        c->hoff[c->nh].nl = 0;
        c->hoff[c->nh].vo = 0;
        c->hoff[c->nh].vl = 0;
        c->nh++;
        c->last_was_value = 0;
    }
    c->hoff[c->nh - 1].nl += (uint32_t)n;
    return head_append(c, at, n);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct ql__conn *c = conn_of(p);
    struct hoff *h = &c->hoff[c->nh - 1];
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

static void write_raw(struct ql__conn *c, const char *s, size_t n)
{
    ql_buf_append(&c->out, s, n);
}

static int on_headers_complete(llhttp_t *p)
{
    struct ql__conn *c = conn_of(p);
    struct ql_http_req *r = &c->req;
    /* The head buffer no longer grows, so spans into it are stable from here on. */
    const char *base = c->head.data;
    r->nheaders = c->nh;
    for (int i = 0; i < c->nh; i++) {
        r->headers[i].name.p = base + c->hoff[i].no;
        r->headers[i].name.n = c->hoff[i].nl;
        r->headers[i].value.p = c->hoff[i].vl ? base + c->hoff[i].vo : "";
        r->headers[i].value.n = c->hoff[i].vl;
    }
    r->method = method_of(llhttp_get_method(p));
    const struct ql_config *cfg = cfg_of(c);
    int has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > cfg->max_body) {
        c->error_status = 413;
        return -1;
    }
    if (has_body) {
        if (p->flags & F_CONTENT_LENGTH)
            ql_buf_reserve(&c->body, (size_t)p->content_length);
        const struct ql_span *ex = ql__req_header(r, "expect");
        if (ex && ex->n == 12 && strncasecmp(ex->p, "100-continue", 12) == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            write_raw(c, cont, sizeof(cont) - 1);
            flush(c);
        }
        c->phase = PH_BODY;
        set_deadline(c, cfg->body_timeout_ms);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct ql__conn *c = conn_of(p);
    if (c->body.len + n > cfg_of(c)->max_body) {
        c->error_status = 413;
        return -1;
    }
    ql_buf_append(&c->body, at, n);
    return c->body.failed ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct ql__conn *c = conn_of(p);
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
    .on_message_complete = on_message_complete,
};

/* ---- responses ------------------------------------------------------------------------- */

static void access_log(struct ql__conn *c, int64_t ns)
{
    struct ql_http_req *r = &c->req;
    struct ql_logger *lg = &c->loop->log.base;
    if (!cfg_of(c)->access_log || !ql_log_enabled(lg, QL_LOG_INFO))
        return;
    char stack[512];
    struct ql_buf b = {stack, 0, sizeof(stack), NULL, 0};
    struct ql_jw w;
    /* A stack buffer that may not grow: a line that does not fit is re-built on the heap. */
    b.arena = &c->arena;
    ql_log_begin(lg, &w, &b, QL_LOG_INFO, "request");
    ql_jw_key(&w, "method");
    ql_jw_str(&w, ql__method_name(r->method));
    ql_jw_key(&w, "route");
    if (r->route >= 0)
        ql_jw_str(&w, ql__http_routes[r->route].tmpl);
    else
        ql_jw_null(&w);
    ql_jw_key(&w, "status");
    ql_jw_int(&w, r->status);
    char dur[32];
    int dn = snprintf(dur, sizeof(dur), "%.3f", (double)ns / 1e6);
    ql_jw_key(&w, "duration_ms");
    ql_jw_raw(&w, dur, (size_t)dn);
    ql_jw_key(&w, "bytes");
    ql_jw_int(&w, (int64_t)r->res_body.len);
    ql_jw_key(&w, "request_id");
    ql_jw_str(&w, r->cx.request_id);
    ql_jw_key(&w, "trace_id");
    ql_jw_str(&w, r->cx.trace_id);
    ql_log_end(lg, &w);
}

/* Serialize the current response into out, record metrics and log it. */
static void complete(struct ql__conn *c)
{
    struct ql_http_req *r = &c->req;
    struct ql__loop *l = c->loop;
    if (r->status == 0)
        ql__res_problem(r, QL_EINTERNAL);
    if (ql_buf_ok(&r->res_body) || ql_buf_ok(&r->res_headers)) {
        ql_error_set(&r->cx.err, QL_ENOMEM, NULL);
        r->res_body.failed = r->res_headers.failed = 0;
        r->res_body.len = r->res_headers.len = 0;
        ql__res_problem(r, QL_ENOMEM);
    }
    if (!c->keepalive || l->stopping || c->error_status)
        r->close = 1;
    struct ql_buf *o = &c->out;
    ql_buf_printf(o, "HTTP/1.1 %d %s\r\n", r->status, reason(r->status));
    ql_buf_append(o, l->date, l->date_len);
    int bodyless = r->status == 204 || r->status == 304;
    if (!bodyless) {
        ql_buf_puts(o, "Content-Type: ");
        ql_buf_puts(o, r->content_type ? r->content_type : "application/json");
        ql_buf_puts(o, "\r\nContent-Length: ");
        ql_buf_u64(o, r->res_body.len);
        ql_buf_append(o, "\r\n", 2);
    }
    ql_buf_puts(o, "X-Request-Id: ");
    ql_buf_puts(o, r->cx.request_id);
    static const char sec[] = "\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: "
                              "no-referrer\r\nX-Frame-Options: DENY\r\n";
    ql_buf_append(o, sec, sizeof(sec) - 1);
    if (r->no_store)
        ql_buf_puts(o, "Cache-Control: no-store\r\n");
    if (cfg_of(c)->public_https)
        ql_buf_puts(o, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
    if (r->res_headers.len)
        ql_buf_append(o, r->res_headers.data, r->res_headers.len);
    if (r->close)
        ql_buf_puts(o, "Connection: close\r\n");
    ql_buf_append(o, "\r\n", 2);
    if (!bodyless && r->method != QL_HTTP_HEAD && r->res_body.len)
        ql_buf_append(o, r->res_body.data, r->res_body.len);
    if (o->failed) {
        /* Out of memory for the output: nothing sensible can be sent on this connection. */
        o->failed = 0;
        o->len = 0;
        r->close = 1;
    }
    int64_t ns = mono_ns() - r->start_ns;
    ql__metrics_observe(&l->metrics, r->route, r->status, ns);
    access_log(c, ns);
    if (r->close)
        c->close_after_write = 1;
    c->phase = PH_IDLE;
    set_deadline(c, cfg_of(c)->idle_timeout_ms);
}

/* ---- dispatch -------------------------------------------------------------------------- */

static void task_run(struct ql__task *t, struct ql_ports *ports)
{
    struct ql__conn *c = (struct ql__conn *)((char *)t - offsetof(struct ql__conn, task));
    struct ql_http_req *r = &c->req;
    r->cx.ports = *ports;
    ql__http_routes[r->route].fn(r);
    ql_ctx_run_deferred(&r->cx);
    ql__idem_end(r);
}

static void maybe_free(struct ql__conn *c);

static void task_done(struct ql__task *t)
{
    struct ql__conn *c = (struct ql__conn *)((char *)t - offsetof(struct ql__conn, task));
    atomic_fetch_sub_explicit(&c->loop->metrics.inflight, 1, memory_order_relaxed);
    c->busy = 0;
    if (c->closing) {
        maybe_free(c);
        return;
    }
    complete(c);
    if (c->pending.len > c->pending_off && !c->close_after_write) {
        consume(c, c->pending.data + c->pending_off, c->pending.len - c->pending_off, 1);
    } else {
        flush(c);
    }
    resume_reading(c);
}

static int is_json(const struct ql_span *ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (ct == NULL || ct->n < n || strncasecmp(ct->p, want, n) != 0)
        return 0;
    return ct->n == n || ct->p[n] == ';' || ct->p[n] == ' ';
}

static void run_on_loop(struct ql__conn *c, const struct ql_http_route *rt);
static int submit(struct ql__conn *c, const struct ql_http_route *rt);
static void finish(struct ql__conn *c, int in_dispatch);

static void dispatch(struct ql__conn *c)
{
    struct ql_http_req *r = &c->req;
    struct ql__loop *l = c->loop;
    const char *url = c->head.data ? c->head.data : "";
    size_t n = c->url_len;
    r->body.p = c->body.data ? c->body.data : "";
    r->body.n = c->body.len;
    trace_ids(c);
    const char *q = memchr(url, '?', n);
    r->path.p = url;
    r->path.n = q ? (size_t)(q - url) : n;
    r->query.p = q ? q + 1 : "";
    r->query.n = q ? n - r->path.n - 1 : 0;
    if (r->path.n == 0 || r->path.p[0] != '/') {
        ql__res_problem_status(r, 400, "bad_request", "The request target must be a path.");
        complete(c);
        return;
    }
    unsigned allow;
    r->route = ql__router_match(r->method, r->path.p, r->path.n, r->params, &r->nparams, &allow);
    if (r->route < 0) {
        if (allow) {
            struct ql_buf a;
            ql_buf_init(&a, &c->arena);
            ql__method_list(allow, &a);
            ql__res_header(r, "Allow", ql_buf_cstr(&a) ? a.data : "GET");
            ql__res_problem(r, QL_EMETHOD_NOT_ALLOWED);
        } else {
            ql__res_problem(r, QL_ENOT_FOUND);
        }
        complete(c);
        return;
    }
    const struct ql_http_route *rt = &ql__http_routes[r->route];
    if ((rt->flags & QL_ROUTE_BODY) && !is_json(ql__req_header(r, "content-type")) &&
        (r->body.n > 0 || r->method != QL_HTTP_DELETE)) {
        ql__res_problem(r, QL_EMEDIA_TYPE);
        complete(c);
        return;
    }
    if (!(rt->flags & QL_ROUTE_POOL)) {
        rt->fn(r);
        complete(c);
        return;
    }
    c->busy = 1;
    c->phase = PH_BUSY;
    c->deadline_ms = 0;
    atomic_fetch_add_explicit(&l->metrics.inflight, 1, memory_order_relaxed);
    if ((rt->flags & QL_ROUTE_LOOP) && ql__loopdb_ready(l))
        run_on_loop(c, rt);
    else if (submit(c, rt) != QL_OK)
        finish(c, 1);
}

static void loop_finish(struct ql__conn *c, int in_dispatch);

/* Run the handler on the loop with the loop's session as the store (see loopdb.c). */
static void run_on_loop(struct ql__conn *c, const struct ql_http_route *rt)
{
    struct ql_http_req *r = &c->req;
    r->cx.ports.store = ql_db_store(c->loop->db);
    r->cx.ports.queue = ql_db_queue(c->loop->db); /* refuses everything: it would wait */
    r->on_loop = 1;
    r->in_handler = 1;
    rt->fn(r);
    ql_ctx_run_deferred(&r->cx);
    r->in_handler = 0;
    if (!r->waiting)
        loop_finish(c, 1);
}

/* Forget what the loop's attempt wrote, so the pool answers as if it had come first. */
static void reset_response(struct ql_http_req *r)
{
    r->status = 0;
    r->content_type = NULL;
    r->no_store = 0;
    r->close = 0;
    r->res_headers.len = 0;
    r->res_body.len = 0;
    r->res_headers.failed = r->res_body.failed = 0;
    r->cx.principal = NULL;
    ql_error_clear(&r->cx.err);
    r->on_loop = r->waiting = r->to_pool = 0;
}

/* A request run on the loop is answered, or goes to the pool when the session refused. */
static void loop_finish(struct ql__conn *c, int in_dispatch)
{
    struct ql_http_req *r = &c->req;
    struct ql__metrics *m = &c->loop->metrics;
    if (r->to_pool && !c->closing) {
        atomic_fetch_add_explicit(&m->loop_misses, 1, memory_order_relaxed);
        reset_response(r);
        if (submit(c, &ql__http_routes[r->route]) == QL_OK)
            return;
    } else if (!r->to_pool) {
        atomic_fetch_add_explicit(&m->loop_reads, 1, memory_order_relaxed);
    }
    finish(c, in_dispatch);
}

void ql__req_wait(struct ql_http_req *r)
{
    r->waiting = 1;
}

void ql__req_resume(struct ql_http_req *r)
{
    r->waiting = 0;
    if (!r->on_loop || r->in_handler)
        return; /* the handler is still on the stack and returns normally */
    loop_finish((struct ql__conn *)((char *)r - offsetof(struct ql__conn, req)), 0);
}

/*
 * Queue the request on its pool (the connection is busy and counted in flight).  A full
 * pool: the response is a 503 and the caller finishes the request.
 */
static int submit(struct ql__conn *c, const struct ql_http_route *rt)
{
    struct ql_http_req *r = &c->req;
    struct ql__loop *l = c->loop;
    c->task.run = task_run;
    c->task.done = task_done;
    c->task.owner = l;
    struct ql__pool *pool = &l->server->pool;
    if ((rt->flags & QL_ROUTE_GROUP) && l->server->writes.nthreads > 0)
        pool = &l->server->writes;
    if (ql__pool_submit(pool, &c->task) == QL_OK)
        return QL_OK;
    ql__res_header(r, "Retry-After", "1");
    ql_error_set(&r->cx.err, QL_EUNAVAILABLE, "The server is busy; try again shortly.");
    ql__res_problem(r, QL_EUNAVAILABLE);
    return QL_EUNAVAILABLE;
}

/* The request is answered: from dispatch (inside the parser's loop) or later. */
static void finish(struct ql__conn *c, int in_dispatch)
{
    if (!in_dispatch) {
        task_done(&c->task);
        return;
    }
    atomic_fetch_sub_explicit(&c->loop->metrics.inflight, 1, memory_order_relaxed);
    c->busy = 0;
    complete(c);
}

/* A parse error: answer with a problem (400, 413 or 431) and close after writing. */
static void parse_error(struct ql__conn *c)
{
    struct ql_http_req *r = &c->req;
    if (r->cx.arena == NULL)
        req_reset(c);
    if (r->cx.trace_id[0] == '\0') {
        hex_random(c->loop, r->cx.trace_id, 16);
        hex_random(c->loop, r->cx.request_id, 16);
    }
    if (r->start_ns == 0)
        r->start_ns = mono_ns();
    if (c->error_status == 413)
        ql__res_problem(r, QL_ETOO_LARGE);
    else if (c->error_status == 431)
        ql__res_problem(r, QL_EHEADERS_TOO_LARGE);
    else
        ql__res_problem_status(r, 400, "bad_request", "The request could not be parsed.");
    if (!c->error_status)
        c->error_status = 400;
    r->close = 1;
    complete(c);
}

/* ---- reading ----------------------------------------------------------------------------- */

static void consume(struct ql__conn *c, const char *data, size_t len, int from_pending)
{
    while (len > 0 && !c->busy && !c->closing && !c->close_after_write) {
        enum llhttp_errno e = llhttp_execute(&c->parser, data, len);
        if (e == HPE_OK) {
            len = 0;
            break;
        }
        if (e == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            size_t used = (size_t)(pos - data);
            data += used;
            len -= used;
            llhttp_resume(&c->parser);
            dispatch(c);
            continue;
        }
        parse_error(c);
        len = 0;
    }
    if (from_pending) {
        c->pending_off = len ? (size_t)(data - c->pending.data) : 0;
        if (len == 0)
            c->pending.len = 0;
    } else if (len > 0 && c->busy) {
        ql_buf_append(&c->pending, data, len);
    }
    if (c->pending.len - c->pending_off > PENDING_MAX && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    flush(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ql__conn *c = h->data;
    (void)suggested;
    buf->base = c->loop->readbuf;
    buf->len = sizeof(c->loop->readbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ql__conn *c = s->data;
    if (nread < 0) {
        if (c->busy) {
            /* The client went away mid-request: the task finishes, then we close. */
            uv_read_stop(s);
            c->reading = 0;
            c->close_after_write = 1;
        }
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->phase == PH_IDLE)
        set_deadline(c, cfg_of(c)->header_timeout_ms);
    if (c->busy || c->pending.len > c->pending_off) {
        ql_buf_append(&c->pending, buf->base, (size_t)nread);
        if (c->pending.len - c->pending_off > PENDING_MAX) {
            uv_read_stop(s);
            c->reading = 0;
        }
        return;
    }
    consume(c, buf->base, (size_t)nread, 0);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void write_cb(uv_write_t *w, int status)
{
    struct ql__conn *c = w->data;
    c->writing = 0;
    c->wbuf.len = 0;
    if (status < 0 || c->closing) {
        conn_close(c);
        return;
    }
    if (c->phase == PH_IDLE)
        set_deadline(c, cfg_of(c)->idle_timeout_ms);
    flush(c);
    resume_reading(c);
}

/* Start reading again after backpressure or a full pending buffer, once both cleared. */
static void resume_reading(struct ql__conn *c)
{
    if (c->reading || c->busy || c->closing || c->close_after_write || c->writing ||
        c->pending.len > c->pending_off)
        return;
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void flush(struct ql__conn *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out.len > 0) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c);
            return;
        }
        size_t done = n > 0 ? (size_t)n : 0;
        if (done < c->out.len) {
            /* The socket is full: hand the rest to uv_write from a buffer of its own. */
            struct ql_buf tmp = c->wbuf;
            c->wbuf = c->out;
            c->out = tmp;
            c->out.len = 0;
            ql_buf_consume(&c->wbuf, done);
            uv_buf_t wb = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, write_cb) != 0) {
                conn_close(c);
                return;
            }
            c->writing = 1;
            set_deadline(c, cfg_of(c)->write_timeout_ms);
            if (c->reading && c->wbuf.len > OUT_HIGH_WATER) {
                uv_read_stop((uv_stream_t *)&c->tcp);
                c->reading = 0;
            }
            return;
        }
        c->out.len = 0;
    }
    if (c->close_after_write && !c->busy)
        conn_close(c);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void unlink_conn(struct ql__conn *c)
{
    struct ql__loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else if (l->conns == c)
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->nconns--;
}

static void maybe_free(struct ql__conn *c)
{
    if (!c->closed || c->busy)
        return;
    if (c->counted)
        atomic_fetch_sub(&c->loop->server->nconns, 1);
    ql_arena_cleanup(&c->arena);
    ql_buf_cleanup(&c->pending);
    ql_buf_cleanup(&c->out);
    ql_buf_cleanup(&c->wbuf);
    free(c);
}

static void on_close(uv_handle_t *h)
{
    struct ql__conn *c = h->data;
    c->closed = 1;
    unlink_conn(c);
    maybe_free(c);
}

static void conn_close(struct ql__conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->reading = 0;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void ql__conn_accept(struct ql__loop *l)
{
    struct ql_http_server *s = l->server;
    struct ql__conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return; /* the pending connection stays in the backlog and is retried */
    c->loop = l;
    uv_tcp_init(&l->loop, &c->tcp);
    c->tcp.data = c;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    if (uv_accept((uv_stream_t *)&l->listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    const struct ql_config *cfg = s->env->cfg;
    ql_arena_init(&c->arena, 4096, cfg->max_body * 3 + (256 << 10));
    ql_buf_init(&c->pending, NULL);
    ql_buf_init(&c->out, NULL);
    ql_buf_init(&c->wbuf, NULL);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->counted = 1;
    if (atomic_fetch_add(&s->nconns, 1) >= cfg->max_connections) {
        static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
                                   "\"status\":503,\"detail\":\"Too many open connections.\","
                                   "\"code\":\"unavailable\"}";
        ql_buf_printf(&c->out,
                      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json"
                      "\r\nContent-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                      sizeof(body) - 1, body);
        c->close_after_write = 1;
        flush(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
    }
    c->phase = PH_IDLE;
    set_deadline(c, cfg->header_timeout_ms);
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

void ql__conn_drain_all(struct ql__loop *l, int force)
{
    for (struct ql__conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (force || (c->phase == PH_IDLE && !c->writing && !c->busy))
            conn_close(c);
        else
            c->keepalive = 0;
    }
}

void ql__conn_sweep(struct ql__loop *l, uint64_t now_ms)
{
    for (struct ql__conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing && c->deadline_ms && now_ms >= c->deadline_ms)
            conn_close(c);
    }
}

void ql__loop_run_done(struct ql__loop *l)
{
    pthread_mutex_lock(&l->done_lock);
    struct ql__task *t = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->done_lock);
    while (t) {
        struct ql__task *next = t->next;
        t->done(t);
        t = next;
    }
}
