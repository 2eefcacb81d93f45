/*
 * outbound.h - the outbound HTTP port: one POST to a URL outside Quill (webhook
 * deliveries).  The adapter (adapters/curl) guards against server-side request
 * forgery: it resolves the host once, refuses addresses that are not public unless the
 * operator allows private targets, and connects to exactly the address it checked; it
 * follows no redirects and reads at most QL_OUT_BODY_MAX bytes of the answer.
 */
#ifndef QL_OUTBOUND_H
#define QL_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>

#define QL_OUT_BODY_MAX 1024
#define QL_OUT_HEADERS_MAX 8

struct ql_out_request {
    const char *url;
    const char *headers[QL_OUT_HEADERS_MAX]; /* "Name: value" lines, NULL-terminated */
    const char *body;
    size_t body_n;
    int connect_timeout_ms;
    int timeout_ms; /* the whole exchange */
};

struct ql_out_response {
    int status;                     /* the HTTP status; 0 when none came */
    int64_t duration_ms;            /* from the start to the end of the exchange */
    char body[QL_OUT_BODY_MAX + 1]; /* the start of the answer's body, NUL-terminated */
    size_t body_n;
    char error[256]; /* why there is no answer; "" when there is one */
};

struct ql_outbound;

struct ql_outbound_ops {
    /*
     * POST req.  QL_OK when an answer came (whatever its status); QL_EUNAVAILABLE when the
     * exchange failed (resolution, connection, timeout, TLS), QL_EFORBIDDEN when the target
     * is refused (a private address, a scheme other than http(s), http where https is
     * required), QL_EVALIDATION for a URL that cannot be read.  res->error says why.
     * Blocking; safe from several threads at once.
     */
    int (*post)(struct ql_outbound *self, const struct ql_out_request *req,
                struct ql_out_response *res);
};

struct ql_outbound {
    const struct ql_outbound_ops *ops;
};

static inline int ql_outbound_post(struct ql_outbound *o, const struct ql_out_request *req,
                                   struct ql_out_response *res)
{
    return o->ops->post(o, req, res);
}

#endif
