/*
 * span.c - the server span of a request, made when its response is queued (or its stream
 * opens), with the attributes of OpenTelemetry's HTTP server conventions: the method, the
 * route's template (never the path's values: that is what keeps span names few), the
 * status, the path.  A 5xx answer marks the span failed; a 4xx is the client's error, not
 * the server's, and leaves it unset.  The span's ids are the request's context's own
 * (exec.c made them), so the spans of the request's work are its children.
 */
#include "internal.h"

#include "err/err.h"
#include "trace/trace.h"

#include <stdio.h>
#include <string.h>

void ql__span_request(const struct ql_http_route *routes, struct ql_http_req *r, int64_t ns)
{
    struct ql_ctx *cx = &r->cx;
    /* the server's tracer: the ports a handler ran with may have been another thread's */
    struct ql_tracer *t = r->exec ? r->exec->env->tracer : NULL;
    if (t == NULL || !(cx->trace_flags & QL_TRACE_SAMPLED) || cx->trace_id[0] == '\0' ||
        !ql_tracer_admit(t))
        return;
    const char *method = r->method == QL_HTTP_OTHER ? "_OTHER" : ql__method_name(r->method);
    const char *tmpl = r->route >= 0 ? routes[r->route].tmpl : NULL;
    char name[160];
    int n = snprintf(name, sizeof(name), "%s%s%s", r->method == QL_HTTP_OTHER ? "HTTP" : method,
                     tmpl ? " " : "", tmpl ? tmpl : "");
    struct ql_trace_span sp;
    ql_span_init(&sp, cx->trace_id, cx->span_id, cx->parent_span_id, QL_SPAN_SERVER, name,
                 n < 0                       ? 0
                 : (size_t)n >= sizeof(name) ? sizeof(name) - 1
                                             : (size_t)n,
                 r->start_ns);
    sp.end_ns = r->start_ns + ns;
    ql_span_cstr(&sp, "http.request.method", method);
    ql_span_cstr(&sp, "http.route", tmpl);
    ql_span_int(&sp, "http.response.status_code", r->status);
    ql_span_str(&sp, "url.path", r->path.p, r->path.n);
    ql_span_cstr(&sp, "url.scheme", "http");
    ql_span_cstr(&sp, "network.protocol.version", "1.1");
    ql_span_int(&sp, "http.response.body.size", (int64_t)r->res_body.len);
    ql_span_cstr(&sp, "quill.request_id", cx->request_id);
    if (r->status >= 500) {
        char code[16];
        snprintf(code, sizeof(code), "%d", r->status);
        ql_span_cstr(&sp, "error.type", code);
        ql_span_error(&sp, cx->err.code ? ql_err_name(cx->err.code) : code);
    }
    ql_span_emit(t, &sp);
}
