/*
 * h_security.c - handlers of account security: the caller's sessions (/v1/me/sessions), TOTP
 * (/v1/me/mfa/totp) and the second step of a login (/v1/auth/mfa).  Each parses, calls one use
 * case (core/account/sessions.h, core/mfa/mfa.h) and writes its answer; all run on the pool.
 */
#include "internal.h"

#include "account/account.h"
#include "account/sessions.h"
#include "err/err.h"
#include "mfa/mfa.h"
#include "model/model.h"
#include "store/store_security.h"
#include "uuid/uuid.h"

#include <cJSON.h>
#include <string.h>

void ql__h_sessions_list(struct ql_http_req *r);
void ql__h_sessions_revoke(struct ql_http_req *r);
void ql__h_sessions_revoke_others(struct ql_http_req *r);
void ql__h_totp_enrol(struct ql_http_req *r);
void ql__h_totp_confirm(struct ql_http_req *r);
void ql__h_totp_disable(struct ql_http_req *r);
void ql__h_auth_mfa(struct ql_http_req *r);
/* h_account.c: the answer of a login. */
void ql__auth_response(struct ql_http_req *r, int status, const struct ql_auth_result *res);

static void render_no_content(struct ql_http_req *r, void *arg)
{
    (void)arg;
    r->status = 204;
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void write_session(struct ql_http_req *r, struct ql_jw *w, const struct ql_session_info *s)
{
    ql_jw_obj(w);
    ql_jw_key(w, "sessionId");
    ql__jw_uuid(w, &s->id);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, s->created_ms);
    ql_jw_key(w, "lastUsedAt");
    ql__jw_time(w, s->last_used_ms);
    ql_jw_key(w, "expiresAt");
    ql__jw_time(w, s->expires_ms);
    ql_jw_key(w, "userAgent");
    ql_jw_str_or_null(w, s->user_agent);
    ql_jw_key(w, "ip");
    ql_jw_str_or_null(w, s->client_ip);
    ql_jw_key(w, "current");
    ql_jw_bool(w, ql_sessions_is_current(&r->cx, s));
    ql_jw_obj_end(w);
}

void ql__h_sessions_list(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_session_info *list;
    int n;
    const char *next;
    int rc = ql_sessions_list(&r->cx, cursor, cn, limit, &list, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        write_session(r, &w, &list[i]);
    ql__res_page_end(r, &w, next);
}

void ql__h_sessions_revoke(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid id;
    if (ql__authenticate(r, &p) || ql__param_uuid(r, 0, "sessionId", &id))
        return;
    ql__res_done(r, ql_sessions_revoke(&r->cx, &id));
}

void ql__h_sessions_revoke_others(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    ql__res_done(r, ql_sessions_revoke_others(&r->cx));
}

/* ---- TOTP --------------------------------------------------------------------------------- */

static void render_enrolment(struct ql_http_req *r, void *arg)
{
    const struct ql_totp_enrolment *e = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "secret");
    ql_jw_str(&w, e->secret);
    ql_jw_key(&w, "otpauthUri");
    ql_jw_str(&w, e->uri);
    ql_jw_obj_end(&w);
    ql__res_json(r, 201);
}

static int run_enrol(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"password", QL__JSON_STRING, 1}};
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    size_t n;
    const char *pw = ql__json_str(body, "password", &n);
    return ql_mfa_enrol(&r->cx, pw, n, arg);
}

void ql__h_totp_enrol(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_totp_enrolment e;
    if (ql__authenticate(r, &p) == 0)
        ql__run(r, &p, run_enrol, render_enrolment, &e);
}

static void render_recovery(struct ql_http_req *r, void *arg)
{
    const struct ql_recovery_codes *c = arg;
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "recoveryCodes");
    ql_jw_arr(&w);
    for (int i = 0; i < QL_MFA_RECOVERY_CODES; i++)
        ql_jw_str(&w, c->codes[i]);
    ql_jw_arr_end(&w);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}

static int run_confirm(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"code", QL__JSON_STRING, 1}};
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    size_t n;
    const char *code = ql__json_str(body, "code", &n);
    return ql_mfa_confirm(&r->cx, code, n, arg);
}

void ql__h_totp_confirm(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_recovery_codes c;
    if (ql__authenticate(r, &p) == 0)
        ql__run(r, &p, run_confirm, render_recovery, &c);
}

static int run_disable(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"password", QL__JSON_STRING, 1},
                                         {"code", QL__JSON_STRING, 0}};
    (void)arg;
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    size_t pn, cn = 0;
    const char *pw = ql__json_str(body, "password", &pn);
    const char *code = ql__json_str(body, "code", &cn);
    return ql_mfa_disable(&r->cx, pw, pn, code, code ? cn : 0);
}

void ql__h_totp_disable(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p) == 0)
        ql__run(r, &p, run_disable, render_no_content, NULL);
}

/* ---- the login's second step ---------------------------------------------------------------- */

static void render_login(struct ql_http_req *r, void *arg)
{
    ql__auth_response(r, 200, arg);
}

static int run_mfa(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"mfaToken", QL__JSON_STRING, 1},
                                         {"code", QL__JSON_STRING, 1}};
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    struct ql_mfa_answer in = {0};
    in.token = ql__json_str(body, "mfaToken", &in.token_n);
    in.code = ql__json_str(body, "code", &in.code_n);
    char ip[64];
    ql__client_ip(r, ip, sizeof(ip));
    in.client_ip = ip;
    const struct ql_span *ua = ql__req_header(r, "user-agent");
    if (ua) {
        in.user_agent = ua->p;
        in.user_agent_n = ua->n;
    }
    return ql_mfa_login(&r->cx, &in, arg);
}

void ql__h_auth_mfa(struct ql_http_req *r)
{
    struct ql_auth_result res;
    r->no_store = 1; /* as a login: the refusals too */
    ql__run(r, NULL, run_mfa, render_login, &res);
}
