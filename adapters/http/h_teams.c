/*
 * h_teams.c - handlers of the /v1/teams routes: teams, members, API keys and the audit log.
 */
#include "internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "err/err.h"
#include "model/model.h"
#include "team/team.h"

#include <cJSON.h>
#include <stdio.h>

void ql__h_team_create(struct ql_http_req *r);
void ql__h_team_list(struct ql_http_req *r);
void ql__h_team_get(struct ql_http_req *r);
void ql__h_team_update(struct ql_http_req *r);
void ql__h_team_delete(struct ql_http_req *r);
void ql__h_member_list(struct ql_http_req *r);
void ql__h_member_add(struct ql_http_req *r);
void ql__h_member_update(struct ql_http_req *r);
void ql__h_member_remove(struct ql_http_req *r);
void ql__h_key_create(struct ql_http_req *r);
void ql__h_key_list(struct ql_http_req *r);
void ql__h_key_delete(struct ql_http_req *r);
void ql__h_audit_list(struct ql_http_req *r);

static void team_response(struct ql_http_req *r, int status, const struct ql_team *t)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql__jw_team(&w, t);
    ql__res_json(r, status);
}

static void render_team_created(struct ql_http_req *r, void *arg)
{
    const struct ql_team *t = arg;
    char loc[64], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&t->id, id);
    snprintf(loc, sizeof(loc), "/v1/teams/%s", id);
    ql__res_header(r, "Location", loc);
    team_response(r, 201, t);
}

static int run_team_create(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"name", QL__JSON_STRING, 1}};
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    size_t n;
    const char *name = ql__json_str(body, "name", &n);
    int rc = ql_team_create(&r->cx, name, n, arg);
    return rc;
}

void ql__h_team_create(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_team t;
    if (ql__authenticate_team(r, &p, NULL, NULL, NULL))
        return;
    ql__run(r, &p, run_team_create, render_team_created, &t);
}

void ql__h_team_list(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate_team(r, &p, NULL, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_team_role *teams;
    int n;
    const char *next;
    int rc = ql_team_list_mine(&r->cx, cursor, cn, limit, &teams, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        ql_jw_key(&w, "teamId");
        ql__jw_uuid(&w, &teams[i].team_id);
        ql_jw_key(&w, "name");
        ql_jw_str(&w, teams[i].name);
        ql_jw_key(&w, "role");
        ql_jw_str(&w, ql_role_name(teams[i].role));
        ql_jw_obj_end(&w);
    }
    ql__res_page_end(r, &w, next);
}

void ql__h_team_get(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL))
        return;
    struct ql_team t;
    int rc = ql_team_get(&r->cx, &team, &t);
    if (rc)
        ql__res_problem(r, rc);
    else
        team_response(r, 200, &t);
}

void ql__h_team_update(struct ql_http_req *r)
{
    static const struct ql__field f[] = {{"name", QL__JSON_STRING, 1}};
    struct ql_principal p;
    struct ql_uuid team;
    cJSON *body;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__body_parse(r, f, 1, &body))
        return;
    size_t n;
    const char *name = ql__json_str(body, "name", &n);
    struct ql_team t;
    int rc = ql_team_rename(&r->cx, &team, name, n, &t);
    if (rc)
        ql__res_problem(r, rc);
    else
        team_response(r, 200, &t);
}

void ql__h_team_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL))
        return;
    int rc = ql_team_delete(&r->cx, &team);
    ql__res_done(r, rc);
}

void ql__h_member_list(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_member *m;
    int n;
    const char *next;
    int rc = ql_member_list(&r->cx, &team, cursor, cn, limit, &m, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        ql__jw_member(&w, &m[i]);
    ql__res_page_end(r, &w, next);
}

static void member_response(struct ql_http_req *r, int status, const struct ql_member *m)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql__jw_member(&w, m);
    ql__res_json(r, status);
}

/* Adding a member or a key: its team, and what was made. */
struct add {
    struct ql_uuid team;
    struct ql_member m;
    struct ql_new_api_key k;
};

static void render_member_added(struct ql_http_req *r, void *arg)
{
    member_response(r, 201, &((struct add *)arg)->m);
}

static int run_member_add(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"email", QL__JSON_STRING, 1},
                                         {"role", QL__JSON_STRING, 1}};
    struct add *a = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    size_t en, rn;
    const char *email = ql__json_str(body, "email", &en);
    const char *role = ql__json_str(body, "role", &rn);
    int rc = ql_member_add(&r->cx, &a->team, email, en, role, rn, &a->m);
    return rc;
}

void ql__h_member_add(struct ql_http_req *r)
{
    struct ql_principal p;
    struct add a;
    if (ql__authenticate_team(r, &p, &a.team, NULL, NULL))
        return;
    ql__run(r, &p, run_member_add, render_member_added, &a);
}

void ql__h_member_update(struct ql_http_req *r)
{
    static const struct ql__field f[] = {{"role", QL__JSON_STRING, 1}};
    struct ql_principal p;
    struct ql_uuid team, user;
    cJSON *body;
    if (ql__authenticate_team(r, &p, &team, "userId", &user) || ql__body_parse(r, f, 1, &body))
        return;
    size_t rn;
    const char *role = ql__json_str(body, "role", &rn);
    struct ql_member m;
    int rc = ql_member_set_role(&r->cx, &team, &user, role, rn, &m);
    if (rc)
        ql__res_problem(r, rc);
    else
        member_response(r, 200, &m);
}

void ql__h_member_remove(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, user;
    if (ql__authenticate_team(r, &p, &team, "userId", &user))
        return;
    int rc = ql_member_remove(&r->cx, &team, &user);
    ql__res_done(r, rc);
}

static void render_key_created(struct ql_http_req *r, void *arg)
{
    const struct ql_new_api_key *k = &((struct add *)arg)->k;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql__jw_api_key_fields(&w, &k->key);
    ql_jw_key(&w, "key");
    ql_jw_str(&w, k->secret);
    ql_jw_obj_end(&w);
    ql__res_json(r, 201);
}

static int run_key_create(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"name", QL__JSON_STRING, 1},
        {"role", QL__JSON_STRING, 1},
        {"expiresAt", QL__JSON_STRING_OR_NULL, 0},
    };
    struct add *a = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 3, &body))
        return r->cx.err.code;
    size_t nn, rn, en;
    const char *name = ql__json_str(body, "name", &nn);
    const char *role = ql__json_str(body, "role", &rn);
    const char *exp = ql__json_str(body, "expiresAt", &en);
    int rc = ql_api_key_create(&r->cx, &a->team, name, nn, role, rn, exp, en, &a->k);
    return rc;
}

void ql__h_key_create(struct ql_http_req *r)
{
    struct ql_principal p;
    struct add a;
    if (ql__authenticate_team(r, &p, &a.team, NULL, NULL))
        return;
    ql__run(r, &p, run_key_create, render_key_created, &a);
}

void ql__h_key_list(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_api_key *keys;
    int n;
    const char *next;
    int rc = ql_api_key_list(&r->cx, &team, cursor, cn, limit, &keys, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++) {
        ql_jw_obj(&w);
        ql__jw_api_key_fields(&w, &keys[i]);
        ql_jw_obj_end(&w);
    }
    ql__res_page_end(r, &w, next);
}

void ql__h_key_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, id;
    if (ql__authenticate_team(r, &p, &team, "apiKeyId", &id))
        return;
    int rc = ql_api_key_revoke(&r->cx, &team, &id);
    ql__res_done(r, rc);
}

void ql__h_audit_list(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_audit_entry *rows;
    int n;
    const char *next;
    int rc = ql_audit_list(&r->cx, &team, cursor, cn, limit, &rows, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        ql__jw_audit(&w, &rows[i]);
    ql__res_page_end(r, &w, next);
}
