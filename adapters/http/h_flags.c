/*
 * h_flags.c - handlers of feature flags: the operator's API (/v1/admin/flags...) and a
 * team's values (/v1/teams/{teamId}/flags).
 */
#include "internal.h"

#include "arena/arena.h"
#include "err/err.h"
#include "flag/flag.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <cJSON.h>
#include <string.h>

void ql__h_team_flags(struct ql_http_req *r);
void ql__h_admin_flags(struct ql_http_req *r);
void ql__h_admin_flag_get(struct ql_http_req *r);
void ql__h_admin_flag_put(struct ql_http_req *r);
void ql__h_admin_flag_delete(struct ql_http_req *r);
void ql__h_admin_flag_teams(struct ql_http_req *r);
void ql__h_admin_flag_team_put(struct ql_http_req *r);
void ql__h_admin_flag_team_delete(struct ql_http_req *r);

/* {flagKey, description, enabled, rolloutPercent, createdAt, updatedAt} */
static void write_flag(struct ql_jw *w, const struct ql_flag *f)
{
    ql_jw_obj(w);
    ql_jw_key(w, "flagKey");
    ql_jw_str(w, f->key);
    ql_jw_key(w, "description");
    ql_jw_str(w, f->description);
    ql_jw_key(w, "enabled");
    ql_jw_bool(w, f->enabled);
    ql_jw_key(w, "rolloutPercent");
    ql_jw_int(w, f->rollout_percent);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, f->created_ms);
    ql_jw_key(w, "updatedAt");
    ql__jw_time(w, f->updated_ms);
    ql_jw_obj_end(w);
}

static void write_override(struct ql_jw *w, const struct ql_flag_team *o)
{
    ql_jw_obj(w);
    ql_jw_key(w, "teamId");
    ql__jw_uuid(w, &o->team_id);
    ql_jw_key(w, "enabled");
    ql_jw_bool(w, o->enabled);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, o->created_ms);
    ql_jw_key(w, "updatedAt");
    ql__jw_time(w, o->updated_ms);
    ql_jw_obj_end(w);
}

void ql__h_team_flags(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL))
        return;
    struct ql_flag_value *v;
    int n;
    int rc = ql_flags_for_team(&r->cx, &team, &v, &n);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "teamId");
    ql__jw_uuid(&w, &team);
    ql_jw_key(&w, "flags");
    ql_jw_obj(&w);
    for (int i = 0; i < n; i++) {
        ql_jw_key(&w, v[i].key);
        ql_jw_bool(&w, v[i].on);
    }
    ql_jw_obj_end(&w);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}

/* The {flagKey} path parameter as a string (arena); NULL after answering. */
static const char *flag_key(struct ql_http_req *r)
{
    const char *k =
        r->nparams > 0 ? ql_arena_strndup(r->cx.arena, r->params[0].p, r->params[0].n) : NULL;
    if (k == NULL)
        ql__res_problem(r, QL_ENOMEM);
    return k;
}

void ql__h_admin_flags(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_flag *flags = NULL;
    int n = 0;
    const char *next = NULL;
    int rc = ql_flags_list(&r->cx, cursor, limit, &flags, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        write_flag(&w, &flags[i]);
    ql__res_page_end(r, &w, next);
}

void ql__h_admin_flag_get(struct ql_http_req *r)
{
    struct ql_principal p;
    const char *key;
    if (ql__authenticate(r, &p) || (key = flag_key(r)) == NULL)
        return;
    struct ql_flag f;
    int rc = ql_flags_get(&r->cx, key, &f);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    write_flag(&w, &f);
    ql__res_json(r, 200);
}

struct put {
    const char *key;
    struct ql_uuid team;
    int created;
    struct ql_flag flag;
    struct ql_flag_team override;
};

static int run_put(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"enabled", QL__JSON_BOOL, 1},
        {"rolloutPercent", QL__JSON_INT, 0},
        {"description", QL__JSON_STRING_OR_NULL, 0},
    };
    struct put *c = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 3, &body))
        return r->cx.err.code;
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(body, "rolloutPercent");
    double d = pct ? pct->valuedouble : 0;
    int percent = d >= -1000 && d <= 1000 ? (int)d : 1000; /* the use case says what the range is */
    return ql_flags_put(&r->cx, c->key, ql__json_str(body, "description", NULL),
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "enabled")), percent,
                        &c->flag, &c->created);
}

static void render_put(struct ql_http_req *r, void *arg)
{
    const struct put *c = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    write_flag(&w, &c->flag);
    ql__res_json(r, c->created ? 201 : 200);
}

void ql__h_admin_flag_put(struct ql_http_req *r)
{
    struct ql_principal p;
    struct put c = {0};
    if (ql__authenticate(r, &p) || (c.key = flag_key(r)) == NULL)
        return;
    ql__run(r, &p, run_put, render_put, &c);
}

void ql__h_admin_flag_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    const char *key;
    if (ql__authenticate(r, &p) || (key = flag_key(r)) == NULL)
        return;
    ql__res_done(r, ql_flags_delete(&r->cx, key));
}

void ql__h_admin_flag_teams(struct ql_http_req *r)
{
    struct ql_principal p;
    const char *key;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit) || (key = flag_key(r)) == NULL)
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_flag_team *o = NULL;
    int n = 0;
    const char *next = NULL;
    int rc = ql_flags_team_list(&r->cx, key, cursor, cn, limit, &o, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        write_override(&w, &o[i]);
    ql__res_page_end(r, &w, next);
}

static int run_team_put(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"enabled", QL__JSON_BOOL, 1}};
    struct put *c = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    return ql_flags_team_put(&r->cx, c->key, &c->team,
                             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "enabled")),
                             &c->override, &c->created);
}

static void render_team_put(struct ql_http_req *r, void *arg)
{
    const struct put *c = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    write_override(&w, &c->override);
    ql__res_json(r, c->created ? 201 : 200);
}

void ql__h_admin_flag_team_put(struct ql_http_req *r)
{
    struct ql_principal p;
    struct put c = {0};
    if (ql__authenticate(r, &p) || (c.key = flag_key(r)) == NULL ||
        ql__param_uuid(r, 1, "teamId", &c.team))
        return;
    ql__run(r, &p, run_team_put, render_team_put, &c);
}

void ql__h_admin_flag_team_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    const char *key;
    if (ql__authenticate(r, &p) || (key = flag_key(r)) == NULL ||
        ql__param_uuid(r, 1, "teamId", &team))
        return;
    ql__res_done(r, ql_flags_team_delete(&r->cx, key, &team));
}
