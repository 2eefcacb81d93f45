/*
 * Unit tests of the MFA use cases against the fake ports and a manual clock: enrolment and
 * confirmation, the login step (challenge, exchange), replay refusal, the bound on wrong
 * codes, recovery codes (each once), re-authentication and turning MFA off.  Codes are
 * computed with the same auth port the use cases use (the fake's HMAC), from the secret the
 * enrolment showed.
 */
#include "account/account.h"
#include "b32/b32.h"
#include "err/err.h"
#include "fixture.h"
#include "mfa/mfa.h"
#include "mfa/totp.h"
#include "store/store_security.h"
#include "test.h"

#include <stddef.h>

#define PW "correct horse battery"
#define IP "203.0.113.7"

struct person {
    const char *email;
    struct ql_auth_result r;
    struct ql_principal p;
    uint8_t secret[QL_TOTP_SECRET_LEN];
    struct ql_recovery_codes codes;
};

static struct ql_credentials creds(const char *email, const char *pw)
{
    struct ql_credentials c = {email, strlen(email), pw, strlen(pw), "P", 1, IP, "agent/1", 7};
    return c;
}

/* Make p's session the caller of the next use case. */
static void as(struct fixture *f, struct person *p)
{
    fixture_next(f);
    const char *t = p->r.session.token;
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, t, strlen(t), QL_VIA_BEARER, &p->p), QL_OK);
    fixture_next(f);
    f->cx.principal = &p->p;
}

static void signup(struct fixture *f, struct person *p, const char *email)
{
    memset(p, 0, sizeof(*p));
    p->email = email;
    struct ql_credentials c = creds(email, PW);
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, &p->r), QL_OK);
}

/* The code of p's secret d steps from now. */
static const char *code(struct fixture *f, const struct person *p, int d)
{
    static char out[4][QL_TOTP_DIGITS + 1];
    static int next;
    char *c = out[next++ % 4];
    ASSERT_INT_EQ(ql_totp_code(&f->auth.base, p->secret, sizeof(p->secret),
                               ql_totp_step(f->clock.now_ms) + d, QL_TOTP_DIGITS, c),
                  QL_OK);
    return c;
}

/* A right-shaped code that is not p's now (nor a step either side). */
static const char *wrong_code(struct fixture *f, const struct person *p)
{
    static char c[QL_TOTP_DIGITS + 1];
    strcpy(c, code(f, p, 0));
    do
        c[0] = c[0] == '9' ? '0' : (char)(c[0] + 1);
    while (!strcmp(c, code(f, p, -1)) || !strcmp(c, code(f, p, 1)));
    return c;
}

/* Enrol and confirm p, then move to the next step (the confirmation used this one). */
static void enable(struct fixture *f, struct person *p)
{
    struct ql_totp_enrolment e;
    as(f, p);
    ASSERT_INT_EQ(ql_mfa_enrol(&f->cx, PW, strlen(PW), &e), QL_OK);
    size_t n = 0;
    ASSERT_INT_EQ(ql_b32_decode(e.secret, strlen(e.secret), p->secret, sizeof(p->secret), &n),
                  QL_OK);
    ASSERT_INT_EQ(n, QL_TOTP_SECRET_LEN);
    as(f, p);
    const char *c = code(f, p, 0);
    ASSERT_INT_EQ(ql_mfa_confirm(&f->cx, c, strlen(c), &p->codes), QL_OK);
    fake_clock_advance(&f->clock, QL_TOTP_STEP_MS);
}

/* Log p in with the password: the challenge's token (MFA on). */
static const char *challenge(struct fixture *f, struct person *p)
{
    struct ql_credentials c = creds(p->email, PW);
    struct ql_auth_result r;
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_login(&f->cx, &c, &r), QL_OK);
    ASSERT_NOT_NULL(r.mfa_token);
    ASSERT_INT_EQ(r.mfa_expires_ms, f->clock.now_ms + QL_MFA_CHALLENGE_TTL_MS);
    return r.mfa_token;
}

static int answer(struct fixture *f, const char *token, const char *c, struct ql_auth_result *r)
{
    struct ql_mfa_answer a = {token, strlen(token), c, strlen(c), IP, "agent/2", 7};
    fixture_next(f);
    return ql_mfa_login(&f->cx, &a, r);
}

static int audited(struct fixture *f, const char *action)
{
    int n = 0;
    for (int i = 0; i < f->store.naudit; i++)
        n += strcmp(f->store.audit[i].e.action, action) == 0;
    return n;
}

static void test_enrol_confirm_and_recovery_codes(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "ann@example.com");
    struct ql_totp_enrolment e;
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, "not my password", 15, &e), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "password");
    ASSERT_STR_EQ(f.cx.err.fields[0].code, "mismatch");
    ASSERT_INT_EQ(f.store.nfailures, 1); /* counted like a failed login */
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, PW, strlen(PW), &e), QL_OK);
    ASSERT_INT_EQ(strlen(e.secret), 32);
    char want[160];
    snprintf(want, sizeof(want),
             "otpauth://totp/Quill:ann%%40example.com?secret=%s&issuer=Quill&algorithm=SHA1"
             "&digits=6&period=30",
             e.secret);
    ASSERT_STR_EQ(e.uri, want);
    size_t n;
    ASSERT_INT_EQ(ql_b32_decode(e.secret, 32, a.secret, sizeof(a.secret), &n), QL_OK);
    /* not in force until confirmed: the password alone still logs in */
    ASSERT_INT_EQ(f.store.ntotp, 1);
    ASSERT_INT_EQ(f.store.totp[0].confirmed, 0);
    struct ql_credentials c = creds(a.email, PW);
    struct ql_auth_result r;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_OK);
    ASSERT_NULL(r.mfa_token);
    ASSERT_INT_EQ(r.user.mfa_enabled, 0);
    /* confirmation wants the current code */
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, wrong_code(&f, &a), 6, &a.codes), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "code");
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, code(&f, &a, 0), 6, &a.codes), QL_OK);
    for (int i = 0; i < QL_MFA_RECOVERY_CODES; i++) {
        ASSERT_INT_EQ(strlen(a.codes.codes[i]), 27);
        for (int k = 0; k < 27; k++)
            ASSERT_TRUE(k % 7 == 6 ? a.codes.codes[i][k] == '-'
                                   : strchr("abcdefghijklmnopqrstuvwxyz234567",
                                            a.codes.codes[i][k]) != NULL);
        for (int j = 0; j < i; j++)
            ASSERT_TRUE(strcmp(a.codes.codes[i], a.codes.codes[j]) != 0);
    }
    ASSERT_INT_EQ(f.store.nrecovery, QL_MFA_RECOVERY_CODES);
    ASSERT_INT_EQ(f.store.totp[0].last_step, ql_totp_step(f.clock.now_ms));
    struct ql_user u;
    struct ql_team_role *teams;
    int nt;
    as(&f, &a);
    ASSERT_INT_EQ(ql_account_me(&f.cx, &u, &teams, &nt), QL_OK);
    ASSERT_INT_EQ(u.mfa_enabled, 1);
    ASSERT_INT_EQ(audited(&f, "mfa.enrol"), 1);
    ASSERT_INT_EQ(audited(&f, "mfa.enable"), 1);
    /* on is on: no second enrolment, no second confirmation */
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, PW, strlen(PW), &e), QL_ECONFLICT);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, code(&f, &a, 1), 6, &a.codes), QL_ECONFLICT);
    fixture_cleanup(&f);
}

/* A restarted enrolment has a new secret; the old one's codes no longer confirm. */
static void test_enrolment_restarts_and_secrets_open_for_their_user_only(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a, b;
    signup(&f, &a, "ada@example.com");
    signup(&f, &b, "bob@example.com");
    struct ql_totp_enrolment e1, e2;
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, PW, strlen(PW), &e1), QL_OK);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, PW, strlen(PW), &e2), QL_OK);
    ASSERT_TRUE(strcmp(e1.secret, e2.secret) != 0);
    size_t n;
    ASSERT_INT_EQ(ql_b32_decode(e1.secret, 32, a.secret, sizeof(a.secret), &n), QL_OK);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, code(&f, &a, 0), 6, &a.codes), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_b32_decode(e2.secret, 32, a.secret, sizeof(a.secret), &n), QL_OK);
    /* Bob's row given Ada's sealed secret (a tampered database): it does not open for him */
    as(&f, &b);
    ASSERT_INT_EQ(ql_mfa_enrol(&f.cx, PW, strlen(PW), &e1), QL_OK);
    memcpy(f.store.totp[1].sealed, f.store.totp[0].sealed, f.store.totp[0].sealed_n);
    as(&f, &b);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, code(&f, &a, 0), 6, &b.codes), QL_EINTERNAL);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_confirm(&f.cx, code(&f, &a, 0), 6, &a.codes), QL_OK);
    fixture_cleanup(&f);
}

/* With MFA on the password opens a challenge, not a session; a code exchanges it, once. */
static void test_login_step_and_replay(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "cat@example.com");
    enable(&f, &a);
    int sessions = f.store.nsessions;
    const char *t1 = challenge(&f, &a);
    ASSERT_INT_EQ(f.store.nsessions, sessions);
    ASSERT_INT_EQ(f.store.nchallenges, 1);
    ASSERT_INT_EQ(audited(&f, "session.mfa_challenge"), 1);
    struct ql_auth_result r;
    const char *now = code(&f, &a, 0);
    ASSERT_INT_EQ(answer(&f, t1, now, &r), QL_OK);
    ASSERT_TRUE(strncmp(r.session.token, "qs_", 3) == 0);
    ASSERT_INT_EQ(r.user.mfa_enabled, 1);
    ASSERT_STR_EQ(r.user.email, a.email);
    ASSERT_INT_EQ(f.store.nsessions, sessions + 1);
    ASSERT_STR_EQ(f.store.sessions[sessions].user_agent, "agent/2");
    ASSERT_STR_EQ(f.store.sessions[sessions].client_ip, IP);
    ASSERT_INT_EQ(f.store.nchallenges, 0);
    /* the token is spent */
    ASSERT_INT_EQ(answer(&f, t1, code(&f, &a, 1), &r), QL_EUNAUTHENTICATED);
    /* the same code on a new challenge is a replay, and so is the step before it */
    const char *t2 = challenge(&f, &a);
    ASSERT_INT_EQ(answer(&f, t2, now, &r), QL_EINVALID_CREDENTIALS);
    ASSERT_INT_EQ(answer(&f, t2, code(&f, &a, -1), &r), QL_EINVALID_CREDENTIALS);
    /* the next step's code works (the challenge survived two wrong codes) */
    fake_clock_advance(&f.clock, QL_TOTP_STEP_MS);
    ASSERT_INT_EQ(answer(&f, t2, code(&f, &a, 0), &r), QL_OK);
    ASSERT_INT_EQ(f.store.nfailures, 0); /* a full login forgets the failures */
    ASSERT_INT_EQ(audited(&f, "session.login"), 2);
    fixture_cleanup(&f);
}

/* Five wrong codes end the challenge and lock the account until the window passes. */
static void test_wrong_codes_are_bounded(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "dan@example.com");
    enable(&f, &a);
    const char *t = challenge(&f, &a);
    struct ql_auth_result r;
    for (int i = 0; i < QL_MFA_MAX_FAILURES; i++)
        ASSERT_INT_EQ(answer(&f, t, wrong_code(&f, &a), &r), QL_EINVALID_CREDENTIALS);
    ASSERT_INT_EQ(f.store.challenges[0].failures, QL_MFA_MAX_FAILURES);
    ASSERT_INT_EQ(answer(&f, t, code(&f, &a, 0), &r), QL_EUNAUTHENTICATED);
    /* a new login does not buy new guesses: the account is locked */
    struct ql_credentials c = creds(a.email, PW);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_ERATE_LIMITED);
    ASSERT_TRUE(f.cx.err.retry_after_ms > 0);
    fake_clock_advance(&f.clock, QL_LOGIN_WINDOW_MS);
    t = challenge(&f, &a);
    ASSERT_INT_EQ(answer(&f, t, code(&f, &a, 0), &r), QL_OK);
    fixture_cleanup(&f);
}

/*
 * Answers that overlap, on the fakes: when an answer's transaction rolls back after its wrong
 * code, every answer not yet started runs before that answer goes on (as requests waiting on
 * the challenge's row lock would, in PostgreSQL), so RACERS wrong codes for one token overlap.
 * Only QL_MFA_MAX_FAILURES may get as far as a check; the others find the token dead.
 */
#define RACERS 10

struct race {
    struct fixture f; /* the hook finds the race from the fixture's store */
    void (*rollback)(struct ql_store *self, struct ql_ctx *cx); /* the fake's */
    struct ql_mfa_answer in[2]; /* the answers take turns at these (ntokens of them) */
    int ntokens, started, wrong, dead, refused;
};

static void race_tally(struct race *r, int rc)
{
    r->wrong += rc == QL_EINVALID_CREDENTIALS;
    r->dead += rc == QL_EUNAUTHENTICATED;
    r->refused += rc == QL_ERATE_LIMITED;
}

static void racing_rollback(struct ql_store *self, struct ql_ctx *cx)
{
    struct race *r = (struct race *)((char *)self - offsetof(struct race, f.store.base));
    r->rollback(self, cx);
    while (r->started < RACERS) {
        const struct ql_mfa_answer *in = &r->in[r->started++ % r->ntokens];
        struct ql_ctx other = r->f.cx; /* a request of its own on the same ports */
        ql_error_clear(&other.err);
        struct ql_auth_result res;
        race_tally(r, ql_mfa_login(&other, in, &res));
    }
}

/* Run the race: the first answer, on the first token, and all the others during it. */
static void race_run(struct race *r)
{
    struct ql_auth_result res;
    r->rollback = r->f.store.ops.rollback;
    r->f.store.ops.rollback = racing_rollback;
    r->started = 1;
    fixture_next(&r->f);
    race_tally(r, ql_mfa_login(&r->f.cx, &r->in[0], &res));
    r->f.store.ops.rollback = r->rollback;
    ASSERT_INT_EQ(r->started, RACERS);
}

static void test_overlapping_wrong_codes_are_checked_five_times_at_most(void)
{
    static struct race r;
    fixture_init(&r.f);
    struct person a;
    signup(&r.f, &a, "joy@example.com");
    enable(&r.f, &a);
    const char *t = challenge(&r.f, &a);
    const char *w = wrong_code(&r.f, &a);
    r.in[0] = (struct ql_mfa_answer){t, strlen(t), w, strlen(w), IP, "agent/2", 7};
    r.ntokens = 1;
    race_run(&r);
    ASSERT_INT_EQ(r.wrong, QL_MFA_MAX_FAILURES);
    ASSERT_INT_EQ(r.dead, RACERS - QL_MFA_MAX_FAILURES);
    /* the token is dead for the right code too, and the account is locked */
    struct ql_auth_result res;
    ASSERT_INT_EQ(answer(&r.f, t, code(&r.f, &a, 0), &res), QL_EUNAUTHENTICATED);
    struct ql_credentials c = creds(a.email, PW);
    fixture_next(&r.f);
    ASSERT_INT_EQ(ql_account_login(&r.f.cx, &c, &res), QL_ERATE_LIMITED);
    fixture_cleanup(&r.f);
}

/* Two tokens of one account do not double the guesses: the account's lockout bounds both. */
static void test_overlapping_wrong_codes_on_two_tokens_share_the_lockout(void)
{
    static struct race r;
    fixture_init(&r.f);
    struct person a;
    signup(&r.f, &a, "kit@example.com");
    enable(&r.f, &a);
    const char *t1 = challenge(&r.f, &a), *t2 = challenge(&r.f, &a);
    const char *w = wrong_code(&r.f, &a);
    r.in[0] = (struct ql_mfa_answer){t1, strlen(t1), w, strlen(w), IP, "agent/2", 7};
    r.in[1] = (struct ql_mfa_answer){t2, strlen(t2), w, strlen(w), IP, "agent/2", 7};
    r.ntokens = 2;
    race_run(&r);
    ASSERT_INT_EQ(r.wrong, QL_LOGIN_MAX_FAILURES);
    ASSERT_INT_EQ(r.refused, RACERS - QL_LOGIN_MAX_FAILURES);
    fixture_cleanup(&r.f);
}

/* A challenge lives five minutes; the purge job's store call removes it after that. */
static void test_challenge_expires(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "eve@example.com");
    enable(&f, &a);
    const char *t = challenge(&f, &a);
    fake_clock_advance(&f.clock, QL_MFA_CHALLENGE_TTL_MS);
    struct ql_auth_result r;
    ASSERT_INT_EQ(answer(&f, t, code(&f, &a, 0), &r), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(answer(&f, "qm_nonsense-token", code(&f, &a, 0), &r), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(answer(&f, "", "", &r), QL_EVALIDATION);
    ASSERT_INT_EQ(f.cx.err.nfields, 2);
    int64_t n = 0;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_store_challenge_purge(f.cx.ports.store, &f.cx, f.clock.now_ms, &n), QL_OK);
    ASSERT_INT_EQ(n, 1);
    fixture_cleanup(&f);
}

/* Recovery codes log in once each, however they are typed. */
static void test_recovery_codes_work_once(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "fay@example.com");
    enable(&f, &a);
    struct ql_auth_result r;
    const char *t = challenge(&f, &a);
    ASSERT_INT_EQ(answer(&f, t, a.codes.codes[0], &r), QL_OK);
    ASSERT_INT_EQ(audited(&f, "mfa.recovery_code_used"), 1);
    t = challenge(&f, &a);
    ASSERT_INT_EQ(answer(&f, t, a.codes.codes[0], &r), QL_EINVALID_CREDENTIALS);
    char typed[32]; /* upper case, one space instead of the dashes */
    snprintf(typed, sizeof(typed), "%.6s%.6s %.6s%.6s", a.codes.codes[1], a.codes.codes[1] + 7,
             a.codes.codes[1] + 14, a.codes.codes[1] + 21);
    for (char *p = typed; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    ASSERT_INT_EQ(answer(&f, t, typed, &r), QL_OK);
    ASSERT_INT_EQ(audited(&f, "mfa.recovery_code_used"), 2);
    int left = -1;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_store_recovery_left(f.cx.ports.store, &f.cx, &r.user.id, &left), QL_OK);
    ASSERT_INT_EQ(left, QL_MFA_RECOVERY_CODES - 2);
    fixture_cleanup(&f);
}

/* Re-authentication: the password, plus a code when MFA is on; each mismatch counts. */
static void test_reauthenticate(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a;
    signup(&f, &a, "gil@example.com");
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, PW, strlen(PW), NULL, 0), QL_OK);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, NULL, 0, NULL, 0), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].code, "required");
    enable(&f, &a);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, PW, strlen(PW), NULL, 0), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "code");
    const char *c = code(&f, &a, 0);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, PW, strlen(PW), c, 6), QL_OK);
    as(&f, &a); /* spent: the same code is refused */
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, PW, strlen(PW), c, 6), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "code");
    ASSERT_STR_EQ(f.cx.err.fields[0].code, "mismatch");
    for (int i = 1; i < QL_LOGIN_MAX_FAILURES; i++) {
        as(&f, &a);
        ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, "wrong password!", 15, c, 6), QL_EVALIDATION);
        ASSERT_STR_EQ(f.cx.err.fields[0].field, "password");
    }
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_reauthenticate(&f.cx, PW, strlen(PW), code(&f, &a, 1), 6),
                  QL_ERATE_LIMITED);
    fixture_cleanup(&f);
}

/* Turning MFA off takes the password and a code (or a recovery code). */
static void test_disable(void)
{
    struct fixture f;
    fixture_init(&f);
    struct person a, b;
    signup(&f, &a, "hal@example.com");
    signup(&f, &b, "ivy@example.com");
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_disable(&f.cx, PW, strlen(PW), NULL, 0), QL_ECONFLICT);
    enable(&f, &a);
    enable(&f, &b);
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_disable(&f.cx, PW, strlen(PW), wrong_code(&f, &a), 6), QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].field, "code");
    as(&f, &a);
    ASSERT_INT_EQ(ql_mfa_disable(&f.cx, PW, strlen(PW), code(&f, &a, 0), 6), QL_OK);
    ASSERT_INT_EQ(audited(&f, "mfa.disable"), 1);
    ASSERT_INT_EQ(f.store.ntotp, 1); /* Bob's */
    ASSERT_INT_EQ(f.store.nrecovery, QL_MFA_RECOVERY_CODES);
    struct ql_credentials c = creds(a.email, PW);
    struct ql_auth_result r;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_login(&f.cx, &c, &r), QL_OK);
    ASSERT_NULL(r.mfa_token);
    ASSERT_INT_EQ(r.user.mfa_enabled, 0);
    as(&f, &b);
    ASSERT_INT_EQ(ql_mfa_disable(&f.cx, PW, strlen(PW), b.codes.codes[3], 27), QL_OK);
    ASSERT_INT_EQ(audited(&f, "mfa.recovery_code_used"), 1);
    ASSERT_INT_EQ(f.store.ntotp, 0);
    ASSERT_INT_EQ(f.store.nrecovery, 0);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_enrol_confirm_and_recovery_codes),
        TEST(test_enrolment_restarts_and_secrets_open_for_their_user_only),
        TEST(test_login_step_and_replay),
        TEST(test_wrong_codes_are_bounded),
        TEST(test_overlapping_wrong_codes_are_checked_five_times_at_most),
        TEST(test_overlapping_wrong_codes_on_two_tokens_share_the_lockout),
        TEST(test_challenge_expires),
        TEST(test_recovery_codes_work_once),
        TEST(test_reauthenticate),
        TEST(test_disable),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
