/*
 * metrics.c - per-kind attempt statistics and the worker's HTTP endpoint: GET /metrics
 * (Prometheus text) and GET /livez, on QUILL_WORKER_LISTEN.
 */
#include "internal.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "queue/queue.h"
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10,   30};

static struct kind_stats *stats_for(struct ql_engine *e, const char *kind)
{
    for (int i = 0; i < e->nkinds; i++)
        if (strcmp(e->kinds[i].kind, kind) == 0)
            return &e->kinds[i];
    if (e->nkinds == MAX_KINDS)
        return &e->kinds[MAX_KINDS - 1]; /* overflow shares the last row */
    struct kind_stats *k = &e->kinds[e->nkinds++];
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    return k;
}

void ql__eng_observe(struct ql_engine *e, const struct run *r, const char *outcome, int64_t end_ns)
{
    struct kind_stats *k = stats_for(e, r->job.kind);
    double s = (double)(end_ns - r->started_ns) / 1e9;
    e->avg_run_ms = e->avg_run_ms * 0.9 + s * 100.0; /* weight 0.1, in ms */
    k->count++;
    k->sum_s += s;
    for (int i = 0; i < NBUCKETS; i++) {
        if (s <= bounds[i]) {
            k->buckets[i]++;
            break;
        }
    }
    if (strcmp(outcome, "succeeded") == 0)
        k->succeeded++;
    else if (strcmp(outcome, "discarded") == 0)
        k->discarded++;
    else
        k->failed++;
}

/* ---- metrics endpoint ---------------------------------------------------------------------- */

struct mconn {
    uv_tcp_t tcp;
    struct ql_engine *e;
    char buf[4096];
    size_t len;
    uv_write_t w;
    struct ql_buf out;
};

static void mconn_closed(uv_handle_t *h)
{
    struct mconn *m = h->data;
    ql_buf_cleanup(&m->out);
    free(m);
}

static void mconn_written(uv_write_t *w, int status)
{
    (void)status;
    struct mconn *m = w->data;
    uv_close((uv_handle_t *)&m->tcp, mconn_closed);
}

static void render_metrics(struct ql_engine *e, struct ql_buf *b)
{
    ql_buf_puts(b, "# HELP quill_jobs Jobs by queue and state.\n# TYPE quill_jobs gauge\n");
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
    struct ql_queue_stat *st;
    int n = 0;
    if (ql_queue_stats(cx.ports.queue, &cx, &st, &n) == QL_OK) {
        for (int i = 0; i < n; i++)
            for (int s = 0; s < QL_QUEUE_STATES; s++)
                ql_buf_printf(b, "quill_jobs{queue=\"%s\",state=\"%s\"} %lld\n", st[i].queue,
                              ql_job_states[s], (long long)st[i].counts[s]);
        ql_buf_puts(b, "# HELP quill_jobs_oldest_available_age_seconds Age of the oldest runnable "
                       "job.\n# TYPE quill_jobs_oldest_available_age_seconds gauge\n");
        int64_t now = ql__eng_now_ms(e);
        for (int i = 0; i < n; i++)
            ql_buf_printf(
                b, "quill_jobs_oldest_available_age_seconds{queue=\"%s\"} %.3f\n", st[i].queue,
                st[i].oldest_available_ms ? (double)(now - st[i].oldest_available_ms) / 1e3 : 0.0);
    }
    ql_buf_puts(b, "# HELP quill_job_attempts_total Finished attempts by kind and outcome.\n"
                   "# TYPE quill_job_attempts_total counter\n");
    for (int i = 0; i < e->nkinds; i++) {
        const struct kind_stats *k = &e->kinds[i];
        ql_buf_printf(b,
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"succeeded\"} %llu\n"
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"failed\"} %llu\n"
                      "quill_job_attempts_total{kind=\"%s\",outcome=\"discarded\"} %llu\n",
                      k->kind, (unsigned long long)k->succeeded, k->kind,
                      (unsigned long long)k->failed, k->kind, (unsigned long long)k->discarded);
    }
    ql_buf_puts(b, "# HELP quill_job_attempt_duration_seconds Time a handler ran.\n"
                   "# TYPE quill_job_attempt_duration_seconds histogram\n");
    for (int i = 0; i < e->nkinds; i++) {
        const struct kind_stats *k = &e->kinds[i];
        uint64_t cum = 0;
        for (int j = 0; j < NBUCKETS; j++) {
            cum += k->buckets[j];
            ql_buf_printf(b,
                          "quill_job_attempt_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n",
                          k->kind, bounds[j], (unsigned long long)cum);
        }
        ql_buf_printf(b,
                      "quill_job_attempt_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n"
                      "quill_job_attempt_duration_seconds_sum{kind=\"%s\"} %.6f\n"
                      "quill_job_attempt_duration_seconds_count{kind=\"%s\"} %llu\n",
                      k->kind, (unsigned long long)k->count, k->kind, k->sum_s, k->kind,
                      (unsigned long long)k->count);
    }
    ql_buf_printf(b,
                  "# HELP quill_worker_concurrency Runner threads.\n"
                  "# TYPE quill_worker_concurrency gauge\nquill_worker_concurrency %d\n"
                  "# HELP quill_worker_busy Runs in flight.\n"
                  "# TYPE quill_worker_busy gauge\nquill_worker_busy %d\n"
                  "# HELP quill_worker_leader 1 while this worker holds the leader lock.\n"
                  "# TYPE quill_worker_leader gauge\nquill_worker_leader %d\n",
                  e->nrunners, e->in_flight, e->leader);
    ql_buf_printf(b,
                  "# HELP quill_changes_consumed_total Changes of the log applied by this "
                  "worker's consumers.\n# TYPE quill_changes_consumed_total counter\n"
                  "quill_changes_consumed_total %llu\n",
                  (unsigned long long)atomic_load(&e->consumed));
    ql_trace_metrics(e->tracer, b);
    ql_arena_reset(&e->arena);
}

static void mconn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mconn *m = s->data;
    (void)buf;
    if (nread < 0 || m->len >= sizeof(m->buf) - 1) {
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
        return;
    }
    m->len += (size_t)nread;
    m->buf[m->len] = '\0';
    if (strstr(m->buf, "\r\n\r\n") == NULL)
        return;
    uv_read_stop(s);
    struct ql_buf body;
    ql_buf_init(&body, NULL);
    const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
    if (strncmp(m->buf, "GET /metrics ", 13) == 0) {
        render_metrics(m->e, &body);
    } else if (strncmp(m->buf, "GET /livez ", 11) == 0) {
        ql_buf_puts(&body, "{\"status\":\"ok\"}");
        ctype = "application/json";
    } else {
        status = "404 Not Found";
        ctype = "application/problem+json";
        ql_buf_puts(&body, "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,"
                           "\"detail\":\"No such resource.\",\"code\":\"not_found\"}");
    }
    ql_buf_init(&m->out, NULL);
    ql_buf_printf(&m->out,
                  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
                  status, ctype, body.len);
    ql_buf_append(&m->out, body.data, body.len);
    ql_buf_cleanup(&body);
    uv_buf_t out = uv_buf_init(m->out.data, (unsigned)m->out.len);
    m->w.data = m;
    if (m->out.failed || uv_write(&m->w, s, &out, 1, mconn_written) != 0)
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
}

static void mconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct mconn *m = h->data;
    (void)suggested;
    buf->base = m->buf + m->len;
    buf->len = sizeof(m->buf) - 1 - m->len;
}

static void on_metrics_conn(uv_stream_t *server, int status)
{
    struct ql_engine *e = server->data;
    if (status < 0)
        return;
    struct mconn *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return;
    m->e = e;
    uv_tcp_init(&e->loop, &m->tcp);
    m->tcp.data = m;
    if (uv_accept(server, (uv_stream_t *)&m->tcp) != 0) {
        uv_close((uv_handle_t *)&m->tcp, mconn_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&m->tcp, mconn_alloc, mconn_read);
}

int ql__eng_metrics_open(struct ql_engine *e, char *addr, size_t cap)
{
    const struct ql_engine_config *cfg = e->cfg;
    if (cfg->worker_listen_host[0] == '\0')
        return QL_OK;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(cfg->worker_listen_host, cfg->worker_listen_port, (struct sockaddr_in *)&ss) !=
            0 &&
        uv_ip6_addr(cfg->worker_listen_host, cfg->worker_listen_port, (struct sockaddr_in6 *)&ss) !=
            0)
        return QL_ECONFIG;
    uv_tcp_init(&e->loop, &e->metrics);
    e->metrics.data = e;
    if (uv_tcp_bind(&e->metrics, (struct sockaddr *)&ss, 0) != 0 ||
        uv_listen((uv_stream_t *)&e->metrics, 64, on_metrics_conn) != 0) {
        uv_close((uv_handle_t *)&e->metrics, NULL);
        return QL_EIO;
    }
    e->metrics_open = 1;
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_tcp_getsockname(&e->metrics, (struct sockaddr *)&got, &len);
    int port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                               : ((struct sockaddr_in *)&got)->sin_port);
    snprintf(addr, cap, "%s:%d", cfg->worker_listen_host, port);
    return QL_OK;
}
