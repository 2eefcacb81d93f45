/*
 * h_webhooks.c - handlers of a team's webhook endpoints, their deliveries, and the
 * operators' list of failed deliveries.
 */
#include "internal.h"

#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"
#include "webhook/webhook.h"

#include <cJSON.h>
#include <string.h>

void ql__h_webhook_create(struct ql_http_req *r);
void ql__h_webhook_list(struct ql_http_req *r);
void ql__h_webhook_delete(struct ql_http_req *r);
void ql__h_webhook_deliveries(struct ql_http_req *r);
void ql__h_webhook_redeliver(struct ql_http_req *r);
void ql__h_admin_webhook_failures(struct ql_http_req *r);

/* {webhookId, url, events, description, createdAt, disabledAt}, without the secret. */
static void webhook_fields(struct ql_jw *w, const struct ql_webhook *h)
{
    ql_jw_key(w, "webhookId");
    ql__jw_uuid(w, &h->id);
    ql_jw_key(w, "url");
    ql_jw_str(w, h->url);
    ql_jw_key(w, "events");
    ql_jw_arr(w);
    for (int i = 0; i < h->nevents; i++)
        ql_jw_str(w, h->events[i]);
    ql_jw_arr_end(w);
    ql_jw_key(w, "description");
    ql_jw_str(w, h->description);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, h->created_ms);
    ql_jw_key(w, "disabledAt");
    ql__jw_time_or_null(w, h->disabled_ms);
}

/* {deliveryId, event, attempt, status, responseStatus, error, createdAt} */
static void attempt_fields(struct ql_jw *w, const struct ql_delivery_attempt *a)
{
    ql_jw_key(w, "deliveryId");
    ql__jw_uuid(w, &a->delivery_id);
    ql_jw_key(w, "event");
    ql_jw_str(w, a->event);
    ql_jw_key(w, "attempt");
    ql_jw_int(w, a->attempt);
    ql_jw_key(w, "status");
    ql_jw_str(w, a->ok ? "succeeded" : "failed");
    ql_jw_key(w, "responseStatus");
    if (a->response_status)
        ql_jw_int(w, a->response_status);
    else
        ql_jw_null(w);
    ql_jw_key(w, "error");
    if (a->error)
        ql_jw_str(w, a->error);
    else
        ql_jw_null(w);
    ql_jw_key(w, "durationMs");
    ql_jw_int(w, a->duration_ms);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, a->at_ms);
}

struct create {
    struct ql_uuid team;
    struct ql_webhook hook;
    char secret[QL_WEBHOOK_SECRET_LEN];
};

static void render_created(struct ql_http_req *r, void *arg)
{
    const struct create *c = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    webhook_fields(&w, &c->hook);
    ql_jw_key(&w, "secret");
    ql_jw_str(&w, c->secret);
    ql_jw_obj_end(&w);
    ql__res_json(r, 201);
}

static int run_create(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"url", QL__JSON_STRING, 1},
        {"events", QL__JSON_ARRAY, 1},
        {"description", QL__JSON_STRING_OR_NULL, 0},
    };
    struct create *c = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 3, &body))
        return r->cx.err.code;
    size_t un, dn = 0;
    const char *url = ql__json_str(body, "url", &un);
    const char *desc = ql__json_str(body, "description", &dn);
    const char *events[QL_WEBHOOK_EVENTS_MAX + 1];
    int n = 0;
    const cJSON *e, *arr = cJSON_GetObjectItemCaseSensitive(body, "events");
    cJSON_ArrayForEach(e, arr)
    {
        if (!cJSON_IsString(e) || e->valuestring == NULL)
            return ql_error_field(&r->cx.err, "events", "invalid_type", "must be strings");
        if (n > QL_WEBHOOK_EVENTS_MAX)
            break; /* the use case refuses the count */
        events[n++] = e->valuestring;
    }
    return ql_webhook_create(&r->cx, &c->team, url, un, events, n, desc, dn, &c->hook, c->secret);
}

void ql__h_webhook_create(struct ql_http_req *r)
{
    struct ql_principal p;
    struct create c;
    if (ql__authenticate_team(r, &p, &c.team, NULL, NULL))
        return;
    ql__run(r, &p, run_create, render_created, &c);
}

void ql__h_webhook_list(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_webhook *hooks;
    int n;
    const char *next;
    int rc = ql_webhook_list(&r->cx, &team, cursor, cn, limit, &hooks, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        webhook_fields(&w, &hooks[i]);
        ql_jw_obj_end(&w);
    }
    ql__res_page_end(r, &w, next);
}

void ql__h_webhook_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, id;
    if (ql__authenticate_team(r, &p, &team, "webhookId", &id))
        return;
    ql__res_done(r, ql_webhook_delete(&r->cx, &team, &id));
}

void ql__h_webhook_deliveries(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, hook;
    int limit;
    if (ql__authenticate_team(r, &p, &team, "webhookId", &hook) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_delivery_attempt *a;
    int n;
    const char *next;
    int rc = ql_webhook_attempts(&r->cx, &team, &hook, cursor, cn, limit, &a, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        attempt_fields(&w, &a[i]);
        ql_jw_obj_end(&w);
    }
    ql__res_page_end(r, &w, next);
}

struct redeliver {
    struct ql_uuid team, hook, delivery;
};

static void render_redelivered(struct ql_http_req *r, void *arg)
{
    const struct redeliver *d = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "deliveryId");
    ql__jw_uuid(&w, &d->delivery);
    ql_jw_key(&w, "status");
    ql_jw_str(&w, "pending");
    ql_jw_obj_end(&w);
    ql__res_json(r, 202);
}

static int run_redeliver(struct ql_http_req *r, void *arg)
{
    const struct redeliver *d = arg;
    return ql_webhook_redeliver(&r->cx, &d->team, &d->hook, &d->delivery);
}

void ql__h_webhook_redeliver(struct ql_http_req *r)
{
    struct ql_principal p;
    struct redeliver d;
    if (ql__authenticate_team(r, &p, &d.team, "webhookId", &d.hook) ||
        ql__param_uuid(r, 2, "deliveryId", &d.delivery))
        return;
    ql__run(r, &p, run_redeliver, render_redelivered, &d);
}

void ql__h_admin_webhook_failures(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit))
        return;
    struct ql_delivery_attempt *a;
    int n;
    int rc = ql_webhook_failures(&r->cx, limit, &a, &n);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        ql_jw_key(&w, "teamId");
        ql__jw_uuid(&w, &a[i].team_id);
        ql_jw_key(&w, "webhookId");
        ql__jw_uuid(&w, &a[i].webhook_id);
        attempt_fields(&w, &a[i]);
        ql_jw_obj_end(&w);
    }
    ql__res_page_end(r, &w, NULL);
}
