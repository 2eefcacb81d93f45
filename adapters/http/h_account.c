/*
 * h_account.c - handlers of the /v1/auth routes and /v1/me: parse the body, call one account use
 * case, write the response.  They run on the pool (argon2id and the database).
 */
#include "internal.h"

#include "account/account.h"
#include "config/config.h"
#include "err/err.h"
#include "model/model.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

void ql__h_signup(struct ql_http_req *r);
void ql__h_login(struct ql_http_req *r);
void ql__h_logout(struct ql_http_req *r);
void ql__h_me(struct ql_http_req *r);
void ql__h_me_update(struct ql_http_req *r);
void ql__h_me_password(struct ql_http_req *r);

static void set_cookie(struct ql_http_req *r, const char *token, int64_t max_age_s)
{
    char v[256];
    snprintf(v, sizeof(v), "quill_session=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%lld%s",
             token, (long long)max_age_s, r->env->cfg->public_https ? "; Secure" : "");
    ql__res_header(r, "Set-Cookie", v);
}

/*
 * {"user": User, "session": {...}} and the session cookie; with MFA on, the password's answer
 * {"mfaRequired": true, "mfaToken", "expiresAt"} instead (h_security.c answers its second step
 * with this too).
 */
void ql__auth_response(struct ql_http_req *r, int status, const struct ql_auth_result *res);

/* Signup and login: the body's credentials and the use case's result. */
struct sign {
    struct ql_auth_result res;
    int (*use_case)(struct ql_ctx *cx, const struct ql_credentials *in, struct ql_auth_result *out);
    const struct ql__field *fields;
    int nfields;
};

static void render_signup(struct ql_http_req *r, void *arg)
{
    ql__auth_response(r, 201, &((struct sign *)arg)->res);
}

static void render_login(struct ql_http_req *r, void *arg)
{
    ql__auth_response(r, 200, &((struct sign *)arg)->res);
}

static void render_logout(struct ql_http_req *r, void *arg)
{
    (void)arg;
    set_cookie(r, "", 0);
    r->status = 204;
}

static void render_no_content(struct ql_http_req *r, void *arg)
{
    (void)arg;
    r->status = 204;
}

void ql__auth_response(struct ql_http_req *r, int status, const struct ql_auth_result *res)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    r->no_store = 1;
    if (res->mfa_token) { /* no session yet, so no cookie */
        ql_jw_key(&w, "mfaRequired");
        ql_jw_bool(&w, 1);
        ql_jw_key(&w, "mfaToken");
        ql_jw_str(&w, res->mfa_token);
        ql_jw_key(&w, "expiresAt");
        ql__jw_time(&w, res->mfa_expires_ms);
        ql_jw_obj_end(&w);
        ql__res_json(r, status);
        return;
    }
    ql_jw_key(&w, "user");
    ql_jw_obj(&w);
    ql__jw_user_fields(&w, &res->user);
    ql_jw_obj_end(&w);
    ql_jw_key(&w, "session");
    ql_jw_obj(&w);
    ql_jw_key(&w, "token");
    ql_jw_str(&w, res->session.token);
    ql_jw_key(&w, "expiresAt");
    ql__jw_time(&w, res->session.expires_ms);
    ql_jw_key(&w, "csrfToken");
    ql_jw_str(&w, res->session.csrf);
    ql_jw_obj_end(&w);
    ql_jw_obj_end(&w);
    set_cookie(r, res->session.token, r->env->core->session_ttl_ms / 1000);
    ql__res_json(r, status);
}

static void credentials(struct ql_http_req *r, cJSON *body, struct ql_credentials *in, char *ip,
                        size_t ipcap)
{
    memset(in, 0, sizeof(*in));
    in->email = ql__json_str(body, "email", &in->email_n);
    in->password = ql__json_str(body, "password", &in->password_n);
    in->display_name = ql__json_str(body, "displayName", &in->display_name_n);
    ql__client_ip(r, ip, ipcap);
    in->client_ip = ip;
    const struct ql_span *ua = ql__req_header(r, "user-agent");
    if (ua) {
        in->user_agent = ua->p;
        in->user_agent_n = ua->n;
    }
}

static int run_sign(struct ql_http_req *r, void *arg)
{
    struct sign *s = arg;
    cJSON *body;
    if (ql__body_parse(r, s->fields, s->nfields, &body))
        return r->cx.err.code;
    struct ql_credentials in;
    char ip[64];
    credentials(r, body, &in, ip, sizeof(ip));
    int rc = s->use_case(&r->cx, &in, &s->res);
    return rc;
}

void ql__h_signup(struct ql_http_req *r)
{
    static const struct ql__field f[] = {
        {"email", QL__JSON_STRING, 1},
        {"password", QL__JSON_STRING, 1},
        {"displayName", QL__JSON_STRING, 1},
    };
    struct sign s = {.use_case = ql_account_signup, .fields = f, .nfields = 3};
    r->no_store = 1; /* every answer to signup and login, the refusals too (api.md) */
    ql__run(r, NULL, run_sign, render_signup, &s);
}

void ql__h_login(struct ql_http_req *r)
{
    static const struct ql__field f[] = {
        {"email", QL__JSON_STRING, 1},
        {"password", QL__JSON_STRING, 1},
    };
    struct sign s = {.use_case = ql_account_login, .fields = f, .nfields = 2};
    r->no_store = 1;
    ql__run(r, NULL, run_sign, render_login, &s);
}

static int run_logout(struct ql_http_req *r, void *arg)
{
    (void)arg;
    return ql_account_logout(&r->cx);
}

void ql__h_logout(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    ql__run(r, &p, run_logout, render_logout, NULL);
}

static void write_me(struct ql_http_req *r, const struct ql_user *u, const struct ql_team_role *t,
                     int n)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql__jw_user_fields(&w, u);
    if (t) {
        ql_jw_key(&w, "teams");
        ql_jw_arr(&w);
        for (int i = 0; i < n; i++) {
            ql_jw_obj(&w);
            ql_jw_key(&w, "teamId");
            ql__jw_uuid(&w, &t[i].team_id);
            ql_jw_key(&w, "name");
            ql_jw_str(&w, t[i].name);
            ql_jw_key(&w, "role");
            ql_jw_str(&w, ql_role_name(t[i].role));
            ql_jw_obj_end(&w);
        }
        ql_jw_arr_end(&w);
    }
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}

struct me {
    struct ql_http_req *r;
    struct ql_principal p;
    struct ql_user u;
    struct ql_team_role *teams;
    int n;
};

static void me_got(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct me *m = arg;
    if (rc)
        ql__res_problem(m->r, rc);
    else
        write_me(m->r, &m->u, m->teams, m->n);
    ql__req_resume(m->r);
}

/* Runs on the loop when it can (QL_ROUTE_LOOP), as ql__h_entry_get does. */
void ql__h_me(struct ql_http_req *r)
{
    struct me *m = ql_arena_calloc(r->cx.arena, 1, sizeof(*m));
    if (m == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    m->r = r;
    if (ql__authenticate(r, &m->p))
        return;
    ql__req_wait(r);
    int rc = ql_account_me_async(&r->cx, &m->u, &m->teams, &m->n, me_got, m);
    if (rc)
        me_got(&r->cx, rc, m); /* refused now: answer as the continuation would have */
}

void ql__h_me_update(struct ql_http_req *r)
{
    static const struct ql__field f[] = {{"displayName", QL__JSON_STRING, 1}};
    struct ql_principal p;
    cJSON *body;
    if (ql__authenticate(r, &p) || ql__body_parse(r, f, 1, &body))
        return;
    size_t n;
    const char *name = ql__json_str(body, "displayName", &n);
    struct ql_user u;
    int rc = ql_account_rename(&r->cx, name, n, &u);
    if (rc)
        ql__res_problem(r, rc);
    else
        write_me(r, &u, NULL, 0);
}

static int run_password(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"currentPassword", QL__JSON_STRING, 1},
        {"newPassword", QL__JSON_STRING, 1},
    };
    (void)arg;
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    size_t cn, nn;
    const char *cur = ql__json_str(body, "currentPassword", &cn);
    const char *next = ql__json_str(body, "newPassword", &nn);
    int rc = ql_account_change_password(&r->cx, cur, cn, next, nn);
    return rc;
}

void ql__h_me_password(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    ql__run(r, &p, run_password, render_no_content, NULL);
}
