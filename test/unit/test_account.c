/* Unit tests of the account use cases against the fake ports, with a manual clock. */
#include "account/account.h"
#include "err/err.h"
#include "fixture.h"
#include "test.h"

#include <stddef.h>

static struct ql_credentials creds(const char *email, const char *pw, const char *name)
{
    struct ql_credentials c = {email, strlen(email),           pw,           strlen(pw),
                               name,  name ? strlen(name) : 0, "203.0.113.7"};
    return c;
}

static void signup(struct fixture *f, const char *email, struct ql_auth_result *out)
{
    struct ql_credentials c = creds(email, "correct horse battery", "Alice");
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, out), QL_OK);
    fixture_next(f);
}

static void test_signup_creates_user_session_and_audit_in_one_transaction(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    struct ql_credentials c = creds("  Alice@Example.COM ", "correct horse battery", "Alice");
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &c, &r), QL_OK);
    ASSERT_STR_EQ(r.user.email, "alice@example.com");
    ASSERT_TRUE(strncmp(r.session.token, "qs_", 3) == 0);
    ASSERT_INT_EQ(strlen(r.session.token), 46);
    ASSERT_INT_EQ(r.session.expires_ms, T0 + 30LL * 86400000);
    ASSERT_INT_EQ(f.store.nusers, 1);
    ASSERT_INT_EQ(f.store.nsessions, 1);
    ASSERT_INT_EQ(f.store.naudit, 1);
    ASSERT_STR_EQ(f.store.audit[0].e.action, "user.signup");
    ASSERT_INT_EQ(f.store.audit[0].in_tx, 1);
    ASSERT_INT_EQ(f.store.commits, 1);
    ASSERT_TRUE(strncmp(f.store.users[0].u.password_hash, "fake$", 5) == 0);
    fixture_cleanup(&f);
}

static void test_signup_validation_reports_every_field(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    struct ql_credentials c = creds("not-an-email", "short", "");
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &c, &r), QL_EVALIDATION);
    ASSERT_INT_EQ(f.cx.err.nfields, 3);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "email");
    ASSERT_STR_EQ(f.cx.err.fields[1].field, "password");
    ASSERT_STR_EQ(f.cx.err.fields[2].field, "displayName");
    ASSERT_INT_EQ(f.store.nusers, 0);
    fixture_cleanup(&f);
}

static void test_duplicate_email_case_insensitive(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "bob@example.com", &r);
    struct ql_credentials c = creds("BOB@example.com", "another long password", "Bob 2");
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &c, &r), QL_EEMAIL_TAKEN);
    ASSERT_INT_EQ(f.store.nusers, 1);
    ASSERT_INT_EQ(f.store.nsessions, 1);
    ASSERT_INT_EQ(f.store.rollbacks, 1);
    fixture_cleanup(&f);
}

static void test_login_and_alike_failures(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "dan@example.com", &r);
    struct ql_credentials ok = creds("DAN@example.com", "correct horse battery", NULL);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &ok, &r), QL_OK);
    ASSERT_STR_EQ(r.user.email, "dan@example.com");
    ASSERT_INT_EQ(f.store.nsessions, 2);
    fixture_next(&f);
    struct ql_credentials wrong = creds("dan@example.com", "wrong password here", NULL);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &wrong, &r), QL_EINVALID_CREDENTIALS);
    char msg_wrong[256];
    snprintf(msg_wrong, sizeof(msg_wrong), "%s", f.cx.err.msg);
    fixture_next(&f);
    struct ql_credentials unknown = creds("nobody@example.com", "wrong password here", NULL);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &unknown, &r), QL_EINVALID_CREDENTIALS);
    ASSERT_STR_EQ(f.cx.err.msg, msg_wrong);
    fixture_cleanup(&f);
}

static void test_lockout_after_five_failures_until_window_passes(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "erin@example.com", &r);
    struct ql_credentials wrong = creds("erin@example.com", "wrong password here", NULL);
    struct ql_credentials right = creds("erin@example.com", "correct horse battery", NULL);
    for (int i = 0; i < 5; i++) {
        fixture_next(&f);
        ASSERT_INT_EQ(ql_account_login(&f.cx, &wrong, &r), QL_EINVALID_CREDENTIALS);
        fake_clock_advance(&f.clock, 60000); /* one a minute: all five inside 15 minutes */
    }
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &right, &r), QL_ERATE_LIMITED);
    /* the first failure was 5 minutes ago: 10 minutes remain */
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, 10 * 60000);
    fake_clock_advance(&f.clock, 10 * 60000 - 1000);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &right, &r), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, 1000);
    fake_clock_advance(&f.clock, 1000);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &right, &r), QL_OK);
    /* success clears the failures */
    ASSERT_INT_EQ(f.store.nfailures, 0);
    fixture_cleanup(&f);
}

static void test_unknown_emails_lock_out_too(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    struct ql_credentials c = creds("ghost@example.com", "whatever password", NULL);
    for (int i = 0; i < 5; i++) {
        fixture_next(&f);
        ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_EINVALID_CREDENTIALS);
    }
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_ERATE_LIMITED);
    fixture_cleanup(&f);
}

/*
 * Attempts that overlap, on the fakes: while an attempt's password is being checked, every
 * attempt not yet started arrives (the auth port's check starts them, one after another), so
 * RACERS attempts at one account's password are in flight at once.  Only
 * QL_LOGIN_MAX_FAILURES may get as far as a check; the others are refused before theirs.
 */
#define RACERS 20

struct race {
    struct fixture f; /* the hook finds the race from the fixture's auth port */
    struct ql_auth_ops ops;
    const struct ql_auth_ops *real;                    /* the fake's */
    int (*attempt)(struct ql_ctx *cx, struct race *r); /* one attempt, on cx */
    struct ql_credentials in;
    int started, checks, wrong, refused;
};

static void race_tally(struct race *r, int rc)
{
    r->wrong += rc == QL_EINVALID_CREDENTIALS || rc == QL_EVALIDATION;
    r->refused += rc == QL_ERATE_LIMITED;
}

static int racing_verify(struct ql_auth *self, const char *hash, const char *pw, size_t n)
{
    struct race *r = (struct race *)((char *)self - offsetof(struct race, f.auth.base));
    r->checks++;
    while (r->started < RACERS) {
        r->started++;
        struct ql_ctx cx = r->f.cx; /* a request of its own on the same ports */
        ql_error_clear(&cx.err);
        race_tally(r, r->attempt(&cx, r));
    }
    return r->real->password_verify(self, hash, pw, n);
}

/* Run the race: the first attempt, and all the others during its check. */
static void race_run(struct race *r)
{
    r->real = r->f.auth.base.ops;
    r->ops = *r->real;
    r->ops.password_verify = racing_verify;
    r->f.auth.base.ops = &r->ops;
    r->started = 1;
    race_tally(r, r->attempt(&r->f.cx, r));
    r->f.auth.base.ops = r->real;
    ASSERT_INT_EQ(r->started, RACERS);
    ASSERT_INT_EQ(r->checks, QL_LOGIN_MAX_FAILURES);
    ASSERT_INT_EQ(r->wrong, QL_LOGIN_MAX_FAILURES);
    ASSERT_INT_EQ(r->refused, RACERS - QL_LOGIN_MAX_FAILURES);
    ASSERT_INT_EQ(r->f.store.nfailures, QL_LOGIN_MAX_FAILURES); /* the refused left no row */
}

static int race_login(struct ql_ctx *cx, struct race *r)
{
    struct ql_auth_result res;
    return ql_account_login(cx, &r->in, &res);
}

static void test_overlapping_wrong_logins_are_checked_five_times_at_most(void)
{
    static struct race r;
    fixture_init(&r.f);
    struct ql_auth_result res;
    signup(&r.f, "ivy@example.com", &res);
    r.f.cfg.auth_ip_limit = 1000;
    r.in = creds("ivy@example.com", "wrong password here", NULL);
    r.attempt = race_login;
    race_run(&r);
    /* the account is locked now, the right password too */
    struct ql_credentials right = creds("ivy@example.com", "correct horse battery", NULL);
    fixture_next(&r.f);
    ASSERT_INT_EQ(ql_account_login(&r.f.cx, &right, &res), QL_ERATE_LIMITED);
    fixture_cleanup(&r.f);
}

static void test_per_address_limit(void)
{
    struct fixture f;
    fixture_init(&f);
    f.cfg.auth_ip_limit = 3;
    struct ql_auth_result r;
    struct ql_credentials c = creds("x@example.com", "whatever password", NULL);
    for (int i = 0; i < 3; i++) {
        fixture_next(&f);
        ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_EINVALID_CREDENTIALS);
    }
    fixture_next(&f);
    struct ql_credentials s = creds("new@example.com", "correct horse battery", "New");
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &s, &r), QL_ERATE_LIMITED);
    /* the clock stands at T0, the start of a minute: the whole minute remains */
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, 60000);
    /* a sliding window: crossing into the next minute does not reset the allowance */
    fake_clock_advance(&f.clock, 60000);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &s, &r), QL_ERATE_LIMITED);
    fake_clock_advance(&f.clock, 120000);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &s, &r), QL_OK);
    fixture_cleanup(&f);
}

static void test_resolve_expiry_idle_and_touch(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "fay@example.com", &r);
    const char *tok = r.session.token;
    struct ql_principal p;
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_OK);
    ASSERT_INT_EQ(p.kind, QL_PRINCIPAL_USER);
    ASSERT_INT_EQ(f.store.touches, 0);
    fake_clock_advance(&f.clock, QL_TOUCH_INTERVAL_MS);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_OK);
    ASSERT_INT_EQ(f.store.touches, 1);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_OK);
    ASSERT_INT_EQ(f.store.touches, 1); /* at most once a minute */
    /* idle: a week without use */
    fake_clock_advance(&f.clock, f.cfg.session_idle_ms);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p),
                  QL_EUNAUTHENTICATED);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, "qs_garbage-token", 16, QL_VIA_BEARER, &p),
                  QL_EUNAUTHENTICATED);
    fixture_cleanup(&f);
}

/*
 * A store that must not wait (an event loop's session) refuses the touch with
 * QL_EWOULD_BLOCK: resolving fails with it, so the request runs again where the touch can
 * be written, instead of losing the touch as it loses a failed one.
 */
static void test_resolve_hands_back_a_touch_that_would_block(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "gus@example.com", &r);
    const char *tok = r.session.token;
    struct ql_principal p;
    fake_clock_advance(&f.clock, QL_TOUCH_INTERVAL_MS);
    f.store.fail_call = 2; /* the load answers, the touch does not */
    f.store.fail_code = QL_EWOULD_BLOCK;
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(f.store.fail_hits, 1);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_OK);
    ASSERT_INT_EQ(f.store.touches, 2); /* the refused one, then the written one */
    /* any other failure of the touch is logged and the request goes on */
    fake_clock_advance(&f.clock, QL_TOUCH_INTERVAL_MS);
    fixture_next(&f);
    f.store.fail_call = 2;
    f.store.fail_code = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p), QL_OK);
    ASSERT_INT_EQ(f.store.fail_hits, 2);
    fixture_cleanup(&f);
}

static void test_absolute_expiry(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    signup(&f, "gus@example.com", &r);
    const char *tok = r.session.token;
    struct ql_principal p;
    /* keep it active every day for 30 days: the absolute expiry still ends it */
    for (int d = 0; d < 30; d++) {
        fake_clock_advance(&f.clock, 86400000 - 1);
        int rc = ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p);
        ASSERT_INT_EQ(rc, QL_OK);
    }
    fake_clock_advance(&f.clock, 30);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, tok, strlen(tok), QL_VIA_BEARER, &p),
                  QL_EUNAUTHENTICATED);
    fixture_cleanup(&f);
}

static void test_logout_and_password_change_revoke(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a, b, c;
    signup(&f, "hal@example.com", &a);
    struct ql_credentials in = creds("hal@example.com", "correct horse battery", NULL);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &in, &b), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &in, &c), QL_OK);
    fixture_next(&f);
    struct ql_principal p;
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, a.session.token, 46, QL_VIA_BEARER, &p), QL_OK);
    f.cx.principal = &p;
    ASSERT_INT_EQ(
        ql_account_change_password(&f.cx, "wrong current pw", 16, "a brand new password", 20),
        QL_EVALIDATION);
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(
        ql_account_change_password(&f.cx, "correct horse battery", 21, "a brand new password", 20),
        QL_OK);
    struct ql_principal q;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, a.session.token, 46, QL_VIA_BEARER, &q), QL_OK);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, b.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, c.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_logout(&f.cx), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, a.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    fixture_next(&f);
    struct ql_credentials old = creds("hal@example.com", "correct horse battery", NULL);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &old, &a), QL_EINVALID_CREDENTIALS);
    fixture_cleanup(&f);
}

/* Guesses at the current password count as failed logins: the sixth is refused. */
static void test_password_change_guesses_are_limited(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "jay@example.com", &a);
    struct ql_principal p;
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, a.session.token, 46, QL_VIA_BEARER, &p), QL_OK);
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(
        ql_account_change_password(&f.cx, "correct horse battery", 21, "the second password", 19),
        QL_OK);
    ASSERT_INT_EQ(f.store.nfailures, 0); /* a right one is no failure */
    for (int i = 0; i < QL_LOGIN_MAX_FAILURES; i++) {
        fixture_next(&f);
        f.cx.principal = &p;
        ASSERT_INT_EQ(
            ql_account_change_password(&f.cx, "a guess at it", 13, "a third password", 16),
            QL_EVALIDATION);
        ASSERT_STR_EQ(f.cx.err.fields[0].field, "currentPassword");
        ASSERT_STR_EQ(f.cx.err.fields[0].code, "mismatch");
    }
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_change_password(&f.cx, "a guess at it", 13, "a third password", 16),
                  QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, QL_LOGIN_WINDOW_MS);
    /* the account is locked: the right one too, here and at login */
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(
        ql_account_change_password(&f.cx, "the second password", 19, "a third password", 16),
        QL_ERATE_LIMITED);
    struct ql_credentials in = creds("jay@example.com", "the second password", NULL);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &in, &a), QL_ERATE_LIMITED);
    fake_clock_advance(&f.clock, QL_LOGIN_WINDOW_MS);
    fixture_next(&f);
    f.cx.principal = &p;
    ASSERT_INT_EQ(
        ql_account_change_password(&f.cx, "the second password", 19, "a third password", 16),
        QL_OK);
    fixture_cleanup(&f);
}

static int race_change_password(struct ql_ctx *cx, struct race *r)
{
    (void)r;
    return ql_account_change_password(cx, "a guess at it", 13, "a new password!", 15);
}

/* Overlapping guesses at the current password are bounded as overlapping logins are. */
static void test_overlapping_password_change_guesses_are_checked_five_times_at_most(void)
{
    static struct race r;
    fixture_init(&r.f);
    struct ql_auth_result a;
    signup(&r.f, "kim@example.com", &a);
    struct ql_principal p;
    ASSERT_INT_EQ(ql_account_resolve(&r.f.cx, a.session.token, 46, QL_VIA_BEARER, &p), QL_OK);
    fixture_next(&r.f);
    r.f.cx.principal = &p;
    r.attempt = race_change_password;
    race_run(&r);
    fixture_cleanup(&r.f);
}

static void test_csrf_is_derived_from_the_session(void)
{
    struct fixture f;
    fixture_init(&f);
    uint8_t d1[QL_DIGEST_LEN] = {1}, d2[QL_DIGEST_LEN] = {2};
    char a[48], b[48], c[48];
    ASSERT_INT_EQ(ql_account_csrf(&f.cx, d1, a), QL_OK);
    ASSERT_INT_EQ(ql_account_csrf(&f.cx, d1, b), QL_OK);
    ASSERT_INT_EQ(ql_account_csrf(&f.cx, d2, c), QL_OK);
    ASSERT_STR_EQ(a, b);
    ASSERT_TRUE(strcmp(a, c) != 0);
    ASSERT_INT_EQ(strlen(a), 32);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_signup_creates_user_session_and_audit_in_one_transaction),
        TEST(test_signup_validation_reports_every_field),
        TEST(test_duplicate_email_case_insensitive),
        TEST(test_login_and_alike_failures),
        TEST(test_lockout_after_five_failures_until_window_passes),
        TEST(test_unknown_emails_lock_out_too),
        TEST(test_overlapping_wrong_logins_are_checked_five_times_at_most),
        TEST(test_per_address_limit),
        TEST(test_resolve_expiry_idle_and_touch),
        TEST(test_resolve_hands_back_a_touch_that_would_block),
        TEST(test_absolute_expiry),
        TEST(test_logout_and_password_change_revoke),
        TEST(test_password_change_guesses_are_limited),
        TEST(test_overlapping_password_change_guesses_are_checked_five_times_at_most),
        TEST(test_csrf_is_derived_from_the_session),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
