/*
 * recovery.c - password reset and email verification (recovery.h).  Each write runs in one
 * transaction with its audit row; password hashing happens before the transaction opens.
 * Tokens and links are never logged: they exist in clear only in this call's arena and,
 * sealed, in the outbox.
 */
#include "account/recovery.h"

#include "account/account.h"
#include "account/internal.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "mail/mail.h"
#include "mail/mail_store.h"
#include "model/model.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_security.h"
#include "trace/trace.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

/* "qr_" + base64url of 32 bytes + NUL. */
#define TOKEN_LEN (3 + 43 + 1)

static int64_t now_ms(struct ql_ctx *cx)
{
    return ql_clock_now_ms(cx->ports.clock);
}

static void user_actor(const struct ql_uuid *user, char out[64])
{
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(user, id);
    snprintf(out, 64, "User:%s", id);
}

/*
 * The per-address limit, counted in PostgreSQL so instances agree: a sliding minute, as for
 * signup and login (account.c), under its own key and QUILL_MAIL_IP_LIMIT.
 */
static int ip_limit(struct ql_ctx *cx, const char *ip)
{
    if (ip == NULL || cx->cfg == NULL)
        return QL_OK;
    int64_t now = now_ms(cx), window = now - now % 60000;
    char key[96];
    snprintf(key, sizeof(key), "mail-ip:%s", ip);
    int count = 0, prev = 0;
    int rc = ql_store_throttle_hit(cx->ports.store, cx, key, window, &count, &prev);
    if (rc)
        return rc;
    double in_view = (double)(60000 - (now - window)) / 60000.0;
    if (count + prev * in_view > cx->cfg->mail_ip_limit) {
        cx->err.retry_after_ms = window + 60000 - now;
        cx->err.rate_limit = cx->cfg->mail_ip_limit;
        return ql_error_set(&cx->err, QL_ERATE_LIMITED,
                            "Too many mail requests from this address; try again shortly.");
    }
    return QL_OK;
}

/*
 * The per-email (or per-user) limit: QL_MAIL_MAX_PER_WINDOW mails in QL_MAIL_WINDOW_MS,
 * counted on the throttle's rows under key.  A request writes its row before it queues its
 * mail (ql__limit_attempt, lockout.c), so concurrent requests cannot all read one count and
 * all queue one; a request that then queues nothing takes its row back (take_back).
 */
static int mail_attempt(struct ql_ctx *cx, const char *key, struct ql__attempt *out)
{
    static const struct ql__limit mails = {
        .max = QL_MAIL_MAX_PER_WINDOW,
        .window_ms = QL_MAIL_WINDOW_MS,
        .refusal = "Too many mails were asked for this address; try again later."};
    return ql__limit_attempt(cx, &mails, key, out);
}

/*
 * The request that wrote at's row failed with rc (cx->err) and queued no mail: a mail that
 * is not sent must not count, so the row is taken back.  Best effort: when that fails too
 * the row stays (one mail fewer this window) and rc and its error are still the answer.  (A
 * COMMIT whose answer was lost may have queued the mail all the same: that rare mail goes
 * uncounted.)  Returns rc.
 */
static int take_back(struct ql_ctx *cx, const struct ql__attempt *at, int rc)
{
    struct ql_error err = cx->err;
    if (ql__limit_take_back(cx, at) != QL_OK)
        ql_log(cx->ports.log, QL_LOG_WARN, "cannot take back a mail request's count", "error",
               cx->err.msg, "trace_id", cx->trace_id, NULL);
    cx->err = err;
    return rc;
}

/* A fresh token (prefix + base64url of 32 random bytes, arena) and its digest. */
static int new_token(struct ql_ctx *cx, const char *prefix, char **token,
                     uint8_t digest[QL_DIGEST_LEN])
{
    uint8_t raw[32];
    *token = NULL;
    char *t = ql_arena_alloc(cx->arena, TOKEN_LEN);
    if (t == NULL)
        return ql_error_nomem(&cx->err);
    int rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
    if (rc) {
        ql_error_set(&cx->err, rc, "no randomness for a token");
        return rc;
    }
    memcpy(t, prefix, 3);
    ql_b64_encode(raw, sizeof(raw), t + 3, 1);
    rc = ql_auth_token_digest(cx->ports.auth, t, strlen(t), digest);
    if (rc) {
        ql_error_set(&cx->err, rc, "cannot digest a token");
        return rc;
    }
    *token = t;
    return QL_OK;
}

/* The digest of a presented token; QL_EINVALID_TOKEN when it cannot be one. */
static int presented(struct ql_ctx *cx, const char *token, size_t n, const char *prefix,
                     uint8_t digest[QL_DIGEST_LEN])
{
    if (n == 0)
        return ql_error_field(&cx->err, "token", "required", "is required");
    if (n != TOKEN_LEN - 1 || memcmp(token, prefix, 3) != 0)
        return ql_error_set(&cx->err, QL_EINVALID_TOKEN, NULL);
    int rc = ql_auth_token_digest(cx->ports.auth, token, n, digest);
    return rc ? ql_error_set(&cx->err, rc, "cannot digest a token") : QL_OK;
}

/* ---- password reset ---------------------------------------------------------------------- */

int ql_account_reset_request(struct ql_ctx *cx, const char *email, size_t n, const char *client_ip)
{
    const char *norm = NULL;
    if (n == 0)
        return ql_error_field(&cx->err, "email", "required", "is required");
    int rc = ql_valid_email(&cx->err, cx->arena, "email", email, n, &norm);
    if (rc)
        return rc;
    char *key = ql_arena_sprintf(cx->arena, "mail:reset:%s", norm);
    cJSON *doc = cJSON_CreateObject();
    char *payload = NULL;
    if (doc && cJSON_AddStringToObject(doc, "email", norm))
        payload = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    const char *p = payload ? ql_arena_strdup(cx->arena, payload) : NULL;
    cJSON_free(payload);
    if (key == NULL || p == NULL)
        return ql_error_nomem(&cx->err);
    /* From here on the work is the same whether or not the email has an account. */
    struct ql__attempt at;
    if ((rc = ip_limit(cx, client_ip)) != QL_OK || (rc = mail_attempt(cx, key, &at)) != QL_OK)
        return rc;
    const struct ql_job_spec spec = {.kind = QL_RESET_MAIL_KIND,
                                     .queue = "mail",
                                     .payload_json = p,
                                     .max_attempts = 10,
                                     .traceparent = ql_trace_context(cx)};
    int64_t job;
    /* A transaction of its own though it writes one row: the caller's hooks (an idempotent
     * request's record) commit with the job or not at all. */
    rc = ql_tx_begin(cx);
    if (rc == QL_OK) {
        rc = ql_queue_enqueue(cx->ports.queue, cx, &spec, &job);
        rc = ql_tx_end(cx, rc);
    }
    return rc ? take_back(cx, &at, rc) : QL_OK;
}

/* The email a reset job's payload names (arena). */
static int job_email(struct ql_ctx *cx, const struct ql_job *job, const char **out)
{
    cJSON *doc = cJSON_Parse(job->payload ? job->payload : "");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "email");
    *out = cJSON_IsString(e) && e->valuestring ? ql_arena_strdup(cx->arena, e->valuestring) : NULL;
    int ok = cJSON_IsString(e);
    cJSON_Delete(doc);
    if (!ok)
        return ql_error_set(&cx->err, QL_EVALIDATION, "payload has no email");
    return *out ? QL_OK : ql_error_nomem(&cx->err);
}

int ql_account_reset_mail(struct ql_ctx *cx, const struct ql_job *job)
{
    const char *email;
    int rc = job_email(cx, job, &email);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    rc = ql_store_users_by_email(st, cx, email, &u);
    if (rc == QL_ENOT_FOUND) {
        ql_error_clear(&cx->err);
        return QL_OK; /* no account: nothing is sent, and the requester cannot tell */
    }
    if (rc)
        return rc;
    struct ql_mail_token t = {
        .purpose = QL_TOKEN_PASSWORD_RESET, .user_id = u.id, .email = u.email};
    char *token = NULL;
    if ((rc = new_token(cx, "qr_", &token, t.digest)) != QL_OK)
        return rc;
    t.created_ms = now_ms(cx);
    t.expires_ms = t.created_ms + cx->cfg->reset_ttl_ms;
    const char *text = ql_arena_sprintf(
        cx->arena,
        "Hello %s,\n\n"
        "someone asked to reset the password of the Quill account for %s.\n"
        "To choose a new password, open this link within %lld minutes:\n\n"
        "%s/reset-password#token=%s\n\n"
        "The link works once, and using it signs the account out everywhere.\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n",
        u.display_name, u.email, (long long)(cx->cfg->reset_ttl_ms / 60000), cx->cfg->app_url,
        token);
    const char *dedupe = ql_arena_sprintf(cx->arena, "job:%lld", (long long)job->id);
    if (text == NULL || dedupe == NULL)
        return ql_error_nomem(&cx->err);
    const struct ql_mail_new m = {.kind = "password_reset",
                                  .user = &u.id,
                                  .to = u.email,
                                  .subject = "Reset your Quill password",
                                  .text = text,
                                  .dedupe_key = dedupe};
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_mail_queue(cx, &m, NULL);
    if (rc == QL_OK)
        rc = ql_mail_repo_token_insert(st, cx, &t);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "user.password_reset_request", "User", &u.id,
                      "Job:" QL_RESET_MAIL_KIND);
    rc = ql_tx_end(cx, rc);
    if (rc == QL_ECONFLICT) {
        ql_error_clear(&cx->err);
        return QL_OK; /* an earlier run of this job queued the mail: it is on its way */
    }
    return rc;
}

int ql_account_reset_confirm(struct ql_ctx *cx, const char *token, size_t tn, const char *password,
                             size_t pn, const char *client_ip)
{
    struct ql_error *e = &cx->err;
    if (tn == 0)
        ql_error_field(e, "token", "required", "is required");
    ql_valid_password(e, "newPassword", password, pn);
    if (e->code)
        return e->code;
    int rc = ip_limit(cx, client_ip);
    if (rc)
        return rc;
    uint8_t digest[QL_DIGEST_LEN];
    if ((rc = presented(cx, token, tn, "qr_", digest)) != QL_OK)
        return rc;
    struct ql_store *st = cx->ports.store;
    struct ql_mail_token t;
    /* A look first, so a dead token costs no password hashing. */
    rc = ql_mail_repo_token_find(st, cx, digest, QL_TOKEN_PASSWORD_RESET, now_ms(cx), &t);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(e, QL_EINVALID_TOKEN, NULL);
    if (rc)
        return rc;
    char hash[QL_PWHASH_LEN];
    rc = ql_auth_password_hash(cx->ports.auth, password, pn, hash);
    if (rc)
        return ql_error_set(e, rc, "cannot hash the password");
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    int64_t now = now_ms(cx);
    /* The use is what counts: of two requests with one token, only one gets here. */
    rc = ql_mail_repo_token_use(st, cx, digest, QL_TOKEN_PASSWORD_RESET, now, &t);
    struct ql_user u;
    if (rc == QL_OK) /* the account may have been erased since the mail went out */
        rc = ql_store_users_by_id(st, cx, &t.user_id, &u);
    if (rc == QL_ENOT_FOUND)
        rc = ql_error_set(e, QL_EINVALID_TOKEN, NULL);
    if (rc == QL_OK)
        rc = ql_store_users_set_password(st, cx, &t.user_id, hash, now);
    if (rc == QL_OK) {
        /* The mail reached its reader: the address is proven (unless it changed since). */
        rc = ql_mail_repo_verify_email(st, cx, &t.user_id, t.email, now);
        if (rc == QL_ENOT_FOUND) {
            ql_error_clear(e);
            rc = QL_OK;
        }
    }
    if (rc == QL_OK)
        rc = ql_store_sessions_remove_user(st, cx, &t.user_id, NULL);
    if (rc == QL_OK)
        rc = ql_mail_repo_tokens_end(st, cx, &t.user_id, QL_TOKEN_PASSWORD_RESET, now);
    if (rc == QL_OK)
        rc = ql_account_forget_failures(cx, t.email);
    if (rc == QL_OK) {
        char actor[64];
        user_actor(&t.user_id, actor);
        rc = ql_audit(cx, NULL, "user.password_reset", "User", &t.user_id, actor);
    }
    return ql_tx_end(cx, rc);
}

/* ---- email verification ------------------------------------------------------------------ */

/*
 * The verification mail of user uid, its token and its audit row, in one transaction.
 * QL_EUNAUTHENTICATED when the account is gone, QL_ECONFLICT when its email is verified.
 */
static int queue_verification(struct ql_ctx *cx, const struct ql_uuid *uid)
{
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    int rc = ql_store_users_by_id(st, cx, uid, &u);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    if (rc)
        return rc;
    if (u.email_verified_ms)
        return ql_error_set(&cx->err, QL_ECONFLICT, "The email address is verified already.");
    struct ql_mail_token t = {.purpose = QL_TOKEN_EMAIL_VERIFY, .user_id = u.id, .email = u.email};
    char *token = NULL;
    if ((rc = new_token(cx, "qv_", &token, t.digest)) != QL_OK)
        return rc;
    t.created_ms = now_ms(cx);
    t.expires_ms = t.created_ms + cx->cfg->verify_ttl_ms;
    const char *text =
        ql_arena_sprintf(cx->arena,
                         "Hello %s,\n\n"
                         "please confirm that %s is your address by opening this link within "
                         "%lld hours:\n\n"
                         "%s/verify-email#token=%s\n\n"
                         "The link works once. If you did not sign up for Quill, ignore this "
                         "mail.\n",
                         u.display_name, u.email, (long long)(cx->cfg->verify_ttl_ms / 3600000),
                         cx->cfg->app_url, token);
    if (text == NULL)
        return ql_error_nomem(&cx->err);
    const struct ql_mail_new m = {.kind = "email_verification",
                                  .user = &u.id,
                                  .to = u.email,
                                  .subject = "Confirm your email address for Quill",
                                  .text = text};
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_mail_repo_token_insert(st, cx, &t);
    if (rc == QL_OK)
        rc = ql_mail_queue(cx, &m, NULL);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "user.email_verification_request", "User", &u.id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_account_verify_request(struct ql_ctx *cx, const char *client_ip)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    const struct ql_uuid *uid = &cx->principal->user_id;
    char uid_s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(uid, uid_s);
    char *key = ql_arena_sprintf(cx->arena, "mail:verify:%s", uid_s);
    if (key == NULL)
        return ql_error_nomem(&cx->err);
    /* The limit comes first, as it always did (past it a request is 429 whatever the
     * account's state); a request that then queues nothing (409, an account gone, an
     * error) takes its row back. */
    struct ql__attempt at;
    if ((rc = ip_limit(cx, client_ip)) != QL_OK || (rc = mail_attempt(cx, key, &at)) != QL_OK)
        return rc;
    rc = queue_verification(cx, uid);
    return rc ? take_back(cx, &at, rc) : QL_OK;
}

int ql_account_verify_confirm(struct ql_ctx *cx, const char *token, size_t tn)
{
    uint8_t digest[QL_DIGEST_LEN];
    int rc = presented(cx, token, tn, "qv_", digest);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    int64_t now = now_ms(cx);
    struct ql_mail_token t;
    rc = ql_mail_repo_token_use(st, cx, digest, QL_TOKEN_EMAIL_VERIFY, now, &t);
    if (rc == QL_OK)
        rc = ql_mail_repo_verify_email(st, cx, &t.user_id, t.email, now);
    if (rc == QL_ENOT_FOUND) /* no such token, or the account's email is another one now */
        rc = ql_error_set(&cx->err, QL_EINVALID_TOKEN, NULL);
    if (rc == QL_OK) {
        char actor[64];
        user_actor(&t.user_id, actor);
        rc = ql_audit(cx, NULL, "user.email_verified", "User", &t.user_id, actor);
    }
    return ql_tx_end(cx, rc);
}
