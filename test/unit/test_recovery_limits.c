/*
 * test_recovery_limits.c - the per-email and per-user mail limits of password reset and email
 * verification over the fake ports, where test_recovery.c does not look: requests that
 * overlap queue no more mails than the limit between them, and a request that queues no
 * mail (its transaction failed, or there was nothing to send) does not count.
 */
#include "account/account.h"
#include "account/recovery.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "store/store_security.h"
#include "test.h"

#include <stddef.h>

#define PW "correct horse battery"
#define IP "203.0.113.9"
#define EMAIL "ann@example.com"

/* The principal of verification requests, set by user(). */
static struct ql_principal the_user;

/* Sign up EMAIL and resolve its session into the_user. */
static void user(struct fixture *f)
{
    struct ql_credentials c = {EMAIL, strlen(EMAIL), PW, strlen(PW), "Ann", 3, NULL};
    struct ql_auth_result a;
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, &a), QL_OK);
    fixture_next(f);
    const char *t = a.session.token;
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, t, strlen(t), QL_VIA_BEARER, &the_user), QL_OK);
    fixture_next(f);
}

/* A verification request of the_user (fixture_next forgets the principal: set it here). */
static int verify_request(struct ql_ctx *cx)
{
    cx->principal = &the_user;
    return ql_account_verify_request(cx, IP);
}

static int reset_request(struct ql_ctx *cx)
{
    return ql_account_reset_request(cx, EMAIL, strlen(EMAIL), IP);
}

static int jobs_of(const struct fixture *f, const char *kind)
{
    int n = 0;
    for (int i = 0; i < f->queue.n; i++)
        n += strcmp(f->queue.jobs[i].kind, kind) == 0;
    return n;
}

/*
 * Requests that overlap, on the fakes: while a request opens its transaction (after its
 * limit check, before its mail is queued), every request not yet started arrives (the
 * store's begin starts them, one after another), so RACERS requests for one email's (or
 * one user's) mails are in flight at once.  Only QL_MAIL_MAX_PER_WINDOW may queue a mail;
 * the others are refused and leave no row.
 */
#define RACERS 10

struct race {
    struct fixture f; /* the hook finds the race from the fixture's store */
    int (*begin)(struct ql_store *self, struct ql_ctx *cx); /* the fake's */
    int (*request)(struct ql_ctx *cx);                      /* one request, on cx */
    int started, queued, refused;
};

static void race_tally(struct race *r, int rc)
{
    r->queued += rc == QL_OK;
    r->refused += rc == QL_ERATE_LIMITED;
}

static int racing_begin(struct ql_store *self, struct ql_ctx *cx)
{
    struct race *r = (struct race *)((char *)self - offsetof(struct race, f.store.base));
    while (r->started < RACERS) {
        r->started++;
        struct ql_ctx next = r->f.cx; /* a request of its own on the same ports */
        ql_error_clear(&next.err);
        race_tally(r, r->request(&next));
    }
    return r->begin(self, cx);
}

/* Run the race: the first request, and all the others when it opens its transaction. */
static void race_run(struct race *r)
{
    r->f.cfg.mail_ip_limit = 1000; /* only the per-email (per-user) limit is under test */
    r->begin = r->f.store.ops.begin;
    r->f.store.ops.begin = racing_begin;
    r->started = 1;
    race_tally(r, r->request(&r->f.cx));
    r->f.store.ops.begin = r->begin;
    ASSERT_INT_EQ(r->started, RACERS);
    ASSERT_INT_EQ(r->queued, QL_MAIL_MAX_PER_WINDOW);
    ASSERT_INT_EQ(r->refused, RACERS - QL_MAIL_MAX_PER_WINDOW);
    ASSERT_INT_EQ(r->f.store.nfailures, QL_MAIL_MAX_PER_WINDOW); /* the refused left no row */
    /* and the window is full for the next request too */
    fixture_next(&r->f);
    ASSERT_INT_EQ(r->request(&r->f.cx), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(r->f.cx.err.rate_limit, QL_MAIL_MAX_PER_WINDOW);
}

static void test_overlapping_reset_requests_queue_three_mails_at_most(void)
{
    static struct race r;
    fixture_init(&r.f);
    r.request = reset_request;
    race_run(&r);
    ASSERT_INT_EQ(jobs_of(&r.f, QL_RESET_MAIL_KIND), QL_MAIL_MAX_PER_WINDOW);
    fixture_cleanup(&r.f);
}

static void test_overlapping_verification_requests_queue_three_mails_at_most(void)
{
    static struct race r;
    fixture_init(&r.f);
    user(&r.f);
    r.request = verify_request;
    race_run(&r);
    ASSERT_INT_EQ(r.f.store.nmails, QL_MAIL_MAX_PER_WINDOW);
    ASSERT_INT_EQ(r.f.store.ntokens, QL_MAIL_MAX_PER_WINDOW);
    fixture_cleanup(&r.f);
}

/*
 * The store calls of a request, in order: the per-address hit, the request's row, the count
 * of the email's (user's) rows, then what it queues.  A failed count leaves the row (the
 * store's errors err on the strict side, as for logins); every later failure takes it back.
 */
#define COUNT_CALL 3

/* How many requests pass, one after another, before the first refusal. */
static int allowance(struct fixture *f, int (*request)(struct ql_ctx *cx))
{
    int n = 0, rc;
    while ((rc = request(&f->cx)) == QL_OK && n <= QL_MAIL_MAX_PER_WINDOW) {
        n++;
        fixture_next(f);
    }
    ASSERT_INT_EQ(rc, QL_ERATE_LIMITED);
    fixture_next(f);
    return n;
}

/*
 * Fail each store call of a request in turn (set up by init): nothing is queued, no row
 * stays but that of a failed count, and the window holds what is left of the limit.
 */
static void walk(void (*init)(struct fixture *f), int (*request)(struct ql_ctx *cx))
{
    for (int fail = 1;; fail++) {
        struct fixture f;
        fixture_init(&f);
        init(&f);
        int jobs = f.queue.n;
        f.store.fail_call = fail;
        int rc = request(&f.cx);
        int fired = f.store.fail_hits;
        f.store.fail_call = 0;
        fixture_next(&f);
        if (rc == QL_OK) {
            ASSERT_INT_EQ(fired, 0); /* every call succeeded: the walk is over */
            ASSERT_TRUE(fail > COUNT_CALL + 1);
            fixture_cleanup(&f);
            break;
        }
        ASSERT_INT_EQ(fired, 1);
        ASSERT_INT_EQ(f.queue.n, jobs);
        ASSERT_INT_EQ(f.store.nmails, 0);
        ASSERT_INT_EQ(f.store.ntokens, 0);
        ASSERT_INT_EQ(f.store.nfailures, fail == COUNT_CALL);
        ASSERT_INT_EQ(allowance(&f, request), QL_MAIL_MAX_PER_WINDOW - (fail == COUNT_CALL));
        fixture_cleanup(&f);
    }
}

static void no_user(struct fixture *f)
{
    (void)f; /* a reset request needs no account */
}

static void test_a_failed_reset_request_does_not_count(void)
{
    walk(no_user, reset_request);
}

static void test_a_failed_verification_request_does_not_count(void)
{
    walk(user, verify_request);
}

/* A request of a verified account queues nothing (409): it leaves no row either. */
static void test_a_refused_verification_request_does_not_count(void)
{
    struct fixture f;
    fixture_init(&f);
    user(&f);
    f.store.users[0].u.email_verified_ms = T0;
    for (int i = 0; i <= QL_MAIL_MAX_PER_WINDOW; i++) {
        ASSERT_INT_EQ(verify_request(&f.cx), QL_ECONFLICT);
        fixture_next(&f);
    }
    ASSERT_INT_EQ(f.store.nfailures, 0);
    fixture_cleanup(&f);
}

static int forget_fails(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t at_ms)
{
    (void)self;
    (void)key;
    (void)at_ms;
    return ql_error_set(&cx->err, QL_EINTERNAL, "cannot forget");
}

/*
 * When the row cannot be taken back either, it stays (one mail fewer this window, the strict
 * side), and the answer is still the error that stopped the mail, not the take-back's.
 */
static void test_a_row_that_cannot_be_taken_back_stays(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_throttle_ops throttle = *f.store.ops.throttle;
    throttle.forget_failure = forget_fails;
    f.store.ops.throttle = &throttle;
    f.store.fail_call = COUNT_CALL + 2; /* the enqueue, after the begin */
    f.store.fail_code = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(reset_request(&f.cx), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(f.store.fail_hits, 1);
    ASSERT_INT_EQ(f.cx.err.code, QL_EUNAVAILABLE);
    ASSERT_STR_EQ(f.cx.err.msg, "fake store failure");
    ASSERT_INT_EQ(f.queue.n, 0);
    ASSERT_INT_EQ(f.store.nfailures, 1);
    ASSERT_INT_EQ(f.log.count, 1);
    ASSERT_NOT_NULL(strstr(ql_buf_cstr(&f.log.lines), "cannot take back"));
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_overlapping_reset_requests_queue_three_mails_at_most),
        TEST(test_overlapping_verification_requests_queue_three_mails_at_most),
        TEST(test_a_failed_reset_request_does_not_count),
        TEST(test_a_failed_verification_request_does_not_count),
        TEST(test_a_refused_verification_request_does_not_count),
        TEST(test_a_row_that_cannot_be_taken_back_stays),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
