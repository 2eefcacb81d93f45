/*
 * otlp.h - the tracer port (core/trace/trace.h) over OTLP/HTTP with JSON encoding.
 *
 * Spans go into a bounded queue that any thread fills without waiting; a thread of the
 * tracer's own takes them out in batches and posts each batch to the collector
 * (POST <endpoint>, an ExportTraceServiceRequest in OTLP's JSON mapping) through libcurl.
 * When the collector is slow or down the queue fills and new spans are dropped and counted;
 * nothing that emits a span ever waits for the collector.
 *
 * Lifetime: ql_otlp_create() -> ql_otlp_port() for the contexts that trace ->
 * ql_otlp_destroy(), which exports what is queued (within the export timeout) and joins the
 * thread.  The process calls curl_global_init() before and curl_global_cleanup() after (the
 * apps' main.c), as for adapters/curl.
 */
#ifndef QL_OTLP_H
#define QL_OTLP_H

struct ql_trace_config;
struct ql_clock;
struct ql_logger;
struct ql_tracer;
struct ql_otlp;

/*
 * A tracer for cfg (enabled; copied), on clock (for span times) and log (export failures,
 * one line when exports start failing and one when they work again); both borrowed.  Starts
 * the exporter's thread.  *out owns it; NULL and a QL_E* code on failure.
 */
int ql_otlp_create(const struct ql_trace_config *cfg, struct ql_clock *clock, struct ql_logger *log,
                   struct ql_otlp **out);
struct ql_tracer *ql_otlp_port(struct ql_otlp *o);
/* Export what is queued (at most the export timeout), stop the thread, free. NULL: nothing. */
void ql_otlp_destroy(struct ql_otlp *o);

#endif
