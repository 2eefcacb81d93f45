/*
 * metrics.c - request counters and latency histograms per route and status, kept per
 * loop so the hot path never contends: each cell is written by its own loop only (a
 * relaxed load and store, no locked instruction) and summed across loops when /metrics is
 * scraped.  Cells are calloc'ed; pages of routes never hit are never touched.
 */
#include "internal.h"

#include "config/config.h"
#include "db/db.h"
#include "group/group.h"

#include "err/err.h"
#include "trace/trace.h"

#include <stdlib.h>

static const int statuses[QL_METRIC_STATUSES] = {
    200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 408, 409,
    412, 413, 415, 422, 429, 431, 500, 502, 503, 504, 101, 0, /* 0: any other status */
};

static const double bounds[QL_METRIC_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};

static int status_index(int status)
{
    for (int i = 0; i < QL_METRIC_STATUSES - 1; i++)
        if (statuses[i] == status)
            return i;
    return QL_METRIC_STATUSES - 1;
}

int ql__metrics_init(struct ql__metrics *m)
{
    m->cells = calloc((size_t)(ql__http_nroutes + 1) * QL_METRIC_STATUSES, sizeof(*m->cells));
    return m->cells ? QL_OK : QL_ENOMEM;
}

void ql__metrics_cleanup(struct ql__metrics *m)
{
    free(m->cells);
    m->cells = NULL;
}

static void bump(_Atomic uint64_t *v, uint64_t by)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

void ql__metrics_observe(struct ql__metrics *m, int route, int status, int64_t ns)
{
    if (route < 0 || route >= ql__http_nroutes)
        route = ql__http_nroutes;
    struct ql__metrics_cell *c = &m->cells[route * QL_METRIC_STATUSES + status_index(status)];
    bump(&c->count, 1);
    bump(&c->sum_us, ns > 0 ? (uint64_t)ns / 1000 : 0);
    double s = (double)ns / 1e9;
    for (int i = 0; i < QL_METRIC_BUCKETS; i++) {
        if (s <= bounds[i]) {
            bump(&c->buckets[i], 1);
            break;
        }
    }
}

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void labels(struct ql_buf *b, int route, int status)
{
    const char *tmpl = route < ql__http_nroutes ? ql__http_routes[route].tmpl : "unmatched";
    const char *method =
        route < ql__http_nroutes ? ql__method_name(ql__http_routes[route].method) : "any";
    ql_buf_printf(b, "route=\"%s\",method=\"%s\",status=\"", tmpl, method);
    if (statuses[status])
        ql_buf_i64(b, statuses[status]);
    else
        ql_buf_puts(b, "other");
    ql_buf_putc(b, '"');
}

static void render_requests(struct ql_http_server *s, struct ql_buf *b)
{
    int ncells = (ql__http_nroutes + 1) * QL_METRIC_STATUSES;
    ql_buf_puts(b, "# HELP quill_http_requests_total HTTP requests answered, by route, method and "
                   "status.\n# TYPE quill_http_requests_total counter\n");
    struct ql_buf hist;
    ql_buf_init(&hist, NULL);
    ql_buf_puts(&hist, "# HELP quill_http_request_duration_seconds Time from the first byte of a "
                       "request to its response being queued.\n"
                       "# TYPE quill_http_request_duration_seconds histogram\n");
    for (int i = 0; i < ncells; i++) {
        uint64_t count = 0, sum_us = 0, bk[QL_METRIC_BUCKETS] = {0};
        for (int l = 0; l < s->nloops; l++) {
            const struct ql__metrics_cell *c = &s->loops[l].metrics.cells[i];
            count += load(&c->count);
            sum_us += load(&c->sum_us);
            for (int k = 0; k < QL_METRIC_BUCKETS; k++)
                bk[k] += load(&c->buckets[k]);
        }
        if (count == 0)
            continue;
        int route = i / QL_METRIC_STATUSES, status = i % QL_METRIC_STATUSES;
        ql_buf_puts(b, "quill_http_requests_total{");
        labels(b, route, status);
        ql_buf_printf(b, "} %llu\n", (unsigned long long)count);
        uint64_t cum = 0;
        for (int k = 0; k < QL_METRIC_BUCKETS; k++) {
            cum += bk[k];
            ql_buf_puts(&hist, "quill_http_request_duration_seconds_bucket{");
            labels(&hist, route, status);
            ql_buf_printf(&hist, ",le=\"%g\"} %llu\n", bounds[k], (unsigned long long)cum);
        }
        ql_buf_puts(&hist, "quill_http_request_duration_seconds_bucket{");
        labels(&hist, route, status);
        ql_buf_printf(&hist, ",le=\"+Inf\"} %llu\n", (unsigned long long)count);
        ql_buf_puts(&hist, "quill_http_request_duration_seconds_sum{");
        labels(&hist, route, status);
        ql_buf_printf(&hist, "} %.6f\n", (double)sum_us / 1e6);
        ql_buf_puts(&hist, "quill_http_request_duration_seconds_count{");
        labels(&hist, route, status);
        ql_buf_printf(&hist, "} %llu\n", (unsigned long long)count);
    }
    if (hist.failed)
        b->failed = 1;
    else
        ql_buf_append(b, hist.data, hist.len);
    ql_buf_cleanup(&hist);
}

static void gauge(struct ql_buf *b, const char *name, const char *type, const char *help, double v)
{
    ql_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void ql__metrics_render(struct ql_http_server *s, struct ql_buf *b)
{
    render_requests(s, b);
    int inflight = 0, conns = atomic_load(&s->nconns);
    uint64_t loop_reads = 0, loop_misses = 0, loop_writes = 0, loop_write_misses = 0;
    for (int l = 0; l < s->nloops; l++) {
        struct ql__exec *x = &s->loops[l].exec;
        inflight += atomic_load_explicit(&x->inflight, memory_order_relaxed);
        loop_reads += load(&x->loop_reads);
        loop_misses += load(&x->loop_misses);
        loop_writes += load(&x->loop_writes);
        loop_write_misses += load(&x->loop_write_misses);
    }
    pthread_mutex_lock(&s->pool.lock);
    int queued = s->pool.queued;
    pthread_mutex_unlock(&s->pool.lock);
    const struct ql_http_env *env = s->env;
    struct ql_db_stats db = ql_db_stats(env->db);
    gauge(b, "quill_http_requests_in_flight", "gauge", "Requests being handled now.", inflight);
    gauge(b, "quill_http_connections", "gauge", "Open client connections.", conns);
    gauge(b, "quill_db_pool_size", "gauge", "Threads (database sessions) in the pool.",
          s->pool.nthreads);
    gauge(b, "quill_db_pool_busy", "gauge", "Pool threads running a task now.",
          atomic_load(&s->pool.busy));
    gauge(b, "quill_db_pool_queued", "gauge", "Tasks waiting for a pool thread.", queued);
    gauge(b, "quill_db_errors_total", "counter", "Database errors seen by all sessions.",
          (double)db.errors);
    gauge(b, "quill_db_statement_timeouts_total", "counter",
          "Statements cancelled by the statement timeout (answered 503).", (double)db.timeouts);
    if (env->cfg->sync_cache_mb > 0) {
        gauge(b, "quill_sync_page_cache_hits_total", "counter",
              "Delta pages answered from memory: read before, and their team unchanged since.",
              (double)db.sync_page_hits);
        gauge(b, "quill_sync_page_cache_misses_total", "counter",
              "Delta pages read from the database: not kept, or their team changed.",
              (double)db.sync_page_misses);
        gauge(b, "quill_sync_page_cache_bytes", "gauge",
              "Memory the kept delta pages take (at most QUILL_SYNC_CACHE_MB).",
              (double)db.sync_page_bytes);
    }
    if (s->replica) {
        gauge(b, "quill_db_replica_reads_total", "counter",
              "Statements of read routes answered by the read replica.", (double)db.replica_reads);
        gauge(b, "quill_db_replica_fallbacks_total", "counter",
              "Reads meant for the replica that the primary answered (replica down, behind the "
              "caller's Quill-Min-Lsn, or failing).",
              (double)db.replica_fallbacks);
        gauge(b, "quill_db_reads_after_write_total", "counter",
              "Read requests sent to the primary because their caller wrote lately.",
              (double)atomic_load(&s->reads_after_write));
    }
    if (env->cfg->loop_reads) {
        gauge(b, "quill_loop_reads_total", "counter",
              "Requests answered with an event loop's own database session.", (double)loop_reads);
        gauge(b, "quill_loop_reads_to_pool_total", "counter",
              "Requests that session handed to the pool (principal not cached, "
              "session down or busy).",
              (double)loop_misses);
        if (s->loops && s->loops[0].group.inner) {
            gauge(b, "quill_loop_writes_total", "counter",
                  "Writes an event loop submitted to the group commit itself, not through a "
                  "write pool thread.",
                  (double)loop_writes);
            gauge(b, "quill_loop_writes_to_pool_total", "counter",
                  "Writes the loop handed to the write pool (an Idempotency-Key, a promptId "
                  "to check, a principal not cached, a group that did not commit).",
                  (double)loop_write_misses);
        }
    }
    if (env->group) {
        struct ql_group_stats st;
        ql_group_stats(env->group, &st);
        uint64_t batches = st.batches, items = st.items;
        int waiting = st.waiting;
        gauge(b, "quill_group_commit_batches_total", "counter",
              "Transactions written for groups of concurrent writes.", (double)batches);
        gauge(b, "quill_group_commit_items_total", "counter",
              "Writes in those transactions (items / batches: the mean group).", (double)items);
        gauge(b, "quill_group_commit_waiting", "gauge", "Writes waiting for a group now.", waiting);
    }
    uint64_t events = 0, topic_bytes = 0;
    for (int i = 0; i < s->nloops; i++) {
        events += atomic_load_explicit(&s->loops[i].hub.events, memory_order_relaxed);
        topic_bytes += atomic_load_explicit(&s->loops[i].hub.topic_bytes, memory_order_relaxed);
    }
    gauge(b, "quill_sse_streams", "gauge", "Open live sync streams.", atomic_load(&s->nstreams));
    gauge(b, "quill_sse_events_total", "counter", "Changes sent on live sync streams.",
          (double)events);
    gauge(b, "quill_sse_topic_bytes", "gauge",
          "Memory the live streams' topics hold between their reads of the log.",
          (double)topic_bytes);
    gauge(b, "quill_process_start_time_seconds", "gauge", "Start time of the process.",
          (double)s->started_ms / 1000.0);
    ql_trace_metrics(env->tracer, b);
}
