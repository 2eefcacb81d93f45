/*
 * test_mail.c - the outbox over the fake ports and a fake mail server: a mail queued in its
 * request's transaction, the mail.send job (sent, retried, refused for good, held without a
 * server), the operator's listing, the purge, and that nothing of a mail reaches the log.
 */
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "tx/tx.h"
#include "test.h"

#include <stdio.h>

#define SECRET_LINK "https://app.example.com/reset-password#token=qr_SECRET"

struct world {
    struct fixture f;
    struct fake_mailer mailer;
    struct ql_uuid mail;
};

static void setup(struct world *w)
{
    fixture_init(&w->f);
    fake_mailer_init(&w->mailer);
    w->f.cx.ports.mailer = &w->mailer.base;
}

/* Queue one mail in a transaction of its own, as a use case would. */
static int queue(struct world *w, const char *to, const char *dedupe)
{
    const struct ql_uuid user = {{1, 2, 3}};
    const struct ql_mail_new m = {.kind = "password_reset",
                                  .user = &user,
                                  .to = to,
                                  .subject = "Reset your Quill password",
                                  .text = "Hello,\nopen " SECRET_LINK "\n",
                                  .dedupe_key = dedupe};
    fixture_next(&w->f);
    int rc = ql_tx_begin(&w->f.cx);
    if (rc == QL_OK)
        rc = ql_mail_queue(&w->f.cx, &m, &w->mail);
    rc = ql_tx_end(&w->f.cx, rc);
    fixture_next(&w->f);
    return rc;
}

/* Run the newest mail.send job as attempt number attempt of max; its result. */
static int send_job(struct world *w, int attempt, int max)
{
    struct fake_job *fj = &w->f.queue.jobs[w->f.queue.n - 1];
    ASSERT_STR_EQ(fj->kind, QL_MAIL_SEND_KIND);
    struct ql_job job = {.id = w->f.queue.n,
                         .kind = fj->kind,
                         .payload = fj->payload,
                         .attempts = attempt,
                         .max_attempts = max};
    fixture_next(&w->f);
    int rc = ql_mail_send_job(&w->f.cx, &job);
    return rc;
}

static const struct ql_mail *outbox(struct world *w, int i)
{
    ASSERT_TRUE(i < w->f.store.nmails);
    return &w->f.store.mails[i].m;
}

static void test_queue_seals_the_body_and_enqueues_in_the_transaction(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(queue(&w, "ann@example.com", NULL), QL_OK);
    const struct ql_mail *m = outbox(&w, 0);
    ASSERT_STR_EQ(m->state, QL_MAIL_PENDING);
    ASSERT_STR_EQ(m->to, "ann@example.com");
    ASSERT_TRUE(m->has_user);
    ASSERT_TRUE(memmem(m->body, m->body_n, "SECRET", 6) == NULL); /* sealed */
    ASSERT_INT_EQ(w.f.queue.n, 1);
    struct fake_job *j = &w.f.queue.jobs[0];
    ASSERT_STR_EQ(j->kind, "mail.send");
    ASSERT_STR_EQ(j->queue, "mail");
    ASSERT_INT_EQ(j->in_tx, 1);
    ASSERT_INT_EQ(j->max_attempts, QL_MAIL_SEND_ATTEMPTS);
    char want[80], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&m->id, id);
    snprintf(want, sizeof(want), "{\"mailId\":\"%s\"}", id);
    ASSERT_STR_EQ(j->payload, want);
    /* a rolled-back request leaves neither the mail nor its job */
    fixture_next(&w.f);
    const struct ql_mail_new again = {
        .kind = "k", .to = "bob@example.com", .subject = "s", .text = "t"};
    ASSERT_INT_EQ(ql_tx_begin(&w.f.cx), QL_OK);
    ASSERT_INT_EQ(ql_mail_queue(&w.f.cx, &again, NULL), QL_OK);
    ASSERT_INT_EQ(ql_tx_end(&w.f.cx, QL_ECONFLICT), QL_ECONFLICT);
    ASSERT_INT_EQ(w.f.store.nmails, 1);
    ASSERT_INT_EQ(w.f.queue.n, 1);
    /* a dedupe key is taken once */
    ASSERT_INT_EQ(queue(&w, "ann@example.com", "job:7"), QL_OK);
    ASSERT_INT_EQ(queue(&w, "ann@example.com", "job:7"), QL_ECONFLICT);
    ASSERT_INT_EQ(w.f.store.nmails, 2);
    fixture_cleanup(&w.f);
}

static void test_send_hands_the_mail_over_once_and_drops_its_body(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(queue(&w, "ann@example.com", NULL), QL_OK);
    fake_clock_advance(&w.f.clock, 5000);
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK);
    ASSERT_INT_EQ(w.mailer.nsent, 1);
    const struct fake_sent_mail *s = &w.mailer.sent[0];
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&outbox(&w, 0)->id, id);
    ASSERT_STR_EQ(s->id, id);
    ASSERT_STR_EQ(s->to, "ann@example.com");
    ASSERT_STR_EQ(s->subject, "Reset your Quill password");
    ASSERT_STR_EQ(s->text, "Hello,\nopen " SECRET_LINK "\n");
    ASSERT_INT_EQ(s->date_ms, T0); /* the Date is when the mail was written */
    const struct ql_mail *m = outbox(&w, 0);
    ASSERT_STR_EQ(m->state, QL_MAIL_SENT);
    ASSERT_NULL(m->body);
    ASSERT_INT_EQ(m->attempts, 1);
    ASSERT_INT_EQ(m->sent_ms, T0 + 5000);
    ASSERT_STR_EQ(w.f.store.audit[w.f.store.naudit - 1].e.action, "mail.sent");
    /* the job again (a crash before its success was recorded): nothing is sent twice */
    ASSERT_INT_EQ(send_job(&w, 2, 20), QL_OK);
    ASSERT_INT_EQ(w.mailer.calls, 1);
    fixture_cleanup(&w.f);
}

static void test_a_server_that_is_down_fails_the_attempt_until_the_last(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(queue(&w, "ann@example.com", NULL), QL_OK);
    w.mailer.answer = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(send_job(&w, 1, 3), QL_EUNAVAILABLE); /* the engine retries with backoff */
    ASSERT_INT_EQ(w.f.cx.err.retry_after_ms, 0);        /* ... the engine's own */
    ASSERT_NOT_NULL(strstr(w.f.cx.err.msg, "SMTP 421"));
    const struct ql_mail *m = outbox(&w, 0);
    ASSERT_STR_EQ(m->state, QL_MAIL_PENDING);
    ASSERT_INT_EQ(m->attempts, 1);
    ASSERT_STR_EQ(m->last_error, "SMTP 421: fake refusal");
    ASSERT_NOT_NULL(m->body);
    /* it comes back: the next attempt goes out */
    w.mailer.answer = QL_OK;
    ASSERT_INT_EQ(send_job(&w, 2, 3), QL_OK);
    ASSERT_STR_EQ(outbox(&w, 0)->state, QL_MAIL_SENT);
    ASSERT_INT_EQ(outbox(&w, 0)->attempts, 2);
    /* another mail whose every attempt fails ends failed, with an audit row */
    ASSERT_INT_EQ(queue(&w, "bob@example.com", NULL), QL_OK);
    w.mailer.answer = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(send_job(&w, 1, 2), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(send_job(&w, 2, 2), QL_EUNAVAILABLE);
    ASSERT_STR_EQ(outbox(&w, 1)->state, QL_MAIL_FAILED);
    ASSERT_STR_EQ(w.f.store.audit[w.f.store.naudit - 1].e.action, "mail.failed");
    fixture_cleanup(&w.f);
}

static void test_a_refusal_for_good_is_not_retried(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(queue(&w, "nobody@example.com", NULL), QL_OK);
    w.mailer.answer = QL_EVALIDATION;
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK);
    ASSERT_STR_EQ(outbox(&w, 0)->state, QL_MAIL_FAILED);
    ASSERT_STR_EQ(outbox(&w, 0)->last_error, "SMTP 550: fake refusal");
    fixture_cleanup(&w.f);
}

static void test_without_a_server_the_mail_is_held_and_nothing_is_logged(void)
{
    struct world w;
    setup(&w);
    w.f.cx.ports.mailer = NULL;
    ASSERT_INT_EQ(queue(&w, "ann@example.com", NULL), QL_OK);
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK);
    const struct ql_mail *m = outbox(&w, 0);
    ASSERT_STR_EQ(m->state, QL_MAIL_HELD);
    ASSERT_NOT_NULL(m->body);
    ASSERT_INT_EQ(m->attempts, 0);
    ASSERT_TRUE(w.f.log.count >= 1);
    const char *log = ql_buf_cstr(&w.f.log.lines);
    ASSERT_NOT_NULL(strstr(log, "QUILL_SMTP_URL"));
    ASSERT_NULL(strstr(log, "SECRET"));
    ASSERT_NULL(strstr(log, "ann@example.com"));
    /* the operator reads it, body and all */
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR};
    w.f.cx.principal = &op;
    struct ql_mail *list;
    const char **bodies, *next;
    int n;
    ASSERT_INT_EQ(ql_mail_list(&w.f.cx, NULL, 0, 50, &list, &bodies, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(bodies[0], "Hello,\nopen " SECRET_LINK "\n");
    ASSERT_NULL(next);
    fixture_cleanup(&w.f);
}

static void test_the_operator_pages_through_the_outbox(void)
{
    struct world w;
    setup(&w);
    for (int i = 0; i < 3; i++) {
        char to[32];
        snprintf(to, sizeof(to), "u%d@example.com", i);
        ASSERT_INT_EQ(queue(&w, to, NULL), QL_OK);
        fake_clock_advance(&w.f.clock, 10);
    }
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK); /* the newest goes out: its body is gone */
    struct ql_principal user = {.kind = QL_PRINCIPAL_USER}, op = {.kind = QL_PRINCIPAL_OPERATOR};
    struct ql_mail *list;
    const char **bodies, *next;
    int n;
    fixture_next(&w.f);
    w.f.cx.principal = &user;
    ASSERT_INT_EQ(ql_mail_list(&w.f.cx, NULL, 0, 50, &list, &bodies, &n, &next), QL_EFORBIDDEN);
    fixture_next(&w.f);
    w.f.cx.principal = &op;
    ASSERT_INT_EQ(ql_mail_list(&w.f.cx, NULL, 0, 2, &list, &bodies, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_STR_EQ(list[0].to, "u2@example.com");
    ASSERT_STR_EQ(list[0].state, QL_MAIL_SENT);
    ASSERT_NULL(bodies[0]);
    ASSERT_STR_EQ(list[1].to, "u1@example.com");
    ASSERT_NOT_NULL(bodies[1]);
    ASSERT_NOT_NULL(next);
    char cursor[128];
    snprintf(cursor, sizeof(cursor), "%s", next);
    fixture_next(&w.f);
    w.f.cx.principal = &op;
    ASSERT_INT_EQ(ql_mail_list(&w.f.cx, cursor, strlen(cursor), 2, &list, &bodies, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(list[0].to, "u0@example.com");
    ASSERT_NULL(next);
    fixture_next(&w.f);
    w.f.cx.principal = &op;
    ASSERT_INT_EQ(ql_mail_list(&w.f.cx, "bogus", 5, 2, &list, &bodies, &n, &next), QL_EVALIDATION);
    fixture_cleanup(&w.f);
}

static void test_jobs_for_mails_that_are_gone_or_malformed(void)
{
    struct world w;
    setup(&w);
    struct ql_job job = {
        .id = 1, .kind = "mail.send", .payload = "{}", .attempts = 1, .max_attempts = 20};
    ASSERT_INT_EQ(ql_mail_send_job(&w.f.cx, &job), QL_EVALIDATION);
    fixture_next(&w.f);
    job.payload = "{\"mailId\":\"0190f2a4-0000-7000-8000-000000000000\"}";
    ASSERT_INT_EQ(ql_mail_send_job(&w.f.cx, &job), QL_OK); /* purged: nothing to send */
    ASSERT_INT_EQ(w.mailer.calls, 0);
    /* a message with a header that would start another is refused before the server */
    struct ql_mail_result res;
    const struct ql_mail_msg bad = {
        .id = "x", .to = "a@example.com\r\nBcc: b@example.com", .subject = "s", .text = "t"};
    ASSERT_INT_EQ(ql_mailer_send(&w.mailer.base, &bad, &res), QL_EVALIDATION);
    ASSERT_INT_EQ(w.mailer.calls, 0);
    fixture_cleanup(&w.f);
}

static void test_purge_keeps_what_is_pending_or_recent(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(queue(&w, "old@example.com", NULL), QL_OK);
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK);
    ASSERT_INT_EQ(queue(&w, "pending@example.com", NULL), QL_OK);
    struct ql_mail_token t = {.purpose = QL_TOKEN_PASSWORD_RESET,
                              .email = "old@example.com",
                              .created_ms = T0,
                              .expires_ms = T0 + 60000};
    ASSERT_INT_EQ(w.f.store.base.ops->mail->token_insert(&w.f.store.base, &w.f.cx, &t), QL_OK);
    fake_clock_advance(&w.f.clock, 31LL * 86400000);
    ASSERT_INT_EQ(queue(&w, "new@example.com", NULL), QL_OK);
    ASSERT_INT_EQ(send_job(&w, 1, 20), QL_OK);
    struct ql_job job = {.id = 99, .kind = "purge.mail", .attempts = 1, .max_attempts = 5};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_mail_purge_job(&w.f.cx, &job), QL_OK);
    ASSERT_INT_EQ(w.f.store.ntokens, 0);
    ASSERT_INT_EQ(w.f.store.nmails, 2);
    ASSERT_STR_EQ(outbox(&w, 0)->to, "pending@example.com");
    ASSERT_STR_EQ(outbox(&w, 1)->to, "new@example.com");
    ASSERT_STR_EQ(w.f.store.audit[w.f.store.naudit - 1].e.action, "purge.mail");
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_queue_seals_the_body_and_enqueues_in_the_transaction),
        TEST(test_send_hands_the_mail_over_once_and_drops_its_body),
        TEST(test_a_server_that_is_down_fails_the_attempt_until_the_last),
        TEST(test_a_refusal_for_good_is_not_retried),
        TEST(test_without_a_server_the_mail_is_held_and_nothing_is_logged),
        TEST(test_the_operator_pages_through_the_outbox),
        TEST(test_jobs_for_mails_that_are_gone_or_malformed),
        TEST(test_purge_keeps_what_is_pending_or_recent),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
