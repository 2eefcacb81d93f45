/*
 * Fault injection over the account-security use cases, in the manner of test_faults.c: for
 * n = 1, 2, ... a fresh world has its store fail the nth call of the use case (or its auth port
 * the nth request for random bytes).  While the fault fires the use case must fail with the
 * injected code, leave no transaction open and change nothing it owns (sessions, enrolments,
 * recovery codes, challenges, audit rows); once n passes its last call it must succeed.
 * Throttle counters are left out: attempts are counted before the transaction on purpose.
 */
#include "account/account.h"
#include "account/sessions.h"
#include "b32/b32.h"
#include "err/err.h"
#include "fixture.h"
#include "mfa/mfa.h"
#include "mfa/totp.h"
#include "test.h"

#define PW "correct horse battery"

struct world {
    struct fixture f;
    struct ql_auth_result a, second;
    struct ql_principal pa, psecond;
    uint8_t secret[QL_TOTP_SECRET_LEN];
    struct ql_recovery_codes codes;
    const char *mfa_token; /* a challenge of a's (worlds with MFA on) */
};

static struct ql_credentials creds(void)
{
    struct ql_credentials c = {"ann@example.com", 15,      PW, strlen(PW), "Ann", 3,
                               "192.0.2.1",       "agent", 5};
    return c;
}

static void as(struct world *w, struct ql_auth_result *r, struct ql_principal *p)
{
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, r->session.token, 46, QL_VIA_BEARER, p), QL_OK);
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static const char *code_now(struct world *w)
{
    static char c[QL_TOTP_DIGITS + 1];
    ASSERT_INT_EQ(ql_totp_code(&w->f.auth.base, w->secret, sizeof(w->secret),
                               ql_totp_step(w->f.clock.now_ms), QL_TOTP_DIGITS, c),
                  QL_OK);
    return c;
}

/* Ann with two sessions; mfa 0: nothing enrolled, 1: enrolment pending, 2: MFA on. */
static void world_init(struct world *w, int mfa)
{
    fixture_init(&w->f);
    struct ql_credentials c = creds();
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, &w->a), QL_OK);
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_login(&w->f.cx, &c, &w->second), QL_OK);
    as(w, &w->second, &w->psecond);
    if (mfa >= 1) {
        struct ql_totp_enrolment e;
        as(w, &w->a, &w->pa);
        ASSERT_INT_EQ(ql_mfa_enrol(&w->f.cx, PW, strlen(PW), &e), QL_OK);
        size_t n;
        ASSERT_INT_EQ(ql_b32_decode(e.secret, 32, w->secret, sizeof(w->secret), &n), QL_OK);
    }
    if (mfa >= 2) {
        as(w, &w->a, &w->pa);
        ASSERT_INT_EQ(ql_mfa_confirm(&w->f.cx, code_now(w), 6, &w->codes), QL_OK);
        fake_clock_advance(&w->f.clock, QL_TOTP_STEP_MS);
        struct ql_auth_result r;
        fixture_next(&w->f);
        ASSERT_INT_EQ(ql_account_login(&w->f.cx, &c, &r), QL_OK);
        w->mfa_token = r.mfa_token;
    }
    as(w, &w->a, &w->pa);
    fake_clock_advance(&w->f.clock, 1000);
}

/* What the use cases own, to compare before and after a fault. */
struct owned {
    int nsessions, live, ntotp, nrecovery, nchallenges, naudit;
    int64_t confirmed;
    int unused;
};

static void owned_take(const struct world *w, struct owned *o)
{
    const struct fake_store *s = &w->f.store;
    memset(o, 0, sizeof(*o));
    o->nsessions = s->nsessions;
    for (int i = 0; i < s->nsessions && i < FAKE_MAX; i++)
        o->live += s->sessions[i].live;
    o->ntotp = s->ntotp;
    o->confirmed = s->ntotp ? s->totp[0].confirmed : -1;
    o->nrecovery = s->nrecovery;
    for (int i = 0; i < s->nrecovery; i++)
        o->unused += s->recovery[i].used == 0;
    o->nchallenges = s->nchallenges;
    o->naudit = s->naudit;
}

typedef int (*use_case_fn)(struct world *w);
enum fault { STORE, RANDOM };

static void walk(const char *name, int mfa, enum fault kind, use_case_fn run)
{
    static struct world w;
    const int code = kind == STORE ? QL_EUNAVAILABLE : QL_EINTERNAL;
    int fired = 0;
    for (int n = 1; n < 100; n++) {
        world_init(&w, mfa);
        struct owned before, after;
        owned_take(&w, &before);
        if (kind == STORE) {
            w.f.store.fail_call = n;
            w.f.store.fail_code = code;
        } else {
            w.f.auth.fail_random = n;
        }
        int rc = run(&w);
        int hit = kind == STORE ? w.f.store.fail_hits : w.f.auth.fail_hits;
        owned_take(&w, &after);
        if (rc != (hit ? code : QL_OK) || w.f.store.in_tx ||
            (hit && memcmp(&before, &after, sizeof(before)) != 0))
            printf("# %s with %s call %d failing: rc %d, the fault fired %d times\n", name,
                   kind == STORE ? "store" : "random", n, rc, hit);
        ASSERT_INT_EQ(w.f.store.in_tx, 0);
        if (hit == 0) {
            ASSERT_INT_EQ(rc, QL_OK);
            fixture_cleanup(&w.f);
            break;
        }
        fired++;
        ASSERT_INT_EQ(rc, code);
        ASSERT_INT_EQ(memcmp(&before, &after, sizeof(before)), 0);
        fixture_cleanup(&w.f);
    }
    printf("# %s: %d %s faults\n", name, fired, kind == STORE ? "store" : "random");
    ASSERT_TRUE(fired > 0);
}

static int enrol(struct world *w)
{
    struct ql_totp_enrolment e;
    return ql_mfa_enrol(&w->f.cx, PW, strlen(PW), &e);
}

static int confirm(struct world *w)
{
    struct ql_recovery_codes c;
    return ql_mfa_confirm(&w->f.cx, code_now(w), 6, &c);
}

static int challenge(struct world *w)
{
    struct ql_credentials c = creds();
    struct ql_auth_result r;
    w->f.cx.principal = NULL;
    return ql_account_login(&w->f.cx, &c, &r);
}

static int answer(struct world *w, const char *code)
{
    struct ql_mfa_answer a = {
        w->mfa_token, strlen(w->mfa_token), code, strlen(code), NULL, NULL, 0};
    struct ql_auth_result r;
    w->f.cx.principal = NULL;
    return ql_mfa_login(&w->f.cx, &a, &r);
}

static int answer_totp(struct world *w)
{
    return answer(w, code_now(w));
}

static int answer_recovery(struct world *w)
{
    return answer(w, w->codes.codes[2]);
}

static int disable(struct world *w)
{
    return ql_mfa_disable(&w->f.cx, PW, strlen(PW), NULL, 0);
}

static int revoke(struct world *w)
{
    return ql_sessions_revoke(&w->f.cx, &w->psecond.credential_id);
}

static int revoke_others(struct world *w)
{
    return ql_sessions_revoke_others(&w->f.cx);
}

static void test_enrol(void)
{
    walk("enrol", 0, STORE, enrol);
    walk("enrol", 0, RANDOM, enrol);
}

static void test_confirm(void)
{
    walk("confirm", 1, STORE, confirm);
    walk("confirm", 1, RANDOM, confirm);
}

static void test_password_step(void)
{
    walk("challenge", 2, STORE, challenge);
    walk("challenge", 2, RANDOM, challenge);
}

static void test_code_step(void)
{
    walk("answer with a code", 2, STORE, answer_totp);
    walk("answer with a code", 2, RANDOM, answer_totp);
    walk("answer with a recovery code", 2, STORE, answer_recovery);
}

/* A pending enrolment is dropped with the password alone: nothing is spent before it. */
static void test_disable(void)
{
    walk("disable", 1, STORE, disable);
}

static void test_revocations(void)
{
    walk("revoke", 0, STORE, revoke);
    walk("revoke others", 0, STORE, revoke_others);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_enrol),     TEST(test_confirm), TEST(test_password_step),
        TEST(test_code_step), TEST(test_disable), TEST(test_revocations),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
