/*
 * idem.c - Idempotency-Key for POST requests (the contract's "Idempotency" section).
 *
 * A request with a key first looks for a stored record of (caller, key): a match with the
 * same fingerprint is replayed with Idempotent-Replayed: true, a different fingerprint is
 * 422 idempotency_key_reused.  Otherwise the use case's transaction is hooked: right after
 * BEGIN a transaction-scoped advisory lock on (caller, key) is taken (another request
 * holding it means the first is still running: 409 idempotency_in_progress), and right
 * before COMMIT the success response is rendered and stored, so the effect and its record
 * commit together.  Responses produced without a transaction (validation errors and the
 * like) are stored afterwards on their own; 5xx, 409-in-progress and 429 are never stored,
 * so a client may retry them.
 */
#include "internal.h"

#include "arena/arena.h"
#include "clock/clock.h"
#include "err/err.h"
#include "log/log.h"
#include "idem/idem.h"
#include "model/model.h"
#include "store/store.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void ql__set_render(struct ql_http_req *r, void (*fn)(struct ql_http_req *, void *), void *arg)
{
    r->render = fn;
    r->render_arg = arg;
    r->render_mark = r->res_headers.len;
}

void ql__res_rendered(struct ql_http_req *r, int rc)
{
    if (rc)
        ql__res_problem(r, rc);
    else if (!r->rendered && r->render)
        r->render(r, r->render_arg);
}

/* The header lines worth replaying, plus the content type, into b. */
static void stored_headers(struct ql_http_req *r, struct ql_buf *b)
{
    ql_buf_printf(b, "Content-Type: %s\r\n",
                  r->content_type ? r->content_type : "application/json");
    const char *p = r->res_headers.data, *end = p + r->res_headers.len;
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

static int store(struct ql_http_req *r)
{
    struct ql_buf h;
    ql_buf_init(&h, r->cx.arena);
    stored_headers(r, &h);
    if (ql_buf_ok(&h))
        return ql_error_set(&r->cx.err, QL_ENOMEM, NULL);
    struct ql_idem_record rec;
    memcpy(rec.fingerprint, r->idem.fingerprint, sizeof(rec.fingerprint));
    int rc =
        ql_idem_pack(&r->cx, r->status, h.data, h.len, r->res_body.data, r->res_body.len, &rec);
    if (rc == QL_OK)
        rc = ql_store_idem_put(r->cx.ports.store, &r->cx, r->idem.scope, r->idem.key, &rec);
    if (rc == QL_OK)
        r->idem.stored = 1;
    return rc;
}

static int after_begin(struct ql_ctx *cx, void *ud)
{
    struct ql_http_req *r = ud;
    return ql_store_idem_lock(cx->ports.store, cx, r->idem.scope, r->idem.key);
}

static int before_commit(struct ql_ctx *cx, void *ud)
{
    struct ql_http_req *r = ud;
    (void)cx;
    if (r->render == NULL)
        return QL_OK; /* nothing to render yet: stored after the handler instead */
    r->render(r, r->render_arg);
    r->rendered = 1;
    return store(r);
}

static void replay(struct ql_http_req *r, const struct ql_idem_record *rec)
{
    const char *h, *body;
    size_t hn, bn;
    if (ql_idem_unpack(&r->cx, rec, &h, &hn, &body, &bn) != QL_OK) {
        ql__res_problem(r, QL_EINTERNAL);
        return;
    }
    const char *p = h, *end = h + hn;
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
    ql_buf_append(&r->res_body, body, bn);
    r->status = rec->status;
}

int ql__idem_begin(struct ql_http_req *r, const struct ql_principal *p)
{
    const struct ql_span *k = ql__req_header(r, "idempotency-key");
    if (k == NULL || r->method != QL_HTTP_POST)
        return 0;
    if (ql_idem_check_key(&r->cx, k->p, k->n) != QL_OK) {
        ql__res_problem(r, QL_EVALIDATION);
        return -1;
    }
    char id[QL_UUID_STR_LEN + 1];
    if (p && p->kind == QL_PRINCIPAL_USER) {
        ql_uuid_format(&p->user_id, id);
        snprintf(r->idem.scope, sizeof(r->idem.scope), "user:%s", id);
    } else if (p && p->kind == QL_PRINCIPAL_API_KEY) {
        ql_uuid_format(&p->credential_id, id);
        snprintf(r->idem.scope, sizeof(r->idem.scope), "key:%s", id);
    } else if (p && p->kind == QL_PRINCIPAL_OPERATOR) {
        snprintf(r->idem.scope, sizeof(r->idem.scope), "operator");
    } else {
        char ip[64];
        ql__client_ip(r, ip, sizeof(ip));
        snprintf(r->idem.scope, sizeof(r->idem.scope), "addr:%s", ip);
    }
    memcpy(r->idem.key, k->p, k->n);
    r->idem.key[k->n] = '\0';
    if (ql_idem_fingerprint(&r->cx, "POST", r->path.p, r->path.n, r->body.p, r->body.n,
                            r->idem.fingerprint) != QL_OK) {
        ql__res_problem(r, r->cx.err.code);
        return -1;
    }
    struct ql_idem_record rec;
    int rc = ql_store_idem_get(r->cx.ports.store, &r->cx, r->idem.scope, r->idem.key,
                               ql_clock_now_ms(r->cx.ports.clock), &rec);
    if (rc == QL_OK) {
        if (memcmp(rec.fingerprint, r->idem.fingerprint, sizeof(rec.fingerprint)) != 0) {
            ql_error_set(&r->cx.err, QL_EIDEM_REUSED,
                         "This Idempotency-Key was used with a different request.");
            ql__res_problem(r, QL_EIDEM_REUSED);
        } else {
            replay(r, &rec);
        }
        return -1;
    }
    if (rc != QL_ENOT_FOUND) {
        ql__res_problem(r, rc);
        return -1;
    }
    ql_error_clear(&r->cx.err);
    r->idem.active = 1;
    r->tx.after_begin = after_begin;
    r->tx.before_commit = before_commit;
    r->tx.ud = r;
    r->cx.tx = &r->tx;
    return 0;
}

void ql__idem_end(struct ql_http_req *r)
{
    if (!r->idem.active || r->idem.stored)
        return;
    int s = r->status;
    if (s >= 500 || s == 429 || (s == 409 && r->cx.err.code == QL_EIDEM_IN_PROGRESS))
        return;
    if (r->tx.committed)
        return; /* committed without a renderer: nothing consistent to store */
    struct ql_error saved = r->cx.err;
    if (store(r) != QL_OK && r->cx.err.code != QL_ECONFLICT)
        ql_log(r->env->log, QL_LOG_WARN, "cannot store an idempotent response", "error",
               r->cx.err.msg, "trace_id", r->cx.trace_id, NULL);
    r->cx.err = saved;
}
