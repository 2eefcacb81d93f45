/*
 * Unit tests of the idempotency wrapper (core/idem): a use case runs at most once per key,
 * its response is recorded in its own transaction, refusals without a transaction are
 * recorded after it, transient outcomes never, and a reused key with another request is
 * refused.
 */
#include "err/err.h"
#include "idem/idem.h"
#include "store/store.h"
#include "tx/tx.h"
#include "test.h"
#include "fixture.h"

#include <stdio.h>

/* What the use case under test does, and what the caller's renderer saw. */
struct use {
    int runs;
    int rc;      /* what it returns */
    int with_tx; /* writes in a transaction */
    int renders; /* calls of the renderer */
    int last_rc; /* the outcome rendered last */
    int rendered_in_tx;
    struct fixture *f;
    char body[64];
};

static int use_case(struct ql_ctx *cx, void *arg)
{
    struct use *u = arg;
    u->runs++;
    if (!u->with_tx)
        return u->rc ? ql_error_set(&cx->err, u->rc, NULL) : QL_OK;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    return ql_tx_end(cx, u->rc);
}

static int render(struct ql_ctx *cx, int rc, void *ud, struct ql_idem_response *out)
{
    (void)cx;
    struct use *u = ud;
    u->renders++;
    u->last_rc = rc;
    u->rendered_in_tx = u->f->store.in_tx;
    snprintf(u->body, sizeof(u->body), "{\"rc\":%d,\"run\":%d}", rc, u->runs);
    *out = (struct ql_idem_response){rc ? 422 : 201, "Content-Type: application/json\r\n", 32,
                                     u->body, strlen(u->body)};
    return QL_OK;
}

static struct ql_idem_call call_for(struct use *u, const char *key, const char *body)
{
    return (struct ql_idem_call){"user:u1", key,  strlen(key),  "POST", "/v1/x",
                                 5,         body, strlen(body), render, u};
}

static void test_runs_once_and_replays_the_recorded_response(void)
{
    struct fixture f;
    fixture_init(&f);
    struct use u = {.with_tx = 1, .f = &f};
    struct ql_idem_call c = call_for(&u, "k-1", "{\"a\":1}");
    int replayed;
    struct ql_idem_response rep;
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_OK);
    ASSERT_INT_EQ(replayed, 0);
    ASSERT_INT_EQ(u.runs, 1);
    ASSERT_INT_EQ(u.renders, 1);
    ASSERT_INT_EQ(u.rendered_in_tx, 1); /* recorded before COMMIT, in the same transaction */
    ASSERT_INT_EQ(f.store.nidem, 1);
    ASSERT_NULL(f.cx.tx); /* the hooks do not outlive the call */
    fixture_next(&f);
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_OK);
    ASSERT_INT_EQ(replayed, 1);
    ASSERT_INT_EQ(u.runs, 1);
    ASSERT_INT_EQ(rep.status, 201);
    ASSERT_INT_EQ(rep.body_n, strlen("{\"rc\":0,\"run\":1}"));
    ASSERT_INT_EQ(memcmp(rep.body, "{\"rc\":0,\"run\":1}", rep.body_n), 0);
    ASSERT_INT_EQ(memcmp(rep.headers, "Content-Type: application/json\r\n", 32), 0);
    fixture_cleanup(&f);
}

static void test_a_reused_key_with_another_request_is_refused(void)
{
    struct fixture f;
    fixture_init(&f);
    struct use u = {.with_tx = 1, .f = &f};
    struct ql_idem_call c = call_for(&u, "k-2", "{\"a\":1}");
    int replayed;
    struct ql_idem_response rep;
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_OK);
    fixture_next(&f);
    struct ql_idem_call other = call_for(&u, "k-2", "{\"a\":2}");
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &other, use_case, &u, &replayed, &rep), QL_EIDEM_REUSED);
    ASSERT_INT_EQ(replayed, 0);
    ASSERT_INT_EQ(u.runs, 1);
    fixture_cleanup(&f);
}

static void test_a_refusal_without_a_transaction_is_recorded_after_it(void)
{
    struct fixture f;
    fixture_init(&f);
    struct use u = {.rc = QL_EVALIDATION, .f = &f};
    struct ql_idem_call c = call_for(&u, "k-3", "{}");
    int replayed;
    struct ql_idem_response rep;
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_EVALIDATION);
    ASSERT_INT_EQ(u.renders, 1);
    ASSERT_INT_EQ(u.last_rc, QL_EVALIDATION);
    ASSERT_INT_EQ(u.rendered_in_tx, 0);
    ASSERT_INT_EQ(f.store.nidem, 1);
    ASSERT_INT_EQ(f.cx.err.code, QL_EVALIDATION); /* the caller still sees its error */
    fixture_next(&f);
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_OK);
    ASSERT_INT_EQ(replayed, 1);
    ASSERT_INT_EQ(rep.status, 422);
    ASSERT_INT_EQ(u.runs, 1);
    fixture_cleanup(&f);
}

static void test_transient_outcomes_are_never_recorded(void)
{
    static const int transient[] = {QL_EUNAVAILABLE, QL_ERETRY, QL_ERATE_LIMITED, QL_EINTERNAL};
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
        struct fixture f;
        fixture_init(&f);
        struct use u = {.rc = transient[i], .with_tx = 1, .f = &f};
        struct ql_idem_call c = call_for(&u, "k-4", "{}");
        int replayed;
        struct ql_idem_response rep;
        ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), transient[i]);
        ASSERT_INT_EQ(f.store.nidem, 0);
        ASSERT_INT_EQ(u.renders, 0);
        /* so the retry runs the use case again */
        u.rc = QL_OK;
        fixture_next(&f);
        ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_OK);
        ASSERT_INT_EQ(replayed, 0);
        ASSERT_INT_EQ(u.runs, 2);
        fixture_cleanup(&f);
    }
}

static void test_a_key_in_use_by_another_transaction_is_in_progress(void)
{
    struct fixture f;
    fixture_init(&f);
    f.store.idem_locked = 1;
    struct use u = {.with_tx = 1, .f = &f};
    struct ql_idem_call c = call_for(&u, "k-5", "{}");
    int replayed;
    struct ql_idem_response rep;
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_EIDEM_IN_PROGRESS);
    ASSERT_INT_EQ(f.store.nidem, 0);
    ASSERT_INT_EQ(f.store.rollbacks, 1);
    fixture_cleanup(&f);
}

static void test_a_commit_that_fails_leaves_no_record(void)
{
    struct fixture f;
    fixture_init(&f);
    struct use u = {.with_tx = 1, .f = &f};
    struct ql_idem_call c = call_for(&u, "k-6", "{}");
    int replayed;
    struct ql_idem_response rep;
    /* calls: idem get, begin, lock, put (before commit), commit: the commit fails */
    f.store.fail_call = 5;
    f.store.fail_code = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(f.store.fail_hits, 1);
    ASSERT_INT_EQ(u.renders, 1); /* rendered for the record, which was rolled back */
    ASSERT_INT_EQ(f.store.nidem, 0);
    fixture_cleanup(&f);
}

static void test_bad_keys_are_refused_before_running(void)
{
    struct fixture f;
    fixture_init(&f);
    struct use u = {.f = &f};
    int replayed;
    struct ql_idem_response rep;
    struct ql_idem_call c = call_for(&u, "", "{}");
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "Idempotency-Key");
    fixture_next(&f);
    c = call_for(&u, "with space", "{}");
    ASSERT_INT_EQ(ql_idem_run(&f.cx, &c, use_case, &u, &replayed, &rep), QL_EVALIDATION);
    ASSERT_INT_EQ(u.runs, 0);
    fixture_cleanup(&f);
}

static void test_idempotency_records(void)
{
    struct fixture f;
    fixture_init(&f);
    ASSERT_INT_EQ(ql_idem_check_key(&f.cx, "abc-123", 7), QL_OK);
    ASSERT_INT_EQ(ql_idem_check_key(&f.cx, "has space", 9), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_idem_check_key(&f.cx, "", 0), QL_EVALIDATION);
    char big[300];
    memset(big, 'k', sizeof(big));
    ASSERT_INT_EQ(ql_idem_check_key(&f.cx, big, 256), QL_EVALIDATION);
    uint8_t a[32], b[32], c[32];
    ql_idem_fingerprint(&f.cx, "POST", "/x", 2, "{}", 2, a);
    ql_idem_fingerprint(&f.cx, "POST", "/x", 2, "{}", 2, b);
    ql_idem_fingerprint(&f.cx, "POST", "/x", 2, "{ }", 3, c);
    ASSERT_MEM_EQ(a, b, 32);
    ASSERT_TRUE(memcmp(a, c, 32) != 0);
    struct ql_idem_record r;
    ASSERT_INT_EQ(ql_idem_pack(&f.cx, 201, "ETag: \"1\"\r\n", 11, "{\"k\":1}", 7, &r), QL_OK);
    ASSERT_INT_EQ(r.expires_ms - r.created_ms, QL_IDEM_TTL_MS);
    const char *h, *body;
    size_t hn, bn;
    ASSERT_INT_EQ(ql_idem_unpack(&f.cx, &r, &h, &hn, &body, &bn), QL_OK);
    ASSERT_INT_EQ(hn, 11);
    ASSERT_TRUE(memcmp(h, "ETag: \"1\"\r\n", 11) == 0);
    ASSERT_INT_EQ(bn, 7);
    ASSERT_TRUE(memcmp(body, "{\"k\":1}", 7) == 0);
    ((uint8_t *)r.sealed)[0] ^= 1; /* an altered record does not open */
    ASSERT_INT_EQ(ql_idem_unpack(&f.cx, &r, &h, &hn, &body, &bn), QL_EINTERNAL);
    fixture_cleanup(&f);
}

/*
 * A fingerprint is keyed with the server secret: login, signup and password-change bodies
 * carry passwords, and a reader of the stored fingerprints must not be able to test guesses
 * at them.  The same request under the same secret still matches.
 */
static void test_fingerprints_are_keyed_with_the_server_secret(void)
{
    struct fixture f;
    fixture_init(&f);
    static const char body[] = "{\"email\":\"a@example.com\",\"password\":\"hunter2hunter2\"}";
    uint8_t one[QL_DIGEST_LEN], again[QL_DIGEST_LEN], other[QL_DIGEST_LEN];
    f.auth.secret = "one server secret";
    ASSERT_INT_EQ(
        ql_idem_fingerprint(&f.cx, "POST", "/v1/auth/login", 14, body, sizeof(body) - 1, one),
        QL_OK);
    ASSERT_INT_EQ(
        ql_idem_fingerprint(&f.cx, "POST", "/v1/auth/login", 14, body, sizeof(body) - 1, again),
        QL_OK);
    f.auth.secret = "another server secret";
    ASSERT_INT_EQ(
        ql_idem_fingerprint(&f.cx, "POST", "/v1/auth/login", 14, body, sizeof(body) - 1, other),
        QL_OK);
    ASSERT_MEM_EQ(one, again, QL_DIGEST_LEN);
    ASSERT_TRUE(memcmp(one, other, QL_DIGEST_LEN) != 0);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_runs_once_and_replays_the_recorded_response),
        TEST(test_a_reused_key_with_another_request_is_refused),
        TEST(test_a_refusal_without_a_transaction_is_recorded_after_it),
        TEST(test_transient_outcomes_are_never_recorded),
        TEST(test_a_key_in_use_by_another_transaction_is_in_progress),
        TEST(test_a_commit_that_fails_leaves_no_record),
        TEST(test_bad_keys_are_refused_before_running),
        TEST(test_idempotency_records),
        TEST(test_fingerprints_are_keyed_with_the_server_secret),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
