/*
 * h_docs.c - the API reference for people: GET /docs, a page that renders the OpenAPI
 * document (/v1/openapi.json) with Swagger UI, and /docs/{asset}, the renderer's script and
 * stylesheet, its licences and the page's own script.  Everything is embedded in the binary
 * at build time (apps/api/docs, tools/embed_assets.py): the page loads nothing from
 * anywhere but this server, and its Content-Security-Policy says so.
 *
 * /docs/ redirects to /docs.  Assets are sent from static memory (no copy into the
 * request's arena), gzipped when the client accepts it, with a strong ETag so a browser
 * revalidates with a 304.
 */
#include "internal.h"

#include "err/err.h"

#include <string.h>
#include <strings.h>

void ql__h_docs(struct ql_http_req *r);
void ql__h_docs_slash(struct ql_http_req *r);

/*
 * Scripts and styles from this origin only (no inline script, no eval); images from here or
 * data: URLs (the renderer's icons are SVG data URLs in its stylesheet); fetches to this
 * origin only (the document, and "Try it out").
 */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* Does the Accept-Encoding header accept gzip (a "gzip" coding without q=0)? */
static int accepts_gzip(const struct ql_span *ae)
{
    if (ae == NULL)
        return 0;
    size_t i = 0, n = ae->n;
    const char *s = ae->p;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t name = i;
        while (i < n && s[i] != ',' && s[i] != ';' && s[i] != ' ' && s[i] != '\t')
            i++;
        int gzip = i - name == 4 && strncasecmp(s + name, "gzip", 4) == 0;
        int zero = 0; /* ";q=0", ";q=0.0", ... */
        while (i < n && s[i] != ',') {
            if ((s[i] == 'q' || s[i] == 'Q') && i + 1 < n && s[i + 1] == '=') {
                zero = 1;
                for (i += 2; i < n && s[i] != ',' && s[i] != ';'; i++)
                    if (s[i] >= '1' && s[i] <= '9')
                        zero = 0;
                continue;
            }
            i++;
        }
        if (gzip)
            return !zero;
    }
    return 0;
}

/* Does If-None-Match name etag (or "*")? */
static int etag_matches(const struct ql_span *inm, const char *etag)
{
    if (inm == NULL)
        return 0;
    size_t n = strlen(etag);
    for (size_t i = 0; i < inm->n; i++) {
        if (inm->p[i] == '*')
            return 1;
        if (inm->n - i >= n && memcmp(inm->p + i, etag, n) == 0)
            return 1;
    }
    return 0;
}

/* The page's address typed with a slash: its relative links would miss, so send the
 * browser to the page itself. */
void ql__h_docs_slash(struct ql_http_req *r)
{
    ql__res_header(r, "Location", "/docs");
    r->status = 308;
}

void ql__h_docs(struct ql_http_req *r)
{
    const struct ql_http_asset *a = r->env->docs;
    while (a && a->path &&
           (strlen(a->path) != r->path.n || memcmp(a->path, r->path.p, r->path.n) != 0))
        a++;
    if (a == NULL || a->path == NULL) {
        ql__res_problem(r, QL_ENOT_FOUND);
        return;
    }
    ql__res_header(r, "Content-Security-Policy", csp);
    ql__res_header(r, "ETag", a->etag);
    ql__res_header(r, "Cache-Control", "no-cache");
    if (a->gz)
        ql__res_header(r, "Vary", "Accept-Encoding");
    if (etag_matches(ql__req_header(r, "if-none-match"), a->etag)) {
        r->status = 304;
        return;
    }
    r->status = 200;
    r->content_type = a->type;
    if (a->gz && accepts_gzip(ql__req_header(r, "accept-encoding"))) {
        ql__res_header(r, "Content-Encoding", "gzip");
        r->body_ref = (struct ql_span){a->gz, a->gz_len};
    } else {
        r->body_ref = (struct ql_span){a->data, a->len};
    }
}
