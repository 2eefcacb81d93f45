/*
 * store_contract_security.c - the store contract's cases for the security repository
 * (core/store/store_security.h): the sessions list and its revocations, TOTP enrolments,
 * recovery codes, MFA challenges and the failures the login lockout counts
 * (store_contract.h).  Single use is what most of them check: a second spend of the same
 * step, code or challenge must find nothing.
 */
#include "contract/store_contract.h"
#include "store/store_security.h"

#include <string.h>

#define DAY 86400000LL

static struct ql_uuid session(struct cc *c, const struct ql_user *u, int64_t created,
                              int64_t expires, const char *agent, uint8_t digest[QL_DIGEST_LEN])
{
    struct ql_uuid sid = cc_id();
    cc_digest(digest);
    ASSERT_INT_EQ(ql_store_sessions_insert(c->s, &c->cx, digest, &sid, &u->id, created, expires,
                                           agent, agent ? "198.51.100.7" : NULL),
                  QL_OK);
    return sid;
}

/* Live sessions only, newest first, in pages, with what they were opened with. */
static void test_sessions_list_pages_the_live_ones(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), o = cc_user(&c, "O");
    uint8_t d[5][QL_DIGEST_LEN];
    int64_t t = c.now;
    struct ql_uuid s1 = session(&c, &u, t - 3000, t + DAY, "agent/1", d[0]);
    struct ql_uuid s2 = session(&c, &u, t - 2000, t + DAY, NULL, d[1]);
    struct ql_uuid s3 = session(&c, &u, t - 1000, t + DAY, "agent/3", d[2]);
    session(&c, &u, t - 4000, t - 1, "expired", d[3]);
    session(&c, &o, t, t + DAY, "someone else", d[4]);
    struct ql_session_info *list;
    int n, more;
    ASSERT_INT_EQ(ql_store_sessions_list(c.s, &c.cx, &u.id, t, DAY, 0, NULL, 2, &list, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&list[0].id, &s3);
    ASSERT_STR_EQ(list[0].user_agent, "agent/3");
    ASSERT_STR_EQ(list[0].client_ip, "198.51.100.7");
    ASSERT_INT_EQ(list[0].created_ms, t - 1000);
    ASSERT_INT_EQ(list[0].last_used_ms, t - 1000);
    ASSERT_INT_EQ(list[0].expires_ms, t + DAY);
    ASSERT_ID_EQ(&list[1].id, &s2);
    ASSERT_NULL(list[1].user_agent);
    ASSERT_NULL(list[1].client_ip);
    struct ql_uuid after = list[1].id;
    ASSERT_INT_EQ(ql_store_sessions_list(c.s, &c.cx, &u.id, t, DAY, list[1].created_ms, &after, 2,
                                         &list, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&list[0].id, &s1);
    /* idle: a session not used within idle_ms of now is not live; a touch brings it back */
    ASSERT_INT_EQ(ql_store_sessions_list(c.s, &c.cx, &u.id, t, 1500, 0, NULL, 10, &list, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&list[0].id, &s3);
    ASSERT_INT_EQ(ql_store_sessions_touch(c.s, &c.cx, d[0], t), QL_OK);
    ASSERT_INT_EQ(ql_store_sessions_list(c.s, &c.cx, &u.id, t, 1500, 0, NULL, 10, &list, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_ID_EQ(&list[1].id, &s1);
    ASSERT_INT_EQ(list[1].last_used_ms, t);
    cc_close(&c);
}

/* A user ends one of their own sessions, once; another user's is not theirs to end. */
static void test_sessions_revoke_only_your_own_once(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), o = cc_user(&c, "O");
    uint8_t du[QL_DIGEST_LEN], dv[QL_DIGEST_LEN], dout[QL_DIGEST_LEN];
    struct ql_uuid mine = session(&c, &u, c.now, c.now + DAY, "a", du);
    struct ql_uuid kept = session(&c, &u, c.now, c.now + DAY, "b", dv);
    struct ql_uuid theirs = session(&c, &o, c.now, c.now + DAY, "c", dout);
    CC_FAILS(&c, ql_store_sessions_revoke(c.s, &c.cx, &u.id, &theirs), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_sessions_revoke(c.s, &c.cx, &u.id, &mine), QL_OK);
    CC_FAILS(&c, ql_store_sessions_revoke(c.s, &c.cx, &u.id, &mine), QL_ENOT_FOUND);
    struct ql_principal p;
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, du, &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, dv, &p), QL_OK);
    ASSERT_ID_EQ(&p.credential_id, &kept);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, dout, &p), QL_OK);
    cc_close(&c);
}

static const uint8_t sealed[] = {9,  8,  7,  6,  5,  4,  3,  2,  1,  0,  0,  1,  2,
                                 3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 250};

static int mfa_on(struct cc *c, const struct ql_user *u)
{
    struct ql_user got;
    ASSERT_INT_EQ(ql_store_users_by_id(c->s, &c->cx, &u->id, &got), QL_OK);
    int on = got.mfa_enabled;
    ASSERT_INT_EQ(ql_store_users_by_email(c->s, &c->cx, u->email, &got), QL_OK);
    ASSERT_INT_EQ(got.mfa_enabled, on);
    struct ql_team_role *teams;
    int n;
    ASSERT_INT_EQ(ql_store_users_profile(c->s, &c->cx, &u->id, &got, &teams, &n), QL_OK);
    ASSERT_INT_EQ(got.mfa_enabled, on);
    return on;
}

/* Enrolment: pending until confirmed, replaced while pending, steps accepted once each. */
static void test_totp_enrolment_and_steps(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_totp_row row;
    CC_FAILS(&c, ql_store_totp_get(c.s, &c.cx, &u.id, &row), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_totp_begin(c.s, &c.cx, &u.id, sealed, 50, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_totp_begin(c.s, &c.cx, &u.id, sealed, sizeof(sealed), c.now + 1), QL_OK);
    ASSERT_INT_EQ(ql_store_totp_get(c.s, &c.cx, &u.id, &row), QL_OK);
    ASSERT_INT_EQ(row.sealed_n, sizeof(sealed));
    ASSERT_MEM_EQ(row.sealed, sealed, sizeof(sealed));
    ASSERT_INT_EQ(row.created_ms, c.now + 1);
    ASSERT_INT_EQ(row.confirmed_ms, 0);
    ASSERT_INT_EQ(row.last_step, 0);
    ASSERT_INT_EQ(mfa_on(&c, &u), 0);
    CC_FAILS(&c, ql_store_totp_use(c.s, &c.cx, &u.id, 5), QL_ENOT_FOUND); /* not confirmed */
    ASSERT_INT_EQ(ql_store_totp_confirm(c.s, &c.cx, &u.id, 100, c.now + 2), QL_OK);
    CC_FAILS(&c, ql_store_totp_confirm(c.s, &c.cx, &u.id, 101, c.now + 3), QL_ENOT_FOUND);
    ASSERT_INT_EQ(mfa_on(&c, &u), 1);
    CC_FAILS(&c, ql_store_totp_begin(c.s, &c.cx, &u.id, sealed, 50, c.now), QL_ECONFLICT);
    ASSERT_INT_EQ(ql_store_totp_get(c.s, &c.cx, &u.id, &row), QL_OK);
    ASSERT_INT_EQ(row.confirmed_ms, c.now + 2);
    ASSERT_INT_EQ(row.last_step, 100);
    ASSERT_INT_EQ(row.sealed_n, sizeof(sealed)); /* the refused restart changed nothing */
    CC_FAILS(&c, ql_store_totp_use(c.s, &c.cx, &u.id, 100), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_totp_use(c.s, &c.cx, &u.id, 99), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_totp_use(c.s, &c.cx, &u.id, 102), QL_OK);
    CC_FAILS(&c, ql_store_totp_use(c.s, &c.cx, &u.id, 102), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_totp_use(c.s, &c.cx, &u.id, 101), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_totp_remove(c.s, &c.cx, &u.id), QL_OK);
    CC_FAILS(&c, ql_store_totp_remove(c.s, &c.cx, &u.id), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_totp_get(c.s, &c.cx, &u.id, &row), QL_ENOT_FOUND);
    ASSERT_INT_EQ(mfa_on(&c, &u), 0);
    /* a rolled-back enrolment leaves nothing */
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_totp_begin(c.s, &c.cx, &u.id, sealed, 50, c.now), QL_OK);
    ql_store_rollback(c.s, &c.cx);
    CC_FAILS(&c, ql_store_totp_get(c.s, &c.cx, &u.id, &row), QL_ENOT_FOUND);
    cc_close(&c);
}

/* Recovery codes: each spent once, only by its owner; a new set replaces the old. */
static void test_recovery_codes_single_use(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), o = cc_user(&c, "O");
    uint8_t first[3][QL_DIGEST_LEN], second[2][QL_DIGEST_LEN];
    for (int i = 0; i < 3; i++)
        cc_digest(first[i]);
    for (int i = 0; i < 2; i++)
        cc_digest(second[i]);
    int left = -1;
    ASSERT_INT_EQ(ql_store_totp_begin(c.s, &c.cx, &u.id, sealed, 50, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_recovery_set(c.s, &c.cx, &u.id, first, 3, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_recovery_left(c.s, &c.cx, &u.id, &left), QL_OK);
    ASSERT_INT_EQ(left, 3);
    CC_FAILS(&c, ql_store_recovery_use(c.s, &c.cx, &o.id, first[1], c.now), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_recovery_use(c.s, &c.cx, &u.id, first[1], c.now), QL_OK);
    CC_FAILS(&c, ql_store_recovery_use(c.s, &c.cx, &u.id, first[1], c.now), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_recovery_left(c.s, &c.cx, &u.id, &left), QL_OK);
    ASSERT_INT_EQ(left, 2);
    ASSERT_INT_EQ(ql_store_recovery_set(c.s, &c.cx, &u.id, second, 2, c.now), QL_OK);
    CC_FAILS(&c, ql_store_recovery_use(c.s, &c.cx, &u.id, first[0], c.now), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_recovery_left(c.s, &c.cx, &u.id, &left), QL_OK);
    ASSERT_INT_EQ(left, 2);
    ASSERT_INT_EQ(ql_store_recovery_use(c.s, &c.cx, &u.id, second[0], c.now), QL_OK);
    /* turning MFA off takes the codes with it */
    ASSERT_INT_EQ(ql_store_totp_remove(c.s, &c.cx, &u.id), QL_OK);
    ASSERT_INT_EQ(ql_store_recovery_left(c.s, &c.cx, &u.id, &left), QL_OK);
    ASSERT_INT_EQ(left, 0);
    CC_FAILS(&c, ql_store_recovery_use(c.s, &c.cx, &u.id, second[1], c.now), QL_ENOT_FOUND);
    cc_close(&c);
}

/* Challenges: counted failures, spent once, dead when expired or refused too often, purged. */
static void test_challenges_spent_once(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    uint8_t a[QL_DIGEST_LEN], b[QL_DIGEST_LEN], old[QL_DIGEST_LEN];
    cc_digest(a);
    cc_digest(b);
    cc_digest(old);
    int64_t t = c.now;
    ASSERT_INT_EQ(ql_store_challenge_insert(c.s, &c.cx, a, &u.id, t, t + 300000), QL_OK);
    struct ql_mfa_challenge ch;
    ASSERT_INT_EQ(ql_store_challenge_get(c.s, &c.cx, a, &ch), QL_OK);
    ASSERT_ID_EQ(&ch.user_id, &u.id);
    ASSERT_INT_EQ(ch.failures, 0);
    ASSERT_INT_EQ(ch.created_ms, t);
    ASSERT_INT_EQ(ch.expires_ms, t + 300000);
    int failures = 0;
    ASSERT_INT_EQ(ql_store_challenge_fail(c.s, &c.cx, a, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 1);
    ASSERT_INT_EQ(ql_store_challenge_fail(c.s, &c.cx, a, &failures), QL_OK);
    ASSERT_INT_EQ(failures, 2);
    CC_FAILS(&c, ql_store_challenge_take(c.s, &c.cx, a, t, 2), QL_ENOT_FOUND); /* dead */
    ASSERT_INT_EQ(ql_store_challenge_get(c.s, &c.cx, a, &ch), QL_OK);
    ASSERT_INT_EQ(ch.failures, 2);
    CC_FAILS(&c, ql_store_challenge_take(c.s, &c.cx, a, t + 300000, 5), QL_ENOT_FOUND); /* late */
    ASSERT_INT_EQ(ql_store_challenge_take(c.s, &c.cx, a, t + 299999, 5), QL_OK);
    CC_FAILS(&c, ql_store_challenge_take(c.s, &c.cx, a, t, 5), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_challenge_get(c.s, &c.cx, a, &ch), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_challenge_fail(c.s, &c.cx, a, &failures), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_challenge_insert(c.s, &c.cx, b, &u.id, t, t + 300000), QL_OK);
    ASSERT_INT_EQ(ql_store_challenge_insert(c.s, &c.cx, old, &u.id, t - 600000, t - 300000), QL_OK);
    int64_t purged = 0;
    ASSERT_INT_EQ(ql_store_challenge_purge(c.s, &c.cx, t, &purged), QL_OK);
    ASSERT_TRUE(purged >= 1);
    CC_FAILS(&c, ql_store_challenge_get(c.s, &c.cx, old, &ch), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_challenge_get(c.s, &c.cx, b, &ch), QL_OK);
    cc_close(&c);
}

/*
 * Failures per key: counted since a time, with the oldest; one taken back by its time (of two
 * alike, only one); all of a key cleared, and other keys untouched throughout.
 */
static void test_failures_count_forget_one_and_clear(void)
{
    struct cc c;
    cc_open(&c);
    const char *k = cc_unique(&c, "login:failures"), *other = cc_unique(&c, "login:other");
    int64_t t = c.now, oldest = 0;
    int n = -1;
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, k, t - 2000), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, k, t), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, k, t), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, other, t), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, k, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(oldest, t - 2000);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, k, t - 2000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 2); /* since is exclusive */
    ASSERT_INT_EQ(ql_store_throttle_forget_failure(c.s, &c.cx, k, t), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, k, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(ql_store_throttle_forget_failure(c.s, &c.cx, k, t - 1000), QL_OK); /* none */
    ASSERT_INT_EQ(ql_store_throttle_forget_failure(c.s, &c.cx, k, t - 2000), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, k, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(oldest, t);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, other, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(ql_store_throttle_clear_failures(c.s, &c.cx, k), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, k, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(oldest, 0);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, other, t - 60000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 1);
    cc_close(&c);
}

const struct ql_test contract_security_tests[] = {
    TEST(test_sessions_list_pages_the_live_ones),
    TEST(test_sessions_revoke_only_your_own_once),
    TEST(test_totp_enrolment_and_steps),
    TEST(test_recovery_codes_single_use),
    TEST(test_challenges_spent_once),
    TEST(test_failures_count_forget_one_and_clear),
};
const int contract_security_ntests = QL_NTESTS(contract_security_tests);
