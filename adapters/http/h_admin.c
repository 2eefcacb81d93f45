/*
 * h_admin.c - the operator API (/v1/admin/jobs...), the /admin dashboard page and the
 * daily prompt of a team.
 */
#include "internal.h"

#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "model/model.h"
#include "ops/ops.h"
#include "prompt/prompt.h"

#include <stdio.h>
#include <string.h>

void ql__h_admin_jobs(struct ql_http_req *r);
void ql__h_admin_stats(struct ql_http_req *r);
void ql__h_admin_retry(struct ql_http_req *r);
void ql__h_admin_cancel(struct ql_http_req *r);
void ql__h_admin_page(struct ql_http_req *r);
void ql__h_prompt_daily(struct ql_http_req *r);

/* JSON text from the database, or null when absent. */
static void raw_json(struct ql_jw *w, const char *json)
{
    if (json)
        ql_jw_raw(w, json, strlen(json));
    else
        ql_jw_null(w);
}

static void write_job(struct ql_jw *w, const struct ql_job *j)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)j->id);
    ql_jw_obj(w);
    ql_jw_key(w, "jobId");
    ql_jw_str(w, id);
    ql_jw_key(w, "queue");
    ql_jw_str(w, j->queue);
    ql_jw_key(w, "kind");
    ql_jw_str(w, j->kind);
    ql_jw_key(w, "state");
    ql_jw_str(w, j->state);
    ql_jw_key(w, "priority");
    ql_jw_int(w, j->priority);
    ql_jw_key(w, "attempts");
    ql_jw_int(w, j->attempts);
    ql_jw_key(w, "maxAttempts");
    ql_jw_int(w, j->max_attempts);
    ql_jw_key(w, "uniqueKey");
    ql_jw_str_or_null(w, j->unique_key);
    ql_jw_key(w, "payload");
    raw_json(w, j->payload);
    ql_jw_key(w, "errors");
    raw_json(w, j->errors);
    ql_jw_key(w, "progress");
    raw_json(w, j->progress);
    ql_jw_key(w, "lockedBy");
    ql_jw_str_or_null(w, j->locked_by);
    ql_jw_key(w, "runAt");
    ql__jw_time(w, j->run_at_ms);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, j->created_ms);
    ql_jw_key(w, "lockedAt");
    ql__jw_time_or_null(w, j->locked_ms);
    ql_jw_key(w, "finishedAt");
    ql__jw_time_or_null(w, j->finished_ms);
    ql_jw_obj_end(w);
}

void ql__h_admin_jobs(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit))
        return;
    size_t n0, n1, n2, cn = 0;
    const char *state = ql__query(r, "state", &n0);
    const char *queue = ql__query(r, "queue", &n1);
    const char *kind = ql__query(r, "kind", &n2);
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_job *jobs;
    int n;
    const char *next;
    int rc = ql_ops_jobs(&r->cx, state, queue, kind, cursor, cn, limit, &jobs, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        write_job(&w, &jobs[i]);
    ql__res_page_end(r, &w, next);
}

void ql__h_admin_stats(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    struct ql_queue_stat *st;
    int n;
    int rc = ql_ops_stats(&r->cx, &st, &n);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    int64_t now = ql_clock_now_ms(r->cx.ports.clock), totals[QL_QUEUE_STATES] = {0}, oldest = 0;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "queues");
    ql_jw_arr(&w);
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        ql_jw_key(&w, "queue");
        ql_jw_str(&w, st[i].queue);
        for (int s = 0; s < QL_QUEUE_STATES; s++) {
            ql_jw_key(&w, ql_job_states[s]);
            ql_jw_int(&w, st[i].counts[s]);
            totals[s] += st[i].counts[s];
        }
        int64_t age = st[i].oldest_available_ms ? now - st[i].oldest_available_ms : 0;
        if (age > oldest)
            oldest = age;
        ql_jw_key(&w, "oldestAvailableAgeSeconds");
        ql_jw_double(&w, (double)(age > 0 ? age : 0) / 1000.0);
        ql_jw_obj_end(&w);
    }
    ql_jw_arr_end(&w);
    ql_jw_key(&w, "totals");
    ql_jw_obj(&w);
    for (int s = 0; s < QL_QUEUE_STATES; s++) {
        ql_jw_key(&w, ql_job_states[s]);
        ql_jw_int(&w, totals[s]);
    }
    ql_jw_obj_end(&w);
    ql_jw_key(&w, "oldestAvailableAgeSeconds");
    ql_jw_double(&w, (double)oldest / 1000.0);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}

/* A retry or a cancel of one job. */
struct change {
    int retry;
    int64_t id;
};

static int run_change(struct ql_http_req *r, void *arg)
{
    struct change *c = arg;
    if (r->nparams < 1 || ql_ops_job_id(&r->cx, r->params[0].p, r->params[0].n, &c->id) != QL_OK)
        return r->cx.err.code ? r->cx.err.code : QL_EVALIDATION;
    return c->retry ? ql_ops_retry(&r->cx, c->id) : ql_ops_cancel(&r->cx, c->id);
}

static void render_change(struct ql_http_req *r, void *arg)
{
    const struct change *c = arg;
    char sid[24];
    snprintf(sid, sizeof(sid), "%lld", (long long)c->id);
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "jobId");
    ql_jw_str(&w, sid);
    ql_jw_key(&w, "state");
    ql_jw_str(&w, c->retry ? "available" : "cancelled");
    ql_jw_obj_end(&w);
    ql__res_json(r, 202);
}

static void change(struct ql_http_req *r, int retry)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    struct change c = {retry, 0};
    ql__run(r, &p, run_change, render_change, &c);
}

void ql__h_admin_retry(struct ql_http_req *r)
{
    change(r, 1);
}

void ql__h_admin_cancel(struct ql_http_req *r)
{
    change(r, 0);
}

/*
 * The dashboard: a static page whose script calls the operator API with the same token.
 * The page itself also needs the token (Authorization: Bearer, or ?token= from a browser's
 * address bar; the script then drops it from the address and keeps it for the tab).
 */
void ql__h_admin_page(struct ql_http_req *r)
{
    const char *want = r->env->cfg->admin_token;
    const struct ql_span *h = ql__req_header(r, "authorization");
    size_t qn = 0;
    const char *q = ql__query(r, "token", &qn);
    int ok = want[0] && ((h && h->n > 7 && strncmp(h->p, "Bearer ", 7) == 0 &&
                          ql__same_secret(h->p + 7, h->n - 7, want, strlen(want))) ||
                         (q && ql__same_secret(q, qn, want, strlen(want))));
    r->no_store = 1;
    if (!ok) {
        ql__res_header(r, "WWW-Authenticate", "Bearer");
        ql__res_problem(r, QL_EUNAUTHENTICATED);
        return;
    }
    /* The page's own script and style, by hash: nothing injected into it could run. */
    const char *csp =
        ql_arena_sprintf(r->cx.arena,
                         "default-src 'none'; %s; connect-src 'self'; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                         r->env->admin_csp);
    if (csp == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    ql__res_header(r, "Content-Security-Policy", csp);
    const char *page = r->env->admin_html;
    ql__res_text(r, 200, "text/html; charset=utf-8", page, strlen(page));
}

void ql__h_prompt_daily(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate(r, &p) || ql__param_uuid(r, 0, "teamId", &team))
        return;
    struct ql_prompt pr;
    int rc = ql_prompt_daily(&r->cx, &team, &pr);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "promptId");
    ql__jw_uuid(&w, &pr.id);
    ql_jw_key(&w, "teamId");
    if (pr.has_team)
        ql__jw_uuid(&w, &pr.team_id);
    else
        ql_jw_null(&w);
    ql_jw_key(&w, "text");
    ql_jw_str(&w, pr.text);
    ql_jw_key(&w, "category");
    ql_jw_str(&w, pr.category);
    ql_jw_key(&w, "createdAt");
    ql__jw_time(&w, pr.created_ms);
    ql_jw_key(&w, "updatedAt");
    ql__jw_time(&w, pr.updated_ms);
    ql_jw_key(&w, "deletedAt");
    ql__jw_time_or_null(&w, pr.deleted_ms);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}
