/*
 * store_contract_mail.c - the store contract's cases for the outbox and mailed tokens
 * (struct ql_mail_repo_ops; store_contract.h), and the verified email of users.
 */
#include "contract/store_contract.h"

#include "mail/mail_store.h"
#include "store/store_security.h"

#include <string.h>

#define MAIL(c) ((c)->s->ops->mail)

static const uint8_t sealed[] = {0xaa, 0, 1, 2, 0xff, 0, 'x'};

static struct ql_mail mail_in(struct cc *c, const struct ql_user *u, int64_t at, const char *to)
{
    struct ql_mail m = {.id = cc_id(),
                        .kind = "password_reset",
                        .user_id = u->id,
                        .has_user = 1,
                        .to = to,
                        .subject = "Reset your Quill password",
                        .body = sealed,
                        .body_n = sizeof(sealed),
                        .state = QL_MAIL_PENDING,
                        .created_ms = c->now + at,
                        .updated_ms = c->now + at};
    return m;
}

/* Mails: insert, get with the body's bytes, dedupe keys, outcomes, pages newest first. */
static void test_outbox(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_mail m1 = mail_in(&c, &u, 1, "one@contract.test"),
                   m2 = mail_in(&c, &u, 2, "two@contract.test"),
                   m3 = mail_in(&c, &u, 3, "three@contract.test");
    m2.dedupe_key = cc_unique(&c, "job");
    m3.has_user = 0;
    ASSERT_INT_EQ(MAIL(&c)->insert(c.s, &c.cx, &m1), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->insert(c.s, &c.cx, &m2), QL_OK);
    struct ql_mail again = mail_in(&c, &u, 2, "two@contract.test");
    again.dedupe_key = m2.dedupe_key;
    CC_FAILS(&c, MAIL(&c)->insert(c.s, &c.cx, &again), QL_ECONFLICT);
    /* the transaction is still good after the refusal */
    ASSERT_INT_EQ(MAIL(&c)->insert(c.s, &c.cx, &m3), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    struct ql_mail got;
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &m1.id, &got), QL_OK);
    ASSERT_STR_EQ(got.kind, "password_reset");
    ASSERT_STR_EQ(got.to, "one@contract.test");
    ASSERT_STR_EQ(got.subject, "Reset your Quill password");
    ASSERT_TRUE(got.has_user);
    ASSERT_ID_EQ(&got.user_id, &u.id);
    ASSERT_INT_EQ(got.body_n, sizeof(sealed));
    ASSERT_MEM_EQ(got.body, sealed, sizeof(sealed));
    ASSERT_STR_EQ(got.state, QL_MAIL_PENDING);
    ASSERT_INT_EQ(got.attempts, 0);
    ASSERT_NULL(got.last_error);
    ASSERT_NULL(got.dedupe_key);
    ASSERT_INT_EQ(got.created_ms, c.now + 1);
    ASSERT_INT_EQ(got.sent_ms, 0);
    CC_FAILS(&c, MAIL(&c)->get(c.s, &c.cx, &again.id, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &m3.id, &got), QL_OK);
    ASSERT_INT_EQ(got.has_user, 0);
    /* outcomes: an attempt that failed, then one that went through */
    ASSERT_INT_EQ(
        MAIL(&c)->record(c.s, &c.cx, &m1.id, QL_MAIL_PENDING, "SMTP 421: busy", 1, c.now + 10),
        QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &m1.id, &got), QL_OK);
    ASSERT_INT_EQ(got.attempts, 1);
    ASSERT_STR_EQ(got.last_error, "SMTP 421: busy");
    ASSERT_INT_EQ(got.updated_ms, c.now + 10);
    ASSERT_NOT_NULL(got.body);
    ASSERT_INT_EQ(MAIL(&c)->record(c.s, &c.cx, &m1.id, QL_MAIL_SENT, NULL, 1, c.now + 20), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &m1.id, &got), QL_OK);
    ASSERT_STR_EQ(got.state, QL_MAIL_SENT);
    ASSERT_INT_EQ(got.attempts, 2);
    ASSERT_NULL(got.last_error);
    ASSERT_NULL(got.body);
    ASSERT_INT_EQ(got.sent_ms, c.now + 20);
    /* a decision that is no attempt (held) does not count one */
    ASSERT_INT_EQ(MAIL(&c)->record(c.s, &c.cx, &m3.id, QL_MAIL_HELD, "no server", 0, c.now + 30),
                  QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &m3.id, &got), QL_OK);
    ASSERT_STR_EQ(got.state, QL_MAIL_HELD);
    ASSERT_INT_EQ(got.attempts, 0);
    ASSERT_NOT_NULL(got.body);
    CC_FAILS(&c, MAIL(&c)->record(c.s, &c.cx, &again.id, QL_MAIL_SENT, NULL, 1, c.now),
             QL_ENOT_FOUND);
    /* pages, newest first, from just after m3 */
    struct ql_uuid top;
    memset(top.b, 0xff, sizeof(top.b));
    struct ql_mail *list;
    int n, more;
    ASSERT_INT_EQ(MAIL(&c)->list(c.s, &c.cx, c.now + 3, &top, 2, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&list[0].id, &m3.id);
    ASSERT_ID_EQ(&list[1].id, &m2.id);
    ASSERT_STR_EQ(list[1].dedupe_key, m2.dedupe_key);
    ASSERT_INT_EQ(MAIL(&c)->list(c.s, &c.cx, list[1].created_ms, &list[1].id, 1, &list, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&list[0].id, &m1.id);
    ASSERT_INT_EQ(MAIL(&c)->list(c.s, &c.cx, 0, NULL, 1, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1); /* the newest of all */
    cc_close(&c);
}

static struct ql_mail_token token_in(struct cc *c, const struct ql_user *u, int purpose,
                                     int64_t expires_in)
{
    struct ql_mail_token t = {.purpose = purpose,
                              .user_id = u->id,
                              .email = u->email,
                              .created_ms = c->now,
                              .expires_ms = c->now + expires_in};
    cc_digest(t.digest);
    return t;
}

/* Tokens: found while unused and unexpired, used once, ended for a user, purged. */
static void test_tokens(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), v = cc_user(&c, "V");
    struct ql_mail_token r1 = token_in(&c, &u, QL_TOKEN_PASSWORD_RESET, 60000),
                         r2 = token_in(&c, &u, QL_TOKEN_PASSWORD_RESET, 60000),
                         r3 = token_in(&c, &v, QL_TOKEN_PASSWORD_RESET, 60000),
                         e1 = token_in(&c, &u, QL_TOKEN_EMAIL_VERIFY, 60000);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &r1), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &r2), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &r3), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &e1), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    struct ql_mail_token t;
    ASSERT_INT_EQ(
        MAIL(&c)->token_find(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 59999, &t),
        QL_OK);
    ASSERT_ID_EQ(&t.user_id, &u.id);
    ASSERT_STR_EQ(t.email, u.email);
    ASSERT_INT_EQ(t.purpose, QL_TOKEN_PASSWORD_RESET);
    ASSERT_INT_EQ(t.expires_ms, c.now + 60000);
    ASSERT_INT_EQ(t.used_ms, 0);
    ASSERT_MEM_EQ(t.digest, r1.digest, QL_DIGEST_LEN);
    /* expired at its expiry; another purpose is another token */
    CC_FAILS(
        &c, MAIL(&c)->token_find(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 60000, &t),
        QL_ENOT_FOUND);
    CC_FAILS(&c, MAIL(&c)->token_find(c.s, &c.cx, r1.digest, QL_TOKEN_EMAIL_VERIFY, c.now, &t),
             QL_ENOT_FOUND);
    CC_FAILS(&c,
             MAIL(&c)->token_use(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 60000, &t),
             QL_ENOT_FOUND);
    /* used once */
    ASSERT_INT_EQ(
        MAIL(&c)->token_use(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 5, &t), QL_OK);
    ASSERT_INT_EQ(t.used_ms, c.now + 5);
    ASSERT_ID_EQ(&t.user_id, &u.id);
    CC_FAILS(&c, MAIL(&c)->token_use(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 6, &t),
             QL_ENOT_FOUND);
    CC_FAILS(&c,
             MAIL(&c)->token_find(c.s, &c.cx, r1.digest, QL_TOKEN_PASSWORD_RESET, c.now + 6, &t),
             QL_ENOT_FOUND);
    /* the user's other reset tokens end; other users' and other purposes' stay */
    ASSERT_INT_EQ(MAIL(&c)->tokens_end(c.s, &c.cx, &u.id, QL_TOKEN_PASSWORD_RESET, c.now + 7),
                  QL_OK);
    CC_FAILS(&c, MAIL(&c)->token_find(c.s, &c.cx, r2.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->token_find(c.s, &c.cx, r3.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
                  QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_find(c.s, &c.cx, e1.digest, QL_TOKEN_EMAIL_VERIFY, c.now, &t),
                  QL_OK);
    /* a use rolled back leaves the token usable */
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_use(c.s, &c.cx, r3.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
                  QL_OK);
    ql_store_rollback(c.s, &c.cx);
    ASSERT_INT_EQ(MAIL(&c)->token_use(c.s, &c.cx, r3.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
                  QL_OK);
    /* purge: tokens that expired before the line go */
    struct ql_mail_token old = token_in(&c, &v, QL_TOKEN_EMAIL_VERIFY, -10 * 86400000LL);
    old.created_ms = c.now - 11 * 86400000LL;
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &old), QL_OK);
    int64_t n = 0;
    ASSERT_INT_EQ(MAIL(&c)->purge(c.s, &c.cx, c.now - 5 * 86400000LL, c.now - 400 * 86400000LL, &n),
                  QL_OK);
    ASSERT_TRUE(n >= 1);
    CC_FAILS(&c,
             MAIL(&c)->token_find(c.s, &c.cx, old.digest, QL_TOKEN_EMAIL_VERIFY,
                                  c.now - 20 * 86400000LL, &t),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->token_find(c.s, &c.cx, e1.digest, QL_TOKEN_EMAIL_VERIFY, c.now, &t),
                  QL_OK);
    cc_close(&c);
}

/* A verified email: only while the user still has that email; set once. */
static void test_verified_email(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_user got;
    ASSERT_INT_EQ(ql_store_users_by_id(c.s, &c.cx, &u.id, &got), QL_OK);
    ASSERT_INT_EQ(got.email_verified_ms, 0);
    CC_FAILS(&c, MAIL(&c)->verify_email(c.s, &c.cx, &u.id, "other@contract.test", c.now + 1),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->verify_email(c.s, &c.cx, &u.id, u.email, c.now + 2), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->verify_email(c.s, &c.cx, &u.id, u.email, c.now + 3), QL_OK);
    ASSERT_INT_EQ(ql_store_users_by_email(c.s, &c.cx, u.email, &got), QL_OK);
    ASSERT_INT_EQ(got.email_verified_ms, c.now + 2);
    ASSERT_INT_EQ(got.updated_ms, c.now + 2);
    struct ql_team_role *teams;
    int n;
    ASSERT_INT_EQ(ql_store_users_profile(c.s, &c.cx, &u.id, &got, &teams, &n), QL_OK);
    ASSERT_INT_EQ(got.email_verified_ms, c.now + 2);
    struct ql_uuid nobody = cc_id();
    CC_FAILS(&c, MAIL(&c)->verify_email(c.s, &c.cx, &nobody, u.email, c.now), QL_ENOT_FOUND);
    cc_close(&c);
}

/* An erasure forgets a user's mails, tokens and reset counts; other users' stay. */
static void test_forget_a_user(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), v = cc_user(&c, "V");
    struct ql_mail mu = mail_in(&c, &u, 1, u.email), mv = mail_in(&c, &v, 2, v.email);
    mv.user_id = v.id;
    struct ql_mail_token tu = token_in(&c, &u, QL_TOKEN_PASSWORD_RESET, 60000),
                         tv = token_in(&c, &v, QL_TOKEN_PASSWORD_RESET, 60000);
    const char *ku = ql_arena_sprintf(&c.arena, "mail:reset:%s", u.email);
    const char *kv = ql_arena_sprintf(&c.arena, "mail:reset:%s", v.email);
    ASSERT_INT_EQ(MAIL(&c)->insert(c.s, &c.cx, &mu), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->insert(c.s, &c.cx, &mv), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &tu), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->token_insert(c.s, &c.cx, &tv), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, ku, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(c.s, &c.cx, kv, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(MAIL(&c)->forget(c.s, &c.cx, &u.id, u.email), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    struct ql_mail got;
    CC_FAILS(&c, MAIL(&c)->get(c.s, &c.cx, &mu.id, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->get(c.s, &c.cx, &mv.id, &got), QL_OK);
    struct ql_mail_token t;
    CC_FAILS(&c, MAIL(&c)->token_find(c.s, &c.cx, tu.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(MAIL(&c)->token_find(c.s, &c.cx, tv.digest, QL_TOKEN_PASSWORD_RESET, c.now, &t),
                  QL_OK);
    int count = -1;
    int64_t oldest;
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, ku, c.now - 60000, &count, &oldest),
                  QL_OK);
    ASSERT_INT_EQ(count, 0);
    ASSERT_INT_EQ(ql_store_throttle_failures(c.s, &c.cx, kv, c.now - 60000, &count, &oldest),
                  QL_OK);
    ASSERT_INT_EQ(count, 1);
    cc_close(&c);
}

const struct ql_test contract_mail_tests[] = {
    TEST(test_outbox),
    TEST(test_tokens),
    TEST(test_verified_email),
    TEST(test_forget_a_user),
};
const int contract_mail_ntests = QL_NTESTS(contract_mail_tests);
