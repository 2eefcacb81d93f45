/*
 * encode.c - a batch of spans as the body of POST /v1/traces: an ExportTraceServiceRequest
 * in OTLP's JSON mapping (the proto3 JSON mapping with OTLP's two exceptions: trace and span
 * ids are hex, not base64, and enums are numbers).  64-bit integers (times, int attributes)
 * are strings, as proto3 JSON writes them.  One resource and one scope hold every span:
 *
 *   {"resourceSpans":[{"resource":{"attributes":[...]},
 *     "scopeSpans":[{"scope":{"name":"quill","version":...},"spans":[...]}]}]}
 */
#include "internal.h"

#include "buf/buf.h"

#include <stdio.h>
#include <string.h>

static void kv_begin(struct ql_jw *w, const char *key, size_t kn)
{
    ql_jw_obj(w);
    ql_jw_key(w, "key");
    ql_jw_strn(w, key, kn);
    ql_jw_key(w, "value");
    ql_jw_obj(w);
}

static void kv_str(struct ql_jw *w, const char *key, const char *v, size_t n)
{
    kv_begin(w, key, strlen(key));
    ql_jw_key(w, "stringValue");
    ql_jw_strn(w, v, n);
    ql_jw_obj_end(w);
    ql_jw_obj_end(w);
}

/* A 64-bit integer as proto3 JSON writes it: a decimal string. */
static void int_str(struct ql_jw *w, int64_t v)
{
    char s[24];
    int n = snprintf(s, sizeof(s), "%lld", (long long)v);
    ql_jw_strn(w, s, n > 0 ? (size_t)n : 0);
}

static void attributes(struct ql_jw *w, const struct ql_trace_span *sp)
{
    ql_jw_key(w, "attributes");
    ql_jw_arr(w);
    for (int i = 0; i < sp->nattrs; i++) {
        const struct ql_span_attr *a = &sp->attrs[i];
        kv_begin(w, a->key, strlen(a->key));
        if (a->type == QL_ATTR_INT) {
            ql_jw_key(w, "intValue");
            int_str(w, a->i);
        } else if (a->type == QL_ATTR_BOOL) {
            ql_jw_key(w, "boolValue");
            ql_jw_bool(w, a->i != 0);
        } else {
            ql_jw_key(w, "stringValue");
            ql_jw_strn(w, sp->text + a->off, a->len);
        }
        ql_jw_obj_end(w);
        ql_jw_obj_end(w);
    }
    ql_jw_arr_end(w);
    if (sp->dropped) {
        ql_jw_key(w, "droppedAttributesCount");
        ql_jw_int(w, sp->dropped);
    }
}

static void span(struct ql_jw *w, const struct ql_trace_span *sp, int64_t offset_ns)
{
    ql_jw_obj(w);
    ql_jw_key(w, "traceId");
    ql_jw_str(w, sp->trace_id);
    ql_jw_key(w, "spanId");
    ql_jw_str(w, sp->span_id);
    if (sp->parent_id[0]) {
        ql_jw_key(w, "parentSpanId");
        ql_jw_str(w, sp->parent_id);
    }
    ql_jw_key(w, "name");
    ql_jw_strn(w, sp->text, sp->name_len);
    ql_jw_key(w, "kind");
    ql_jw_int(w, sp->kind);
    int64_t start = sp->start_ns + offset_ns, end = sp->end_ns + offset_ns;
    ql_jw_key(w, "startTimeUnixNano");
    int_str(w, start > 0 ? start : 0);
    ql_jw_key(w, "endTimeUnixNano");
    int_str(w, end > start ? end : (start > 0 ? start : 0));
    attributes(w, sp);
    ql_jw_key(w, "status");
    ql_jw_obj(w);
    if (sp->status != QL_STATUS_UNSET) {
        ql_jw_key(w, "code");
        ql_jw_int(w, sp->status);
    }
    if (sp->msg_len) {
        ql_jw_key(w, "message");
        ql_jw_strn(w, sp->text + sp->msg_off, sp->msg_len);
    }
    ql_jw_obj_end(w);
    ql_jw_obj_end(w);
}

static void resource(struct ql_jw *w, const struct ql_trace_config *cfg)
{
    ql_jw_key(w, "resource");
    ql_jw_obj(w);
    ql_jw_key(w, "attributes");
    ql_jw_arr(w);
    kv_str(w, "service.name", cfg->service, strlen(cfg->service));
    if (cfg->version[0])
        kv_str(w, "service.version", cfg->version, strlen(cfg->version));
    kv_str(w, "telemetry.sdk.name", "quill", 5);
    kv_str(w, "telemetry.sdk.language", "c", 1);
    for (int i = 0; i < cfg->nresource; i++) {
        const char *k = cfg->resource_key[i];
        if (strcmp(k, "service.name") == 0 || strncmp(k, "telemetry.sdk.", 14) == 0 ||
            (cfg->version[0] && strcmp(k, "service.version") == 0))
            continue; /* ours, above */
        kv_str(w, k, cfg->resource_value[i], strlen(cfg->resource_value[i]));
    }
    ql_jw_arr_end(w);
    ql_jw_obj_end(w);
}

void ql__otlp_encode(const struct ql_trace_config *cfg, const struct ql_trace_span *spans, int n,
                     int64_t offset_ns, struct ql_buf *out)
{
    struct ql_jw w;
    ql_jw_init(&w, out);
    ql_jw_obj(&w);
    ql_jw_key(&w, "resourceSpans");
    ql_jw_arr(&w);
    ql_jw_obj(&w);
    resource(&w, cfg);
    ql_jw_key(&w, "scopeSpans");
    ql_jw_arr(&w);
    ql_jw_obj(&w);
    ql_jw_key(&w, "scope");
    ql_jw_obj(&w);
    ql_jw_key(&w, "name");
    ql_jw_str(&w, "quill");
    if (cfg->version[0]) {
        ql_jw_key(&w, "version");
        ql_jw_str(&w, cfg->version);
    }
    ql_jw_obj_end(&w);
    ql_jw_key(&w, "spans");
    ql_jw_arr(&w);
    for (int i = 0; i < n; i++)
        span(&w, &spans[i], offset_ns);
    ql_jw_arr_end(&w);
    ql_jw_obj_end(&w);
    ql_jw_arr_end(&w);
    ql_jw_obj_end(&w);
    ql_jw_arr_end(&w);
    ql_jw_obj_end(&w);
}
