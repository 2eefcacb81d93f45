/*
 * test_recovery.c - password reset and email verification over the fake ports: tokens that
 * work once and expire on the manual clock, answers that are the same for known and
 * unknown emails, the limits, a reset that ends every session, and the configuration of
 * mailed links.
 */
#include "account/account.h"
#include "account/recovery.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "test.h"

#define PW "correct horse battery"
#define NEW_PW "a brand new password"
#define IP "203.0.113.9"

static void signup(struct fixture *f, const char *email, struct ql_auth_result *out)
{
    struct ql_credentials c = {email, strlen(email), PW, strlen(PW), "Ann", 3, NULL};
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, out), QL_OK);
    fixture_next(f);
}

static int login(struct fixture *f, const char *email, const char *pw, struct ql_auth_result *out)
{
    struct ql_credentials c = {email, strlen(email), pw, strlen(pw), NULL, 0, NULL};
    int rc = ql_account_login(&f->cx, &c, out);
    fixture_next(f);
    return rc;
}

static int resolve(struct fixture *f, const char *token, struct ql_principal *p)
{
    int rc = ql_account_resolve(&f->cx, token, strlen(token), QL_VIA_BEARER, p);
    fixture_next(f);
    return rc;
}

/* The index of the newest job of kind not run yet, or -1. */
static int job_of(struct fixture *f, const char *kind)
{
    for (int i = f->queue.n - 1; i >= 0; i--)
        if (strcmp(f->queue.jobs[i].kind, kind) == 0 && !f->queue.jobs[i].done)
            return i;
    return -1;
}

/* Run job i once with fn, as the engine would; its result. */
static int run_job(struct fixture *f, int i, ql_job_fn fn)
{
    struct fake_job *fj = &f->queue.jobs[i];
    fj->attempts++;
    struct ql_job job = {.id = i + 1,
                         .queue = fj->queue,
                         .kind = fj->kind,
                         .payload = fj->payload,
                         .attempts = fj->attempts,
                         .max_attempts = fj->max_attempts};
    fixture_next(f);
    f->cx.job = &job;
    int rc = fn(&f->cx, &job);
    f->cx.job = NULL;
    if (rc == QL_OK)
        fj->done = 1;
    return rc;
}

/* The text of the newest mail of the outbox (its sealed body opened), in buf. */
static const char *newest_text(struct fixture *f, char *buf, size_t cap)
{
    ASSERT_TRUE(f->store.nmails > 0);
    const struct ql_mail *m = &f->store.mails[f->store.nmails - 1].m;
    ASSERT_TRUE(m->body_n > QL_SEAL_OVERHEAD && m->body_n - QL_SEAL_OVERHEAD < cap);
    ASSERT_INT_EQ(ql_auth_open(&f->auth.base, m->body, m->body_n, buf), QL_OK);
    buf[m->body_n - QL_SEAL_OVERHEAD] = '\0';
    return buf;
}

/* The token of the link in the newest mail ("#token=..."), in out (64 bytes). */
static void link_token(struct fixture *f, char *out)
{
    char text[2048];
    const char *t = strstr(newest_text(f, text, sizeof(text)), "#token=");
    ASSERT_NOT_NULL(t);
    t += 7;
    size_t n = strcspn(t, "\n");
    ASSERT_INT_EQ(n, 46);
    memcpy(out, t, n);
    out[n] = '\0';
}

/* Ask for a reset of email and run the job that follows; the request's result. */
static int reset_mail(struct fixture *f, const char *email)
{
    int rc = ql_account_reset_request(&f->cx, email, strlen(email), IP);
    if (rc)
        return rc;
    int j = job_of(f, QL_RESET_MAIL_KIND);
    ASSERT_TRUE(j >= 0);
    ASSERT_INT_EQ(run_job(f, j, ql_account_reset_mail), QL_OK);
    fixture_next(f);
    return QL_OK;
}

static int confirm(struct fixture *f, const char *token, const char *pw)
{
    int rc = ql_account_reset_confirm(&f->cx, token, strlen(token), pw, strlen(pw), IP);
    fixture_next(f);
    return rc;
}

static void test_reset_mails_a_link_that_works_once_and_ends_every_session(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a, b;
    signup(&f, "ann@example.com", &a);
    ASSERT_INT_EQ(login(&f, "ann@example.com", PW, &b), QL_OK);
    ASSERT_INT_EQ(reset_mail(&f, "ANN@example.com"), QL_OK);
    ASSERT_INT_EQ(f.store.nmails, 1);
    const struct ql_mail *m = &f.store.mails[0].m;
    ASSERT_STR_EQ(m->to, "ann@example.com");
    ASSERT_STR_EQ(m->kind, "password_reset");
    ASSERT_STR_EQ(m->state, QL_MAIL_PENDING);
    ASSERT_INT_EQ(job_of(&f, QL_MAIL_SEND_KIND) >= 0, 1);
    ASSERT_INT_EQ(f.store.ntokens, 1);
    ASSERT_INT_EQ(f.store.tokens[0].t.expires_ms, T0 + 30 * 60000);
    char text[2048], token[64];
    newest_text(&f, text, sizeof(text));
    ASSERT_NOT_NULL(strstr(text, "http://127.0.0.1:8080/reset-password#token=qr_"));
    ASSERT_NOT_NULL(strstr(text, "within 30 minutes"));
    link_token(&f, token);
    /* only the digest is stored */
    ASSERT_TRUE(memmem(&f.store.tokens[0].t, sizeof(f.store.tokens[0].t), token + 3, 8) == NULL);
    ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_OK);
    ASSERT_STR_EQ(f.store.users[0].u.password_hash, "fake$" NEW_PW);
    ASSERT_TRUE(f.store.users[0].u.email_verified_ms != 0); /* the mail reached its reader */
    struct ql_principal p;
    ASSERT_INT_EQ(resolve(&f, a.session.token, &p), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(resolve(&f, b.session.token, &p), QL_EUNAUTHENTICATED);
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.action, "user.password_reset");
    /* a second use fails, and so does the old password */
    ASSERT_INT_EQ(confirm(&f, token, "yet another password"), QL_EINVALID_TOKEN);
    ASSERT_STR_EQ(f.store.users[0].u.password_hash, "fake$" NEW_PW);
    ASSERT_INT_EQ(login(&f, "ann@example.com", PW, &b), QL_EINVALID_CREDENTIALS);
    ASSERT_INT_EQ(login(&f, "ann@example.com", NEW_PW, &b), QL_OK);
    fixture_cleanup(&f);
}

static void test_a_reset_ends_the_other_links_of_the_user(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "bea@example.com", &a);
    char first[64], second[64];
    ASSERT_INT_EQ(reset_mail(&f, "bea@example.com"), QL_OK);
    link_token(&f, first);
    ASSERT_INT_EQ(reset_mail(&f, "bea@example.com"), QL_OK);
    link_token(&f, second);
    ASSERT_TRUE(strcmp(first, second) != 0);
    ASSERT_INT_EQ(confirm(&f, second, NEW_PW), QL_OK);
    ASSERT_INT_EQ(confirm(&f, first, "yet another password"), QL_EINVALID_TOKEN);
    fixture_cleanup(&f);
}

static void test_reset_token_lifetime_on_the_clock(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "cal@example.com", &a);
    char token[64];
    ASSERT_INT_EQ(reset_mail(&f, "cal@example.com"), QL_OK);
    link_token(&f, token);
    fake_clock_advance(&f.clock, 30 * 60000); /* exactly 30 minutes: over */
    ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_EINVALID_TOKEN);
    ASSERT_STR_EQ(f.store.users[0].u.password_hash, "fake$" PW);
    /* a millisecond earlier it still works */
    ASSERT_INT_EQ(reset_mail(&f, "cal@example.com"), QL_OK);
    link_token(&f, token);
    fake_clock_advance(&f.clock, 30 * 60000 - 1);
    ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_OK);
    /* a configured lifetime is honoured */
    f.cfg.reset_ttl_ms = 5 * 60000;
    ASSERT_INT_EQ(reset_mail(&f, "cal@example.com"), QL_OK);
    link_token(&f, token);
    ASSERT_NOT_NULL(strstr(f.store.mails[f.store.nmails - 1].m.subject, "password"));
    fake_clock_advance(&f.clock, 5 * 60000);
    ASSERT_INT_EQ(confirm(&f, token, "yet another password"), QL_EINVALID_TOKEN);
    fixture_cleanup(&f);
}

/* What a reset request leaves, to compare a known email's with an unknown one's. */
struct shape {
    int rc, code, nfields, calls_delta, jobs_delta, failures_delta, commits_delta;
    char kind[64];
};

static struct shape request_shape(struct fixture *f, const char *email)
{
    struct shape s;
    memset(&s, 0, sizeof(s));
    int calls = f->store.calls, jobs = f->queue.n, failures = f->store.nfailures,
        commits = f->store.commits;
    s.rc = ql_account_reset_request(&f->cx, email, strlen(email), IP);
    s.code = f->cx.err.code;
    s.nfields = f->cx.err.nfields;
    s.calls_delta = f->store.calls - calls;
    s.jobs_delta = f->queue.n - jobs;
    s.failures_delta = f->store.nfailures - failures;
    s.commits_delta = f->store.commits - commits;
    snprintf(s.kind, sizeof(s.kind), "%s", f->queue.n ? f->queue.jobs[f->queue.n - 1].kind : "");
    fixture_next(f);
    return s;
}

static void test_known_and_unknown_emails_get_the_same_answer_after_the_same_work(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "dee@example.com", &a);
    struct shape known = request_shape(&f, "dee@example.com");
    struct shape unknown = request_shape(&f, "nobody@example.com");
    ASSERT_INT_EQ(known.rc, QL_OK);
    ASSERT_INT_EQ(unknown.rc, known.rc);
    ASSERT_INT_EQ(unknown.code, known.code);
    ASSERT_INT_EQ(unknown.nfields, known.nfields);
    ASSERT_INT_EQ(unknown.calls_delta, known.calls_delta); /* the same store calls */
    ASSERT_INT_EQ(unknown.jobs_delta, 1);
    ASSERT_INT_EQ(known.jobs_delta, 1);
    ASSERT_INT_EQ(unknown.failures_delta, known.failures_delta);
    ASSERT_INT_EQ(unknown.commits_delta, known.commits_delta);
    ASSERT_STR_EQ(unknown.kind, known.kind);
    /* the job for the unknown email sends nothing and leaves no token */
    ASSERT_INT_EQ(run_job(&f, f.queue.n - 1, ql_account_reset_mail), QL_OK);
    ASSERT_INT_EQ(f.store.nmails, 0);
    ASSERT_INT_EQ(f.store.ntokens, 0);
    ASSERT_INT_EQ(run_job(&f, f.queue.n - 2, ql_account_reset_mail), QL_OK);
    ASSERT_INT_EQ(f.store.nmails, 1);
    /* the limit is counted for every email alike */
    for (int i = 0; i < QL_MAIL_MAX_PER_WINDOW; i++) {
        known = request_shape(&f, "dee@example.com");
        unknown = request_shape(&f, "nobody@example.com");
        ASSERT_INT_EQ(unknown.rc, known.rc);
    }
    ASSERT_INT_EQ(known.rc, QL_ERATE_LIMITED);
    ASSERT_INT_EQ(unknown.rc, QL_ERATE_LIMITED);
    fixture_cleanup(&f);
}

static void test_reset_request_validation_and_limits(void)
{
    struct fixture f;
    fixture_init(&f);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "", 0, IP), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "email");
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "not-an-email", 12, IP), QL_EVALIDATION);
    fixture_next(&f);
    ASSERT_INT_EQ(f.queue.n, 0);
    /* per email: three a window, then 429 until the oldest leaves it */
    for (int i = 0; i < QL_MAIL_MAX_PER_WINDOW; i++) {
        ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "eve@example.com", 15, IP), QL_OK);
        fixture_next(&f);
        fake_clock_advance(&f.clock, 1000);
    }
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "eve@example.com", 15, NULL), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, QL_MAIL_WINDOW_MS - 3000);
    fixture_next(&f);
    fake_clock_advance(&f.clock, QL_MAIL_WINDOW_MS - 3000);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "eve@example.com", 15, NULL), QL_OK);
    fixture_next(&f);
    /* per address: QUILL_MAIL_IP_LIMIT a minute, whatever the emails */
    f.cfg.mail_ip_limit = 2;
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "a1@example.com", 14, "198.51.100.1"), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "a2@example.com", 14, "198.51.100.1"), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "a3@example.com", 14, "198.51.100.1"),
                  QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.rate_limit, 2);
    fixture_cleanup(&f);
}

/*
 * Failed logins and the mail limits share the throttle's rows but not their keys: logins as
 * the "email" "mail:reset:<victim>" neither block the victim's reset mails nor, once such an
 * account logs in, forget the victim's count of them.
 */
static void test_logins_cannot_reach_the_mail_limits(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result r;
    for (int i = 0; i < QL_MAIL_MAX_PER_WINDOW; i++)
        ASSERT_INT_EQ(login(&f, "mail:reset:victim@x.com", "not the password", &r),
                      QL_EINVALID_CREDENTIALS);
    for (int i = 0; i < QL_MAIL_MAX_PER_WINDOW; i++) {
        ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "victim@x.com", 12, IP), QL_OK);
        fixture_next(&f);
    }
    signup(&f, "mail:reset:victim@x.com", &r);
    ASSERT_INT_EQ(login(&f, "mail:reset:victim@x.com", PW, &r), QL_OK);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "victim@x.com", 12, IP), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.rate_limit, QL_MAIL_MAX_PER_WINDOW); /* the email's, not the address's */
    fixture_next(&f);
    /* and the account's own failed logins are what its login forgot */
    ASSERT_INT_EQ(login(&f, "mail:reset:victim@x.com", "not the password", &r),
                  QL_EINVALID_CREDENTIALS);
    ASSERT_INT_EQ(login(&f, "MAIL:reset:victim@x.com", PW, &r), QL_OK);
    for (int i = 0; i < f.store.nfailures; i++)
        ASSERT_TRUE(strncmp(f.store.failures[i].email, "mail:reset:", 11) == 0);
    fixture_cleanup(&f);
}

static void test_a_rerun_of_the_reset_job_sends_no_second_mail(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "fay@example.com", &a);
    ASSERT_INT_EQ(ql_account_reset_request(&f.cx, "fay@example.com", 15, IP), QL_OK);
    int j = job_of(&f, QL_RESET_MAIL_KIND);
    ASSERT_INT_EQ(run_job(&f, j, ql_account_reset_mail), QL_OK);
    f.queue.jobs[j].done = 0; /* the worker died before it recorded the success */
    ASSERT_INT_EQ(run_job(&f, j, ql_account_reset_mail), QL_OK);
    ASSERT_INT_EQ(f.store.nmails, 1);
    ASSERT_INT_EQ(f.store.ntokens, 1);
    fixture_cleanup(&f);
}

static void test_confirm_refuses_what_is_not_a_reset_token(void)
{
    struct fixture f;
    fixture_init(&f);
    ASSERT_INT_EQ(confirm(&f, "nonsense", NEW_PW), QL_EINVALID_TOKEN);
    char fake[64] = "qr_";
    memset(fake + 3, 'A', 43);
    fake[46] = '\0';
    ASSERT_INT_EQ(confirm(&f, fake, NEW_PW), QL_EINVALID_TOKEN);
    ASSERT_INT_EQ(ql_account_reset_confirm(&f.cx, "", 0, "short", 5, IP), QL_EVALIDATION);
    ASSERT_INT_EQ(f.cx.err.nfields, 2);
    fixture_next(&f);
    /* a verification token is no reset token */
    struct ql_auth_result a;
    signup(&f, "gus@example.com", &a);
    struct ql_principal p;
    ASSERT_INT_EQ(resolve(&f, a.session.token, &p), QL_OK);
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_OK);
    fixture_next(&f);
    char token[64];
    link_token(&f, token);
    ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_EINVALID_TOKEN);
    fixture_cleanup(&f);
}

static void test_a_link_of_an_account_that_is_gone_fails(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "kim@example.com", &a);
    char token[64];
    ASSERT_INT_EQ(reset_mail(&f, "kim@example.com"), QL_OK);
    link_token(&f, token);
    f.store.users[0].u.id.b[15] ^= 0xff; /* the account is no longer there */
    ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_EINVALID_TOKEN);
    ASSERT_STR_EQ(f.store.users[0].u.password_hash, "fake$" PW);
    fixture_cleanup(&f);
}

/* Every failing store call of a confirmation leaves nothing half done. */
static void test_a_failed_confirmation_changes_nothing(void)
{
    for (int fail = 1;; fail++) {
        struct fixture f;
        fixture_init(&f);
        struct ql_auth_result a;
        signup(&f, "hank@example.com", &a);
        char token[64];
        ASSERT_INT_EQ(reset_mail(&f, "hank@example.com"), QL_OK);
        link_token(&f, token);
        f.store.fail_call = fail;
        int rc = confirm(&f, token, NEW_PW);
        int fired = f.store.fail_hits;
        f.store.fail_call = 0;
        struct ql_principal p;
        if (rc == QL_OK) {
            ASSERT_INT_EQ(fired, 0); /* every call succeeded: the walk is over */
            fixture_cleanup(&f);
            break;
        }
        ASSERT_INT_EQ(fired, 1);
        ASSERT_STR_EQ(f.store.users[0].u.password_hash, "fake$" PW);
        ASSERT_INT_EQ(f.store.tokens[0].t.used_ms, 0);
        ASSERT_INT_EQ(resolve(&f, a.session.token, &p), QL_OK);
        ASSERT_INT_EQ(confirm(&f, token, NEW_PW), QL_OK); /* the link still works */
        fixture_cleanup(&f);
    }
}

static void test_email_verification_works_once_and_expires(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "ida@example.com", &a);
    ASSERT_INT_EQ(a.user.email_verified_ms, 0);
    struct ql_principal p;
    ASSERT_INT_EQ(resolve(&f, a.session.token, &p), QL_OK);
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_OK);
    fixture_next(&f);
    ASSERT_STR_EQ(f.store.mails[0].m.kind, "email_verification");
    ASSERT_STR_EQ(f.store.mails[0].m.to, "ida@example.com");
    char text[2048], token[64];
    ASSERT_NOT_NULL(strstr(newest_text(&f, text, sizeof(text)), "/verify-email#token=qv_"));
    link_token(&f, token);
    /* a second link; the first expires after 24 hours */
    fake_clock_advance(&f.clock, 1000);
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_OK);
    fixture_next(&f);
    char second[64];
    link_token(&f, second);
    fake_clock_advance(&f.clock, 24 * 3600000LL - 1000);
    ASSERT_INT_EQ(ql_account_verify_confirm(&f.cx, token, 46), QL_EINVALID_TOKEN);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_verify_confirm(&f.cx, second, 46), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(f.store.users[0].u.email_verified_ms, T0 + 24 * 3600000LL);
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.action, "user.email_verified");
    ASSERT_INT_EQ(ql_account_verify_confirm(&f.cx, second, 46), QL_EINVALID_TOKEN);
    fixture_next(&f);
    struct ql_user u;
    struct ql_team_role *teams;
    int n;
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_me(&f.cx, &u, &teams, &n), QL_OK);
    ASSERT_TRUE(u.email_verified_ms != 0);
    fixture_next(&f);
    /* verified already: nothing more to send */
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_ECONFLICT);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_verify_confirm(&f.cx, "", 0), QL_EVALIDATION);
    fixture_cleanup(&f);
}

static void test_verification_needs_a_user_and_has_a_resend_limit(void)
{
    struct fixture f;
    fixture_init(&f);
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_EUNAUTHENTICATED);
    fixture_next(&f);
    struct ql_auth_result a;
    signup(&f, "jan@example.com", &a);
    struct ql_principal p;
    ASSERT_INT_EQ(resolve(&f, a.session.token, &p), QL_OK);
    for (int i = 0; i < QL_MAIL_MAX_PER_WINDOW; i++) {
        f.cx.principal = &p;
        ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_OK);
        fixture_next(&f);
    }
    f.cx.principal = &p;
    ASSERT_INT_EQ(ql_account_verify_request(&f.cx, IP), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(f.cx.err.retry_after_ms, QL_MAIL_WINDOW_MS);
    ASSERT_INT_EQ(f.store.nmails, QL_MAIL_MAX_PER_WINDOW);
    fixture_cleanup(&f);
}

static const char *env_of(void *ud, const char *name)
{
    const char *const *kv = ud;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static void test_link_configuration(void)
{
    struct ql_config c;
    struct ql_config_errors errs;
    struct ql_env e;
    const char *public_only[] = {"QUILL_PUBLIC_URL", "https://api.example.com/", NULL};
    ql_env_init(&e, env_of, public_only, &errs);
    ql_config_read(&e, &c);
    ASSERT_INT_EQ(errs.n, 0);
    ASSERT_STR_EQ(c.app_url, "https://api.example.com");
    const char *app[] = {"QUILL_PUBLIC_URL",
                         "https://api.example.com",
                         "QUILL_APP_URL",
                         "https://app.example.com/quill",
                         "QUILL_PASSWORD_RESET_TTL_MINUTES",
                         "10",
                         "QUILL_EMAIL_VERIFY_TTL_HOURS",
                         "48",
                         NULL};
    ql_env_init(&e, env_of, app, &errs);
    ql_config_read(&e, &c);
    ASSERT_INT_EQ(errs.n, 0);
    ASSERT_STR_EQ(c.app_url, "https://app.example.com/quill");
    ASSERT_INT_EQ(c.reset_ttl_ms, 600000);
    ASSERT_INT_EQ(c.verify_ttl_ms, 48 * 3600000LL);
    const char *bad[] = {
        "QUILL_APP_URL", "ftp://x", "QUILL_PASSWORD_RESET_TTL_MINUTES", "0", "QUILL_MAIL_IP_LIMIT",
        "none",          NULL};
    ql_env_init(&e, env_of, bad, &errs);
    ql_config_read(&e, &c);
    ASSERT_INT_EQ(errs.n, 3);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_APP_URL: ", 15) == 0);
    ASSERT_TRUE(strncmp(errs.msg[1], "QUILL_PASSWORD_RESET_TTL_MINUTES: ", 34) == 0);
    ASSERT_TRUE(strncmp(errs.msg[2], "QUILL_MAIL_IP_LIMIT: ", 21) == 0);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_reset_mails_a_link_that_works_once_and_ends_every_session),
        TEST(test_a_reset_ends_the_other_links_of_the_user),
        TEST(test_reset_token_lifetime_on_the_clock),
        TEST(test_known_and_unknown_emails_get_the_same_answer_after_the_same_work),
        TEST(test_reset_request_validation_and_limits),
        TEST(test_logins_cannot_reach_the_mail_limits),
        TEST(test_a_rerun_of_the_reset_job_sends_no_second_mail),
        TEST(test_confirm_refuses_what_is_not_a_reset_token),
        TEST(test_a_link_of_an_account_that_is_gone_fails),
        TEST(test_a_failed_confirmation_changes_nothing),
        TEST(test_email_verification_works_once_and_expires),
        TEST(test_verification_needs_a_user_and_has_a_resend_limit),
        TEST(test_link_configuration),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
