/*
 * Unit tests of the sessions list and its revocations against the fake ports: what the list
 * shows (user agent, address, last use, which one is current), paging, ending one session or
 * every other one, and their audit rows.
 */
#include "account/account.h"
#include "account/sessions.h"
#include "err/err.h"
#include "fixture.h"
#include "store/store_security.h"
#include "test.h"

#define PW "correct horse battery"

static void login(struct fixture *f, const char *email, const char *agent, const char *ip,
                  struct ql_auth_result *r)
{
    struct ql_credentials c = {
        email, strlen(email), PW, strlen(PW), "P", 1, ip, agent, agent ? strlen(agent) : 0};
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_login(&f->cx, &c, r), QL_OK);
}

static void as(struct fixture *f, const struct ql_auth_result *r, struct ql_principal *p)
{
    fixture_next(f);
    const char *t = r->session.token;
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, t, strlen(t), QL_VIA_BEARER, p), QL_OK);
    fixture_next(f);
    f->cx.principal = p;
}

static void signup(struct fixture *f, const char *email, struct ql_auth_result *r)
{
    struct ql_credentials c = {email, strlen(email), PW, strlen(PW), "P", 1, NULL, NULL, 0};
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, r), QL_OK);
}

static void test_list_shows_what_each_session_came_with(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a, b, c, other;
    signup(&f, "ann@example.com", &a);
    signup(&f, "bob@example.com", &other);
    fake_clock_advance(&f.clock, 1000);
    login(&f, "ann@example.com", "Mozilla/5.0 (X11)", "198.51.100.1", &b);
    fake_clock_advance(&f.clock, 1000);
    login(&f, "ann@example.com", "curl/8.0", "2001:db8::1", &c);
    struct ql_principal p;
    as(&f, &b, &p);
    struct ql_session_info *list;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 50, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_NULL(next);
    ASSERT_STR_EQ(list[0].user_agent, "curl/8.0"); /* newest first */
    ASSERT_STR_EQ(list[0].client_ip, "2001:db8::1");
    ASSERT_INT_EQ(list[0].created_ms, T0 + 2000);
    ASSERT_INT_EQ(list[0].last_used_ms, T0 + 2000);
    ASSERT_INT_EQ(list[0].expires_ms, T0 + 2000 + f.cfg.session_ttl_ms);
    ASSERT_INT_EQ(ql_sessions_is_current(&f.cx, &list[0]), 0);
    ASSERT_STR_EQ(list[1].user_agent, "Mozilla/5.0 (X11)");
    ASSERT_INT_EQ(ql_sessions_is_current(&f.cx, &list[1]), 1);
    ASSERT_NULL(list[2].user_agent); /* signed up without one */
    ASSERT_NULL(list[2].client_ip);
    ASSERT_INT_EQ(ql_sessions_is_current(&f.cx, &list[2]), 0);
    /* pages */
    as(&f, &b, &p);
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 2, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_NOT_NULL(next);
    as(&f, &b, &p);
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, next, strlen(next), 2, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_NULL(next);
    ASSERT_INT_EQ(list[0].created_ms, T0);
    as(&f, &b, &p);
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, "bm9wZQ", 6, 2, &list, &n, &next), QL_EVALIDATION);
    fixture_cleanup(&f);
}

/* "Last used" moves with the once-a-minute touch of resolving, not with every request. */
static void test_last_used_follows_the_touch(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a;
    signup(&f, "cy@example.com", &a);
    struct ql_principal p;
    fake_clock_advance(&f.clock, 30000);
    as(&f, &a, &p); /* within the minute: no write */
    ASSERT_INT_EQ(f.store.touches, 0);
    fake_clock_advance(&f.clock, 30000);
    as(&f, &a, &p);
    as(&f, &a, &p);
    ASSERT_INT_EQ(f.store.touches, 1);
    struct ql_session_info *list;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 50, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(list[0].last_used_ms, T0 + 60000);
    /* idle past the limit: gone from the list */
    fake_clock_advance(&f.clock, f.cfg.session_idle_ms);
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 50, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 0);
    fixture_cleanup(&f);
}

static void test_revoke_one_and_the_others(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a, b, c, other;
    signup(&f, "dee@example.com", &a);
    signup(&f, "eli@example.com", &other);
    login(&f, "dee@example.com", "b", "192.0.2.2", &b);
    login(&f, "dee@example.com", "c", "192.0.2.3", &c);
    struct ql_principal pa, pb, po, q;
    as(&f, &b, &pb);
    as(&f, &other, &po);
    as(&f, &a, &pa);
    /* another user's session is not found, and stays */
    ASSERT_INT_EQ(ql_sessions_revoke(&f.cx, &po.credential_id), QL_ENOT_FOUND);
    as(&f, &a, &pa);
    ASSERT_INT_EQ(ql_sessions_revoke(&f.cx, &pb.credential_id), QL_OK);
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.action, "session.revoke");
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.target_type, "Session");
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, b.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    as(&f, &a, &pa);
    ASSERT_INT_EQ(ql_sessions_revoke(&f.cx, &pb.credential_id), QL_ENOT_FOUND);
    as(&f, &a, &pa);
    ASSERT_INT_EQ(ql_sessions_revoke_others(&f.cx), QL_OK);
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.action, "session.revoke_others");
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, c.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    as(&f, &a, &pa); /* the caller's own session stays, and so does the other user's */
    as(&f, &other, &po);
    struct ql_session_info *list;
    int n;
    const char *next;
    as(&f, &a, &pa);
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 50, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(ql_sessions_is_current(&f.cx, &list[0]), 1);
    /* ending the current one is a logout */
    as(&f, &a, &pa);
    ASSERT_INT_EQ(ql_sessions_revoke(&f.cx, &pa.credential_id), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, a.session.token, 46, QL_VIA_BEARER, &q),
                  QL_EUNAUTHENTICATED);
    fixture_cleanup(&f);
}

/* What a client says about itself is kept as printable ASCII, cut to a bounded length. */
static void test_user_agent_is_cleaned(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_auth_result a, b;
    signup(&f, "flo@example.com", &a);
    char agent[400];
    memset(agent, 'x', sizeof(agent) - 1);
    agent[sizeof(agent) - 1] = '\0';
    memcpy(agent, "bad\x01\xc3\xa9\n", 7);
    login(&f, "flo@example.com", agent, "192.0.2.9", &b);
    struct ql_principal p;
    as(&f, &b, &p);
    struct ql_session_info *list;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 1, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(strlen(list[0].user_agent), 256);
    ASSERT_TRUE(strncmp(list[0].user_agent, "bad????x", 8) == 0);
    fixture_cleanup(&f);
}

/* API keys have no sessions to list or end. */
static void test_api_keys_are_refused(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_principal key = {.kind = QL_PRINCIPAL_API_KEY};
    f.cx.principal = &key;
    struct ql_session_info *list;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_sessions_list(&f.cx, NULL, 0, 5, &list, &n, &next), QL_EFORBIDDEN);
    ASSERT_INT_EQ(ql_sessions_revoke_others(&f.cx), QL_EFORBIDDEN);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_list_shows_what_each_session_came_with),
        TEST(test_last_used_follows_the_touch),
        TEST(test_revoke_one_and_the_others),
        TEST(test_user_agent_is_cleaned),
        TEST(test_api_keys_are_refused),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
