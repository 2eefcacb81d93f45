/*
 * cors.c - Cross-Origin Resource Sharing (see cors.h): the origin list of
 * QUILL_CORS_ORIGINS, preflights, and the headers of responses to listed origins.
 *
 * The list is compared byte for byte with the Origin header, as browsers serialise it
 * (lowercase scheme and host, no default port), which is why parsing lowercases and drops
 * the default port: "HTTPS://App.example.com:443" lists "https://app.example.com".
 */
#include "cors.h"

#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a browser may send on a cross-origin request beyond the CORS-safelisted headers. */
static const char allow_headers[] = "Authorization, Content-Type, Idempotency-Key, If-Match, "
                                    "If-None-Match, X-CSRF-Token, X-Request-Id, Last-Event-ID, "
                                    "traceparent, tracestate";
/* What its script may read beyond the CORS-safelisted response headers. */
static const char expose_headers[] = "ETag, Location, Retry-After, RateLimit-Limit, "
                                     "RateLimit-Remaining, RateLimit-Reset, X-Request-Id, "
                                     "Idempotent-Replayed, WWW-Authenticate";

static int host_char(int ch)
{
    return isalnum(ch) || ch == '-' || ch == '.';
}

/* One origin of n bytes into dst (cap bytes), normalised; -1 with msg when it is not one. */
static int parse_one(const char *s, size_t n, char *dst, size_t cap, char *msg, size_t mcap)
{
    char tmp[QL_CORS_ORIGIN_MAX] = {0};
    if (n == 0) {
        snprintf(msg, mcap, "an empty origin between commas");
        return -1;
    }
    if (n >= sizeof(tmp) || n >= cap) {
        snprintf(msg, mcap, "an origin longer than %d characters", QL_CORS_ORIGIN_MAX - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        tmp[i] = (char)tolower((unsigned char)s[i]);
    tmp[n] = '\0';
    const char *host;
    int https;
    if (strncmp(tmp, "https://", 8) == 0) {
        host = tmp + 8;
        https = 1;
    } else if (strncmp(tmp, "http://", 7) == 0) {
        host = tmp + 7;
        https = 0;
    } else {
        snprintf(msg, mcap, "'%.80s' is not an http:// or https:// origin", tmp);
        return -1;
    }
    const char *p = host;
    if (*p == '[') { /* an IPv6 literal */
        p++;
        while (isxdigit((unsigned char)*p) || *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == host + 1) {
            snprintf(msg, mcap, "'%.80s' has a malformed IPv6 host", tmp);
            return -1;
        }
        p++;
    } else {
        while (host_char((unsigned char)*p))
            p++;
        if (p == host || *host == '.' || *host == '-') {
            snprintf(msg, mcap, "'%.80s' has no valid host", tmp);
            return -1;
        }
    }
    size_t hostlen = (size_t)(p - tmp);
    long port = -1;
    if (*p == ':') {
        char *end;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || !isdigit((unsigned char)p[1]) || port < 1 || port > 65535) {
            snprintf(msg, mcap, "'%.80s' has a port outside 1 to 65535", tmp);
            return -1;
        }
        p = end;
    }
    if (*p != '\0') {
        snprintf(msg, mcap,
                 "'%.80s' is not an exact origin (scheme, host and port only: no path, no "
                 "trailing slash, no wildcard)",
                 tmp);
        return -1;
    }
    if (port == (https ? 443 : 80))
        port = -1; /* browsers never send the default port */
    if (port < 0)
        snprintf(dst, cap, "%.*s", (int)hostlen, tmp);
    else
        snprintf(dst, cap, "%.*s:%ld", (int)hostlen, tmp, port);
    return 0;
}

int ql__cors_parse(const char *value, struct ql_http_cors *out, char *msg, size_t cap)
{
    memset(out, 0, sizeof(*out));
    if (value == NULL)
        return 0;
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (out->n == QL_CORS_MAX) {
            snprintf(msg, cap, "more than %d origins", QL_CORS_MAX);
            goto fail;
        }
        if (parse_one(a, (size_t)(b - a), out->origin[out->n], sizeof(out->origin[0]), msg, cap))
            goto fail;
        out->n++;
        if (comma == NULL)
            break;
        p = comma + 1;
        if (*p == '\0') {
            snprintf(msg, cap, "an empty origin after the last comma");
            goto fail;
        }
    }
    return 0;
fail:
    memset(out, 0, sizeof(*out));
    return -1;
}

int ql__cors_allowed(const struct ql_http_cors *list, const char *origin, size_t n)
{
    if (list == NULL || origin == NULL)
        return 0;
    for (int i = 0; i < list->n; i++)
        if (strlen(list->origin[i]) == n && memcmp(list->origin[i], origin, n) == 0)
            return 1;
    return 0;
}

static const struct ql_http_cors *cors_of(const struct ql_http_req *r)
{
    return r->env && r->env->cfg && r->env->cfg->cors.n > 0 ? &r->env->cfg->cors : NULL;
}

/* The listed origin of r, or NULL. */
static const struct ql_span *listed_origin(const struct ql_http_req *r)
{
    const struct ql_http_cors *list = cors_of(r);
    if (list == NULL)
        return NULL;
    const struct ql_span *o = ql__req_header(r, "origin");
    return o && ql__cors_allowed(list, o->p, o->n) ? o : NULL;
}

static unsigned method_of(const struct ql_span *m)
{
    static const unsigned methods[] = {QL_HTTP_GET,   QL_HTTP_HEAD,   QL_HTTP_POST,   QL_HTTP_PUT,
                                       QL_HTTP_PATCH, QL_HTTP_DELETE, QL_HTTP_OPTIONS};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        const char *name = ql__method_name(methods[i]);
        if (strlen(name) == m->n && memcmp(name, m->p, m->n) == 0)
            return methods[i]; /* method names are case-sensitive (RFC 9110) */
    }
    return 0;
}

int ql__cors_preflight(struct ql__exec *x, struct ql_http_req *r)
{
    if (r->method != QL_HTTP_OPTIONS || listed_origin(r) == NULL)
        return 0;
    const struct ql_span *want = ql__req_header(r, "access-control-request-method");
    unsigned method = want ? method_of(want) : 0;
    if (method == 0 || r->path.n == 0 || r->path.p[0] != '/')
        return 0;
    struct ql_span params[QL_HTTP_MAX_PARAMS];
    int np;
    unsigned allow;
    /* OPTIONS matches no route: this only collects the methods of the path's template. */
    ql__router_match(x->routes, x->nroutes, QL_HTTP_OPTIONS, r->path.p, r->path.n, params, &np,
                     &allow);
    if (!(allow & method))
        return 0;
    struct ql_buf methods;
    ql_buf_init(&methods, r->cx.arena);
    ql__method_list(allow, &methods);
    char age[16];
    snprintf(age, sizeof(age), "%d", r->env->cfg->cors_max_age);
    ql__res_header(r, "Access-Control-Allow-Methods", ql_buf_cstr(&methods) ? methods.data : "");
    ql__res_header(r, "Access-Control-Allow-Headers", allow_headers);
    ql__res_header(r, "Access-Control-Max-Age", age);
    r->status = 204;
    return 1;
}

void ql__cors_headers(struct ql_http_req *r)
{
    if (cors_of(r) == NULL)
        return;
    const struct ql_span *o = listed_origin(r);
    if (o == NULL) {
        ql__res_header(r, "Vary", "Origin");
        return;
    }
    if (r->method == QL_HTTP_OPTIONS && r->status == 204)
        ql__res_header(r, "Vary",
                       "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    else
        ql__res_header(r, "Vary", "Origin");
    struct ql_buf v;
    ql_buf_init(&v, r->cx.arena);
    ql_buf_append(&v, o->p, o->n);
    ql__res_header(r, "Access-Control-Allow-Origin", ql_buf_cstr(&v) ? v.data : "null");
    ql__res_header(r, "Access-Control-Allow-Credentials", "true");
    if (r->method != QL_HTTP_OPTIONS)
        ql__res_header(r, "Access-Control-Expose-Headers", expose_headers);
}
