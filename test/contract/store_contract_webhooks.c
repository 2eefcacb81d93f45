/*
 * store_contract_webhooks.c - the store contract's cases for webhook endpoints, their
 * deliveries and attempts (struct ql_webhooks_ops; store_contract.h).
 */
#include "contract/store_contract.h"

#include <string.h>

#define HOOKS(c) ((c)->s->ops->webhooks)

static struct ql_webhook hook_in(struct cc *c, const struct ql_team *t, int64_t at, const char *url)
{
    struct ql_webhook w = {.id = cc_id(), .team_id = t->id, .url = url, .description = "d"};
    w.nevents = 2;
    w.events[0] = "journal_entry.created";
    w.events[1] = "member.added";
    w.created_ms = c->now + at;
    return w;
}

static const uint8_t secret[] = {1, 2, 3, 0, 250, 9};

/* Endpoints: insert, get, list newest first in pages, subscribed, disable, remove, count. */
static void test_webhook_endpoints(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a), other = cc_team(&c, "O", &a);
    struct ql_webhook w1 = hook_in(&c, &t, 0, "https://one.example.com/in"),
                      w2 = hook_in(&c, &t, 10, "https://two.example.com/in"),
                      w3 = hook_in(&c, &other, 5, "https://three.example.com/in");
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w1, secret, sizeof(secret)), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w2, secret, sizeof(secret)), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w3, secret, sizeof(secret)), QL_OK);
    struct ql_webhook got;
    ASSERT_INT_EQ(HOOKS(&c)->get(c.s, &c.cx, &t.id, &w1.id, &got), QL_OK);
    ASSERT_STR_EQ(got.url, w1.url);
    ASSERT_STR_EQ(got.description, "d");
    ASSERT_INT_EQ(got.nevents, 2);
    ASSERT_STR_EQ(got.events[1], "member.added");
    ASSERT_INT_EQ(got.created_ms, w1.created_ms);
    ASSERT_INT_EQ(got.disabled_ms, 0);
    ASSERT_INT_EQ(got.failures, 0);
    CC_FAILS(&c, HOOKS(&c)->get(c.s, &c.cx, &other.id, &w1.id, &got), QL_ENOT_FOUND);
    struct ql_webhook *list;
    int n, more;
    ASSERT_INT_EQ(HOOKS(&c)->list(c.s, &c.cx, &t.id, 0, NULL, 1, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&list[0].id, &w2.id);
    struct ql_uuid after = list[0].id;
    ASSERT_INT_EQ(
        HOOKS(&c)->list(c.s, &c.cx, &t.id, list[0].created_ms, &after, 5, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&list[0].id, &w1.id);
    const struct ql_uuid teams[2] = {t.id, other.id};
    ASSERT_INT_EQ(HOOKS(&c)->subscribed(c.s, &c.cx, teams, 2, &list, &n), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(HOOKS(&c)->disable(c.s, &c.cx, &w2.id, c.now + 20), QL_OK);
    /* a second disable (a delivery that failed at the same time) changes nothing */
    CC_FAILS(&c, HOOKS(&c)->disable(c.s, &c.cx, &w2.id, c.now + 25), QL_ENOT_FOUND);
    ASSERT_INT_EQ(HOOKS(&c)->remove(c.s, &c.cx, &other.id, &w3.id, c.now + 30), QL_OK);
    CC_FAILS(&c, HOOKS(&c)->remove(c.s, &c.cx, &other.id, &w3.id, c.now + 30), QL_ENOT_FOUND);
    ASSERT_INT_EQ(HOOKS(&c)->subscribed(c.s, &c.cx, teams, 2, &list, &n), QL_OK);
    ASSERT_INT_EQ(n, 1); /* w1: w2 is disabled, w3 deleted */
    ASSERT_ID_EQ(&list[0].id, &w1.id);
    ASSERT_INT_EQ(HOOKS(&c)->get(c.s, &c.cx, &t.id, &w2.id, &got), QL_OK);
    ASSERT_INT_EQ(got.disabled_ms, c.now + 20);
    int64_t count = -1; /* the cap's count: disabled endpoints count, deleted ones do not */
    ASSERT_INT_EQ(HOOKS(&c)->count(c.s, &c.cx, &t.id, &count), QL_OK);
    ASSERT_INT_EQ(count, 2);
    ASSERT_INT_EQ(HOOKS(&c)->count(c.s, &c.cx, &other.id, &count), QL_OK);
    ASSERT_INT_EQ(count, 0);
    cc_close(&c);
}

/* Deliveries: made, read with their endpoint and sealed secret, attempted, listed. */
static void test_deliveries_and_attempts(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_webhook w = hook_in(&c, &t, 0, "https://one.example.com/in");
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w, secret, sizeof(secret)), QL_OK);
    struct ql_delivery d[2] = {
        {.id = cc_id(),
         .webhook_id = w.id,
         .team_id = t.id,
         .event = "member.added",
         .body = "{\"type\":\"member.added\"}",
         .created_ms = c.now + 1},
        {.id = cc_id(),
         .webhook_id = w.id,
         .team_id = t.id,
         .event = "journal_entry.created",
         .body = "{\"a\":\"\\\"quoted\\\", {braces}\"}",
         .created_ms = c.now + 2},
    };
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->deliveries_add(c.s, &c.cx, d, 2), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    struct ql_delivery got;
    struct ql_webhook gw;
    int deleted;
    uint8_t *box;
    size_t box_n;
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[1].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_STR_EQ(got.body, d[1].body);
    ASSERT_STR_EQ(got.event, "journal_entry.created");
    ASSERT_INT_EQ(got.attempts, 0);
    ASSERT_INT_EQ(got.succeeded, 0);
    ASSERT_ID_EQ(&gw.id, &w.id);
    ASSERT_STR_EQ(gw.url, w.url);
    ASSERT_INT_EQ(deleted, 0);
    ASSERT_INT_EQ(box_n, sizeof(secret));
    ASSERT_MEM_EQ(box, secret, sizeof(secret));
    struct ql_uuid nowhere = cc_id();
    CC_FAILS(&c, HOOKS(&c)->target(c.s, &c.cx, &nowhere, &got, &gw, &deleted, &box, &box_n),
             QL_ENOT_FOUND);
    /* two failures in a row, then a success that resets them */
    int failures;
    struct ql_delivery_attempt at = {.delivery_id = d[1].id,
                                     .webhook_id = w.id,
                                     .attempt = 1,
                                     .response_status = 500,
                                     .error = "HTTP 500",
                                     .duration_ms = 12,
                                     .at_ms = c.now + 10};
    ASSERT_INT_EQ(HOOKS(&c)->attempt_add(c.s, &c.cx, &at, 0, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 1);
    at.attempt = 2;
    at.response_status = 0;
    at.error = "timed out";
    at.at_ms = c.now + 20;
    ASSERT_INT_EQ(HOOKS(&c)->attempt_add(c.s, &c.cx, &at, 0, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 2);
    /* another job's attempt made at the same time, also numbered 2: recorded as the third */
    at.response_status = 502;
    at.error = "HTTP 502";
    at.at_ms = c.now + 25;
    ASSERT_INT_EQ(HOOKS(&c)->attempt_add(c.s, &c.cx, &at, 0, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 3);
    struct ql_delivery_attempt ok = {.delivery_id = d[0].id,
                                     .webhook_id = w.id,
                                     .attempt = 1,
                                     .ok = 1,
                                     .response_status = 204,
                                     .duration_ms = 3,
                                     .at_ms = c.now + 30};
    ASSERT_INT_EQ(HOOKS(&c)->attempt_add(c.s, &c.cx, &ok, 1, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 0);
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[1].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_INT_EQ(got.attempts, 3);
    ASSERT_INT_EQ(got.succeeded, 0);
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[0].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_INT_EQ(got.succeeded, 1);
    /* newest first, in pages */
    struct ql_delivery_attempt *list;
    int n, more;
    ASSERT_INT_EQ(HOOKS(&c)->attempts(c.s, &c.cx, &t.id, &w.id, NULL, 2, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_INT_EQ(list[0].ok, 1);
    ASSERT_INT_EQ(list[0].response_status, 204);
    ASSERT_NULL(list[0].error);
    ASSERT_STR_EQ(list[0].event, "member.added");
    ASSERT_INT_EQ(list[1].attempt, 3);
    ASSERT_INT_EQ(list[1].response_status, 502);
    ASSERT_STR_EQ(list[1].error, "HTTP 502");
    struct ql_delivery_attempt last = list[1];
    ASSERT_INT_EQ(HOOKS(&c)->attempts(c.s, &c.cx, &t.id, &w.id, &last, 2, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 0);
    ASSERT_INT_EQ(list[0].attempt, 2);
    ASSERT_INT_EQ(list[0].response_status, 0);
    ASSERT_STR_EQ(list[0].error, "timed out");
    ASSERT_INT_EQ(list[1].attempt, 1);
    ASSERT_INT_EQ(list[1].duration_ms, 12);
    ASSERT_INT_EQ(list[1].at_ms, c.now + 10);
    /* the operators' view: the newest failures of every team, with their team */
    ASSERT_INT_EQ(HOOKS(&c)->failures(c.s, &c.cx, 2, &list, &n), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_ID_EQ(&list[0].delivery_id, &d[1].id);
    ASSERT_ID_EQ(&list[0].team_id, &t.id);
    /* a failure recorded after a success (another job's) leaves the delivery succeeded */
    struct ql_delivery_attempt late = ok;
    late.ok = 0;
    late.response_status = 500;
    late.error = "HTTP 500";
    late.at_ms = c.now + 35;
    ASSERT_INT_EQ(HOOKS(&c)->attempt_add(c.s, &c.cx, &late, 1, &failures), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[0].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_INT_EQ(got.attempts, 2);
    ASSERT_INT_EQ(got.succeeded, 1);
    /* a redelivery reopens the delivery of the team's endpoint only */
    struct ql_team other = cc_team(&c, "O", &a);
    CC_FAILS(&c, HOOKS(&c)->reopen(c.s, &c.cx, &other.id, &w.id, &d[1].id), QL_ENOT_FOUND);
    ASSERT_INT_EQ(HOOKS(&c)->reopen(c.s, &c.cx, &t.id, &w.id, &d[1].id), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->reopen(c.s, &c.cx, &t.id, &w.id, &d[0].id), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[0].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_INT_EQ(got.succeeded, 0); /* reopened: a redelivery sends it again */
    /* a deleted endpoint: its deliveries still say where they were going, and that it is gone */
    ASSERT_INT_EQ(HOOKS(&c)->remove(c.s, &c.cx, &t.id, &w.id, c.now + 40), QL_OK);
    ASSERT_INT_EQ(HOOKS(&c)->target(c.s, &c.cx, &d[1].id, &got, &gw, &deleted, &box, &box_n),
                  QL_OK);
    ASSERT_INT_EQ(deleted, 1);
    CC_FAILS(&c, HOOKS(&c)->reopen(c.s, &c.cx, &t.id, &w.id, &d[1].id), QL_ENOT_FOUND);
    cc_close(&c);
}

#define DAY_MS 86400000LL

/* One delivery of w made at made_ms (an offset from c->now), pending. */
static struct ql_delivery delivery_at(struct cc *c, const struct ql_webhook *w, int64_t made_ms)
{
    struct ql_delivery d = {.id = cc_id(),
                            .webhook_id = w->id,
                            .team_id = w->team_id,
                            .event = "member.added",
                            .body = "{}",
                            .created_ms = c->now + made_ms};
    ASSERT_INT_EQ(ql_store_begin(c->s, &c->cx), QL_OK);
    ASSERT_INT_EQ(HOOKS(c)->deliveries_add(c->s, &c->cx, &d, 1), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c->s, &c->cx), QL_OK);
    return d;
}

static void attempt_at(struct cc *c, const struct ql_delivery *d, int ok, int final, int64_t at)
{
    struct ql_delivery_attempt a = {.delivery_id = d->id,
                                    .webhook_id = d->webhook_id,
                                    .attempt = 1,
                                    .ok = ok,
                                    .response_status = ok ? 200 : 500,
                                    .error = ok ? NULL : "HTTP 500",
                                    .at_ms = c->now + at};
    int failures;
    ASSERT_INT_EQ(HOOKS(c)->attempt_add(c->s, &c->cx, &a, final, &failures), QL_OK);
}

static int gone(struct cc *c, const struct ql_delivery *d)
{
    struct ql_delivery got;
    struct ql_webhook gw;
    int deleted;
    uint8_t *box;
    size_t box_n;
    int rc = HOOKS(c)->target(c->s, &c->cx, &d->id, &got, &gw, &deleted, &box, &box_n);
    ql_error_clear(&c->cx.err);
    return rc == QL_ENOT_FOUND;
}

/*
 * Retention: finished deliveries made before the cutoff and not attempted since go with
 * their attempts, in batches of at most the limit; pending ones, newer ones and ones
 * attempted since (a redelivery) stay.
 */
static void test_finished_deliveries_purged(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_webhook w = hook_in(&c, &t, 0, "https://one.example.com/in");
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w, secret, sizeof(secret)), QL_OK);
    struct ql_delivery ok = delivery_at(&c, &w, -40 * DAY_MS),
                       failed = delivery_at(&c, &w, -40 * DAY_MS),
                       pending = delivery_at(&c, &w, -40 * DAY_MS),
                       untried = delivery_at(&c, &w, -40 * DAY_MS),
                       again = delivery_at(&c, &w, -40 * DAY_MS),
                       young = delivery_at(&c, &w, -DAY_MS);
    attempt_at(&c, &ok, 1, 1, -40 * DAY_MS);
    attempt_at(&c, &failed, 0, 0, -40 * DAY_MS);
    attempt_at(&c, &failed, 0, 1, -39 * DAY_MS);
    attempt_at(&c, &pending, 0, 0, -40 * DAY_MS);
    attempt_at(&c, &again, 1, 1, -40 * DAY_MS);
    attempt_at(&c, &again, 1, 1, -DAY_MS); /* redelivered yesterday */
    attempt_at(&c, &young, 1, 1, -DAY_MS);
    int64_t n = 0, total = 0;
    ASSERT_INT_EQ(HOOKS(&c)->purge(c.s, &c.cx, c.now - 30 * DAY_MS, 1, &n), QL_OK);
    ASSERT_INT_EQ(n, 1); /* the limit */
    total = n;
    do {
        ASSERT_INT_EQ(HOOKS(&c)->purge(c.s, &c.cx, c.now - 30 * DAY_MS, 100, &n), QL_OK);
        total += n;
    } while (n == 100);
    ASSERT_TRUE(total >= 2);
    ASSERT_TRUE(gone(&c, &ok));
    ASSERT_TRUE(gone(&c, &failed));
    ASSERT_TRUE(!gone(&c, &pending));
    ASSERT_TRUE(!gone(&c, &untried));
    ASSERT_TRUE(!gone(&c, &again));
    ASSERT_TRUE(!gone(&c, &young));
    /* the attempts of what went are gone; the others' are all there */
    struct ql_delivery_attempt *list;
    int nl, more;
    ASSERT_INT_EQ(HOOKS(&c)->attempts(c.s, &c.cx, &t.id, &w.id, NULL, 50, &list, &nl, &more),
                  QL_OK);
    ASSERT_INT_EQ(nl, 4); /* pending's one, again's two, young's one */
    for (int i = 0; i < nl; i++) {
        ASSERT_TRUE(strcmp(cc_id_s(&list[i].delivery_id), cc_id_s(&ok.id)) != 0);
        ASSERT_TRUE(strcmp(cc_id_s(&list[i].delivery_id), cc_id_s(&failed.id)) != 0);
    }
    cc_close(&c);
}

/*
 * A pending delivery that no job will attempt any more (here: it has none) ends failed with
 * an attempt saying why, not counted against its endpoint; once failed, retention takes it.
 * A finished one is left alone, and a second pass adds nothing.
 */
static void test_orphaned_deliveries_fail(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_webhook w = hook_in(&c, &t, 0, "https://one.example.com/in");
    ASSERT_INT_EQ(HOOKS(&c)->insert(c.s, &c.cx, &w, secret, sizeof(secret)), QL_OK);
    struct ql_delivery orphan = delivery_at(&c, &w, 1), done = delivery_at(&c, &w, 2);
    attempt_at(&c, &orphan, 0, 0, 10);
    attempt_at(&c, &done, 1, 1, 20);
    int64_t n;
    for (int pass = 0; pass < 2; pass++)
        do
            ASSERT_INT_EQ(
                HOOKS(&c)->fail_orphans(c.s, &c.cx, c.now + 50, "worker stopped", 100, &n), QL_OK);
        while (n == 100);
    struct ql_delivery_attempt *list;
    int nl, more;
    ASSERT_INT_EQ(HOOKS(&c)->attempts(c.s, &c.cx, &t.id, &w.id, NULL, 50, &list, &nl, &more),
                  QL_OK);
    ASSERT_INT_EQ(nl, 3);
    ASSERT_ID_EQ(&list[0].delivery_id, &orphan.id);
    ASSERT_INT_EQ(list[0].attempt, 2);
    ASSERT_INT_EQ(list[0].ok, 0);
    ASSERT_INT_EQ(list[0].response_status, 0);
    ASSERT_STR_EQ(list[0].error, "worker stopped");
    ASSERT_INT_EQ(list[0].at_ms, c.now + 50);
    ASSERT_STR_EQ(list[0].event, "member.added");
    struct ql_webhook got;
    ASSERT_INT_EQ(HOOKS(&c)->get(c.s, &c.cx, &t.id, &w.id, &got), QL_OK);
    ASSERT_INT_EQ(got.failures, 0);
    /* failed for good now: the retention takes both */
    do
        ASSERT_INT_EQ(HOOKS(&c)->purge(c.s, &c.cx, c.now + 100, 100, &n), QL_OK);
    while (n == 100);
    ASSERT_TRUE(gone(&c, &orphan));
    ASSERT_TRUE(gone(&c, &done));
    cc_close(&c);
}

const struct ql_test contract_webhooks_tests[] = {
    TEST(test_webhook_endpoints),
    TEST(test_deliveries_and_attempts),
    TEST(test_finished_deliveries_purged),
    TEST(test_orphaned_deliveries_fail),
};
const int contract_webhooks_ntests = QL_NTESTS(contract_webhooks_tests);
