/*
 * curl_out.h - the outbound HTTP port (core/outbound/outbound.h) over libcurl.
 *
 * Lifetime: ql_curl_out_create() -> ql_curl_out_port() for the contexts that post ->
 * ql_curl_out_destroy().  The process calls curl_global_init() before and
 * curl_global_cleanup() after (the apps' main.c).
 */
#ifndef QL_CURL_OUT_H
#define QL_CURL_OUT_H

struct ql_outbound;
struct ql_curl_out;

/*
 * allow_private 1: loopback and private targets are allowed, and http as well as https
 * (QUILL_WEBHOOK_ALLOW_PRIVATE, for tests); 0: public https targets only.
 */
int ql_curl_out_create(int allow_private, struct ql_curl_out **out);
struct ql_outbound *ql_curl_out_port(struct ql_curl_out *c);
void ql_curl_out_destroy(struct ql_curl_out *c);

#endif
