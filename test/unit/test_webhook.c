/*
 * test_webhook.c - webhook endpoints, the fan-out of changes into deliveries, and the
 * delivery job, over the fake ports and a fake outbound port that records what it was
 * asked to send.  The signature is checked with the real libsodium HMAC against the
 * Standard Webhooks specification's example.
 */
#include "account/account.h"
#include "changes/changes.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "outbound/outbound.h"
#include "sodium/sodium_auth.h"
#include "team/team.h"
#include "store/store_usage.h"
#include "test.h"
#include "trace/trace.h"
#include "usage/usage.h"
#include "webhook/webhook.h"

#include <stdio.h>

/* ---- a fake outbound port ------------------------------------------------------------------ */

struct fake_out {
    struct ql_outbound base;
    int calls;
    int status; /* what it answers; 0: no answer (QL_EUNAVAILABLE) */
    char url[256];
    char body[4096];
    char headers[QL_OUT_HEADERS_MAX][160];
    int64_t *race; /* set: another delivery disables the endpoint while this one posts */
};

static int fo_post(struct ql_outbound *self, const struct ql_out_request *req,
                   struct ql_out_response *res)
{
    struct fake_out *o = (struct fake_out *)self;
    memset(res, 0, sizeof(*res));
    o->calls++;
    if (o->race)
        *o->race = 1;
    snprintf(o->url, sizeof(o->url), "%s", req->url);
    snprintf(o->body, sizeof(o->body), "%.*s", (int)req->body_n, req->body);
    for (int i = 0; i < QL_OUT_HEADERS_MAX; i++)
        snprintf(o->headers[i], sizeof(o->headers[i]), "%s",
                 req->headers[i] ? req->headers[i] : "");
    res->status = o->status;
    res->duration_ms = 3;
    if (o->status == 0) {
        snprintf(res->error, sizeof(res->error), "connection refused");
        return QL_EUNAVAILABLE;
    }
    return QL_OK;
}

static const struct ql_outbound_ops fo_ops = {.post = fo_post};

static const char *header(const struct fake_out *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < QL_OUT_HEADERS_MAX; i++)
        if (strncmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return o->headers[i] + n + 2;
    return "";
}

/* ---- the world ------------------------------------------------------------------------------ */

struct world {
    struct fixture f;
    struct fake_out out;
    struct ql_auth_result owner, member;
    struct ql_principal po, pm;
    struct ql_team team;
};

static void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static void person(struct world *w, const char *email, struct ql_auth_result *r,
                   struct ql_principal *p)
{
    struct ql_credentials c = {email, strlen(email), "correct horse battery", 21, "P", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, r), QL_OK);
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, r->session.token, 46, QL_VIA_BEARER, p), QL_OK);
}

static void setup(struct world *w)
{
    fixture_init(&w->f);
    w->f.cfg.webhook_allow_private = 0;
    memset(&w->out, 0, sizeof(w->out));
    w->out.base.ops = &fo_ops;
    w->out.status = 200;
    w->f.cx.ports.outbound = &w->out.base;
    person(w, "own@example.com", &w->owner, &w->po);
    person(w, "mem@example.com", &w->member, &w->pm);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "T", 1, &w->team), QL_OK);
    struct ql_member m;
    fixture_next(&w->f); /* again: now the principal knows the team */
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, w->owner.session.token, 46, QL_VIA_BEARER, &w->po),
                  QL_OK);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "mem@example.com", 15, "member", 6, &m),
                  QL_OK);
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, w->member.session.token, 46, QL_VIA_BEARER, &w->pm),
                  QL_OK);
}

static int create(struct world *w, const char *url, const char *const *events, int n,
                  struct ql_webhook *hook, char secret[QL_WEBHOOK_SECRET_LEN])
{
    as(w, &w->po);
    return ql_webhook_create(&w->f.cx, &w->team.id, url, strlen(url), events, n, "d", 1, hook,
                             secret);
}

/* Run the fan-out over every change so far, as the worker's consumer does. */
static int fan_out(struct world *w)
{
    int n = 0, total = 0;
    do {
        fixture_next(&w->f);
        ASSERT_INT_EQ(ql_consume(&w->f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
        total += n;
    } while (n > 0);
    return total;
}

/* Run job i of the fake queue once, as the engine would; its result. */
static int deliver_job(struct world *w, int i, int *attempts)
{
    struct fake_job *j = &w->f.queue.jobs[i];
    j->attempts++;
    struct ql_job job = {.id = i + 1,
                         .kind = j->kind,
                         .payload = j->payload,
                         .attempts = j->attempts,
                         .max_attempts = j->max_attempts};
    fixture_next(&w->f);
    int rc = ql_webhook_deliver(&w->f.cx, &job);
    if (rc == QL_OK || j->attempts >= j->max_attempts)
        j->done = 1;
    if (attempts)
        *attempts = j->attempts;
    return rc;
}

/* Run the first available "webhook.deliver" job once; its result. */
static int deliver_next(struct world *w, int *attempts)
{
    for (int i = 0; i < w->f.queue.n; i++) {
        struct fake_job *j = &w->f.queue.jobs[i];
        if (strcmp(j->kind, "webhook.deliver") == 0 && !j->done)
            return deliver_job(w, i, attempts);
    }
    return -1000; /* none */
}

static void write_entry(struct world *w, const char *text)
{
    struct ql_entry e;
    struct ql_entry_input in = {text, strlen(text), 0, NULL, 0};
    as(w, &w->pm);
    ASSERT_INT_EQ(ql_entry_create(&w->f.cx, &w->team.id, &in, &e), QL_OK);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_register_checks_url_events_and_role(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://hooks.example.com/in", created, 1, &h, secret), QL_OK);
    ASSERT_TRUE(strncmp(secret, "whsec_", 6) == 0);
    ASSERT_INT_EQ(strlen(secret), 50);
    ASSERT_INT_EQ(w.f.store.nwebhooks, 1);
    ASSERT_TRUE(w.f.store.webhooks[0].secret_n > strlen(secret)); /* stored sealed */
    ASSERT_TRUE(memcmp(w.f.store.webhooks[0].secret, secret, 10) != 0);
    static const char *const bad_urls[] = {"http://hooks.example.com/in",  "ftp://x.example.com",
                                           "https://user:pw@example.com/", "https:///path",
                                           "https://exa mple.com",         "example.com"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        ASSERT_INT_EQ(create(&w, bad_urls[i], created, 1, &h, secret), QL_EVALIDATION);
    const char *unknown[] = {"journal_entry.exploded"};
    ASSERT_INT_EQ(create(&w, "https://x.example.com", unknown, 1, &h, secret), QL_EVALIDATION);
    const char *twice[] = {"member.added", "member.added"};
    ASSERT_INT_EQ(create(&w, "https://x.example.com", twice, 2, &h, secret), QL_EVALIDATION);
    ASSERT_INT_EQ(create(&w, "https://x.example.com", created, 0, &h, secret), QL_EVALIDATION);
    /* members may not; private targets and http only when the operator allows them */
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_webhook_create(&w.f.cx, &w.team.id, "https://x.example.com", 21, created, 1,
                                    NULL, 0, &h, secret),
                  QL_EFORBIDDEN);
    w.f.cfg.webhook_allow_private = 1;
    ASSERT_INT_EQ(create(&w, "http://127.0.0.1:9/in", created, 1, &h, secret), QL_OK);
    ASSERT_INT_EQ(w.f.store.nwebhooks, 2);
    fixture_cleanup(&w.f);
}

static void test_list_and_delete(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h1, h2;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *ev[] = {"member.added", "member.removed"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com", ev, 2, &h1, secret), QL_OK);
    w.f.clock.now_ms += 10;
    ASSERT_INT_EQ(create(&w, "https://b.example.com", ev, 1, &h2, secret), QL_OK);
    struct ql_webhook *list;
    int n;
    const char *next;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_list(&w.f.cx, &w.team.id, NULL, 0, 1, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(list[0].url, "https://b.example.com"); /* newest first */
    ASSERT_NOT_NULL(next);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_list(&w.f.cx, &w.team.id, next, strlen(next), 1, &list, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(list[0].url, "https://a.example.com");
    ASSERT_INT_EQ(list[0].nevents, 2);
    ASSERT_NULL(next);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_delete(&w.f.cx, &w.team.id, &h1.id), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_delete(&w.f.cx, &w.team.id, &h1.id), QL_ENOT_FOUND);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_list(&w.f.cx, &w.team.id, NULL, 0, 10, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    fixture_cleanup(&w.f);
}

static void test_fan_out_makes_one_delivery_per_wanting_endpoint_and_signs_it(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(fan_out(&w) > 0, 1); /* the team's own changes so far: nobody listens */
    ASSERT_INT_EQ(w.f.store.ndeliveries, 0);
    struct ql_webhook a, b;
    char sa[QL_WEBHOOK_SECRET_LEN], sb[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"}, *members[] = {"member.added"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &a, sa), QL_OK);
    ASSERT_INT_EQ(create(&w, "https://b.example.com/in", members, 1, &b, sb), QL_OK);
    write_entry(&w, "hello hooks");
    ASSERT_INT_EQ(fan_out(&w), 1);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    const struct fake_delivery *d = &w.f.store.deliveries[0];
    ASSERT_MEM_EQ(d->d.webhook_id.b, a.id.b, 16);
    ASSERT_STR_EQ(d->d.event, "journal_entry.created");
    ASSERT_NOT_NULL(strstr(d->d.body, "\"type\":\"journal_entry.created\""));
    ASSERT_NOT_NULL(strstr(d->d.body, "\"content\":\"hello hooks\""));
    ASSERT_INT_EQ(fan_out(&w), 0); /* nothing twice */
    /* the job signs and sends it */
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 1);
    ASSERT_STR_EQ(w.out.url, "https://a.example.com/in");
    ASSERT_STR_EQ(w.out.body, d->d.body);
    char id[QL_UUID_STR_LEN + 5] = "msg_";
    ql_uuid_format(&d->d.id, id + 4);
    ASSERT_STR_EQ(header(&w.out, "webhook-id"), id);
    ASSERT_TRUE(strncmp(header(&w.out, "webhook-signature"), "v1,", 3) == 0);
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)(w.f.clock.now_ms / 1000));
    ASSERT_STR_EQ(header(&w.out, "webhook-timestamp"), ts);
    char sig[QL_WEBHOOK_SIGNATURE_LEN];
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_webhook_sign(&w.f.cx, sa, id, w.f.clock.now_ms / 1000, d->d.body,
                                  strlen(d->d.body), sig),
                  QL_OK);
    ASSERT_STR_EQ(header(&w.out, "webhook-signature"), sig);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    ASSERT_INT_EQ(w.f.store.nattempts, 1);
    ASSERT_INT_EQ(w.f.store.attempts[0].ok, 1);
    ASSERT_INT_EQ(w.f.store.attempts[0].response_status, 200);
    fixture_cleanup(&w.f);
}

static void test_failures_retry_on_the_schedule_then_disable_the_endpoint(void)
{
    struct world w;
    setup(&w);
    w.f.cfg.webhook_disable_after = 3;
    w.f.cfg.webhook_nretries = 2;
    w.f.cfg.webhook_retry_ms[0] = 5000;
    w.f.cfg.webhook_retry_ms[1] = 300000;
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &h, secret), QL_OK);
    write_entry(&w, "one");
    fan_out(&w);
    w.out.status = 500;
    int attempts;
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    int64_t d1 = w.f.cx.err.retry_after_ms;
    ASSERT_TRUE(d1 >= 4500 && d1 <= 5500); /* 5 s +/- 10 % */
    w.out.status = 0;                      /* no answer at all */
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    int64_t d2 = w.f.cx.err.retry_after_ms;
    ASSERT_TRUE(d2 >= 270000 && d2 <= 330000);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_STR_EQ(w.f.store.attempts[0].error, "HTTP 500");
    ASSERT_STR_EQ(w.f.store.attempts[1].error, "connection refused");
    ASSERT_INT_EQ(w.f.store.attempts[1].response_status, 0);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "pending");
    /* the last attempt fails too: the delivery has failed; a third failure in a row
     * disables the endpoint, with an audit row */
    int audits = w.f.store.naudit;
    ASSERT_INT_EQ(deliver_next(&w, &attempts), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(attempts, 3);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "failed");
    ASSERT_TRUE(w.f.store.webhooks[0].w.disabled_ms != 0);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    ASSERT_STR_EQ(w.f.store.audit[audits].e.action, "webhook.disable");
    ASSERT_INT_EQ(deliver_next(&w, NULL), -1000); /* nothing left to try */
    /* a disabled endpoint gets no more deliveries */
    write_entry(&w, "two");
    fan_out(&w);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    fixture_cleanup(&w.f);
}

static void test_two_failures_at_once_disable_the_endpoint_once(void)
{
    struct world w;
    setup(&w);
    w.f.cfg.webhook_disable_after = 1;
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &h, secret), QL_OK);
    write_entry(&w, "one");
    fan_out(&w);
    w.out.status = 500;
    w.out.race = &w.f.store.webhooks[0].w.disabled_ms;
    int audits = w.f.store.naudit;
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_EUNAVAILABLE);
    ASSERT_TRUE(w.f.store.webhooks[0].w.disabled_ms != 0);
    ASSERT_INT_EQ(w.f.store.naudit, audits); /* the other delivery wrote the audit row */
    fixture_cleanup(&w.f);
}

static void test_a_redelivery_sends_the_same_message_again(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &h, secret), QL_OK);
    write_entry(&w, "again");
    fan_out(&w);
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    char first_id[80], first_body[4096];
    snprintf(first_id, sizeof(first_id), "%s", header(&w.out, "webhook-id"));
    snprintf(first_body, sizeof(first_body), "%s", w.out.body);
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    as(&w, &w.pm); /* members may not */
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_EFORBIDDEN);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    w.f.clock.now_ms += 60000;
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    ASSERT_STR_EQ(header(&w.out, "webhook-id"), first_id);
    ASSERT_STR_EQ(w.out.body, first_body);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_INT_EQ(w.f.store.attempts[1].attempt, 2);
    /* the deliveries list shows both attempts, newest first */
    struct ql_delivery_attempt *a;
    int n;
    const char *next;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_attempts(&w.f.cx, &w.team.id, &h.id, NULL, 0, 10, &a, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(a[0].attempt, 2);
    ASSERT_STR_EQ(a[0].event, "journal_entry.created");
    fixture_cleanup(&w.f);
}

/*
 * A redelivery asked for while the first attempts are still retrying: once one of the two
 * jobs has delivered the message, the other sends nothing more, and the delivery stays
 * succeeded.  The same holds for a job run again after its worker died between a
 * delivered attempt and recording the job done.
 */
static void test_a_delivered_message_is_not_sent_again_by_an_older_job(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &h, secret), QL_OK);
    write_entry(&w, "once");
    fan_out(&w);
    int first = w.f.queue.n - 1;
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, first, NULL), QL_EUNAVAILABLE); /* retried in 5 s */
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    int again = w.f.queue.n - 1;
    ASSERT_TRUE(again != first);
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, again, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 2);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    /* the first job's retry comes due: delivered already, nothing is sent */
    w.out.status = 500;
    ASSERT_INT_EQ(deliver_job(&w, first, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 2);
    ASSERT_INT_EQ(w.f.store.nattempts, 2);
    ASSERT_STR_EQ(w.f.store.deliveries[0].state, "succeeded");
    ASSERT_INT_EQ(w.f.store.webhooks[0].w.failures, 0);
    /* a redelivery of a delivered message is sent, though */
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    w.out.status = 200;
    ASSERT_INT_EQ(deliver_job(&w, w.f.queue.n - 1, NULL), QL_OK);
    ASSERT_INT_EQ(w.out.calls, 3);
    fixture_cleanup(&w.f);
}

/* The Standard Webhooks specification's example, with the real HMAC-SHA256. */
/*
 * The 90 % alert reaches an endpoint that asked for it once per period, with the
 * subscription it is about: the period it was raised in, even once the month has turned.
 */
static void test_a_usage_alert_carries_the_subscription_once_per_period(void)
{
    struct world w;
    setup(&w);
    fan_out(&w);
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *alerts[] = {"subscription.usage_alert"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", alerts, 1, &h, secret), QL_OK);
    fixture_next(&w.f);
    int64_t now = w.f.clock.now_ms, start, end;
    ASSERT_INT_EQ(ql_store_usage_subscribe(w.f.cx.ports.store, &w.f.cx, &w.team.id, "pro", 20, now),
                  QL_OK);
    ql_usage_period(now, &start, &end);
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&w.f.cx, &w.team.id, start, 20, &g), QL_OK);
    struct ql_request_row rows[17];
    for (int i = 0; i < 17; i++)
        rows[i] =
            (struct ql_request_row){w.team.id, h.id, now, "GET", "/v1/teams/{teamId}", 200, 100, 1};
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, rows, 17), QL_OK); /* 85 % */
    ASSERT_INT_EQ(fan_out(&w), 0);
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, rows, 1), QL_OK); /* 90 %: the alert */
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, rows, 1), QL_OK); /* 95 %: no other */
    w.f.clock.now_ms = end + 1000;                           /* delivered after the month turned */
    ASSERT_INT_EQ(fan_out(&w), 1);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    const char *body = w.f.store.deliveries[0].d.body;
    ASSERT_STR_EQ(w.f.store.deliveries[0].d.event, "subscription.usage_alert");
    ASSERT_NOT_NULL(strstr(body, "\"type\":\"subscription.usage_alert\""));
    ASSERT_NOT_NULL(strstr(body, "\"plan\":\"pro\",\"monthlyQuota\":20,\"used\":19,"
                                 "\"periodStart\":\"2026-01-01T00:00:00.000Z\","
                                 "\"periodEnd\":\"2026-02-01T00:00:00.000Z\","
                                 "\"percent\":95,\"threshold\":90}"));
    ASSERT_INT_EQ(fan_out(&w), 0);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    fixture_cleanup(&w.f);
}

static void test_the_signature_matches_the_specification(void)
{
    struct fixture f;
    fixture_init(&f);
    static const uint8_t key[32] = {1};
    struct ql_auth *sodium;
    ASSERT_INT_EQ(ql_sodium_auth_create(key, sizeof(key), 0, 0, 1, &sodium), QL_OK);
    f.cx.ports.auth = sodium;
    const char *body = "{\"test\": 2432232314}";
    char sig[QL_WEBHOOK_SIGNATURE_LEN];
    ASSERT_INT_EQ(ql_webhook_sign(&f.cx, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                  "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                  sig),
                  QL_OK);
    ASSERT_STR_EQ(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ASSERT_INT_EQ(ql_webhook_sign(&f.cx, "not a secret", "msg_x", 1, body, strlen(body), sig),
                  QL_EINTERNAL);
    ql_sodium_auth_destroy(sodium);
    fixture_cleanup(&f);
}

/*
 * With tracing on, a write's trace reaches its delivery: the change carries the request's
 * context, the delivery's job continues it, and the post is a client span of the job that
 * hands the trace on in a traceparent header.  A redelivery's job carries the context of
 * the request that asked for it.
 */
static void test_a_traced_write_carries_its_trace_into_the_delivery_and_its_post(void)
{
    struct world w;
    setup(&w);
    struct fake_tracer t;
    fake_tracer_init(&t);
    struct ql_webhook h;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in?key=secret", created, 1, &h, secret), QL_OK);
    fan_out(&w); /* the team's own changes so far */
    /* the request that writes: its own trace, recorded */
    ql_trace_begin(&w.f.cx, &t.base, NULL);
    char request[QL_TRACEPARENT_LEN + 1];
    ASSERT_INT_EQ(ql_traceparent_format(&w.f.cx, NULL, request), 0);
    write_entry(&w, "traced");
    /* the worker's consumer: no trace of its own */
    w.f.cx.ports.tracer = NULL;
    ASSERT_INT_EQ(fan_out(&w), 1);
    const struct fake_job *j = &w.f.queue.jobs[w.f.queue.n - 1];
    ASSERT_STR_EQ(j->kind, "webhook.deliver");
    ASSERT_STR_EQ(j->traceparent, request);
    /* the job's attempt continues that context */
    struct ql_traceparent tp;
    ASSERT_INT_EQ(ql_traceparent_parse(j->traceparent, strlen(j->traceparent), &tp), QL_OK);
    memset(w.f.cx.trace_id, 0, sizeof(w.f.cx.trace_id));
    ql_trace_begin(&w.f.cx, &t.base, &tp);
    ASSERT_STR_EQ(w.f.cx.parent_span_id, tp.span_id);
    ASSERT_INT_EQ(deliver_next(&w, NULL), QL_OK);
    const struct ql_trace_span *post = fake_tracer_find(&t, "POST");
    ASSERT_NOT_NULL(post);
    ASSERT_INT_EQ(post->kind, QL_SPAN_CLIENT);
    ASSERT_STR_EQ(post->trace_id, tp.trace_id);
    ASSERT_STR_EQ(post->parent_id, w.f.cx.span_id);
    char buf[160];
    ASSERT_STR_EQ(fake_span_str(post, "url.full", buf, sizeof(buf)), "https://a.example.com/in");
    ASSERT_INT_EQ(fake_span_int(post, "http.response.status_code"), 200);
    ASSERT_INT_EQ(post->status, QL_STATUS_UNSET);
    char want[QL_TRACEPARENT_LEN + 1];
    snprintf(want, sizeof(want), "00-%s-%s-01", tp.trace_id, post->span_id);
    ASSERT_STR_EQ(header(&w.out, "traceparent"), want);
    /* a redelivery: the job carries the asking request's context, traced or not */
    struct ql_uuid did = w.f.store.deliveries[0].d.id;
    ql_trace_begin(&w.f.cx, NULL, &tp);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_redeliver(&w.f.cx, &w.team.id, &h.id, &did), QL_OK);
    ASSERT_STR_EQ(w.f.queue.jobs[w.f.queue.n - 1].traceparent, j->traceparent);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_register_checks_url_events_and_role),
        TEST(test_list_and_delete),
        TEST(test_fan_out_makes_one_delivery_per_wanting_endpoint_and_signs_it),
        TEST(test_failures_retry_on_the_schedule_then_disable_the_endpoint),
        TEST(test_two_failures_at_once_disable_the_endpoint_once),
        TEST(test_a_redelivery_sends_the_same_message_again),
        TEST(test_a_delivered_message_is_not_sent_again_by_an_older_job),
        TEST(test_a_usage_alert_carries_the_subscription_once_per_period),
        TEST(test_the_signature_matches_the_specification),
        TEST(test_a_traced_write_carries_its_trace_into_the_delivery_and_its_post),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
