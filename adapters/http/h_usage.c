/*
 * h_usage.c - handlers of a team's subscription: what a team admin reads
 * (GET /v1/teams/{teamId}/subscription) and what an operator sets
 * (PUT /v1/admin/teams/{teamId}/subscription).  After a change every instance is told
 * (QL_NOTIFY_USAGE), so that their meters give back what they hold of the team's old quota
 * and ask again (meter.c).
 */
#include "internal.h"

#include "err/err.h"
#include "model/model.h"
#include "notify/notify.h"
#include "usage/usage.h"
#include "wire/wire.h"

#include <cJSON.h>

void ql__h_subscription_get(struct ql_http_req *r);
void ql__h_admin_subscription(struct ql_http_req *r);

/* {plan, monthlyQuota, used, periodStart, periodEnd} */
static void render(struct ql_http_req *r, const struct ql_subscription *s)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_wire_subscription_fields(&w, s);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}

void ql__h_subscription_get(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL))
        return;
    struct ql_subscription s;
    int rc = ql_subscription_get(&r->cx, &team, &s);
    if (rc)
        ql__res_problem(r, rc);
    else
        render(r, &s);
}

void ql__h_admin_subscription(struct ql_http_req *r)
{
    static const struct ql__field f[] = {
        {"plan", QL__JSON_STRING, 1},
        {"monthlyQuota", QL__JSON_INT, 1},
    };
    struct ql_principal p;
    struct ql_uuid team;
    cJSON *body;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__body_parse(r, f, 2, &body))
        return;
    size_t n;
    const char *plan = ql__json_str(body, "plan", &n);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(body, "monthlyQuota");
    struct ql_subscription s;
    int rc = ql_subscription_set(&r->cx, &team, plan, n, (int64_t)q->valuedouble, &s);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    if (r->env->notify) {
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&team, id);
        if (ql_notify_post(r->env->notify, QL_NOTIFY_USAGE, id) != QL_OK)
            ql_log(r->env->log, QL_LOG_WARN, "cannot announce a subscription change", "team", id,
                   NULL); /* the meters notice at their next reservation */
    }
    render(r, &s);
}
