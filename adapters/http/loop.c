/*
 * loop.c - one event loop of quill-api: its listener, its connections, its executor's
 * ready list, its database session's turn, its clock, metrics and access log.
 *
 * Each turn of a libuv loop polls for I/O, then runs the check handle: the ready list
 * first (responses of requests that finished during the turn, written in order), then the
 * loop session's reads of the turn, sent in one pipeline.  While the ready list is not
 * empty an idle handle keeps the next poll from sleeping, so a request that finished in a
 * timer or a wake-up is still answered in the same turn.
 */
#include "internal.h"

#include "auth/auth.h"
#include "clock/clock.h"
#include "config/config.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_MS 250

void ql__conn_settled(struct ql_http_req *r);

static struct ql__loop *of_exec(struct ql__exec *x)
{
    return (struct ql__loop *)x; /* the executor is the loop's first member */
}

int64_t ql__loop_now_ms(struct ql__loop *l)
{
    return ql_clock_mono_ns(l->server->env->clock) / 1000000;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: request and trace ids need to be unique, not secret. */
static uint64_t x_rand(struct ql__exec *x)
{
    uint64_t *s = of_exec(x)->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* ---- the executor's ops ---------------------------------------------------------------------- */

static int x_submit(struct ql__exec *x, struct ql__task *t, int grouped)
{
    struct ql__loop *l = of_exec(x);
    struct ql_http_server *s = l->server;
    t->owner = l;
    struct ql__pool *p = grouped && s->writes.nthreads > 0 ? &s->writes : &s->pool;
    return ql__pool_submit(p, t);
}

/* The loop's identity provider: verifying may fetch the provider's keys, so it refuses. */
static int refuse_verify(struct ql_idp *self, struct ql_ctx *cx, const char *token, size_t n,
                         struct ql_idp_claims *out)
{
    (void)self, (void)token, (void)n, (void)out;
    return ql_error_set(&cx->err, QL_EWOULD_BLOCK, NULL);
}

static const struct ql_idp_ops refusing_idp_ops = {.verify = refuse_verify};
static struct ql_idp refusing_idp = {&refusing_idp_ops}; /* stateless: never written */

static int x_loop_ports(struct ql__exec *x, struct ql_ports *out)
{
    struct ql__loop *l = of_exec(x);
    if (!ql__loopdb_ready(l))
        return 0;
    const struct ql_http_env *env = l->server->env;
    *out = (struct ql_ports){.store = ql_db_store(l->db),
                             .queue = ql_db_queue(l->db), /* refuses everything: it would wait */
                             .clock = env->clock,
                             .auth = env->auth,
                             .log = env->log,
                             .group = ql__loopgroup_port(l), /* submits: never sleeps */
                             .idp = env->idp ? &refusing_idp : NULL,
                             .tracer = env->tracer};
    return 1;
}

/* An active idle handle is what keeps the next poll from sleeping; it has nothing to do. */
static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void x_ready(struct ql__exec *x)
{
    struct ql__loop *l = of_exec(x);
    if (!uv_is_active((uv_handle_t *)&l->idle))
        uv_idle_start(&l->idle, on_idle);
}

static void access_log(struct ql__loop *l, struct ql_http_req *r, int64_t ns)
{
    struct ql_logger *lg = &l->log.base;
    if (!l->server->env->cfg->access_log || !ql_log_enabled(lg, QL_LOG_INFO))
        return;
    char stack[512];
    /* A stack buffer that may grow into the request's arena when a line does not fit. */
    struct ql_buf b = {stack, 0, sizeof(stack), r->cx.arena, 0};
    struct ql_jw w;
    ql_log_begin(lg, &w, &b, QL_LOG_INFO, "request");
    ql_jw_key(&w, "method");
    ql_jw_str(&w, ql__method_name(r->method));
    ql_jw_key(&w, "route");
    if (r->route >= 0)
        ql_jw_str(&w, l->exec.routes[r->route].tmpl);
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

/* An API key's request answered: its row of the request log. */
static void request_log(struct ql__loop *l, struct ql_http_req *r, int64_t ns)
{
    struct ql_request_row row = {
        .method = ql__method_name(r->method),
        .route = r->route >= 0 ? l->exec.routes[r->route].tmpl : "",
        .status = r->status,
        .duration_us = ns / 1000,
    };
    ql__meter_row(&r->adm, ql_clock_now_ms(l->server->env->clock), &row);
    ql__meter_log(l->server->meter, &l->meter_rows, &row, ql__loop_now_ms(l));
}

static void x_finished(struct ql__exec *x, struct ql_http_req *r, int64_t ns)
{
    struct ql__loop *l = of_exec(x);
    ql__metrics_observe(&l->metrics, r->route, r->status, ns);
    access_log(l, r, ns);
    if (r->adm.metered != QL__METER_NONE && l->server->meter)
        request_log(l, r, ns);
    ql__span_request(l->exec.routes, r, ns);
}

static void x_settled(struct ql__exec *x, struct ql_http_req *r)
{
    (void)x;
    ql__conn_settled(r);
}

static const struct ql__exec_ops exec_ops = {
    .submit = x_submit,
    .loop_ports = x_loop_ports,
    .ready = x_ready,
    .finished = x_finished,
    .settled = x_settled,
    .rand = x_rand,
};

/* ---- handles ----------------------------------------------------------------------------------
 */

static void update_date(struct ql__loop *l)
{
    time_t now = (time_t)(ql_clock_now_ms(l->server->env->clock) / 1000);
    if (now == l->date_sec)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    l->date_len = strftime(l->date, sizeof(l->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    l->date_sec = now;
}

static void on_check(uv_check_t *h)
{
    struct ql__loop *l = h->data;
    ql__exec_run_ready(&l->exec);
    uv_idle_stop(&l->idle);
    ql__loopdb_turn(l);
    if (l->meter_rows.n && l->server->meter)
        ql__meter_handover(l->server->meter, &l->meter_rows, ql__loop_now_ms(l), 0);
}

static void close_handles(struct ql__loop *l)
{
    ql__streams_close(l);
    uv_handle_t *hs[] = {(uv_handle_t *)&l->wake, (uv_handle_t *)&l->sweep,
                         (uv_handle_t *)&l->check, (uv_handle_t *)&l->idle};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], NULL);
}

/* While stopping: close what is idle, and end the loop once nothing is left in flight. */
static void check_stop(struct ql__loop *l)
{
    if (l->stop_deadline_ms == 0)
        return;
    int late = ql__loop_now_ms(l) >= l->stop_deadline_ms;
    ql__conn_drain_all(l, late);
    int idle = l->nconns == 0 && atomic_load(&l->exec.inflight) == 0 && l->hub.fetching == 0 &&
               l->downloads.reading == 0;
    /* late: reads still waiting on the loop's session go to the pool, which finishes them */
    if ((idle || late) && ql__loopdb_stop(l) == 0 && idle)
        close_handles(l);
}

static void on_sweep(uv_timer_t *t)
{
    struct ql__loop *l = t->data;
    update_date(l);
    ql__conn_sweep(l, ql__loop_now_ms(l));
    ql__streams_sweep(l);
    ql__downloads_sweep(l);
    ql_log_batch_flush(&l->log);
    if (l->server->meter) /* a quiet loop's rows too */
        ql__meter_handover(l->server->meter, &l->meter_rows, ql__loop_now_ms(l), 1);
    check_stop(l);
}

static void begin_stop(struct ql__loop *l)
{
    if (l->stop_deadline_ms)
        return;
    l->stop_deadline_ms = ql__loop_now_ms(l) + l->server->env->cfg->shutdown_timeout_ms;
    l->exec.stopping = 1;
    if (!uv_is_closing((uv_handle_t *)&l->listener))
        uv_close((uv_handle_t *)&l->listener, NULL);
    check_stop(l);
}

/* Pool completions (and the shutdown signal) posted from other threads. */
static void on_wake(uv_async_t *a)
{
    struct ql__loop *l = a->data;
    pthread_mutex_lock(&l->done_lock);
    struct ql__task *t = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->done_lock);
    /* Revocations first: a stream they end gets nothing of a read finished meanwhile. */
    ql__streams_wake(l);
    while (t) {
        struct ql__task *next = t->next;
        t->done(t);
        t = next;
    }
    if (atomic_load(&l->stop_flag))
        begin_stop(l);
    else
        check_stop(l);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ql__loop *l = server->data;
    if (status < 0 || l->stop_deadline_ms)
        return;
    ql__conn_accept(l);
}

void *ql__loop_main(void *arg)
{
    struct ql__loop *l = arg;
    ql__loopdb_ready(l); /* open the loop's session now rather than on the first read */
    uv_run(&l->loop, UV_RUN_DEFAULT);
    ql_log_batch_flush(&l->log);
    if (l->server->meter)
        ql__meter_handover(l->server->meter, &l->meter_rows, ql__loop_now_ms(l), 1);
    return NULL;
}

int ql__loop_init(struct ql_http_server *s, struct ql__loop *l, int index, int fd, char *msg,
                  size_t cap)
{
    const struct ql_http_env *env = s->env;
    const struct ql_http_config *cfg = env->cfg;
    ql__exec_init(&l->exec, &exec_ops, env, s, ql__http_routes, ql__http_nroutes);
    l->server = s;
    l->index = index;
    l->limits =
        (struct ql__h1_limits){cfg->max_body,        cfg->header_timeout_ms, cfg->body_timeout_ms,
                               cfg->idle_timeout_ms, cfg->write_timeout_ms,  cfg->public_https};
    if (uv_loop_init(&l->loop) != 0) {
        snprintf(msg, cap, "cannot start event loop %d", index);
        return QL_EIO;
    }
    pthread_mutex_init(&l->done_lock, NULL);
    ql__streams_init(l);
    ql_log_batch_init(&l->log, env->log);
    uv_tcp_init(&l->loop, &l->listener);
    l->listener.data = l;
    if (uv_tcp_open(&l->listener, fd) != 0) {
        close(fd); /* not the handle's yet */
        goto fail;
    }
    if (uv_listen((uv_stream_t *)&l->listener, 1024, on_connection) != 0)
        goto fail;
    uv_async_init(&l->loop, &l->wake, on_wake);
    l->wake.data = l;
    uv_timer_init(&l->loop, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_idle_init(&l->loop, &l->idle);
    uv_check_init(&l->loop, &l->check);
    l->check.data = l;
    uv_check_start(&l->check, on_check);
    if (ql__metrics_init(&l->metrics) != QL_OK)
        goto fail;
    uv_random(NULL, NULL, l->rng, sizeof(l->rng), 0, NULL);
    l->rng[0] |= 1;
    l->date_sec = -1;
    update_date(l);
    ql__loopdb_init(l);
    return QL_OK;
fail:
    ql__loop_cleanup(l);
    snprintf(msg, cap, "cannot start event loop %d", index);
    return QL_EIO;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void ql__loop_cleanup(struct ql__loop *l)
{
    uv_walk(&l->loop, close_walk, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
    ql__loopdb_destroy(l);
    ql_log_batch_cleanup(&l->log);
    ql__metrics_cleanup(&l->metrics);
    ql__streams_cleanup(l);
    pthread_mutex_destroy(&l->done_lock);
}
