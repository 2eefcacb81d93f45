/*
 * Unit tests of core/trace: the W3C trace context, the samplers, spans as records, the
 * OTEL_* configuration and the tracer's metrics, over the fake tracer and clock.
 */
#include "fakes/fakes.h"
#include "test.h"
#include "fixture.h"

#include "buf/buf.h"
#include "config/config.h"
#include "trace/trace.h"

#include <stdio.h>
#include <string.h>

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"

/* ---- the W3C trace context ------------------------------------------------------------------ */

static int parse(const char *s, struct ql_traceparent *tp)
{
    return ql_traceparent_parse(s, strlen(s), tp);
}

static void test_traceparent_parse_accepts_the_recommendation_and_refuses_the_rest(void)
{
    struct ql_traceparent tp;
    ASSERT_INT_EQ(parse("00-" TRACE "-" SPAN "-01", &tp), QL_OK);
    ASSERT_STR_EQ(tp.trace_id, TRACE);
    ASSERT_STR_EQ(tp.span_id, SPAN);
    ASSERT_INT_EQ(tp.flags, 1);
    ASSERT_INT_EQ(parse("00-" TRACE "-" SPAN "-00", &tp), QL_OK);
    ASSERT_INT_EQ(tp.flags, 0);
    ASSERT_INT_EQ(parse("00-" TRACE "-" SPAN "-03", &tp), QL_OK);
    ASSERT_INT_EQ(tp.flags, 3);
    /* a later version may add fields after a dash */
    ASSERT_INT_EQ(parse("01-" TRACE "-" SPAN "-01-what-comes-next", &tp), QL_OK);
    ASSERT_STR_EQ(tp.trace_id, TRACE);
    static const char *const bad[] = {
        "",
        "00-" TRACE "-" SPAN "-0",                                /* short */
        "00-" TRACE "-" SPAN "-01-extra",                         /* 00 has exactly 55 */
        "01-" TRACE "-" SPAN "-01x",                              /* no dash after flags */
        "ff-" TRACE "-" SPAN "-01",                               /* version ff */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN "-01",        /* upper case */
        "00-00000000000000000000000000000000-" SPAN "-01",        /* zero trace id */
        "00-" TRACE "-0000000000000000-01",                       /* zero span id */
        "00_" TRACE "-" SPAN "-01",                               /* separator */
        "00-" TRACE "-" SPAN "-0g",                               /* flags not hex */
        "0x-" TRACE "-" SPAN "-01",                               /* version not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e47z6-" SPAN "-01",        /* not hex */
        "00-" TRACE "-00f067aa0ba902b-01",                        /* span id short */
        "00-4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b7-01", /* no field dash */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &tp) != QL_EVALIDATION) {
            printf("#   accepted: %s\n", bad[i]);
            ASSERT_TRUE(0);
        }
        ASSERT_STR_EQ(tp.trace_id, "");
    }
    ASSERT_INT_EQ(ql_traceparent_parse(NULL, 0, &tp), QL_EVALIDATION);
}

static void test_traceparent_format_and_the_context_jobs_carry(void)
{
    struct fixture f;
    fixture_init(&f);
    char tp[QL_TRACEPARENT_LEN + 1];
    /* the fixture has a trace id but no span: nothing to hand on */
    ASSERT_INT_EQ(ql_traceparent_format(&f.cx, NULL, tp), -1);
    ASSERT_STR_EQ(tp, "");
    ASSERT_NULL(ql_trace_context(&f.cx));
    memcpy(f.cx.trace_id, TRACE, 33);
    memcpy(f.cx.span_id, SPAN, 17);
    f.cx.trace_flags = QL_TRACE_SAMPLED;
    ASSERT_INT_EQ(ql_traceparent_format(&f.cx, NULL, tp), 0);
    ASSERT_STR_EQ(tp, "00-" TRACE "-" SPAN "-01");
    ASSERT_INT_EQ(ql_traceparent_format(&f.cx, "1111111111111111", tp), 0);
    ASSERT_STR_EQ(tp, "00-" TRACE "-1111111111111111-01");
    f.cx.trace_flags = 0;
    ASSERT_STR_EQ(ql_trace_context(&f.cx), "00-" TRACE "-" SPAN "-00");
    /* the change log carries it only while tracing is on */
    ASSERT_NULL(ql_trace_context_of(&f.cx, &f.cx));
    struct fake_tracer t;
    fake_tracer_init(&t);
    f.cx.ports.tracer = &t.base;
    ASSERT_STR_EQ(ql_trace_context_of(&f.cx, &f.cx), "00-" TRACE "-" SPAN "-00");
    fixture_cleanup(&f);
}

static void test_trace_begin_continues_a_parent_or_starts_a_trace(void)
{
    struct fixture f;
    fixture_init(&f);
    struct fake_tracer t;
    fake_tracer_init(&t);
    struct ql_traceparent tp;
    ASSERT_INT_EQ(parse("00-" TRACE "-" SPAN "-00", &tp), QL_OK);
    /* with a tracer: the parent's trace, a span of our own, the sampler's decision */
    ql_trace_begin(&f.cx, &t.base, &tp);
    ASSERT_STR_EQ(f.cx.trace_id, TRACE);
    ASSERT_STR_EQ(f.cx.parent_span_id, SPAN);
    ASSERT_INT_EQ(strlen(f.cx.span_id), 16);
    ASSERT_TRUE(strcmp(f.cx.span_id, SPAN) != 0);
    ASSERT_INT_EQ(f.cx.trace_flags, 1); /* always_on ignores the parent */
    ASSERT_TRUE(f.cx.ports.tracer == &t.base);
    char why[200];
    ASSERT_INT_EQ(ql_sampler_parse("parentbased_always_on", NULL, &t.base.sampler, why, 200), 0);
    ql_trace_begin(&f.cx, &t.base, &tp);
    ASSERT_INT_EQ(f.cx.trace_flags, 0); /* the parent did not sample */
    ASSERT_TRUE(!ql_trace_on(&f.cx));
    /* no parent: a new trace, sampled at the root */
    memset(f.cx.trace_id, 0, sizeof(f.cx.trace_id));
    ql_trace_begin(&f.cx, &t.base, NULL);
    ASSERT_INT_EQ(strlen(f.cx.trace_id), 32);
    ASSERT_STR_EQ(f.cx.parent_span_id, "");
    ASSERT_INT_EQ(f.cx.trace_flags, 1);
    ASSERT_TRUE(ql_trace_on(&f.cx));
    /* without a tracer: the caller's context passes through unchanged */
    ql_trace_begin(&f.cx, NULL, &tp);
    ASSERT_STR_EQ(f.cx.trace_id, TRACE);
    ASSERT_STR_EQ(f.cx.span_id, SPAN);
    ASSERT_STR_EQ(f.cx.parent_span_id, "");
    ASSERT_INT_EQ(f.cx.trace_flags, 0);
    ASSERT_NULL(f.cx.ports.tracer);
    ASSERT_TRUE(!ql_trace_on(&f.cx));
    char ctx[QL_TRACEPARENT_LEN + 1];
    ASSERT_INT_EQ(ql_traceparent_format(&f.cx, NULL, ctx), 0);
    ASSERT_STR_EQ(ctx, "00-" TRACE "-" SPAN "-00");
    fixture_cleanup(&f);
}

/* ---- samplers ------------------------------------------------------------------------------- */

static void test_sampler_names_and_arguments(void)
{
    struct ql_sampler s;
    char why[200];
    ASSERT_INT_EQ(ql_sampler_parse(NULL, NULL, &s, why, sizeof(why)), QL_OK);
    ASSERT_INT_EQ(s.root, QL_SAMPLE_ALWAYS_ON);
    ASSERT_INT_EQ(s.parent_based, 1); /* the specification's default */
    ASSERT_INT_EQ(ql_sampler_parse("always_off", NULL, &s, why, sizeof(why)), QL_OK);
    ASSERT_INT_EQ(s.root, QL_SAMPLE_ALWAYS_OFF);
    ASSERT_INT_EQ(s.parent_based, 0);
    ASSERT_INT_EQ(ql_sampler_parse("parentbased_traceidratio", "0.25", &s, why, sizeof(why)),
                  QL_OK);
    ASSERT_INT_EQ(s.root, QL_SAMPLE_RATIO);
    ASSERT_INT_EQ(s.parent_based, 1);
    ASSERT_TRUE(s.ratio == 0.25);
    ASSERT_INT_EQ(ql_sampler_parse("traceidratio", NULL, &s, why, sizeof(why)), QL_OK);
    ASSERT_TRUE(s.ratio == 1.0);
    ASSERT_INT_EQ(ql_sampler_parse("jaeger_remote", NULL, &s, why, sizeof(why)), QL_EVALIDATION);
    ASSERT_NOT_NULL(strstr(why, "jaeger_remote"));
    ASSERT_INT_EQ(ql_sampler_parse("traceidratio", "1.5", &s, why, sizeof(why)), QL_EVALIDATION);
    ASSERT_NOT_NULL(strstr(why, "ratio from 0 to 1"));
    ASSERT_INT_EQ(ql_sampler_parse("traceidratio", "half", &s, why, sizeof(why)), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_sampler_parse("traceidratio", "-0.1", &s, why, sizeof(why)), QL_EVALIDATION);
    /* the argument of a sampler without a ratio is ignored, as the specification says */
    ASSERT_INT_EQ(ql_sampler_parse("always_on", "junk", &s, why, sizeof(why)), QL_OK);
}

static void test_sampler_decisions(void)
{
    struct ql_sampler on, off, pb_on, pb_off, half, none, all;
    char why[200];
    ql_sampler_parse("always_on", NULL, &on, why, 200);
    ql_sampler_parse("always_off", NULL, &off, why, 200);
    ql_sampler_parse("parentbased_always_on", NULL, &pb_on, why, 200);
    ql_sampler_parse("parentbased_always_off", NULL, &pb_off, why, 200);
    ql_sampler_parse("traceidratio", "0.5", &half, why, 200);
    ql_sampler_parse("traceidratio", "0", &none, why, 200);
    ql_sampler_parse("traceidratio", "1", &all, why, 200);
    ASSERT_INT_EQ(ql_sampler_decide(&on, TRACE, 0), 1);
    ASSERT_INT_EQ(ql_sampler_decide(&off, TRACE, 1), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&pb_on, TRACE, -1), 1);
    ASSERT_INT_EQ(ql_sampler_decide(&pb_on, TRACE, 0), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&pb_off, TRACE, -1), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&pb_off, TRACE, 1), 1);
    /* the ratio reads the id's last 8 bytes (less their top bit) against ratio * 2^63 */
    ASSERT_INT_EQ(ql_sampler_decide(&half, "00000000000000000000000000000000", -1), 1);
    ASSERT_INT_EQ(ql_sampler_decide(&half, "00000000000000007ffffffffffffffe", -1), 1);
    ASSERT_INT_EQ(ql_sampler_decide(&half, "00000000000000008000000000000000", -1), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&half, "ffffffffffffffffffffffffffffffff", -1), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&none, "00000000000000000000000000000001", -1), 0);
    ASSERT_INT_EQ(ql_sampler_decide(&all, "ffffffffffffffffffffffffffffffff", -1), 1);
    /* over many ids about half are kept, and the same id always gets the same answer */
    struct fake_tracer t;
    fake_tracer_init(&t);
    t.next_id = 0x123456789abcdefULL;
    int kept = 0;
    for (int i = 0; i < 2000; i++) {
        char id[33];
        t.next_id = t.next_id * 6364136223846793005ULL + 1442695040888963407ULL;
        ql_trace_new_id(&t.base, id, 16);
        int a = ql_sampler_decide(&half, id, -1);
        ASSERT_INT_EQ(ql_sampler_decide(&half, id, -1), a);
        kept += a;
    }
    ASSERT_TRUE(kept > 800 && kept < 1200);
}

static void test_new_ids_are_hex_and_never_zero(void)
{
    struct fake_tracer t;
    fake_tracer_init(&t);
    t.next_id = (uint64_t)-1; /* the next is 0 */
    char id[17];
    ql_trace_new_id(&t.base, id, 8);
    ASSERT_STR_EQ(id, "0000000000000001");
    ql_trace_new_id(&t.base, id, 8);
    ASSERT_STR_EQ(id, "0100000000000000"); /* little-endian bytes of 1 */
}

/* ---- spans ---------------------------------------------------------------------------------- */

static void test_spans_are_children_of_the_context_and_only_when_recorded(void)
{
    struct fixture f;
    fixture_init(&f);
    struct fake_tracer t;
    fake_tracer_init(&t);
    struct ql_trace_span sp;
    /* no tracer: off, and every call is a no-op */
    ql_span_begin(&f.cx, &sp, QL_SPAN_CLIENT, "nothing");
    ASSERT_INT_EQ(sp.on, 0);
    ql_span_cstr(&sp, "k", "v");
    ql_span_end(&f.cx, &sp);
    ASSERT_INT_EQ(t.n, 0);
    /* a tracer, but the trace is not sampled */
    struct ql_traceparent tp;
    ASSERT_INT_EQ(parse("00-" TRACE "-" SPAN "-00", &tp), QL_OK);
    char why[200];
    ql_sampler_parse("parentbased_always_on", NULL, &t.base.sampler, why, 200);
    ql_trace_begin(&f.cx, &t.base, &tp);
    ql_span_begin(&f.cx, &sp, QL_SPAN_CLIENT, "unsampled");
    ql_span_end(&f.cx, &sp);
    ASSERT_INT_EQ(t.n, 0);
    /* sampled: a child of the context's span, timed by the clock */
    tp.flags = 1;
    ql_trace_begin(&f.cx, &t.base, &tp);
    f.clock.mono_ns = 1000;
    ql_span_begin(&f.cx, &sp, QL_SPAN_CLIENT, "work");
    ASSERT_INT_EQ(sp.on, 1);
    ql_span_cstr(&sp, "s", "text");
    ql_span_int(&sp, "i", -42);
    ql_span_bool(&sp, "b", 7);
    ql_span_cstr(&sp, "none", NULL);
    f.clock.mono_ns = 5000;
    ql_span_error(&sp, "unavailable");
    ql_span_end(&f.cx, &sp);
    ql_span_end(&f.cx, &sp); /* once only */
    ASSERT_INT_EQ(t.n, 1);
    const struct ql_trace_span *got = fake_tracer_find(&t, "work");
    ASSERT_NOT_NULL(got);
    ASSERT_STR_EQ(got->trace_id, TRACE);
    ASSERT_STR_EQ(got->parent_id, f.cx.span_id);
    ASSERT_TRUE(strcmp(got->span_id, f.cx.span_id) != 0);
    ASSERT_INT_EQ(got->kind, QL_SPAN_CLIENT);
    ASSERT_INT_EQ(got->start_ns, 1000);
    ASSERT_INT_EQ(got->end_ns, 5000);
    ASSERT_INT_EQ(got->status, QL_STATUS_ERROR);
    ASSERT_INT_EQ(got->nattrs, 3);
    char buf[64];
    ASSERT_STR_EQ(fake_span_str(got, "s", buf, sizeof(buf)), "text");
    ASSERT_INT_EQ(fake_span_int(got, "i"), -42);
    ASSERT_INT_EQ(fake_span_int(got, "b"), 1);
    ASSERT_INT_EQ(got->msg_len, 11);
    ASSERT_MEM_EQ(got->text + got->msg_off, "unavailable", 11);
    /* a tracer that sheds: the span is not made, only counted */
    atomic_store(&t.base.shedding, 1);
    ql_span_begin(&f.cx, &sp, QL_SPAN_CLIENT, "shed");
    ASSERT_INT_EQ(sp.on, 0);
    ql_span_end(&f.cx, &sp);
    ASSERT_INT_EQ(t.n, 1);
    ASSERT_INT_EQ(t.dropped, 1);
    fixture_cleanup(&f);
}

static void test_a_full_span_cuts_strings_at_characters_and_counts_what_it_drops(void)
{
    struct ql_trace_span sp;
    ql_span_init(&sp, TRACE, SPAN, NULL, QL_SPAN_INTERNAL, "n", 1, 0);
    ASSERT_STR_EQ(sp.parent_id, "");
    char big[QL_SPAN_TEXT + 100];
    /* "é" is two bytes: a cut must not leave half of one */
    for (size_t i = 0; i + 1 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    ql_span_str(&sp, "long", big, sizeof(big) - 1);
    ASSERT_INT_EQ(sp.nattrs, 1);
    ASSERT_INT_EQ(sp.attrs[0].len % 2, 0);
    ASSERT_INT_EQ(sp.used, QL_SPAN_TEXT - 1); /* 1 for the name, and no half character */
    ql_span_cstr(&sp, "last byte", "x");
    ASSERT_INT_EQ(sp.used, QL_SPAN_TEXT);
    ql_span_cstr(&sp, "no room", "y");
    ASSERT_INT_EQ(sp.dropped, 1);
    ASSERT_INT_EQ(sp.nattrs, 2);
    for (int i = 0; i < QL_SPAN_ATTRS + 3; i++)
        ql_span_int(&sp, "n", i);
    ASSERT_INT_EQ(sp.nattrs, QL_SPAN_ATTRS);
    ASSERT_INT_EQ(sp.dropped, 1 + 5);
}

static void test_urls_lose_credentials_query_and_fragment(void)
{
    struct ql_trace_span sp;
    ql_span_init(&sp, TRACE, SPAN, NULL, QL_SPAN_CLIENT, "POST", 4, 0);
    ql_span_url(&sp, "a", "https://user:pw@hooks.example.com:8443/in/x?token=secret#frag");
    ql_span_url(&sp, "b", "http://127.0.0.1:9/in");
    ql_span_url(&sp, "c", "https://example.com?k=v");
    char buf[128];
    ASSERT_STR_EQ(fake_span_str(&sp, "a", buf, sizeof(buf)), "https://hooks.example.com:8443/in/x");
    ASSERT_STR_EQ(fake_span_str(&sp, "b", buf, sizeof(buf)), "http://127.0.0.1:9/in");
    ASSERT_STR_EQ(fake_span_str(&sp, "c", buf, sizeof(buf)), "https://example.com");
}

/* ---- configuration -------------------------------------------------------------------------- */

struct vars {
    const char *kv[32];
};

static const char *get(void *ud, const char *name)
{
    const struct vars *v = ud;
    for (int i = 0; v->kv[i]; i += 2)
        if (strcmp(v->kv[i], name) == 0)
            return v->kv[i + 1];
    return NULL;
}

static int read_config(struct vars *v, struct ql_trace_config *c, struct ql_config_errors *errs)
{
    struct ql_env e;
    ql_env_init(&e, get, v, errs);
    ql_trace_config_read(&e, "quill-test", c);
    for (int i = 0; i < errs->n; i++)
        printf("# problem: %s\n", errs->msg[i]);
    return errs->n;
}

static void test_config_is_off_without_an_endpoint_and_joins_the_signal_path(void)
{
    struct ql_trace_config c;
    struct ql_config_errors errs;
    struct vars none = {{"OTEL_TRACES_SAMPLER", "nonsense", NULL}};
    ASSERT_INT_EQ(read_config(&none, &c, &errs), 0); /* nothing else is read while off */
    ASSERT_INT_EQ(c.enabled, 0);
    struct vars base = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", NULL}};
    ASSERT_INT_EQ(read_config(&base, &c, &errs), 0);
    ASSERT_INT_EQ(c.enabled, 1);
    ASSERT_STR_EQ(c.endpoint, "http://collector:4318/v1/traces");
    ASSERT_STR_EQ(c.service, "quill-test");
    ASSERT_INT_EQ(c.sampler.root, QL_SAMPLE_ALWAYS_ON);
    ASSERT_INT_EQ(c.sampler.parent_based, 1);
    ASSERT_INT_EQ(c.queue_size, 2048);
    ASSERT_INT_EQ(c.batch_size, 512);
    ASSERT_INT_EQ(c.schedule_delay_ms, 5000);
    ASSERT_INT_EQ(c.timeout_ms, 10000);
    struct vars own = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318",
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c.example.com/custom/path",
                        NULL}};
    ASSERT_INT_EQ(read_config(&own, &c, &errs), 0);
    ASSERT_STR_EQ(c.endpoint, "https://c.example.com/custom/path");
    struct vars disabled = {
        {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_SDK_DISABLED", "TRUE", NULL}};
    ASSERT_INT_EQ(read_config(&disabled, &c, &errs), 0);
    ASSERT_INT_EQ(c.enabled, 0);
    struct vars exporter_none = {
        {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_TRACES_EXPORTER", "none", NULL}};
    ASSERT_INT_EQ(read_config(&exporter_none, &c, &errs), 0);
    ASSERT_INT_EQ(c.enabled, 0);
}

static void test_config_reads_the_rest_and_names_every_bad_variable(void)
{
    struct ql_trace_config c;
    struct ql_config_errors errs;
    struct vars good = {{"OTEL_EXPORTER_OTLP_ENDPOINT",
                         "http://c:4318",
                         "OTEL_SERVICE_NAME",
                         "journal-api",
                         "OTEL_RESOURCE_ATTRIBUTES",
                         "service.name=other, deployment.environment=st%20aging",
                         "OTEL_EXPORTER_OTLP_HEADERS",
                         "authorization=Bearer%20abc,x-team = blue",
                         "OTEL_TRACES_SAMPLER",
                         "parentbased_traceidratio",
                         "OTEL_TRACES_SAMPLER_ARG",
                         "0.1",
                         "OTEL_EXPORTER_OTLP_PROTOCOL",
                         "http/json",
                         "OTEL_EXPORTER_OTLP_TIMEOUT",
                         "2000",
                         "OTEL_BSP_SCHEDULE_DELAY",
                         "100",
                         "OTEL_BSP_MAX_QUEUE_SIZE",
                         "64",
                         "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                         "16",
                         NULL}};
    ASSERT_INT_EQ(read_config(&good, &c, &errs), 0);
    ASSERT_STR_EQ(c.service, "journal-api");
    ASSERT_INT_EQ(c.nresource, 2);
    ASSERT_STR_EQ(c.resource_key[1], "deployment.environment");
    ASSERT_STR_EQ(c.resource_value[1], "st aging");
    ASSERT_INT_EQ(c.nheaders, 2);
    ASSERT_STR_EQ(c.headers[0], "authorization: Bearer abc");
    ASSERT_STR_EQ(c.headers[1], "x-team: blue");
    ASSERT_INT_EQ(c.sampler.root, QL_SAMPLE_RATIO);
    ASSERT_TRUE(c.sampler.ratio == 0.1);
    ASSERT_INT_EQ(c.timeout_ms, 2000);
    ASSERT_INT_EQ(c.schedule_delay_ms, 100);
    ASSERT_INT_EQ(c.queue_size, 64);
    ASSERT_INT_EQ(c.batch_size, 16);
    /* service.name among the attributes names the service when OTEL_SERVICE_NAME does not */
    struct vars attr = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_RESOURCE_ATTRIBUTES",
                         "service.name=from-attrs", NULL}};
    ASSERT_INT_EQ(read_config(&attr, &c, &errs), 0);
    ASSERT_STR_EQ(c.service, "from-attrs");
    struct vars bad = {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318",
                        "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", NULL}};
    ASSERT_INT_EQ(read_config(&bad, &c, &errs), 1);
    ASSERT_NOT_NULL(strstr(errs.msg[0], "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
    ASSERT_INT_EQ(c.enabled, 0);
    struct vars worse = {{"OTEL_EXPORTER_OTLP_ENDPOINT",
                          "http://c:4318",
                          "OTEL_TRACES_SAMPLER",
                          "sometimes",
                          "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                          "grpc",
                          "OTEL_EXPORTER_OTLP_HEADERS",
                          "no-equals-sign",
                          "OTEL_RESOURCE_ATTRIBUTES",
                          "k=%zz",
                          "OTEL_BSP_MAX_QUEUE_SIZE",
                          "8",
                          "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                          "9",
                          "OTEL_EXPORTER_OTLP_TIMEOUT",
                          "soon",
                          "OTEL_SDK_DISABLED",
                          "maybe",
                          "OTEL_TRACES_EXPORTER",
                          "zipkin",
                          NULL}};
    ASSERT_INT_EQ(read_config(&worse, &c, &errs), 8);
    static const char *const named[] = {
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_TRACES_SAMPLER:",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        int found = 0;
        for (int k = 0; k < errs.n; k++)
            found |= strncmp(errs.msg[k], named[i], strlen(named[i])) == 0;
        if (!found)
            printf("#   no problem names %s\n", named[i]);
        ASSERT_TRUE(found);
    }
    struct vars arg = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_TRACES_SAMPLER",
                        "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2", NULL}};
    ASSERT_INT_EQ(read_config(&arg, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "OTEL_TRACES_SAMPLER_ARG:", 24) == 0);
}

/* ---- metrics -------------------------------------------------------------------------------- */

static void test_metrics_name_the_drops(void)
{
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    ql_trace_metrics(NULL, &b);
    ASSERT_INT_EQ(b.len, 0); /* tracing off: no series */
    struct fake_tracer t;
    fake_tracer_init(&t);
    t.dropped = 3;
    ql_trace_metrics(&t.base, &b);
    ASSERT_NOT_NULL(ql_buf_cstr(&b));
    ASSERT_NOT_NULL(strstr(b.data, "quill_trace_spans_dropped_total{reason=\"queue_full\"} 3\n"));
    ASSERT_NOT_NULL(strstr(b.data, "quill_trace_spans_exported_total 0\n"));
    ASSERT_NOT_NULL(strstr(b.data, "quill_trace_queue_capacity 32\n"));
    ql_buf_cleanup(&b);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_traceparent_parse_accepts_the_recommendation_and_refuses_the_rest),
        TEST(test_traceparent_format_and_the_context_jobs_carry),
        TEST(test_trace_begin_continues_a_parent_or_starts_a_trace),
        TEST(test_sampler_names_and_arguments),
        TEST(test_sampler_decisions),
        TEST(test_new_ids_are_hex_and_never_zero),
        TEST(test_spans_are_children_of_the_context_and_only_when_recorded),
        TEST(test_a_full_span_cuts_strings_at_characters_and_counts_what_it_drops),
        TEST(test_urls_lose_credentials_query_and_fragment),
        TEST(test_config_is_off_without_an_endpoint_and_joins_the_signal_path),
        TEST(test_config_reads_the_rest_and_names_every_bad_variable),
        TEST(test_metrics_name_the_drops),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
