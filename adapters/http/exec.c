/*
 * exec.c - the request executor: one way to run a request.
 *
 * A request comes from its connection complete (h1.c).  The executor gives it its trace
 * ids, routes it, checks what every route of that kind needs (a JSON content type), and
 * runs its handler in one of three places:
 *   - on the loop, at once, for routes that never wait (/livez, /metrics);
 *   - on the loop with the loop's own ports, for routes marked QL_ROUTE_LOOP: a port that
 *     would wait refuses (QL_EWOULD_BLOCK) and the whole request runs again on the pool, so
 *     the loop is an optimisation that can only hand work back;
 *   - on a pool thread, with that thread's ports, for everything else.
 * Its state (enum ql__req_state in req.h) says which; nothing else does.
 *
 * A request is never completed inside the call that started it: a finished request joins
 * its loop's ready list, and the loop completes the list after the turn's I/O
 * (ql__exec_run_ready), writing each response in order.  So a connection is never
 * re-entered from a handler, and a pipelined burst is answered without recursion.
 *
 * Streams are a state too: a handler that begins one is completed by sending the head of a
 * chunked response, and stays in flight (STREAM) until it ends.
 */
#include "cors.h"
#include "internal.h"

#include "clock/clock.h"
#include "err/err.h"
#include "trace/trace.h"

#include <string.h>
#include <strings.h>

/* ---- trace ids ------------------------------------------------------------------------------ */

static void hex_random(struct ql__exec *x, char *out, int nbytes)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < nbytes; i += 8) {
        uint64_t r = x->ops->rand(x);
        for (int k = 0; k < 8 && i + k < nbytes; k++) {
            out[2 * (i + k)] = hex[(r >> (8 * k + 4)) & 15];
            out[2 * (i + k) + 1] = hex[(r >> (8 * k)) & 15];
        }
    }
    out[2 * nbytes] = '\0';
}

/*
 * Continue a valid W3C traceparent or start a trace, and decide whether the request's
 * spans are recorded (the tracer's sampler).  Without a tracer the request records nothing
 * and hands the caller's context on as it came (its span id is the caller's), as a W3C
 * participant that does not trace does.
 */
static void trace_ids(struct ql__exec *x, struct ql_http_req *r)
{
    struct ql_tracer *t = x->env->tracer;
    const struct ql_span *h = ql__req_header(r, "traceparent");
    struct ql_traceparent tp;
    int has = h && ql_traceparent_parse(h->p, h->n, &tp) == QL_OK;
    if (has)
        memcpy(r->cx.trace_id, tp.trace_id, sizeof(tp.trace_id));
    else
        hex_random(x, r->cx.trace_id, 16);
    if (has && t == NULL)
        memcpy(r->cx.span_id, tp.span_id, sizeof(tp.span_id));
    else
        hex_random(x, r->cx.span_id, 8);
    if (has && t != NULL)
        memcpy(r->cx.parent_span_id, tp.span_id, sizeof(tp.span_id));
    int sampled = t ? ql_sampler_decide(&t->sampler, r->cx.trace_id, has ? tp.flags : -1)
                    : !has || (tp.flags & QL_TRACE_SAMPLED);
    r->cx.trace_flags = sampled ? QL_TRACE_SAMPLED : 0;
    r->cx.ports.tracer = t;
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
        hex_random(x, r->cx.request_id, 16);
    }
}

/* ---- completion ----------------------------------------------------------------------------- */

/* The request is answered: it waits on the ready list until the loop completes it. */
static void ready(struct ql_http_req *r)
{
    struct ql__exec *x = r->exec;
    r->state = QL__REQ_DONE;
    r->ready = NULL;
    if (x->ready_tail)
        x->ready_tail->ready = r;
    else
        x->ready_head = r;
    x->ready_tail = r;
    x->ops->ready(x);
}

static void complete(struct ql__exec *x, struct ql_http_req *r)
{
    if (r->status == 0)
        ql__res_problem(r, QL_EINTERNAL); /* a handler that answered nothing */
    ql__cors_headers(r);
    if (ql_buf_ok(&r->res_body) || ql_buf_ok(&r->res_headers)) {
        r->res_body.failed = r->res_headers.failed = 0;
        r->res_body.len = r->res_headers.len = 0;
        ql_error_set(&r->cx.err, QL_ENOMEM, NULL);
        ql__res_problem(r, QL_ENOMEM);
    }
    if (x->stopping)
        ql__h1_no_more(r->conn);
    ql__req_release(r);
    x->ops->finished(x, r, ql_clock_mono_ns(x->env->clock) - r->start_ns);
    if (r->streaming && r->status == 200 && r->conn->state == QL__H1_BUSY) {
        r->state = QL__REQ_STREAM;
        ql__h1_stream_open(r->conn);
        if (r->stream_open)
            r->stream_open(r, r->stream_ud); /* may end it at once */
        if (r->method == QL_HTTP_HEAD)
            ql__req_stream_end(r); /* HEAD finds GET's routes: its head is all it gets */
        return;                    /* in flight until it ends */
    }
    if (r->streaming && r->stream_close)
        r->stream_close(r, r->stream_ud); /* its connection went first, or it became an error */
    atomic_fetch_sub_explicit(&x->inflight, 1, memory_order_relaxed);
    r->state = QL__REQ_IDLE;
    ql__h1_respond(r->conn); /* may hand over the next pipelined request at once */
    x->ops->settled(x, r);
}

void ql__exec_run_ready(struct ql__exec *x)
{
    while (x->ready_head) {
        struct ql_http_req *r = x->ready_head;
        x->ready_head = r->ready;
        if (x->ready_head == NULL)
            x->ready_tail = NULL;
        r->ready = NULL;
        complete(x, r);
    }
}

/* ---- running -------------------------------------------------------------------------------- */

static void pool_run(struct ql__task *t, struct ql_ports *ports)
{
    struct ql_http_req *r = (struct ql_http_req *)((char *)t - offsetof(struct ql_http_req, task));
    r->cx.ports = *ports;
    r->exec->routes[r->route].fn(r);
    ql_ctx_run_deferred(&r->cx); /* continuations of calls answered at once */
}

static void pool_done(struct ql__task *t)
{
    struct ql_http_req *r = (struct ql_http_req *)((char *)t - offsetof(struct ql_http_req, task));
    ql__replica_after(r->exec, r);
    ready(r);
}

/* Queue the request on its pool; a full pool answers 503 at once. */
static void to_pool(struct ql__exec *x, struct ql_http_req *r)
{
    r->state = QL__REQ_POOL;
    r->task = (struct ql__task){NULL, pool_run, pool_done, NULL}; /* submit sets the owner */
    ql__replica_before(x, r);
    int grouped = (x->routes[r->route].flags & QL_ROUTE_GROUP) != 0;
    if (x->ops->submit(x, &r->task, grouped) == QL_OK)
        return;
    ql__res_header(r, "Retry-After", "1");
    ql_error_set(&r->cx.err, QL_EUNAVAILABLE, "The server is busy; try again shortly.");
    ql__res_problem(r, QL_EUNAVAILABLE);
    ready(r);
}

/* Forget what the loop's attempt wrote, so the pool answers as if it had come first. */
static void reset_response(struct ql_http_req *r)
{
    ql__req_release(r); /* a body it parsed: the pool parses it again */
    r->status = 0;
    r->content_type = NULL;
    r->no_store = 0;
    r->close = 0;
    r->res_headers.len = 0;
    r->res_body.len = 0;
    r->body_ref = (struct ql_span){NULL, 0};
    r->res_headers.failed = r->res_body.failed = 0;
    r->cx.principal = NULL;
    r->cx.deferred = NULL;
    r->streaming = 0;
    r->stream_open = r->stream_close = r->stream_drain = NULL;
    ql_error_clear(&r->cx.err);
}

/* After the loop's attempt returned or resumed: answered, waiting, or the pool's turn. */
static void after_loop(struct ql__exec *x, struct ql_http_req *r)
{
    int write = r->method != QL_HTTP_GET && r->method != QL_HTTP_HEAD;
    if (r->state == QL__REQ_REFUSED) {
        atomic_fetch_add_explicit(write ? &x->loop_write_misses : &x->loop_misses, 1,
                                  memory_order_relaxed);
        reset_response(r);
        to_pool(x, r);
    } else if (r->status != 0) {
        atomic_fetch_add_explicit(write ? &x->loop_writes : &x->loop_reads, 1,
                                  memory_order_relaxed);
        ready(r);
    } else if (r->state != QL__REQ_WAIT) {
        ready(r); /* no answer and nothing pending: complete() answers 500 */
    }
}

static void run_on_loop(struct ql__exec *x, struct ql_http_req *r, const struct ql_ports *ports)
{
    r->cx.ports = *ports;
    r->state = QL__REQ_LOOP;
    r->in_handler = 1;
    x->routes[r->route].fn(r);
    ql_ctx_run_deferred(&r->cx);
    r->in_handler = 0;
    after_loop(x, r);
}

static int is_json(const struct ql_span *ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (ct == NULL || ct->n < n || strncasecmp(ct->p, want, n) != 0)
        return 0;
    return ct->n == n || ct->p[n] == ';' || ct->p[n] == ' ';
}

/* Route r; 0 with r->route set, or -1 after answering (400, 404, 405, 415). */
static int route(struct ql__exec *x, struct ql_http_req *r)
{
    if (r->path.n == 0 || r->path.p[0] != '/') {
        /* A request meant for a proxy, or for the server as a whole: as unparsable as any. */
        r->close = 1;
        ql__res_problem_status(r, 400, "malformed_request", "The request target must be a path.");
        return -1;
    }
    unsigned allow;
    r->route = ql__router_match(x->routes, x->nroutes, r->method, r->path.p, r->path.n, r->params,
                                &r->nparams, &allow);
    if (r->route < 0) {
        if (allow) {
            struct ql_buf a;
            ql_buf_init(&a, r->cx.arena);
            ql__method_list(allow, &a);
            ql__res_header(r, "Allow", ql_buf_cstr(&a) ? a.data : "GET");
            ql__res_problem(r, QL_EMETHOD_NOT_ALLOWED);
        } else {
            ql__res_problem(r, QL_ENOT_FOUND);
        }
        return -1;
    }
    const struct ql_http_route *rt = &x->routes[r->route];
    if ((rt->flags & QL_ROUTE_BODY) && !is_json(ql__req_header(r, "content-type")) &&
        (r->body.n > 0 || r->method != QL_HTTP_DELETE)) {
        ql__res_problem(r, QL_EMEDIA_TYPE);
        return -1;
    }
    return 0;
}

/* A request h1 could not parse: answer with the problem for its status and close. */
static void parse_error(struct ql_http_req *r, int status)
{
    r->close = 1;
    if (status == 413)
        ql__res_problem(r, QL_ETOO_LARGE);
    else if (status == 431)
        ql__res_problem(r, QL_EHEADERS_TOO_LARGE);
    else if (status == 501)
        ql__res_problem_status(r, 501, "not_implemented",
                               "Transfer codings other than chunked are not supported.");
    else
        ql__res_problem_status(r, 400, "malformed_request",
                               "The request is malformed or ambiguous (RFC 9112).");
}

void ql__exec_request(struct ql__exec *x, struct ql_http_req *r)
{
    r->exec = x;
    r->start_ns = ql_clock_mono_ns(x->env->clock);
    atomic_fetch_add_explicit(&x->inflight, 1, memory_order_relaxed);
    trace_ids(x, r);
    r->state = QL__REQ_LOOP;
    if (r->conn->error_status) {
        parse_error(r, r->conn->error_status);
        ready(r);
        return;
    }
    if (ql__cors_preflight(x, r) || route(x, r) != 0) {
        ready(r);
        return;
    }
    const struct ql_http_route *rt = &x->routes[r->route];
    struct ql_ports ports;
    if (!(rt->flags & QL_ROUTE_POOL)) {
        r->cx.ports.clock = x->env->clock;
        r->cx.ports.auth = x->env->auth;
        r->cx.ports.log = x->env->log;
        r->cx.ports.tracer = x->env->tracer;
        rt->fn(r);
        ready(r);
    } else if ((rt->flags & QL_ROUTE_LOOP) && x->ops->loop_ports(x, &ports)) {
        run_on_loop(x, r, &ports);
    } else {
        to_pool(x, r);
    }
}

void ql__exec_init(struct ql__exec *x, const struct ql__exec_ops *ops,
                   const struct ql_http_env *env, struct ql_http_server *server,
                   const struct ql_http_route *routes, int nroutes)
{
    memset(x, 0, sizeof(*x));
    x->ops = ops;
    x->env = env;
    x->server = server;
    x->routes = routes;
    x->nroutes = nroutes;
    atomic_init(&x->inflight, 0);
    atomic_init(&x->loop_reads, 0);
    atomic_init(&x->loop_misses, 0);
    atomic_init(&x->loop_writes, 0);
    atomic_init(&x->loop_write_misses, 0);
}

/* ---- what handlers call -------------------------------------------------------------------- */

void ql__req_wait(struct ql_http_req *r)
{
    if (r->state == QL__REQ_LOOP)
        r->state = QL__REQ_WAIT;
}

void ql__req_resume(struct ql_http_req *r)
{
    /*
     * On a pool thread the continuation runs while the task does (the task's end completes
     * the request); on the loop it runs later, from the loop's session, after the handler --
     * or at once, inside the handler, when the call was refused or answered there: then the
     * handler's end completes it (once).
     */
    if (!r->in_handler && (r->state == QL__REQ_WAIT || r->state == QL__REQ_REFUSED))
        after_loop(r->exec, r);
}

int ql__req_on_loop(const struct ql_http_req *r)
{
    return r->state == QL__REQ_LOOP;
}

/* respond.c: a loop port would have waited.  1 when that sends the request to the pool. */
int ql__req_refuse(struct ql_http_req *r)
{
    if (r->state != QL__REQ_LOOP && r->state != QL__REQ_WAIT)
        return 0;
    r->state = QL__REQ_REFUSED;
    return 1;
}

/* ---- streams -------------------------------------------------------------------------------- */

int ql__req_stream_begin(struct ql_http_req *r, ql__stream_fn on_open, ql__stream_fn on_close,
                         void *ud)
{
    if (r->status == 0)
        r->status = 200;
    r->stream_open = on_open;
    r->stream_close = on_close;
    r->stream_drain = NULL;
    r->stream_ud = ud;
    r->streaming = 1;
    return QL_OK;
}

int ql__req_stream_write(struct ql_http_req *r, const char *data, size_t n)
{
    if (r->state != QL__REQ_STREAM || r->conn->state != QL__H1_STREAM)
        return -1;
    return ql__h1_stream_write(r->conn, data, n, QL__STREAM_OUT_MAX);
}

void ql__req_stream_on_drain(struct ql_http_req *r, ql__stream_fn on_drain)
{
    r->stream_drain = on_drain;
}

size_t ql__req_stream_unsent(const struct ql_http_req *r)
{
    return r->conn->out.len + r->conn->in_flight;
}

void ql__exec_stream_drained(struct ql_http_req *r)
{
    if (r->state == QL__REQ_STREAM && r->stream_drain)
        r->stream_drain(r, r->stream_ud);
}

/* End the stream: its owner hears of it once, the connection goes on or closes. */
static void stream_finish(struct ql_http_req *r, int abort)
{
    struct ql__exec *x = r->exec;
    if (r->state != QL__REQ_STREAM)
        return;
    r->state = QL__REQ_IDLE;
    r->streaming = 0;
    atomic_fetch_sub_explicit(&x->inflight, 1, memory_order_relaxed);
    if (r->stream_close) {
        ql__stream_fn fn = r->stream_close;
        r->stream_close = NULL;
        fn(r, r->stream_ud);
    }
    if (abort)
        ql__h1_shutdown(r->conn);
    else
        ql__h1_stream_close(r->conn);
    x->ops->settled(x, r);
}

void ql__req_stream_end(struct ql_http_req *r)
{
    stream_finish(r, 0);
}

void ql__exec_stream_abort(struct ql_http_req *r)
{
    stream_finish(r, 1);
}
