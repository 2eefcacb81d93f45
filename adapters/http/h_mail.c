/*
 * h_mail.c - handlers of the mailed-link routes (password reset, email verification) and of
 * the operator's outbox (GET /v1/admin/mail): parse the body, call one use case, answer.
 * They run on the pool (argon2id and the database).
 */
#include "internal.h"

#include "account/recovery.h"
#include "err/err.h"
#include "mail/mail.h"
#include "model/model.h"

#include <cJSON.h>
#include <string.h>

void ql__h_password_reset(struct ql_http_req *r);
void ql__h_password_reset_confirm(struct ql_http_req *r);
void ql__h_email_verification(struct ql_http_req *r);
void ql__h_verify_email(struct ql_http_req *r);
void ql__h_admin_mail(struct ql_http_req *r);

/* 202 and no body: the same answer whatever happens next (and whoever asked). */
static void render_accepted(struct ql_http_req *r, void *arg)
{
    (void)arg;
    r->status = 202;
}

static void render_no_content(struct ql_http_req *r, void *arg)
{
    (void)arg;
    r->status = 204;
}

static int run_reset(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"email", QL__JSON_STRING, 1}};
    (void)arg;
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    size_t n;
    const char *email = ql__json_str(body, "email", &n);
    char ip[64];
    ql__client_ip(r, ip, sizeof(ip));
    return ql_account_reset_request(&r->cx, email, n, ip);
}

void ql__h_password_reset(struct ql_http_req *r)
{
    ql__run(r, NULL, run_reset, render_accepted, NULL);
}

static int run_reset_confirm(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"token", QL__JSON_STRING, 1},
        {"newPassword", QL__JSON_STRING, 1},
    };
    (void)arg;
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    size_t tn, pn;
    const char *token = ql__json_str(body, "token", &tn);
    const char *password = ql__json_str(body, "newPassword", &pn);
    char ip[64];
    ql__client_ip(r, ip, sizeof(ip));
    return ql_account_reset_confirm(&r->cx, token, tn, password, pn, ip);
}

void ql__h_password_reset_confirm(struct ql_http_req *r)
{
    ql__run(r, NULL, run_reset_confirm, render_no_content, NULL);
}

static int run_verification(struct ql_http_req *r, void *arg)
{
    (void)arg;
    char ip[64];
    ql__client_ip(r, ip, sizeof(ip));
    return ql_account_verify_request(&r->cx, ip);
}

void ql__h_email_verification(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    ql__run(r, &p, run_verification, render_accepted, NULL);
}

static int run_verify(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {{"token", QL__JSON_STRING, 1}};
    (void)arg;
    cJSON *body;
    if (ql__body_parse(r, f, 1, &body))
        return r->cx.err.code;
    size_t n;
    const char *token = ql__json_str(body, "token", &n);
    return ql_account_verify_confirm(&r->cx, token, n);
}

void ql__h_verify_email(struct ql_http_req *r)
{
    ql__run(r, NULL, run_verify, render_no_content, NULL);
}

/* One mail of the outbox as the operator sees it: the body only while it is kept. */
static void write_mail(struct ql_jw *w, const struct ql_mail *m, const char *body)
{
    ql_jw_obj(w);
    ql_jw_key(w, "mailId");
    ql__jw_uuid(w, &m->id);
    ql_jw_key(w, "kind");
    ql_jw_str(w, m->kind);
    ql_jw_key(w, "userId");
    if (m->has_user)
        ql__jw_uuid(w, &m->user_id);
    else
        ql_jw_null(w);
    ql_jw_key(w, "to");
    ql_jw_str(w, m->to);
    ql_jw_key(w, "subject");
    ql_jw_str(w, m->subject);
    ql_jw_key(w, "body");
    ql_jw_str_or_null(w, body);
    ql_jw_key(w, "state");
    ql_jw_str(w, m->state);
    ql_jw_key(w, "attempts");
    ql_jw_int(w, m->attempts);
    ql_jw_key(w, "lastError");
    ql_jw_str_or_null(w, m->last_error);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, m->created_ms);
    ql_jw_key(w, "updatedAt");
    ql__jw_time(w, m->updated_ms);
    ql_jw_key(w, "sentAt");
    ql__jw_time_or_null(w, m->sent_ms);
    ql_jw_obj_end(w);
}

void ql__h_admin_mail(struct ql_http_req *r)
{
    struct ql_principal p;
    int limit;
    if (ql__authenticate(r, &p) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    struct ql_mail *mails;
    const char **bodies;
    int n;
    const char *next;
    int rc = ql_mail_list(&r->cx, cursor, cn, limit, &mails, &bodies, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        write_mail(&w, &mails[i], bodies[i]);
    ql__res_page_end(r, &w, next);
}
