/*
 * h_service.c - the service endpoints: liveness, readiness, metrics, version and the
 * OpenAPI document.  Only /readyz touches the database (on the pool); the rest answer
 * from the loop.
 */
#include "internal.h"

#include "config/config.h"
#include "err/err.h"
#include "store/store.h"

#include <string.h>

void ql__h_livez(struct ql_http_req *r);
void ql__h_readyz(struct ql_http_req *r);
void ql__h_metrics(struct ql_http_req *r);
void ql__h_version(struct ql_http_req *r);
void ql__h_openapi(struct ql_http_req *r);

void ql__h_livez(struct ql_http_req *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    ql__res_text(r, 200, "application/json", ok, sizeof(ok) - 1);
}

static void readyz_problem(struct ql_http_req *r, const char *db, const char *mig,
                           const char *detail)
{
    ql__res_problem_status(r, 503, "unavailable", detail);
    /* Re-open the problem object to add which check failed. */
    r->res_body.len--;
    struct ql_buf *b = &r->res_body;
    ql_buf_puts(b, ",\"checks\":{\"database\":\"");
    ql_buf_puts(b, db);
    ql_buf_puts(b, "\",\"migrations\":\"");
    ql_buf_puts(b, mig);
    ql_buf_puts(b, "\"}}");
}

void ql__h_readyz(struct ql_http_req *r)
{
    struct ql_store *st = r->cx.ports.store;
    int64_t version = 0;
    int rc = ql_store_schema_version(st, &r->cx, &version); /* 0: never migrated */
    if (rc != QL_OK && rc != QL_EUNAVAILABLE && ql_store_ping(st, &r->cx) == QL_OK) {
        /* reachable, but schema_migrations is there and unreadable (a role's privileges) */
        readyz_problem(r, "ok", "unknown",
                       "The schema version cannot be read from schema_migrations.");
        return;
    }
    if (rc != QL_OK) {
        readyz_problem(r, "failing", "unknown", "The database is unavailable.");
        return;
    }
    if (version < r->env->schema_version) {
        readyz_problem(r, "ok", "pending",
                       "The database schema is behind this build; run quill-migrate up.");
        return;
    }
    static const char ok[] = "{\"status\":\"ok\",\"checks\":{\"database\":\"ok\","
                             "\"migrations\":\"ok\"}}";
    ql__res_text(r, 200, "application/json", ok, sizeof(ok) - 1);
}

/* Compare without an early exit, so timing does not reveal how much of a token matched. */
static int same_token(const char *a, size_t an, const char *b, size_t bn)
{
    unsigned char d = an != bn;
    for (size_t i = 0; i < an; i++)
        d |= (unsigned char)(a[i] ^ b[i % (bn ? bn : 1)]);
    return d == 0;
}

void ql__h_metrics(struct ql_http_req *r)
{
    const char *want = r->env->cfg->metrics_token;
    if (want[0]) {
        const struct ql_span *h = ql__req_header(r, "authorization");
        if (h == NULL || h->n < 7 || strncmp(h->p, "Bearer ", 7) != 0 ||
            !same_token(h->p + 7, h->n - 7, want, strlen(want))) {
            ql__res_header(r, "WWW-Authenticate", "Bearer");
            ql__res_problem(r, QL_EUNAUTHENTICATED);
            return;
        }
    }
    ql__metrics_render(r->server, &r->res_body);
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

void ql__h_version(struct ql_http_req *r)
{
    const char *v = r->env->version_json;
    ql__res_text(r, 200, "application/json", v, strlen(v));
}

void ql__h_openapi(struct ql_http_req *r)
{
    const char *v = r->env->openapi_json;
    ql__res_text(r, 200, "application/json", v, strlen(v));
}
