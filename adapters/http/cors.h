/*
 * cors.h - Cross-Origin Resource Sharing for quill-api (internal to adapters/http).
 *
 * Browsers on the origins listed in QUILL_CORS_ORIGINS may call the API with credentials
 * (cookies or an Authorization header): their preflights are answered, their responses
 * carry Access-Control-Allow-Origin (the origin itself, never "*"), Allow-Credentials and
 * Expose-Headers.  Any other origin gets no CORS headers at all, so the browser keeps the
 * response from its page.  When a list is set, every response says Vary: Origin, so a
 * cache never hands one origin's answer to another.
 */
#ifndef QL_HTTP_CORS_H
#define QL_HTTP_CORS_H

#include <stddef.h>

#include "http.h"

struct ql_http_req;
struct ql__exec;

/*
 * Parse a comma-separated list of exact origins ("https://app.example.com,
 * http://127.0.0.1:5173") into out: scheme http or https, a host, an optional port (the
 * scheme's default port is dropped, as browsers drop it), nothing else.  Returns 0, or -1
 * with the reason in msg (cap bytes) and out emptied.
 */
int ql__cors_parse(const char *value, struct ql_http_cors *out, char *msg, size_t cap);

/* 1 when origin (n bytes, as the Origin header sent it) is one of the list's. */
int ql__cors_allowed(const struct ql_http_cors *list, const char *origin, size_t n);

/*
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) from a listed
 * origin for a path and method the API has: answer it 204 with the allowed methods, headers
 * and max age, and return 1.  Anything else returns 0 and is routed as usual (an unlisted
 * origin's preflight gets the 405 every OPTIONS gets, without CORS headers).
 */
int ql__cors_preflight(struct ql__exec *x, struct ql_http_req *r);

/* Add the CORS response headers r's origin is due (none for an unlisted origin). */
void ql__cors_headers(struct ql_http_req *r);

#endif
