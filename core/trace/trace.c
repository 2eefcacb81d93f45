/*
 * trace.c - spans as records, the W3C trace context, sampling, and the tracer's metrics.
 * What a span holds is copied into it, so it can cross to the exporter's thread by memcpy;
 * nothing here allocates except ql_trace_context (the caller's arena).
 */
#include "trace/trace.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sampling --------------------------------------------------------------------------- */

int ql_sampler_parse(const char *name, const char *arg, struct ql_sampler *out, char *why,
                     size_t cap)
{
    static const struct {
        const char *name;
        int root, parent_based;
    } known[] = {
        {"always_on", QL_SAMPLE_ALWAYS_ON, 0},
        {"always_off", QL_SAMPLE_ALWAYS_OFF, 0},
        {"traceidratio", QL_SAMPLE_RATIO, 0},
        {"parentbased_always_on", QL_SAMPLE_ALWAYS_ON, 1},
        {"parentbased_always_off", QL_SAMPLE_ALWAYS_OFF, 1},
        {"parentbased_traceidratio", QL_SAMPLE_RATIO, 1},
    };
    memset(out, 0, sizeof(*out));
    if (name == NULL || *name == '\0')
        name = "parentbased_always_on";
    size_t i = 0, n = sizeof(known) / sizeof(known[0]);
    while (i < n && strcmp(known[i].name, name) != 0)
        i++;
    if (i == n) {
        snprintf(why, cap,
                 "expected always_on, always_off, traceidratio, parentbased_always_on, "
                 "parentbased_always_off or parentbased_traceidratio, got '%.60s'",
                 name);
        return QL_EVALIDATION;
    }
    out->root = known[i].root;
    out->parent_based = known[i].parent_based;
    out->ratio = 1.0;
    if (out->root == QL_SAMPLE_RATIO && arg != NULL && *arg != '\0') {
        char *end;
        double r = strtod(arg, &end);
        if (end == arg || *end != '\0' || !(r >= 0.0 && r <= 1.0)) {
            snprintf(why, cap, "expected a ratio from 0 to 1, got '%.60s'", arg);
            return QL_EVALIDATION;
        }
        out->ratio = r;
    }
    /* 2^63 * ratio; a ratio of 1 keeps every id (the id's 63 bits are always below 2^63) */
    out->bound = out->ratio >= 1.0 ? UINT64_MAX : (uint64_t)(out->ratio * 9223372036854775808.0);
    return QL_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ql_sampler_decide(const struct ql_sampler *s, const char *trace_id, int parent_flags)
{
    if (s->parent_based && parent_flags >= 0)
        return (parent_flags & QL_TRACE_SAMPLED) != 0;
    if (s->root == QL_SAMPLE_ALWAYS_ON)
        return 1;
    if (s->root == QL_SAMPLE_ALWAYS_OFF)
        return 0;
    /* the last 8 bytes of the id, big-endian, without their top bit (as OpenTelemetry's Go
     * SDK reads them), against the bound */
    uint64_t x = 0;
    for (int i = 16; i < 32 && trace_id[i]; i++) {
        int v = hexval(trace_id[i]);
        x = x << 4 | (uint64_t)(v < 0 ? 0 : v);
    }
    return s->bound == UINT64_MAX || (x >> 1) < s->bound;
}

/* ---- ids and the W3C trace context ---------------------------------------------------------- */

int ql_tracer_admit(struct ql_tracer *t)
{
    if (!atomic_load_explicit(&t->shedding, memory_order_relaxed))
        return 1;
    t->ops->shed(t);
    return 0;
}

void ql_trace_new_id(struct ql_tracer *t, char *out, int nbytes)
{
    static const char hex[] = "0123456789abcdef";
    int zero = 1;
    for (int i = 0; i < nbytes; i += 8) {
        uint64_t r = t->ops->rand(t);
        for (int k = 0; k < 8 && i + k < nbytes; k++) {
            uint8_t b = (uint8_t)(r >> (8 * k));
            zero &= b == 0;
            out[2 * (i + k)] = hex[b >> 4];
            out[2 * (i + k) + 1] = hex[b & 15];
        }
    }
    if (zero)
        out[2 * nbytes - 1] = '1';
    out[2 * nbytes] = '\0';
}

/* n lower-case hex digits, not all zeros. */
static int valid_id(const char *p, size_t n)
{
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        int v = hexval(p[i]);
        if (v < 0)
            return 0;
        nonzero |= v != 0;
    }
    return nonzero;
}

int ql_traceparent_parse(const char *s, size_t n, struct ql_traceparent *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || n < QL_TRACEPARENT_LEN || hexval(s[0]) < 0 || hexval(s[1]) < 0 ||
        s[2] != '-' || s[35] != '-' || s[52] != '-' || hexval(s[53]) < 0 || hexval(s[54]) < 0)
        return QL_EVALIDATION;
    int v00 = s[0] == '0' && s[1] == '0';
    if ((s[0] == 'f' && s[1] == 'f') || (v00 && n != QL_TRACEPARENT_LEN) ||
        (!v00 && n > QL_TRACEPARENT_LEN && s[55] != '-'))
        return QL_EVALIDATION;
    if (!valid_id(s + 3, 32) || !valid_id(s + 36, 16))
        return QL_EVALIDATION;
    memcpy(out->trace_id, s + 3, 32);
    memcpy(out->span_id, s + 36, 16);
    out->flags = (uint8_t)(hexval(s[53]) << 4 | hexval(s[54]));
    return QL_OK;
}

int ql_traceparent_format(const struct ql_ctx *cx, const char *span_id, char *out)
{
    if (span_id == NULL)
        span_id = cx->span_id;
    out[0] = '\0';
    if (strlen(cx->trace_id) != 32 || strlen(span_id) != 16)
        return -1;
    snprintf(out, QL_TRACEPARENT_LEN + 1, "00-%s-%s-%02x", cx->trace_id, span_id,
             cx->trace_flags & QL_TRACE_SAMPLED);
    return 0;
}

const char *ql_trace_context(struct ql_ctx *cx)
{
    char tp[QL_TRACEPARENT_LEN + 1];
    if (ql_traceparent_format(cx, NULL, tp) != 0)
        return NULL;
    return ql_arena_strdup(cx->arena, tp);
}

const char *ql_trace_context_of(struct ql_ctx *cx, const struct ql_ctx *src)
{
    char tp[QL_TRACEPARENT_LEN + 1];
    if (src->ports.tracer == NULL || ql_traceparent_format(src, NULL, tp) != 0)
        return NULL;
    return ql_arena_strdup(cx->arena, tp);
}

void ql_trace_begin(struct ql_ctx *cx, struct ql_tracer *t, const struct ql_traceparent *parent)
{
    cx->ports.tracer = t;
    cx->parent_span_id[0] = '\0';
    if (t == NULL) {
        /* not a participant: hand on the caller's context as it came */
        if (parent) {
            memcpy(cx->trace_id, parent->trace_id, 33);
            memcpy(cx->span_id, parent->span_id, 17);
            cx->trace_flags = parent->flags & QL_TRACE_SAMPLED;
        }
        return;
    }
    if (parent) {
        memcpy(cx->trace_id, parent->trace_id, 33);
        memcpy(cx->parent_span_id, parent->span_id, 17);
    } else if (strlen(cx->trace_id) != 32) {
        ql_trace_new_id(t, cx->trace_id, 16);
    }
    ql_trace_new_id(t, cx->span_id, 8);
    int sampled = ql_sampler_decide(&t->sampler, cx->trace_id, parent ? parent->flags : -1);
    cx->trace_flags = sampled ? QL_TRACE_SAMPLED : 0;
}

/* ---- spans --------------------------------------------------------------------------------- */

/* Copy n bytes of s into the span's text, cut short when it is full. */
static void put_text(struct ql_trace_span *sp, const char *s, size_t n, uint16_t *off,
                     uint16_t *len)
{
    size_t room = QL_SPAN_TEXT - sp->used, want = n;
    if (n > room)
        n = room;
    /* never cut a UTF-8 sequence in two: drop the bytes of the one that is cut */
    while (n < want && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    *off = sp->used;
    *len = (uint16_t)n;
    memcpy(sp->text + sp->used, s, n);
    sp->used = (uint16_t)(sp->used + n);
}

/* Copy an id of at most cap - 1 characters (a hot path: no snprintf). */
static void copy_id(char *dst, const char *src, size_t cap)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void ql_span_init(struct ql_trace_span *sp, const char *trace_id, const char *span_id,
                  const char *parent_id, int kind, const char *name, size_t n, int64_t start_ns)
{
    sp->on = 1;
    sp->kind = (uint8_t)kind;
    sp->status = QL_STATUS_UNSET;
    sp->used = sp->dropped = sp->msg_off = sp->msg_len = 0;
    sp->nattrs = 0;
    copy_id(sp->trace_id, trace_id, sizeof(sp->trace_id));
    copy_id(sp->span_id, span_id, sizeof(sp->span_id));
    copy_id(sp->parent_id, parent_id, sizeof(sp->parent_id));
    sp->start_ns = start_ns;
    sp->end_ns = start_ns;
    uint16_t off;
    if (n > 128)
        n = 128;
    put_text(sp, name, n, &off, &sp->name_len);
}

void ql_span_begin(struct ql_ctx *cx, struct ql_trace_span *sp, int kind, const char *name)
{
    sp->on = 0;
    if (!ql_trace_on(cx) || cx->ports.clock == NULL || !ql_tracer_admit(cx->ports.tracer))
        return;
    char id[17];
    ql_trace_new_id(cx->ports.tracer, id, 8);
    ql_span_init(sp, cx->trace_id, id, cx->span_id, kind, name, strlen(name),
                 ql_clock_mono_ns(cx->ports.clock));
}

static struct ql_span_attr *attr(struct ql_trace_span *sp, const char *key, int type)
{
    if (sp->nattrs == QL_SPAN_ATTRS) {
        sp->dropped++;
        return NULL;
    }
    struct ql_span_attr *a = &sp->attrs[sp->nattrs++];
    a->key = key;
    a->type = (uint8_t)type;
    a->i = 0;
    a->off = a->len = 0;
    return a;
}

void ql_span_str(struct ql_trace_span *sp, const char *key, const char *v, size_t n)
{
    if (!sp->on || v == NULL)
        return;
    if (sp->used == QL_SPAN_TEXT) {
        sp->dropped++;
        return;
    }
    struct ql_span_attr *a = attr(sp, key, QL_ATTR_STR);
    if (a)
        put_text(sp, v, n, &a->off, &a->len);
}

void ql_span_cstr(struct ql_trace_span *sp, const char *key, const char *v)
{
    if (sp->on && v)
        ql_span_str(sp, key, v, strlen(v));
}

void ql_span_int(struct ql_trace_span *sp, const char *key, int64_t v)
{
    struct ql_span_attr *a = sp->on ? attr(sp, key, QL_ATTR_INT) : NULL;
    if (a)
        a->i = v;
}

void ql_span_bool(struct ql_trace_span *sp, const char *key, int v)
{
    struct ql_span_attr *a = sp->on ? attr(sp, key, QL_ATTR_BOOL) : NULL;
    if (a)
        a->i = v != 0;
}

void ql_span_url(struct ql_trace_span *sp, const char *key, const char *url)
{
    if (!sp->on || url == NULL)
        return;
    char out[512];
    size_t n = 0;
    const char *p = url, *scheme = strstr(url, "://");
    if (scheme) {
        size_t k = (size_t)(scheme - url) + 3;
        if (k < sizeof(out)) {
            memcpy(out, url, k);
            n = k;
        }
        p = scheme + 3;
        /* the authority ends at the path, query or fragment; user information ends at '@' */
        size_t auth = strcspn(p, "/?#");
        const char *at = memchr(p, '@', auth);
        if (at)
            p = at + 1;
    }
    size_t rest = strcspn(p, "?#");
    if (rest > sizeof(out) - n)
        rest = sizeof(out) - n;
    memcpy(out + n, p, rest);
    ql_span_str(sp, key, out, n + rest);
}

void ql_span_error(struct ql_trace_span *sp, const char *msg)
{
    if (!sp->on)
        return;
    sp->status = QL_STATUS_ERROR;
    if (msg && sp->msg_len == 0)
        put_text(sp, msg, strlen(msg) > 128 ? 128 : strlen(msg), &sp->msg_off, &sp->msg_len);
}

void ql_span_emit(struct ql_tracer *t, const struct ql_trace_span *sp)
{
    if (t != NULL && sp->on)
        t->ops->emit(t, sp);
}

void ql_span_end(struct ql_ctx *cx, struct ql_trace_span *sp)
{
    if (!sp->on)
        return;
    sp->end_ns = ql_clock_mono_ns(cx->ports.clock);
    ql_span_emit(cx->ports.tracer, sp);
    sp->on = 0; /* ended once */
}

/* ---- metrics ------------------------------------------------------------------------------- */

void ql_trace_metrics(struct ql_tracer *t, struct ql_buf *b)
{
    if (t == NULL)
        return;
    struct ql_trace_stats s;
    memset(&s, 0, sizeof(s));
    t->ops->stats(t, &s);
    ql_buf_printf(b,
                  "# HELP quill_trace_spans_exported_total Spans the collector accepted.\n"
                  "# TYPE quill_trace_spans_exported_total counter\n"
                  "quill_trace_spans_exported_total %llu\n"
                  "# HELP quill_trace_spans_dropped_total Spans not exported: the queue was "
                  "full (the collector slow or down), their export failed, or the collector "
                  "rejected them.\n"
                  "# TYPE quill_trace_spans_dropped_total counter\n"
                  "quill_trace_spans_dropped_total{reason=\"queue_full\"} %llu\n"
                  "quill_trace_spans_dropped_total{reason=\"export_failed\"} %llu\n"
                  "quill_trace_spans_dropped_total{reason=\"rejected\"} %llu\n"
                  "# HELP quill_trace_export_errors_total Exports to the collector that failed.\n"
                  "# TYPE quill_trace_export_errors_total counter\n"
                  "quill_trace_export_errors_total %llu\n"
                  "# HELP quill_trace_queue_spans Spans waiting to be exported.\n"
                  "# TYPE quill_trace_queue_spans gauge\n"
                  "quill_trace_queue_spans %llu\n"
                  "# HELP quill_trace_queue_capacity Spans the queue holds at most.\n"
                  "# TYPE quill_trace_queue_capacity gauge\n"
                  "quill_trace_queue_capacity %llu\n",
                  (unsigned long long)s.exported, (unsigned long long)s.dropped_full,
                  (unsigned long long)s.dropped_failed, (unsigned long long)s.dropped_rejected,
                  (unsigned long long)s.export_errors, (unsigned long long)s.queued,
                  (unsigned long long)s.capacity);
}
