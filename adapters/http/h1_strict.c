/*
 * h1_strict.c - what h1.c refuses of what llhttp lets through: a proxy in front of Quill
 * might read such a request otherwise, so that the two disagree on where a request ends or
 * who sent it (request smuggling).  Internal to h1.c (declared in h1.h).
 */
#include "h1.h"
#include "req.h"

#include <string.h>
#include <strings.h>

/*
 * llhttp accepts a value folded onto the next line (obs-fold), and hands over what follows
 * the fold as a span of the header's value: the second one, or the only one when the value
 * before the fold was empty or blank ("Transfer-Encoding:" CRLF " chunked").  A proxy may
 * read such a header otherwise, so it is refused (RFC 9112 5.2 allows that).  Between the
 * header's name or its value's last span and a span of its value, only a fold puts an LF:
 * in the running execute from c->scan, or in an earlier one (c->lf_after_span).  (An empty
 * value comes as an empty span at the start of the next line: the caller skips those.)
 */
int ql__h1_folded(const struct ql__h1 *c, const char *at)
{
    return c->lf_after_span || memchr(c->scan, '\n', (size_t)(at - c->scan)) != NULL;
}

static int named(const struct ql_span *s, const char *name)
{
    return s->n == strlen(name) && strncasecmp(s->p, name, s->n) == 0;
}

/*
 * What llhttp lets through but a stricter proxy in front of Quill might read otherwise, so
 * that the two disagree on where a request ends or who sent it: refused (400, or 501 for a
 * transfer coding other than chunked), and the connection closes.
 */
static int codings(const struct ql_span *v)
{
    int unknown = 0, last_chunked = 0;
    for (size_t k = 0; k < v->n;) {
        while (k < v->n && (v->p[k] == ' ' || v->p[k] == '\t' || v->p[k] == ','))
            k++;
        size_t start = k;
        while (k < v->n && v->p[k] != ',' && v->p[k] != ' ' && v->p[k] != '\t')
            k++;
        struct ql_span coding = {v->p + start, k - start};
        if (coding.n == 0)
            continue;
        last_chunked = named(&coding, "chunked");
        unknown |= !last_chunked;
    }
    if (!last_chunked)
        return 400; /* the body's length cannot be known (RFC 9112 6.3) */
    return unknown ? 501 : 0;
}

int ql__h1_strict(const llhttp_t *p, const struct ql_http_req *r)
{
    int rc;
    if (p->http_major != 1)
        return 400; /* HTTP/0.9, or a version this server does not speak */
    if (p->method == HTTP_CONNECT)
        return 400; /* llhttp reads what follows as a tunnel, not as its body */
    int hosts = 0, auths = 0;
    for (int i = 0; i < r->nheaders; i++) {
        const struct ql_span *n = &r->headers[i].name, *v = &r->headers[i].value;
        /*
         * Not looked at again, byte by byte: llhttp (strict) takes only token characters in
         * a name, and in a value only HTAB, visible ASCII and obs-text, never CR or LF (a
         * fold is found as it arrives, ql__h1_folded).  test_h1 holds it to that.
         */
        if (n->n == 0)
            return 400;
        hosts += named(n, "host");
        auths += named(n, "authorization");
        if (named(n, "transfer-encoding")) {
            if (p->http_minor == 0)
                return 400; /* in HTTP/1.0: faulty framing (RFC 9112 6.1) */
            if ((rc = codings(v)) != 0)
                return rc;
        }
    }
    if (hosts > 1 || auths > 1 || (p->http_minor >= 1 && hosts == 0))
        return 400;
    return 0;
}
