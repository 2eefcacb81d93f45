/*
 * outbox.c - the outbox: queueing a mail in the caller's transaction, the job that sends it
 * through the mail port, the operator's listing and the purge.
 *
 * A mail's body is sealed by the auth port before it is written (it may carry a link with a
 * single-use token, which must not be readable by whoever reads the database) and dropped
 * once the server accepted it.  Nothing of a mail but its id and kind is ever logged.
 */
#include "mail/mail.h"
#include "mail/mail_store.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "trace/trace.h"
#include "tx/tx.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS 86400000LL
/* Finished mails are kept this long for the operator; tokens a day past their expiry. */
#define MAIL_KEEP_MS (30 * DAY_MS)
#define TOKEN_KEEP_MS DAY_MS

const char *ql_token_purpose_name(int purpose)
{
    switch (purpose) {
    case QL_TOKEN_PASSWORD_RESET:
        return "password_reset";
    case QL_TOKEN_EMAIL_VERIFY:
        return "email_verification";
    default:
        return NULL;
    }
}

/* 1 when s holds a CR or LF: a header value that could start another header. */
static int has_newline(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

int ql_mailer_send(struct ql_mailer *m, const struct ql_mail_msg *msg, struct ql_mail_result *res)
{
    memset(res, 0, sizeof(*res));
    if (msg->id == NULL || msg->to == NULL || msg->subject == NULL || msg->text == NULL ||
        msg->to[0] == '\0' || has_newline(msg->id) || has_newline(msg->to) ||
        has_newline(msg->subject)) {
        snprintf(res->error, sizeof(res->error), "the message has a missing or multi-line header");
        return QL_EVALIDATION;
    }
    return m->ops->send(m, msg, res);
}

int ql_mail_queue(struct ql_ctx *cx, const struct ql_mail_new *in, struct ql_uuid *id_out)
{
    size_t n = strlen(in->text);
    uint8_t *box = ql_arena_alloc(cx->arena, n + QL_SEAL_OVERHEAD);
    if (box == NULL)
        return ql_error_nomem(&cx->err);
    struct ql_mail m;
    memset(&m, 0, sizeof(m));
    int rc = ql_auth_seal(cx->ports.auth, in->text, n, box);
    if (rc == QL_OK)
        rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &m.id);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot seal a mail");
    m.kind = in->kind;
    if (in->user) {
        m.user_id = *in->user;
        m.has_user = 1;
    }
    m.to = in->to;
    m.subject = in->subject;
    m.body = box;
    m.body_n = n + QL_SEAL_OVERHEAD;
    m.state = QL_MAIL_PENDING;
    m.dedupe_key = in->dedupe_key;
    m.created_ms = m.updated_ms = ql_clock_now_ms(cx->ports.clock);
    rc = ql_mail_repo_insert(cx->ports.store, cx, &m);
    if (rc)
        return rc;
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&m.id, id);
    const char *payload = ql_arena_sprintf(cx->arena, "{\"mailId\":\"%s\"}", id);
    if (payload == NULL)
        return ql_error_nomem(&cx->err);
    const struct ql_job_spec spec = {.kind = QL_MAIL_SEND_KIND,
                                     .queue = "mail",
                                     .payload_json = payload,
                                     .max_attempts = QL_MAIL_SEND_ATTEMPTS,
                                     .traceparent = ql_trace_context(cx)};
    int64_t job;
    rc = ql_queue_enqueue(cx->ports.queue, cx, &spec, &job);
    if (rc == QL_OK && id_out)
        *id_out = m.id;
    return rc;
}

/* The mail a job's payload names. */
static int job_mail(struct ql_ctx *cx, const struct ql_job *job, struct ql_uuid *out)
{
    cJSON *doc = cJSON_Parse(job->payload ? job->payload : "");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "mailId");
    int rc = cJSON_IsString(id) && id->valuestring &&
                     ql_uuid_parse(id->valuestring, strlen(id->valuestring), out) == QL_OK
                 ? QL_OK
                 : ql_error_set(&cx->err, QL_EVALIDATION, "payload has no mailId");
    cJSON_Delete(doc);
    return rc;
}

/* Record an outcome of m, with an audit row when it is final ("mail.<state>"). */
static int record(struct ql_ctx *cx, const struct ql_mail *m, const char *state, const char *error,
                  int attempted)
{
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_mail_repo_record(cx->ports.store, cx, &m->id, state, error, attempted,
                             ql_clock_now_ms(cx->ports.clock));
    if (rc == QL_OK && strcmp(state, QL_MAIL_PENDING) != 0) {
        char action[32];
        snprintf(action, sizeof(action), "mail.%s", state);
        rc = ql_audit(cx, NULL, action, "Mail", &m->id, "Job:" QL_MAIL_SEND_KIND);
    }
    return ql_tx_end(cx, rc);
}

/* The text of a sealed body, NUL-terminated in the arena. */
static int open_body(struct ql_ctx *cx, const struct ql_mail *m, char **out)
{
    *out = NULL;
    if (m->body == NULL || m->body_n < QL_SEAL_OVERHEAD)
        return QL_OK;
    size_t n = m->body_n - QL_SEAL_OVERHEAD;
    char *text = ql_arena_alloc(cx->arena, n + 1);
    if (text == NULL)
        return ql_error_nomem(&cx->err);
    if (ql_auth_open(cx->ports.auth, m->body, m->body_n, text) != QL_OK)
        return ql_error_set(&cx->err, QL_EINTERNAL, "a sealed mail body does not open");
    text[n] = '\0';
    *out = text;
    return QL_OK;
}

int ql_mail_send_job(struct ql_ctx *cx, const struct ql_job *job)
{
    struct ql_uuid mid;
    int rc = job_mail(cx, job, &mid);
    if (rc)
        return rc;
    struct ql_mail m;
    rc = ql_mail_repo_get(cx->ports.store, cx, &mid, &m);
    if (rc == QL_ENOT_FOUND) {
        ql_error_clear(&cx->err);
        return QL_OK; /* purged, or erased with its user: nothing to send */
    }
    if (rc)
        return rc;
    if (strcmp(m.state, QL_MAIL_PENDING) != 0)
        return QL_OK; /* an earlier run finished it */
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&m.id, id);
    if (cx->ports.mailer == NULL) {
        rc = record(cx, &m, QL_MAIL_HELD, "no mail server is configured (QUILL_SMTP_URL)", 0);
        if (rc == QL_OK)
            ql_log(cx->ports.log, QL_LOG_INFO,
                   "mail kept in the outbox: QUILL_SMTP_URL is not set (GET /v1/admin/mail)",
                   "mail_id", id, "kind", m.kind, NULL);
        return rc;
    }
    char *text;
    rc = open_body(cx, &m, &text);
    if (rc)
        return rc;
    if (text == NULL)
        return record(cx, &m, QL_MAIL_FAILED, "the mail has no body", 0);
    const struct ql_mail_msg msg = {
        .id = id, .to = m.to, .subject = m.subject, .text = text, .date_ms = m.created_ms};
    struct ql_mail_result res;
    int sent = ql_mailer_send(cx->ports.mailer, &msg, &res);
    if (sent == QL_OK)
        return record(cx, &m, QL_MAIL_SENT, NULL, 1);
    int refused = sent == QL_EVALIDATION;
    int final = refused || job->attempts >= job->max_attempts;
    const char *why = res.error[0] ? res.error : "the mail server did not take the mail";
    rc = record(cx, &m, final ? QL_MAIL_FAILED : QL_MAIL_PENDING, why, 1);
    if (rc)
        return rc;
    if (refused)
        return QL_OK; /* refused for good: trying again would not help */
    return ql_error_set(&cx->err, QL_EUNAVAILABLE, "mail %s attempt %d failed: %s", id,
                        job->attempts, why);
}

int ql_mail_forget(struct ql_ctx *cx, const struct ql_uuid *user, const char *email)
{
    return ql_mail_repo_forget(cx->ports.store, cx, user, email ? email : "");
}

int ql_mail_purge_job(struct ql_ctx *cx, const struct ql_job *job)
{
    char actor[96];
    snprintf(actor, sizeof(actor), "Job:%s", job->kind);
    int64_t now = ql_clock_now_ms(cx->ports.clock), n = 0;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_mail_repo_purge(cx->ports.store, cx, now - TOKEN_KEEP_MS, now - MAIL_KEEP_MS, &n);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, job->kind, "Job", NULL, actor);
    return ql_tx_end(cx, rc);
}

int ql_mail_list(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                 struct ql_mail **out, const char ***bodies, int *n, const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after;
    if (cursor &&
        (rc = ql_cursor_decode(&cx->err, QL_CURSOR_MAIL, cursor, cursor_n, &after_ms, &after)))
        return rc;
    int more = 0;
    rc = ql_mail_repo_list(cx->ports.store, cx, after_ms, cursor ? &after : NULL, limit, out, n,
                           &more);
    if (rc)
        return rc;
    *bodies = ql_arena_calloc(cx->arena, (size_t)*n + 1, sizeof(**bodies));
    if (*bodies == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = 0; i < *n; i++) {
        char *text;
        if ((rc = open_body(cx, &(*out)[i], &text)) != QL_OK)
            return rc;
        (*bodies)[i] = text;
    }
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_mail *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_MAIL, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_nomem(&cx->err);
    }
    return QL_OK;
}
