/*
 * test_webhook.c - webhook endpoints, the fan-out of changes into deliveries, and a
 * delivery's post, over the fake ports and a fake outbound port that records what it was
 * asked to send (webhook_world.h; retries, disabling and redelivery are in
 * test_webhook_delivery.c).  The signature is checked with the real libsodium HMAC against the
 * Standard Webhooks specification's example.
 */
#include "sodium/sodium_auth.h"
#include "store/store_usage.h"
#include "store/store_webhooks.h"
#include "trace/trace.h"
#include "usage/usage.h"
#include "webhook_world.h"

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

static void test_a_team_has_at_most_twenty_endpoints(void)
{
    struct world w;
    setup(&w);
    struct ql_webhook h[QL_WEBHOOKS_MAX + 1];
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *ev[] = {"member.added"};
    for (int i = 0; i < QL_WEBHOOKS_MAX; i++)
        ASSERT_INT_EQ(create(&w, "https://a.example.com", ev, 1, &h[i], secret), QL_OK);
    /* disabled endpoints count: the 21st is refused, with nothing written */
    w.f.store.webhooks[0].w.disabled_ms = w.f.clock.now_ms;
    int naudit = w.f.store.naudit;
    ASSERT_INT_EQ(create(&w, "https://b.example.com", ev, 1, &h[QL_WEBHOOKS_MAX], secret),
                  QL_ECONFLICT);
    ASSERT_TRUE(strstr(w.f.cx.err.msg, "at most 20 webhooks") != NULL);
    ASSERT_INT_EQ(w.f.store.nwebhooks, QL_WEBHOOKS_MAX);
    ASSERT_INT_EQ(w.f.store.naudit, naudit);
    /* deleted ones do not */
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_delete(&w.f.cx, &w.team.id, &h[3].id), QL_OK);
    ASSERT_INT_EQ(create(&w, "https://b.example.com", ev, 1, &h[QL_WEBHOOKS_MAX], secret), QL_OK);
    ASSERT_INT_EQ(create(&w, "https://c.example.com", ev, 1, &h[QL_WEBHOOKS_MAX], secret),
                  QL_ECONFLICT);
    /* the cap is the team's: another team starts from none */
    struct ql_team other;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_team_create(&w.f.cx, "U", 1, &other), QL_OK);
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_resolve(&w.f.cx, w.owner.session.token, 46, QL_VIA_BEARER, &w.po),
                  QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_webhook_create(&w.f.cx, &other.id, "https://c.example.com", 21, ev, 1, NULL, 0,
                                    &h[0], secret),
                  QL_OK);
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

/*
 * What the fan-out's statements carried: how many, and the most bytes of bodies one held
 * (a copy for each delivery: every endpoint's delivery row carries the body).
 */
static struct {
    const struct ql_webhooks_ops *real;
    int calls;
    size_t most;
} added;

static int deliveries_seen(struct ql_store *self, struct ql_ctx *cx, const struct ql_delivery *d,
                           int n)
{
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += strlen(d[i].body);
    if (bytes > added.most)
        added.most = bytes;
    added.calls++;
    return added.real->deliveries_add(self, cx, d, n);
}

/*
 * A batch of changes to large entries is written in statements of about 1 MiB of bodies
 * (it was one statement, and every body in memory at once: 1000 changes of 100,000
 * characters held 100 MB to 600 MB), counting each delivery's copy (with 20 endpoints, 1 MiB
 * of distinct bodies was 20 MiB in a statement), each endpoint still gets every change once,
 * in order, and both endpoints of a change get the same body.
 */
static void test_the_fan_out_of_large_entries_holds_about_a_mebibyte_of_bodies(void)
{
    static struct world w;
    setup(&w);
    fan_out(&w);
    struct ql_webhook a, b;
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(&w, "https://a.example.com/in", created, 1, &a, secret), QL_OK);
    ASSERT_INT_EQ(create(&w, "https://b.example.com/in", created, 1, &b, secret), QL_OK);
    static char big[100001];
    for (int i = 0; i < 20; i++) {
        memset(big, 'A' + i, sizeof(big) - 1);
        write_entry(&w, big);
    }
    struct ql_store *st = w.f.cx.ports.store;
    const struct ql_store_ops *ops = st->ops;
    struct ql_store_ops spied = *ops;
    struct ql_webhooks_ops hooks = *ops->webhooks;
    memset(&added, 0, sizeof(added));
    added.real = ops->webhooks;
    hooks.deliveries_add = deliveries_seen;
    spied.webhooks = &hooks;
    st->ops = &spied;
    int n = fan_out(&w);
    st->ops = ops;
    ASSERT_INT_EQ(n, 20);
    printf("# %d statements, at most %zu bytes of bodies\n", added.calls, added.most);
    ASSERT_TRUE(added.calls >= 2);
    ASSERT_TRUE(added.most < QL_PAGE_CONTENT_MAX + 2 * 100200); /* and the last change's two */
    ASSERT_INT_EQ(w.f.store.ndeliveries, 40);
    for (int i = 0; i < 40 && i < w.f.store.ndeliveries; i++) {
        const struct ql_delivery *d = &w.f.store.deliveries[i].d;
        ASSERT_MEM_EQ(d->webhook_id.b, (i % 2 ? &b : &a)->id.b, 16);
        const char *content = strstr(d->body, "\"content\":\"");
        ASSERT_NOT_NULL(content);
        ASSERT_INT_EQ(content[11], 'A' + i / 2);
        if (i % 2)
            ASSERT_STR_EQ(d->body, w.f.store.deliveries[i - 1].d.body);
    }
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
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, NULL, rows, 17), QL_OK); /* 85 % */
    ASSERT_INT_EQ(fan_out(&w), 0);
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, NULL, rows, 1), QL_OK); /* 90 %: the alert */
    ASSERT_INT_EQ(ql_usage_record(&w.f.cx, NULL, rows, 1), QL_OK); /* 95 %: no other */
    w.f.clock.now_ms = end + 1000; /* delivered after the month turned */
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
        TEST(test_a_team_has_at_most_twenty_endpoints),
        TEST(test_fan_out_makes_one_delivery_per_wanting_endpoint_and_signs_it),
        TEST(test_the_fan_out_of_large_entries_holds_about_a_mebibyte_of_bodies),
        TEST(test_a_usage_alert_carries_the_subscription_once_per_period),
        TEST(test_the_signature_matches_the_specification),
        TEST(test_a_traced_write_carries_its_trace_into_the_delivery_and_its_post),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
