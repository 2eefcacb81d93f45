/*
 * idem.c - running a handler's use case, under its Idempotency-Key when a POST has one.
 *
 * The core's wrapper (core/idem/idem.h) does the work: lookup, replay, the lock after
 * BEGIN, the record before COMMIT.  This file only says whose key it is (the scope), gives
 * the request's method, path and body for the fingerprint, renders responses when the
 * wrapper asks for them, and sends back a recorded response as it was, with
 * Idempotent-Replayed: true.
 */
#include "req.h"

#include "arena/arena.h"
#include "err/err.h"
#include "idem/idem.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What the wrapper calls back into, for one request. */
struct call {
    struct ql_http_req *r;
    int (*run)(struct ql_http_req *r, void *arg);
    void (*render)(struct ql_http_req *r, void *arg);
    void *arg;
    int rendered_rc; /* the outcome whose response is in r; 1: none yet */
    size_t mark;     /* res_headers before it, to undo a success that did not commit */
};

/* Put the response for rc into r, unless it is there already. */
static void answer(struct call *c, int rc)
{
    struct ql_http_req *r = c->r;
    if (c->rendered_rc == rc)
        return;
    if (c->rendered_rc != 1) {
        /* A success rendered before a COMMIT that then failed: undo it. */
        r->res_headers.len = c->mark;
        r->res_body.len = 0;
    }
    c->mark = r->res_headers.len;
    if (rc)
        ql__res_problem(r, rc);
    else
        c->render(r, c->arg);
    c->rendered_rc = rc;
}

/* The header lines worth replaying, plus the content type, into b. */
static void stored_headers(struct ql_http_req *r, struct ql_buf *b)
{
    ql_buf_printf(b, "Content-Type: %s\r\n",
                  r->content_type ? r->content_type : "application/json");
    const char *p = r->res_headers.data, *end = p ? p + r->res_headers.len : NULL;
    static const char *const keep[] = {"Location:", "ETag:", "Set-Cookie:"};
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            if (strncasecmp(p, keep[i], strlen(keep[i])) == 0)
                ql_buf_append(b, p, (size_t)(next - p));
        p = next;
    }
}

static int render(struct ql_ctx *cx, int rc, void *ud, struct ql_idem_response *out)
{
    struct call *c = ud;
    struct ql_http_req *r = c->r;
    answer(c, rc);
    struct ql_buf h;
    ql_buf_init(&h, cx->arena);
    stored_headers(r, &h);
    if (ql_buf_ok(&h) || ql_buf_ok(&r->res_body))
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *out = (struct ql_idem_response){r->status, h.data, h.len, r->res_body.data, r->res_body.len};
    return QL_OK;
}

static int run(struct ql_ctx *cx, void *ud)
{
    (void)cx;
    struct call *c = ud;
    return c->run(c->r, c->arg);
}

/* Send a recorded response as it was recorded, never cacheable: the answers kept include
 * sessions (signup, login, MFA) and secrets shown once (API keys, webhooks, TOTP).  The
 * headers the request had before its use case ran (its RateLimit-*) stay: they are this
 * request's, not the recorded one's; only what came after base is replaced. */
static void replay(struct ql_http_req *r, const struct ql_idem_response *rec, size_t base)
{
    const char *p = rec->headers, *end = p + rec->headers_n;
    r->res_headers.len = base;
    r->no_store = 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (strncasecmp(p, "Content-Type: ", 14) == 0) {
            size_t n = (size_t)(next - p) - 14;
            while (n > 0 && (p[14 + n - 1] == '\r' || p[14 + n - 1] == '\n'))
                n--;
            char *ct = ql_arena_strndup(r->cx.arena, p + 14, n);
            r->content_type = ct ? ct : "application/json";
        } else {
            ql_buf_append(&r->res_headers, p, (size_t)(next - p));
        }
        p = next;
    }
    ql__res_header(r, "Idempotent-Replayed", "true");
    r->res_body.len = 0;
    ql_buf_append(&r->res_body, rec->body, rec->body_n);
    r->status = rec->status;
}

/* Whose key it is: the caller, or the client's address for anonymous routes. */
static void scope_of(struct ql_http_req *r, const struct ql_principal *p, char *out, size_t cap)
{
    char id[QL_UUID_STR_LEN + 1];
    if (p && p->kind == QL_PRINCIPAL_USER) {
        ql_uuid_format(&p->user_id, id);
        snprintf(out, cap, "user:%s", id);
    } else if (p && p->kind == QL_PRINCIPAL_API_KEY) {
        ql_uuid_format(&p->credential_id, id);
        snprintf(out, cap, "key:%s", id);
    } else if (p && p->kind == QL_PRINCIPAL_OPERATOR) {
        snprintf(out, cap, "operator");
    } else {
        char ip[64];
        ql__client_ip(r, ip, sizeof(ip));
        snprintf(out, cap, "addr:%s", ip);
    }
}

void ql__run(struct ql_http_req *r, const struct ql_principal *p,
             int (*run_fn)(struct ql_http_req *r, void *arg),
             void (*render_fn)(struct ql_http_req *r, void *arg), void *arg)
{
    size_t base = r->res_headers.len;
    struct call c = {r, run_fn, render_fn, arg, 1, base};
    const struct ql_span *k = ql__req_header(r, "idempotency-key");
    if (k == NULL || r->method != QL_HTTP_POST) {
        answer(&c, run_fn(r, arg));
        return;
    }
    char scope[80];
    scope_of(r, p, scope, sizeof(scope));
    const struct ql_idem_call call = {scope,     k->p,      k->n,      "POST", r->path.p,
                                      r->path.n, r->body.p, r->body.n, render, &c};
    int replayed;
    struct ql_idem_response rec;
    int rc = ql_idem_run(&r->cx, &call, run, &c, &replayed, &rec);
    if (replayed)
        replay(r, &rec, base);
    else
        answer(&c, rc);
}
