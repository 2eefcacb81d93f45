/*
 * respond.c - what handlers use to read a request and write a response: header lookup,
 * response headers, JSON bodies, RFC 9457 problem details, and the statuses' reason phrases
 * (which h1.c's status lines use too).
 *
 * Problem bodies never carry internal detail: for codes that map to 5xx the default
 * message of the code is sent and the internal message goes to the log with the trace id.
 */
#include "h1.h"
#include "req.h"

#include "arena/arena.h"
#include "config/config.h"
#include "err/err.h"
#include "log/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ql__http_status(int code)
{
    switch (code) {
    case QL_EMALFORMED_JSON:
    case QL_EBAD_REQUEST:
    case QL_EINVALID_TOKEN:
        return 400;
    case QL_EUNAUTHENTICATED:
    case QL_EINVALID_CREDENTIALS:
        return 401;
    case QL_EFORBIDDEN:
        return 403;
    case QL_ENOT_FOUND:
        return 404;
    case QL_EMETHOD_NOT_ALLOWED:
        return 405;
    case QL_ECONFLICT:
    case QL_EEMAIL_TAKEN:
    case QL_EIDEM_IN_PROGRESS:
        return 409;
    case QL_ECURSOR_EXPIRED:
        return 410;
    case QL_EPRECONDITION:
        return 412;
    case QL_ETOO_LARGE:
        return 413;
    case QL_EMEDIA_TYPE:
        return 415;
    case QL_EVALIDATION:
    case QL_EIDEM_REUSED:
        return 422;
    case QL_ERATE_LIMITED:
    case QL_EQUOTA:
        return 429;
    case QL_EHEADERS_TOO_LARGE:
        return 431;
    case QL_ENOT_MODIFIED:
        return 304;
    case QL_EUNAVAILABLE:
    case QL_ERETRY:
    case QL_EWOULD_BLOCK:
        return 503;
    default:
        return 500; /* QL_EINTERNAL, QL_ENOMEM, QL_EIO, QL_ECONFIG and anything unknown */
    }
}

const char *ql__http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

void ql__req_reset(struct ql_http_req *r, struct ql_arena *arena)
{
    /* What belongs to the connection survives; everything of the last request goes. */
    const struct ql_http_env *env = r->env;
    struct ql_http_server *server = r->server;
    struct ql__h1 *conn = r->conn;
    struct ql__exec *exec = r->exec;
    const char *peer = r->peer;
    memset(r, 0, sizeof(*r));
    r->env = env;
    r->server = server;
    r->conn = conn;
    r->exec = exec;
    r->peer = peer;
    r->cx.arena = arena;
    if (env) {
        r->cx.cfg = env->core;
        r->cx.ports.clock = env->clock;
        r->cx.ports.auth = env->auth;
        r->cx.ports.log = env->log;
        r->cx.ports.tracer = env->tracer;
    }
    r->route = -1;
    ql_buf_init(&r->res_headers, arena);
    ql_buf_init(&r->res_body, arena);
}

void ql__req_room(struct ql_http_req *r, size_t n)
{
    struct ql_arena *a = r->cx.arena;
    if (a->limit == 0) /* unlimited */
        return;
    size_t want = n > SIZE_MAX - a->total ? SIZE_MAX : a->total + n;
    if (a->limit < want)
        a->limit = want;
}

const struct ql_span *ql__req_header(const struct ql_http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nheaders; i++) {
        const struct ql_http_header *h = &r->headers[i];
        if (h->name.n == n && strncasecmp(h->name.p, name, n) == 0)
            return &h->value;
    }
    return NULL;
}

void ql__res_header(struct ql_http_req *r, const char *name, const char *value)
{
    ql_buf_puts(&r->res_headers, name);
    ql_buf_append(&r->res_headers, ": ", 2);
    ql_buf_puts(&r->res_headers, value);
    ql_buf_append(&r->res_headers, "\r\n", 2);
}

void ql__res_json(struct ql_http_req *r, int status)
{
    r->status = status;
    r->content_type = "application/json";
}

void ql__res_text(struct ql_http_req *r, int status, const char *ctype, const char *s, size_t n)
{
    r->status = status;
    r->content_type = ctype;
    r->body_ref = (struct ql_span){NULL, 0};
    r->res_body.len = 0;
    ql_buf_append(&r->res_body, s, n);
}

static void problem(struct ql_http_req *r, int status, const char *code, const char *detail,
                    const struct ql_error *fields)
{
    r->status = status;
    r->content_type = "application/problem+json";
    r->body_ref = (struct ql_span){NULL, 0};
    r->res_body.len = 0;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "type");
    ql_jw_str(&w, "about:blank");
    ql_jw_key(&w, "title");
    ql_jw_str(&w, ql__http_reason(status));
    ql_jw_key(&w, "status");
    ql_jw_int(&w, status);
    ql_jw_key(&w, "detail");
    ql_jw_str(&w, detail);
    ql_jw_key(&w, "code");
    ql_jw_str(&w, code);
    ql_jw_key(&w, "traceId");
    ql_jw_str(&w, r->cx.trace_id);
    if (fields && fields->nfields > 0) {
        ql_jw_key(&w, "errors");
        ql_jw_arr(&w);
        for (int i = 0; i < fields->nfields; i++) {
            ql_jw_obj(&w);
            ql_jw_key(&w, "field");
            ql_jw_str(&w, fields->fields[i].field);
            ql_jw_key(&w, "code");
            ql_jw_str(&w, fields->fields[i].code);
            ql_jw_key(&w, "message");
            ql_jw_str(&w, fields->fields[i].message);
            ql_jw_obj_end(&w);
        }
        ql_jw_arr_end(&w);
    }
    ql_jw_obj_end(&w);
}

/* Does the response have header name already?  (names as this adapter writes them) */
static int has_header(const struct ql_http_req *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->res_headers.data, *end = p ? p + r->res_headers.len : NULL;
    while (p && p + n < end) {
        if (strncmp(p, name, n) == 0 && p[n] == ':')
            return 1;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/*
 * Every 429 says when to come back and which allowance ran out (RateLimit-*), and every
 * 503 says when to retry; handlers that know better have set these already.
 */
static void retry_headers(struct ql_http_req *r, int status, const struct ql_error *e)
{
    int64_t secs = e->retry_after_ms > 0 ? (e->retry_after_ms + 999) / 1000 : 1;
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)secs);
    if (!has_header(r, "Retry-After"))
        ql__res_header(r, "Retry-After", v);
    if (status != 429 || has_header(r, "RateLimit-Limit"))
        return;
    char lim[24]; /* a quota of 0 is said as it is; another allowance unknown is taken as 1 */
    int64_t limit = e->rate_limit > 0 || e->code == QL_EQUOTA ? e->rate_limit : 1;
    snprintf(lim, sizeof(lim), "%lld", (long long)limit);
    ql__res_header(r, "RateLimit-Limit", lim);
    ql__res_header(r, "RateLimit-Remaining", "0");
    ql__res_header(r, "RateLimit-Reset", v);
}

void ql__res_done(struct ql_http_req *r, int rc)
{
    if (rc)
        ql__res_problem(r, rc);
    else
        r->status = 204;
}

void ql__res_problem(struct ql_http_req *r, int code)
{
    if (code == QL_EWOULD_BLOCK && ql__req_refuse(r))
        return; /* the loop's port refused: the request runs again on the pool */
    struct ql_error *e = &r->cx.err;
    if (e->code != code) {
        e->code = code;
        e->msg[0] = '\0';
        e->nfields = 0;
        e->retry_after_ms = 0;
        e->rate_limit = 0;
    }
    int status = ql__http_status(code);
    if (status == 429 || status == 503)
        retry_headers(r, status, e);
    const char *detail = e->msg[0] ? e->msg : ql_strerror(code);
    if (status >= 500) {
        if (e->msg[0])
            ql_log(r->env->log, QL_LOG_ERROR, "request failed", "code", ql_err_name(code), "error",
                   e->msg, "trace_id", r->cx.trace_id, NULL);
        detail = ql_strerror(code);
    }
    problem(r, status, ql_err_name(code), detail, e);
}

void ql__res_problem_status(struct ql_http_req *r, int status, const char *code, const char *detail)
{
    problem(r, status, code, detail, NULL);
}
