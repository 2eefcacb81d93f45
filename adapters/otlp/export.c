/*
 * export.c - the tracer: the port's methods, which only put spans in the queue, and the
 * exporter's thread, which takes them out in batches and posts them.
 *
 * The exporter wakes every OTEL_BSP_SCHEDULE_DELAY, or sooner when a batch's worth is
 * queued (the producer that sees the queue reach a batch sets `kick` and, once per wake-up,
 * signals), or when asked to flush.  Each batch is encoded and posted with the export
 * timeout; a batch that fails is dropped and counted (it is not sent again: by then newer
 * spans are waiting, and the queue bounds what is kept).  After a failure the exporter
 * leaves the queue alone for a while (1 s, doubling up to 32 s while failures go on), so a
 * collector that is down costs no encoding and no connection attempts per batch: the queue
 * fills, and further spans are refused at once and counted.  Nothing that emits a span ever
 * waits for the collector.  The mutex is held by the exporter only to sleep and by a
 * producer only to signal a wake-up, never while exporting.
 */
#include "internal.h"

#include "buf/buf.h"
#include "clock/clock.h"
#include "err/err.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static struct ql_otlp *of(struct ql_tracer *t)
{
    return (struct ql_otlp *)t;
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- the port ------------------------------------------------------------------------------- */

static void t_emit(struct ql_tracer *self, const struct ql_trace_span *sp)
{
    struct ql_otlp *o = of(self);
    if (ql__ring_put(&o->ring, sp) != 0) {
        add(&o->dropped_full, 1);
        /* full: until the exporter takes some, spans are not even made (ql_tracer_admit) */
        atomic_store_explicit(&o->base.shedding, 1, memory_order_relaxed);
        return;
    }
    if (ql__ring_len(&o->ring) >= (uint64_t)o->cfg.batch_size &&
        atomic_load_explicit(&o->kick, memory_order_relaxed) == 0 &&
        atomic_exchange(&o->kick, 1) == 0) {
        /* the first to see a full batch wakes the exporter (a few instructions under lock) */
        pthread_mutex_lock(&o->lock);
        pthread_cond_signal(&o->cond);
        pthread_mutex_unlock(&o->lock);
    }
}

/* splitmix64's finaliser over a Weyl sequence: a bijection, so ids never repeat in 2^64. */
static uint64_t t_rand(struct ql_tracer *self)
{
    struct ql_otlp *o = of(self);
    uint64_t z =
        atomic_fetch_add_explicit(&o->counter, 0x9E3779B97F4A7C15ULL, memory_order_relaxed) +
        o->seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void t_stats(struct ql_tracer *self, struct ql_trace_stats *out)
{
    struct ql_otlp *o = of(self);
    out->exported = load(&o->exported);
    out->dropped_full = load(&o->dropped_full);
    out->dropped_failed = load(&o->dropped_failed);
    out->dropped_rejected = load(&o->dropped_rejected);
    out->export_errors = load(&o->export_errors);
    out->queued = ql__ring_len(&o->ring);
    out->capacity = o->ring.cap;
}

static void t_shed(struct ql_tracer *self)
{
    add(&of(self)->dropped_full, 1);
}

static const struct ql_tracer_ops ops = {
    .emit = t_emit, .rand = t_rand, .stats = t_stats, .shed = t_shed};

/* ---- the exporter ------------------------------------------------------------------------- */

/* Post spans[0..n): counted as exported, rejected or failed.  0 when the collector answered. */
static int export_batch(struct ql_otlp *o, struct ql_buf *body, int n)
{
    body->len = 0;
    body->failed = 0;
    /* span times are monotonic: Unix time is the wall clock's offset from it, taken now */
    int64_t offset = ql_clock_now_ms(o->clock) * 1000000 - ql_clock_mono_ns(o->clock);
    ql__otlp_encode(&o->cfg, o->batch, n, offset, body);
    char why[256] = "out of memory";
    int64_t rejected = 0;
    int rc = ql_buf_cstr(body) != NULL /* NUL-terminated too, for any sender */
                 ? o->sender.post(o->sender.ud, body->data, body->len, &rejected, why, sizeof(why))
                 : -1;
    if (rc != 0) {
        if (!o->failing)
            ql_log(o->log, QL_LOG_WARN, "trace export failed; spans are dropped until it works",
                   "endpoint", o->cfg.endpoint, "error", why, NULL);
        int shift = o->failing < 5 ? o->failing : 5;
        o->failing++;
        o->retry_ns = ql_clock_mono_ns(o->clock) + (1000LL << shift) * 1000000;
        add(&o->dropped_failed, (uint64_t)n); /* counted once the pause is set */
        add(&o->export_errors, 1);
        return -1;
    }
    if (rejected < 0)
        rejected = 0;
    if (rejected > n)
        rejected = n;
    add(&o->dropped_rejected, (uint64_t)rejected);
    add(&o->exported, (uint64_t)(n - rejected));
    if (o->failing)
        ql_log(o->log, QL_LOG_INFO, "trace export works again", "endpoint", o->cfg.endpoint, NULL);
    o->failing = 0;
    return 0;
}

/* Milliseconds the exporter waits before its next export after failures; 0: none. */
static int pause_ms(struct ql_otlp *o)
{
    if (!o->failing)
        return 0;
    int64_t left = o->retry_ns - ql_clock_mono_ns(o->clock);
    return left > 0 ? (int)(left / 1000000) + 1 : 0;
}

/*
 * Export what is queued, a batch at a time; after a failure, stop until the pause is over
 * (the queue keeps what it holds).  forced: a flush asked for everything now.  final: the
 * process is stopping; give up after the first failure or once the export timeout has
 * passed, dropping the rest.
 */
static void export_all(struct ql_otlp *o, struct ql_buf *body, int forced, int final)
{
    int64_t give_up = ql_clock_mono_ns(o->clock) + (int64_t)o->cfg.timeout_ms * 1000000;
    for (;;) {
        if (!forced && pause_ms(o) > 0)
            return;
        int n = 0;
        while (n < o->cfg.batch_size && ql__ring_take(&o->ring, &o->batch[n]))
            n++;
        if (n == 0)
            return;
        atomic_store_explicit(&o->base.shedding, 0, memory_order_relaxed); /* room again */
        if (final && (o->failing || ql_clock_mono_ns(o->clock) > give_up)) {
            add(&o->dropped_failed, (uint64_t)n);
            continue;
        }
        export_batch(o, body, n);
    }
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *exporter_main(void *arg)
{
    struct ql_otlp *o = arg;
    struct ql_buf body;
    ql_buf_init(&body, NULL);
    pthread_mutex_lock(&o->lock);
    for (;;) {
        /* while pausing after failures, a kick stays set: producers need not wake us */
        int pause = pause_ms(o);
        if (!o->stop && o->flush_asked == o->flush_done && (pause || atomic_load(&o->kick) == 0)) {
            struct timespec ts;
            deadline_after(&ts, pause ? pause : o->cfg.schedule_delay_ms);
            pthread_cond_timedwait(&o->cond, &o->lock, &ts);
        }
        int stop = o->stop;
        uint64_t asked = o->flush_asked;
        int forced = stop || asked != o->flush_done;
        if (forced || pause_ms(o) == 0)
            atomic_store(&o->kick, 0);
        pthread_mutex_unlock(&o->lock);
        export_all(o, &body, forced, stop);
        pthread_mutex_lock(&o->lock);
        o->flush_done = asked;
        pthread_cond_broadcast(&o->done);
        if (stop)
            break;
    }
    pthread_mutex_unlock(&o->lock);
    ql_buf_cleanup(&body);
    return NULL;
}

void ql__otlp_flush(struct ql_otlp *o)
{
    pthread_mutex_lock(&o->lock);
    uint64_t want = ++o->flush_asked;
    pthread_cond_signal(&o->cond);
    while (o->flush_done < want && o->started)
        pthread_cond_wait(&o->done, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static void destroy(struct ql_otlp *o)
{
    if (o->started) {
        pthread_mutex_lock(&o->lock);
        o->stop = 1;
        pthread_cond_signal(&o->cond);
        pthread_mutex_unlock(&o->lock);
        pthread_join(o->thread, NULL);
    }
    pthread_cond_destroy(&o->done);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
    if (o->sender.destroy)
        o->sender.destroy(o->sender.ud);
    ql__ring_cleanup(&o->ring);
    free(o->batch);
    free(o);
}

int ql__otlp_create_with(const struct ql_trace_config *cfg, struct ql_clock *clock,
                         struct ql_logger *log, const struct ql__otlp_sender *sender,
                         struct ql_otlp **out)
{
    *out = NULL;
    struct ql_otlp *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        if (sender->destroy)
            sender->destroy(sender->ud);
        return QL_ENOMEM;
    }
    o->base.ops = &ops;
    o->base.sampler = cfg->sampler;
    atomic_init(&o->base.shedding, 0);
    o->cfg = *cfg;
    if (o->cfg.batch_size < 1)
        o->cfg.batch_size = 1;
    if (o->cfg.queue_size < o->cfg.batch_size)
        o->cfg.queue_size = o->cfg.batch_size;
    o->clock = clock;
    o->log = log;
    o->sender = *sender;
    pthread_mutex_init(&o->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&o->done, NULL);
    atomic_init(&o->kick, 0);
    if (getrandom(&o->seed, sizeof(o->seed), 0) != (ssize_t)sizeof(o->seed))
        o->seed = (uint64_t)ql_clock_mono_ns(clock) ^ (uint64_t)(uintptr_t)o;
    o->batch = calloc((size_t)o->cfg.batch_size, sizeof(*o->batch));
    if (o->batch == NULL || ql__ring_init(&o->ring, (uint64_t)o->cfg.queue_size) != QL_OK ||
        pthread_create(&o->thread, NULL, exporter_main, o) != 0) {
        destroy(o);
        return QL_ENOMEM;
    }
    o->started = 1;
    *out = o;
    return QL_OK;
}

int ql_otlp_create(const struct ql_trace_config *cfg, struct ql_clock *clock, struct ql_logger *log,
                   struct ql_otlp **out)
{
    *out = NULL;
    struct ql__otlp_sender s;
    int rc = ql__otlp_curl_sender(cfg, &s);
    return rc ? rc : ql__otlp_create_with(cfg, clock, log, &s, out);
}

struct ql_tracer *ql_otlp_port(struct ql_otlp *o)
{
    return &o->base;
}

void ql_otlp_destroy(struct ql_otlp *o)
{
    if (o)
        destroy(o);
}
