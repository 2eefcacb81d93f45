/*
 * router.c - matching a method and path against the route table.  Templates are
 * "/"-separated segments where "{name}" matches any one non-empty segment.  The table is
 * small (tens of routes), so a linear scan that compares segment by segment beats building
 * a tree; routes are ordered so literal templates come before parameterised ones that
 * could shadow them (e.g. ".../prompts/daily" before ".../prompts/{promptId}").
 */
#include "req.h"

#include <stdio.h>
#include <string.h>

/* Match path against tmpl; on success fill params. */
static int match(const char *tmpl, const char *path, size_t n, struct ql_span *params, int *nparams)
{
    const char *t = tmpl;
    size_t i = 0;
    int np = 0;
    while (*t && i <= n) {
        if (*t == '{') {
            const char *close = strchr(t, '}');
            if (close == NULL)
                return 0;
            size_t start = i;
            while (i < n && path[i] != '/')
                i++;
            if (i == start || np >= QL_HTTP_MAX_PARAMS)
                return 0;
            params[np].p = path + start;
            params[np].n = i - start;
            np++;
            t = close + 1;
            continue;
        }
        if (i >= n || path[i] != *t)
            return 0;
        i++;
        t++;
    }
    if (*t != '\0' || i != n)
        return 0;
    *nparams = np;
    return 1;
}

int ql__router_match(const struct ql_http_route *routes, int nroutes, unsigned method,
                     const char *path, size_t n, struct ql_span *params, int *nparams,
                     unsigned *allow)
{
    unsigned want = method == QL_HTTP_HEAD ? QL_HTTP_GET : method;
    *allow = 0;
    const char *matched_tmpl = NULL;
    for (int i = 0; i < nroutes; i++) {
        const struct ql_http_route *r = &routes[i];
        /* A template that already matched a path shadows later, more general ones. */
        if (matched_tmpl && strcmp(matched_tmpl, r->tmpl) != 0)
            continue;
        struct ql_span tmp[QL_HTTP_MAX_PARAMS];
        int np;
        if (matched_tmpl == NULL && !match(r->tmpl, path, n, tmp, &np))
            continue;
        if (matched_tmpl == NULL) {
            matched_tmpl = r->tmpl;
            memcpy(params, tmp, sizeof(tmp));
            *nparams = np;
        }
        *allow |= r->method;
        if (r->method == want)
            return i;
    }
    if (*allow & QL_HTTP_GET)
        *allow |= QL_HTTP_HEAD;
    return -1;
}

const char *ql__method_name(unsigned m)
{
    switch (m) {
    case QL_HTTP_GET:
        return "GET";
    case QL_HTTP_HEAD:
        return "HEAD";
    case QL_HTTP_POST:
        return "POST";
    case QL_HTTP_PUT:
        return "PUT";
    case QL_HTTP_PATCH:
        return "PATCH";
    case QL_HTTP_DELETE:
        return "DELETE";
    case QL_HTTP_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

void ql__method_list(unsigned methods, struct ql_buf *b)
{
    int first = 1;
    for (unsigned m = 1; m < QL_HTTP_OTHER; m <<= 1) {
        if (!(methods & m))
            continue;
        if (!first)
            ql_buf_append(b, ", ", 2);
        ql_buf_puts(b, ql__method_name(m));
        first = 0;
    }
}

void ql_http_print_routes(void)
{
    for (int i = 0; i < ql__http_nroutes; i++)
        printf("%s %s\n", ql__method_name(ql__http_routes[i].method), ql__http_routes[i].tmpl);
}
