/*
 * Unit tests of account erasure with MFA on (core/rights/erase.c over ql_mfa_reauthenticate):
 * the code is required besides the password, a recovery code works, a refused erasure (the
 * last owner) does not spend the code, and the enrolment goes with the account.
 */
#include "rights_world.h"

#include "b32/b32.h"
#include "mfa/mfa.h"
#include "mfa/totp.h"

#define PW "correct horse battery"

static int erase(struct world *w, struct ql_principal *p, const char *code)
{
    as(w, p);
    struct ql_erase_request in = {PW, strlen(PW), code, code ? strlen(code) : 0};
    return ql_account_erase(&w->f.cx, &in);
}

/* Turn MFA on for p: its recovery codes into codes. */
static void enable(struct world *w, struct ql_principal *p, struct ql_recovery_codes *codes)
{
    struct ql_totp_enrolment e;
    as(w, p);
    ASSERT_INT_EQ(ql_mfa_enrol(&w->f.cx, PW, strlen(PW), &e), QL_OK);
    uint8_t secret[QL_TOTP_SECRET_LEN];
    size_t n;
    ASSERT_INT_EQ(ql_b32_decode(e.secret, strlen(e.secret), secret, sizeof(secret), &n), QL_OK);
    char code[QL_TOTP_DIGITS + 1];
    ASSERT_INT_EQ(ql_totp_code(&w->f.auth.base, secret, sizeof(secret),
                               ql_totp_step(w->f.clock.now_ms), QL_TOTP_DIGITS, code),
                  QL_OK);
    as(w, p);
    ASSERT_INT_EQ(ql_mfa_confirm(&w->f.cx, code, strlen(code), codes), QL_OK);
}

static int unused_codes(struct world *w)
{
    int n = 0;
    for (int i = 0; i < w->f.store.nrecovery; i++)
        n += w->f.store.recovery[i].used == 0;
    return n;
}

static void test_erasure_needs_the_second_factor_too(void)
{
    static struct world w;
    world_init(&w);
    struct ql_recovery_codes codes;
    enable(&w, &w.pb, &codes);
    ASSERT_INT_EQ(erase(&w, &w.pb, NULL), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "code");
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "required");
    ASSERT_INT_EQ(erase(&w, &w.pb, "000000"), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "mismatch");
    ASSERT_INT_EQ(job_of(&w, "account.erase"), -1);
    ASSERT_INT_EQ(erase(&w, &w.pb, codes.codes[0]), QL_OK);
    ASSERT_TRUE(job_of(&w, "account.erase") >= 0);
    ASSERT_INT_EQ(w.f.store.ntotp, 0); /* the enrolment and its codes went with the account */
    ASSERT_INT_EQ(w.f.store.nrecovery, 0);
    fixture_cleanup(&w.f);
}

/* The last owner is refused before the code is checked: a recovery code is not spent. */
static void test_a_refused_erasure_does_not_spend_the_code(void)
{
    static struct world w;
    world_init(&w);
    struct ql_recovery_codes codes;
    enable(&w, &w.pa, &codes);
    ASSERT_INT_EQ(unused_codes(&w), QL_MFA_RECOVERY_CODES);
    ASSERT_INT_EQ(erase(&w, &w.pa, codes.codes[1]), QL_ECONFLICT);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "last_owner");
    ASSERT_INT_EQ(unused_codes(&w), QL_MFA_RECOVERY_CODES);
    ASSERT_INT_EQ(w.f.store.ntotp, 1);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_erasure_needs_the_second_factor_too),
        TEST(test_a_refused_erasure_does_not_spend_the_code),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
