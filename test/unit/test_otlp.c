/*
 * Unit tests of adapters/otlp: the OTLP JSON encoding (read back with cJSON), the bounded
 * queue (in order, full, across laps, and under threads that race), and the tracer with fake
 * senders in place of the collector: a collector that hangs (spans beyond the queue are
 * dropped and counted, and emitting never waits), one that fails, one that rejects part of
 * a batch.  Nothing here measures time: a test that waited on the collector would hang, and
 * meson's timeout would fail it.
 */
#include "fakes/fakes.h"
#include "otlp/internal.h"
#include "test.h"

#include "buf/buf.h"
#include "err/err.h"

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct ql_trace_config config(int queue, int batch)
{
    struct ql_trace_config c;
    memset(&c, 0, sizeof(c));
    c.enabled = 1;
    snprintf(c.endpoint, sizeof(c.endpoint), "http://127.0.0.1:1/v1/traces");
    snprintf(c.service, sizeof(c.service), "quill-test");
    snprintf(c.version, sizeof(c.version), "9.9.9");
    c.queue_size = queue;
    c.batch_size = batch;
    c.schedule_delay_ms = 3600000; /* never by the timer: only batches and flushes */
    c.timeout_ms = 1000;
    char why[160];
    ql_sampler_parse("always_on", NULL, &c.sampler, why, sizeof(why));
    return c;
}

static void make_span(struct ql_trace_span *sp, int i)
{
    char id[17];
    snprintf(id, sizeof(id), "%016x", i + 1);
    ql_span_init(sp, "4bf92f3577b34da6a3ce929d0e0e4736", id, NULL, QL_SPAN_INTERNAL, "s", 1,
                 (int64_t)i);
    sp->end_ns = i + 10;
}

/* ---- encoding ------------------------------------------------------------------------------- */

static const cJSON *at(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, "."))
        o = (*k >= '0' && *k <= '9') ? cJSON_GetArrayItem(o, atoi(k))
                                     : cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_encoding_is_the_otlp_json_mapping(void)
{
    struct ql_trace_config c = config(8, 8);
    c.nresource = 1;
    snprintf(c.resource_key[0], sizeof(c.resource_key[0]), "deployment.environment");
    snprintf(c.resource_value[0], sizeof(c.resource_value[0]), "test");
    struct ql_trace_span sp[2];
    ql_span_init(&sp[0], "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "", QL_SPAN_SERVER,
                 "GET /v1/teams/{teamId}", 22, 1000);
    sp[0].end_ns = 3500;
    ql_span_cstr(&sp[0], "http.route", "/v1/teams/{teamId}");
    ql_span_int(&sp[0], "http.response.status_code", 200);
    ql_span_bool(&sp[0], "quill.db.pipelined", 1);
    ql_span_cstr(&sp[0], "quote", "a \"b\"\n");
    ql_span_init(&sp[1], "4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331", "00f067aa0ba902b7",
                 QL_SPAN_CLIENT, "BEGIN entry_insert", 18, 2000);
    sp[1].end_ns = 3000;
    ql_span_error(&sp[1], "unavailable");
    sp[1].dropped = 2;
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    ql__otlp_encode(&c, sp, 2, 1700000000000000000LL, &b);
    ASSERT_INT_EQ(ql_buf_ok(&b), QL_OK);
    cJSON *doc = cJSON_Parse(ql_buf_cstr(&b));
    ASSERT_NOT_NULL(doc);
    const cJSON *rs = at(doc, "resourceSpans.0");
    ASSERT_INT_EQ(cJSON_GetArraySize(at(doc, "resourceSpans")), 1);
    ASSERT_STR_EQ(str_at(rs, "resource.attributes.0.key"), "service.name");
    ASSERT_STR_EQ(str_at(rs, "resource.attributes.0.value.stringValue"), "quill-test");
    ASSERT_STR_EQ(str_at(rs, "resource.attributes.1.key"), "service.version");
    ASSERT_STR_EQ(str_at(rs, "resource.attributes.4.key"), "deployment.environment");
    ASSERT_STR_EQ(str_at(rs, "scopeSpans.0.scope.name"), "quill");
    ASSERT_STR_EQ(str_at(rs, "scopeSpans.0.scope.version"), "9.9.9");
    const cJSON *s0 = at(rs, "scopeSpans.0.spans.0"), *s1 = at(rs, "scopeSpans.0.spans.1");
    ASSERT_STR_EQ(str_at(s0, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_STR_EQ(str_at(s0, "spanId"), "00f067aa0ba902b7");
    ASSERT_NULL(at(s0, "parentSpanId")); /* a root */
    ASSERT_STR_EQ(str_at(s0, "name"), "GET /v1/teams/{teamId}");
    ASSERT_INT_EQ(at(s0, "kind")->valueint, 2);
    /* 64-bit integers are strings in proto3 JSON; times are Unix nanoseconds */
    ASSERT_STR_EQ(str_at(s0, "startTimeUnixNano"), "1700000000000001000");
    ASSERT_STR_EQ(str_at(s0, "endTimeUnixNano"), "1700000000000003500");
    ASSERT_STR_EQ(str_at(s0, "attributes.0.key"), "http.route");
    ASSERT_STR_EQ(str_at(s0, "attributes.0.value.stringValue"), "/v1/teams/{teamId}");
    ASSERT_STR_EQ(str_at(s0, "attributes.1.value.intValue"), "200");
    ASSERT_TRUE(cJSON_IsTrue(at(s0, "attributes.2.value.boolValue")));
    ASSERT_STR_EQ(str_at(s0, "attributes.3.value.stringValue"), "a \"b\"\n");
    ASSERT_TRUE(cJSON_IsObject(at(s0, "status")));
    ASSERT_NULL(at(s0, "status.code")); /* unset */
    ASSERT_NULL(at(s0, "droppedAttributesCount"));
    ASSERT_STR_EQ(str_at(s1, "parentSpanId"), "00f067aa0ba902b7");
    ASSERT_INT_EQ(at(s1, "kind")->valueint, 3);
    ASSERT_INT_EQ(at(s1, "status.code")->valueint, 2);
    ASSERT_STR_EQ(str_at(s1, "status.message"), "unavailable");
    ASSERT_INT_EQ(at(s1, "droppedAttributesCount")->valueint, 2);
    ASSERT_INT_EQ(cJSON_GetArraySize(at(s1, "attributes")), 0);
    cJSON_Delete(doc);
    ql_buf_cleanup(&b);
}

/* ---- the queue ------------------------------------------------------------------------------ */

static void test_ring_keeps_order_refuses_when_full_and_laps(void)
{
    struct ql__ring r;
    ASSERT_INT_EQ(ql__ring_init(&r, 3), QL_OK);
    struct ql_trace_span sp, out;
    for (int lap = 0; lap < 4; lap++) {
        for (int i = 0; i < 3; i++) {
            make_span(&sp, lap * 10 + i);
            ASSERT_INT_EQ(ql__ring_put(&r, &sp), 0);
        }
        make_span(&sp, 99);
        ASSERT_INT_EQ(ql__ring_put(&r, &sp), -1); /* full */
        ASSERT_INT_EQ((int)ql__ring_len(&r), 3);
        for (int i = 0; i < 3; i++) {
            ASSERT_INT_EQ(ql__ring_take(&r, &out), 1);
            ASSERT_INT_EQ(out.start_ns, lap * 10 + i);
        }
        ASSERT_INT_EQ(ql__ring_take(&r, &out), 0);
        ASSERT_INT_EQ((int)ql__ring_len(&r), 0);
    }
    ql__ring_cleanup(&r);
}

#define RACERS 4
#define PER_RACER 20000

struct race {
    struct ql__ring *r;
    int index;
    int refused;
    atomic_int *finished;
};

static void *racer(void *arg)
{
    struct race *rc = arg;
    struct ql_trace_span sp;
    make_span(&sp, 0);
    for (int i = 0; i < PER_RACER; i++) {
        sp.start_ns = (int64_t)rc->index * PER_RACER + i;
        if (ql__ring_put(rc->r, &sp) != 0)
            rc->refused++;
    }
    atomic_fetch_add(rc->finished, 1);
    return NULL;
}

/* Take every span there is: each once, each producer's in the order it put them. */
static int drain(struct ql__ring *r, unsigned char *seen, int64_t *last)
{
    struct ql_trace_span out;
    int taken = 0;
    while (ql__ring_take(r, &out)) {
        int64_t v = out.start_ns;
        ASSERT_TRUE(v >= 0 && v < RACERS * PER_RACER);
        ASSERT_INT_EQ(seen[v], 0);
        seen[v] = 1;
        int who = (int)(v / PER_RACER);
        ASSERT_TRUE(v > last[who]);
        last[who] = v;
        taken++;
    }
    return taken;
}

static void test_ring_under_racing_producers_loses_nothing_it_accepted(void)
{
    struct ql__ring r;
    ASSERT_INT_EQ(ql__ring_init(&r, 64), QL_OK);
    static unsigned char seen[RACERS * PER_RACER];
    memset(seen, 0, sizeof(seen));
    int64_t last[RACERS];
    for (int i = 0; i < RACERS; i++)
        last[i] = -1;
    atomic_int finished;
    atomic_init(&finished, 0);
    pthread_t th[RACERS];
    struct race rc[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rc[i] = (struct race){&r, i, 0, &finished};
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, racer, &rc[i]), 0);
    }
    int taken = 0, refused = 0;
    while (atomic_load(&finished) < RACERS)
        taken += drain(&r, seen, last);
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        refused += rc[i].refused;
    }
    taken += drain(&r, seen, last);
    ASSERT_INT_EQ(taken + refused, RACERS * PER_RACER);
    ASSERT_TRUE(taken >= 64);
    ql__ring_cleanup(&r);
}

/* ---- the tracer with fake collectors -------------------------------------------------------- */

struct collector {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int hang;   /* posts wait until released */
    int inside; /* posts waiting now */
    int fail;   /* answer like a collector that is down */
    int reject; /* spans of each batch the collector refuses */
    int posts;
    int spans; /* spans in the bodies posted */
    char last[256];
};

static int count_spans(const char *body)
{
    int n = 0;
    for (const char *p = body; (p = strstr(p, "\"spanId\"")) != NULL; p++)
        n++;
    return n;
}

static int c_post(void *ud, const char *body, size_t n, int64_t *rejected, char *why, size_t cap)
{
    struct collector *c = ud;
    (void)n;
    pthread_mutex_lock(&c->lock);
    c->inside++;
    pthread_cond_broadcast(&c->cond);
    while (c->hang)
        pthread_cond_wait(&c->cond, &c->lock);
    c->inside--;
    c->posts++;
    c->spans += count_spans(body);
    int rc = 0;
    if (c->fail) {
        snprintf(why, cap, "Couldn't connect to server");
        rc = -1;
    }
    *rejected = c->reject;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void collector_init(struct collector *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

static struct ql__otlp_sender sender_of(struct collector *c)
{
    return (struct ql__otlp_sender){c_post, NULL, c};
}

static void emit(struct ql_otlp *o, int i)
{
    struct ql_trace_span sp;
    make_span(&sp, i);
    ql_otlp_port(o)->ops->emit(ql_otlp_port(o), &sp);
}

static struct ql_trace_stats stats(struct ql_otlp *o)
{
    struct ql_trace_stats s;
    ql_otlp_port(o)->ops->stats(ql_otlp_port(o), &s);
    return s;
}

static void test_a_hanging_collector_fills_the_queue_and_the_rest_is_dropped_at_once(void)
{
    struct fake_clock clock;
    struct fake_log log;
    fake_clock_init(&clock, 1767225600000LL);
    fake_log_init(&log, &clock.base);
    struct collector col;
    collector_init(&col);
    col.hang = 1;
    struct ql_trace_config c = config(4, 2);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, &log.base, &s, &o), QL_OK);
    /* a batch's worth wakes the exporter, which takes it and hangs in the post */
    emit(o, 0);
    emit(o, 1);
    pthread_mutex_lock(&col.lock);
    while (col.inside == 0)
        pthread_cond_wait(&col.cond, &col.lock);
    pthread_mutex_unlock(&col.lock);
    /* the queue holds four more; the next five are refused, and emit returned each time */
    for (int i = 2; i < 11; i++)
        emit(o, i);
    struct ql_trace_stats st = stats(o);
    ASSERT_INT_EQ(st.dropped_full, 5);
    ASSERT_INT_EQ(st.queued, 4);
    ASSERT_INT_EQ(st.capacity, 4);
    ASSERT_INT_EQ(st.exported, 0);
    /* while full, spans are not even made: asking counts one more dropped */
    ASSERT_INT_EQ(atomic_load(&ql_otlp_port(o)->shedding), 1);
    ASSERT_INT_EQ(ql_tracer_admit(ql_otlp_port(o)), 0);
    ASSERT_INT_EQ(stats(o).dropped_full, 6);
    /* the collector answers: what was queued goes out */
    pthread_mutex_lock(&col.lock);
    col.hang = 0;
    pthread_cond_broadcast(&col.cond);
    pthread_mutex_unlock(&col.lock);
    ql__otlp_flush(o);
    st = stats(o);
    ASSERT_INT_EQ(st.exported, 6);
    ASSERT_INT_EQ(st.dropped_full, 6);
    ASSERT_INT_EQ(ql_tracer_admit(ql_otlp_port(o)), 1); /* room again */
    ASSERT_INT_EQ(st.queued, 0);
    ASSERT_INT_EQ(col.spans, 6);
    ASSERT_INT_EQ(col.posts, 3); /* batches of two */
    ql_otlp_destroy(o);
    fake_log_cleanup(&log);
}

static void test_a_failing_collector_drops_batches_counts_them_and_logs_once(void)
{
    struct fake_clock clock;
    struct fake_log log;
    fake_clock_init(&clock, 1767225600000LL);
    fake_log_init(&log, &clock.base);
    struct collector col;
    collector_init(&col);
    col.fail = 1;
    struct ql_trace_config c = config(16, 2);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, &log.base, &s, &o), QL_OK);
    for (int i = 0; i < 5; i++)
        emit(o, i);
    ql__otlp_flush(o);
    struct ql_trace_stats st = stats(o);
    ASSERT_INT_EQ(st.dropped_failed, 5);
    ASSERT_INT_EQ(st.export_errors, (uint64_t)col.posts); /* a post per batch, of 1 or 2 */
    ASSERT_TRUE(col.posts >= 3);
    ASSERT_INT_EQ(st.exported, 0);
    ASSERT_INT_EQ(log.count, 1);
    ASSERT_NOT_NULL(strstr(log.lines.data, "trace export failed"));
    ASSERT_NOT_NULL(strstr(log.lines.data, "Couldn't connect to server"));
    col.fail = 0;
    emit(o, 9);
    ql__otlp_flush(o);
    st = stats(o);
    ASSERT_INT_EQ(st.exported, 1);
    ASSERT_INT_EQ(log.count, 2);
    ASSERT_NOT_NULL(strstr(log.lines.data, "trace export works again"));
    ql_otlp_destroy(o);
    fake_log_cleanup(&log);
}

/*
 * After a failed export the exporter leaves the queue alone for a pause: a collector that is
 * down costs no encoding and no connection per batch; the queue fills and the rest is
 * dropped at once.  A flush (shutdown) still tries.
 */
static void test_after_a_failure_the_exporter_pauses_and_the_queue_sheds(void)
{
    struct fake_clock clock;
    fake_clock_init(&clock, 1767225600000LL);
    struct collector col;
    collector_init(&col);
    col.fail = 1;
    struct ql_trace_config c = config(4, 2);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, NULL, &s, &o), QL_OK);
    emit(o, 0);
    emit(o, 1); /* a batch: the exporter wakes and fails */
    while (stats(o).export_errors == 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 2; i < 12; i++)
        emit(o, i); /* four fit; the pause keeps the exporter away, so six are dropped */
    struct ql_trace_stats st = stats(o);
    ASSERT_INT_EQ(st.dropped_failed, 2);
    ASSERT_INT_EQ(st.queued, 4);
    ASSERT_INT_EQ(st.dropped_full, 6);
    ASSERT_INT_EQ(col.posts, 1);
    /* the collector is back and the pause over: a flush sends what was kept */
    col.fail = 0;
    fake_clock_advance(&clock, 40000);
    ql__otlp_flush(o);
    st = stats(o);
    ASSERT_INT_EQ(st.exported, 4);
    ASSERT_INT_EQ(st.queued, 0);
    ql_otlp_destroy(o);
}

static void test_rejected_spans_are_counted_apart(void)
{
    struct fake_clock clock;
    fake_clock_init(&clock, 1767225600000LL);
    struct collector col;
    collector_init(&col);
    col.reject = 1;
    struct ql_trace_config c = config(16, 4);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, NULL, &s, &o), QL_OK);
    for (int i = 0; i < 3; i++)
        emit(o, i);
    ql__otlp_flush(o);
    struct ql_trace_stats st = stats(o);
    ASSERT_INT_EQ(st.exported, 2);
    ASSERT_INT_EQ(st.dropped_rejected, 1);
    ql_otlp_destroy(o);
}

static void test_destroy_exports_what_is_queued(void)
{
    struct fake_clock clock;
    fake_clock_init(&clock, 1767225600000LL);
    struct collector col;
    collector_init(&col);
    struct ql_trace_config c = config(16, 8);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, NULL, &s, &o), QL_OK);
    for (int i = 0; i < 3; i++)
        emit(o, i); /* under a batch, and the timer is an hour away */
    ql_otlp_destroy(o);
    ASSERT_INT_EQ(col.spans, 3);
    ql_otlp_destroy(NULL);
}

static void test_ids_from_the_tracer_differ(void)
{
    struct fake_clock clock;
    fake_clock_init(&clock, 1767225600000LL);
    struct collector col;
    collector_init(&col);
    struct ql_trace_config c = config(4, 4);
    struct ql__otlp_sender s = sender_of(&col);
    struct ql_otlp *o;
    ASSERT_INT_EQ(ql__otlp_create_with(&c, &clock.base, NULL, &s, &o), QL_OK);
    struct ql_tracer *t = ql_otlp_port(o);
    uint64_t seen[256];
    for (int i = 0; i < 256; i++) {
        seen[i] = t->ops->rand(t);
        for (int k = 0; k < i; k++)
            ASSERT_TRUE(seen[k] != seen[i]);
    }
    ASSERT_TRUE(t->sampler.root == QL_SAMPLE_ALWAYS_ON);
    ql_otlp_destroy(o);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_encoding_is_the_otlp_json_mapping),
        TEST(test_ring_keeps_order_refuses_when_full_and_laps),
        TEST(test_ring_under_racing_producers_loses_nothing_it_accepted),
        TEST(test_a_hanging_collector_fills_the_queue_and_the_rest_is_dropped_at_once),
        TEST(test_a_failing_collector_drops_batches_counts_them_and_logs_once),
        TEST(test_after_a_failure_the_exporter_pauses_and_the_queue_sheds),
        TEST(test_rejected_spans_are_counted_apart),
        TEST(test_destroy_exports_what_is_queued),
        TEST(test_ids_from_the_tracer_differ),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
