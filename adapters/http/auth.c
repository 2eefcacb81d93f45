/*
 * auth.c - who is calling: bearer tokens (sessions, API keys and OIDC JWTs through the
 * account use case, the operator token here) and the session cookie, CSRF for
 * cookie-authenticated writes, the per-principal rate limit with its RateLimit-* headers,
 * and the quota of an API key's team (meter.h).  Runs with the request's ports: on a pool thread,
 * or on the loop for routes that try it first, where a token that needs the database or the
 * identity provider is refused by the loop's ports and sends the request to the pool.
 */
#include "internal.h"

#include "account/account.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "model/model.h"
#include "netaddr/netaddr.h"
#include "ratelimit.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Compare without an early exit, so timing does not reveal how much matched. */
int ql__same_secret(const char *a, size_t an, const char *b, size_t bn)
{
    unsigned char d = an != bn;
    for (size_t i = 0; i < an; i++)
        d |= (unsigned char)(a[i] ^ b[bn ? i % bn : 0]);
    return bn > 0 && d == 0;
}

/* The value of cookie name in the Cookie header, or NULL. */
static const char *cookie(struct ql_http_req *r, const char *name, size_t *n)
{
    const struct ql_span *h = ql__req_header(r, "cookie");
    if (h == NULL)
        return NULL;
    size_t nl = strlen(name);
    const char *p = h->p, *end = h->p + h->n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        if ((size_t)(stop - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *n = (size_t)(stop - p - (ptrdiff_t)nl - 1);
            return p + nl + 1;
        }
        p = stop;
    }
    return NULL;
}

static int unsafe_method(unsigned m)
{
    return m == QL_HTTP_POST || m == QL_HTTP_PUT || m == QL_HTTP_PATCH || m == QL_HTTP_DELETE;
}

static void rate_headers(struct ql_http_req *r)
{
    char v[24];
    snprintf(v, sizeof(v), "%d", r->adm.limit);
    ql__res_header(r, "RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%d", r->adm.remaining);
    ql__res_header(r, "RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%d", r->adm.reset_s);
    ql__res_header(r, "RateLimit-Reset", v);
}

/*
 * The caller's rate limit (and, for an API key, its team's quota), decided once per request:
 * a request the loop handed to the pool keeps what its first attempt took.  0 when it may
 * go on; -1 after answering 429 (or refusing on the loop: the pool runs it again).
 */
static int admit(struct ql_http_req *r, const struct ql_principal *p)
{
    struct ql__admission *a = &r->adm;
    struct ql_http_server *s = r->server;
    if (a->metered == QL__METER_NONE && p->kind == QL_PRINCIPAL_API_KEY) {
        a->metered = QL__METER_PENDING;
        a->team = p->key_team_id;
        a->key = p->credential_id;
    }
    if (s->limiter && !a->rated && p->kind != QL_PRINCIPAL_OPERATOR) {
        const uint8_t *key = p->kind == QL_PRINCIPAL_USER ? p->user_id.b : p->credential_id.b;
        struct ql_rate_result rr;
        ql_ratelimit_take(s->limiter, key, ql_clock_mono_ns(r->env->clock),
                          ql_clock_now_ms(r->env->clock) / 1000, &rr);
        a->rated = 1;
        a->limit = rr.limit;
        a->remaining = rr.remaining;
        a->reset_s = rr.reset_s;
        if (!rr.allowed) {
            if (a->metered == QL__METER_PENDING)
                a->metered = QL__METER_REFUSED;
            rate_headers(r);
            char v[16];
            snprintf(v, sizeof(v), "%d", rr.reset_s);
            ql__res_header(r, "Retry-After", v);
            ql_error_set(&r->cx.err, QL_ERATE_LIMITED, "Too many requests; slow down.");
            ql__res_problem(r, QL_ERATE_LIMITED);
            return -1;
        }
    }
    if (s->meter && a->metered == QL__METER_PENDING) {
        /* on the loop nothing may wait: without a unit in hand the pool takes the request */
        int64_t now = ql_clock_now_ms(r->env->clock);
        int rc = ql__meter_admit(s->meter, &r->cx, &a->team, &now, r->state != QL__REQ_LOOP);
        if (rc == QL_EQUOTA)
            a->metered = QL__METER_REFUSED; /* Retry-After and RateLimit-*: the quota's */
        if (rc) {
            ql__res_problem(r, rc);
            return -1;
        }
        a->metered = QL__METER_BILLED;
        a->at_ms = now;
    }
    if (a->rated)
        rate_headers(r);
    return 0;
}

static int resolve(struct ql_http_req *r, struct ql_principal *p)
{
    const struct ql_http_env *env = r->env;
    const struct ql_span *h = ql__req_header(r, "authorization");
    if (h) {
        if (h->n < 8 || strncasecmp(h->p, "Bearer ", 7) != 0)
            return ql_error_set(&r->cx.err, QL_EUNAUTHENTICATED,
                                "Use Authorization: Bearer <token>.");
        const char *tok = h->p + 7;
        size_t n = h->n - 7;
        const char *admin = env->cfg->admin_token;
        if (admin[0] && ql__same_secret(tok, n, admin, strlen(admin))) {
            memset(p, 0, sizeof(*p));
            p->kind = QL_PRINCIPAL_OPERATOR;
            p->via = QL_VIA_ADMIN;
            return QL_OK;
        }
        return ql_account_bearer(&r->cx, tok, n, p);
    }
    size_t n;
    const char *tok = cookie(r, "quill_session", &n);
    if (tok == NULL)
        return ql_error_set(&r->cx.err, QL_EUNAUTHENTICATED, NULL);
    int rc = ql_account_resolve(&r->cx, tok, n, QL_VIA_COOKIE, p);
    if (rc)
        return rc;
    if (unsafe_method(r->method)) {
        char want[48];
        const struct ql_span *got = ql__req_header(r, "x-csrf-token");
        rc = ql_account_csrf(&r->cx, p->digest, want);
        if (rc)
            return ql_error_set(&r->cx.err, rc, "cannot derive the CSRF token");
        if (got == NULL || !ql__same_secret(got->p, got->n, want, strlen(want)))
            return ql_error_set(&r->cx.err, QL_EFORBIDDEN,
                                "Cookie-authenticated writes need the X-CSRF-Token header.");
    }
    return QL_OK;
}

int ql__authenticate(struct ql_http_req *r, struct ql_principal *p)
{
    r->no_store = 1;
    int rc = resolve(r, p);
    if (rc) {
        if (rc == QL_EUNAUTHENTICATED)
            ql__res_header(r, "WWW-Authenticate", "Bearer");
        ql__res_problem(r, rc);
        return -1;
    }
    r->cx.principal = p;
    return r->server ? admit(r, p) : 0;
}

int ql__authenticate_team(struct ql_http_req *r, struct ql_principal *p, struct ql_uuid *team,
                          const char *second, struct ql_uuid *id)
{
    if (ql__authenticate(r, p))
        return -1;
    if (team && ql__param_uuid(r, 0, "teamId", team))
        return -1;
    if (second && ql__param_uuid(r, 1, second, id))
        return -1;
    return 0;
}

void ql__client_ip(struct ql_http_req *r, char *out, size_t cap)
{
    const struct ql_span *xff = ql__req_header(r, "x-forwarded-for");
    ql_client_address(&r->env->cfg->trusted_proxies, r->peer, xff ? xff->p : NULL, xff ? xff->n : 0,
                      out, cap);
}
