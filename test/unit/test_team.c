/* Unit tests of the team, member and API key use cases against the fakes. */
#include "account/account.h"
#include "err/err.h"
#include "fixture.h"
#include "team/team.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

struct people {
    struct ql_auth_result owner, other;
    struct ql_principal po, px;
    struct ql_team team;
};

static void as(struct fixture *f, struct ql_principal *p)
{
    fixture_next(f);
    f->cx.principal = p;
}

static void setup(struct fixture *f, struct people *pp)
{
    fixture_init(f);
    struct ql_credentials a = {
        "olga@example.com", 16, "correct horse battery", 21, "Olga", 4, NULL};
    struct ql_credentials b = {
        "xavi@example.com", 16, "correct horse battery", 21, "Xavi", 4, NULL};
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &a, &pp->owner), QL_OK);
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &b, &pp->other), QL_OK);
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, pp->owner.session.token, 46, QL_VIA_BEARER, &pp->po),
                  QL_OK);
    as(f, &pp->po);
    ASSERT_INT_EQ(ql_team_create(&f->cx, "Poets", 5, &pp->team), QL_OK);
    /* principals carry memberships: load them again after the change */
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, pp->owner.session.token, 46, QL_VIA_BEARER, &pp->po),
                  QL_OK);
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, pp->other.session.token, 46, QL_VIA_BEARER, &pp->px),
                  QL_OK);
}

static void test_create_makes_the_caller_owner(void)
{
    struct fixture f;
    struct people pp;
    setup(&f, &pp);
    ASSERT_INT_EQ(ql_principal_role(&pp.po, &pp.team.id), QL_ROLE_OWNER);
    ASSERT_STR_EQ(f.store.audit[f.store.naudit - 1].e.action, "team.create");
    as(&f, &pp.px);
    struct ql_team t;
    ASSERT_INT_EQ(ql_team_get(&f.cx, &pp.team.id, &t), QL_ENOT_FOUND);
    fixture_cleanup(&f);
}

static void test_my_teams_page_by_id(void)
{
    struct fixture f;
    struct people pp;
    setup(&f, &pp);
    static const char *names[] = {"Alpha", "Beta", "Gamma", "Delta"};
    for (int i = 0; i < 4; i++) {
        struct ql_team t;
        as(&f, &pp.po);
        ASSERT_INT_EQ(ql_team_create(&f.cx, names[i], strlen(names[i]), &t), QL_OK);
    }
    /* five teams in pages of two: every team once, ascending ids, a cursor until the last */
    const char *cursor = NULL;
    struct ql_uuid prev = {{0}};
    int seen = 0, pages = 0;
    do {
        as(&f, &pp.po);
        struct ql_team_role *teams;
        int n;
        const char *next;
        ASSERT_INT_EQ(
            ql_team_list_mine(&f.cx, cursor, cursor ? strlen(cursor) : 0, 2, &teams, &n, &next),
            QL_OK);
        for (int i = 0; i < n; i++) {
            ASSERT_TRUE(memcmp(prev.b, teams[i].team_id.b, 16) < 0);
            prev = teams[i].team_id;
            ASSERT_INT_EQ(teams[i].role, QL_ROLE_OWNER);
        }
        seen += n;
        pages++;
        /* the cursor lives in the arena that the next request resets: keep a copy */
        static char copy[128];
        if (next)
            snprintf(copy, sizeof(copy), "%s", next);
        cursor = next ? copy : NULL;
    } while (cursor && pages < 10);
    ASSERT_INT_EQ(seen, 5);
    ASSERT_INT_EQ(pages, 3);
    as(&f, &pp.po);
    struct ql_team_role *t;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_team_list_mine(&f.cx, "bogus", 5, 2, &t, &n, &next), QL_EVALIDATION);
    fixture_cleanup(&f);
}

static void test_last_owner_is_kept(void)
{
    struct fixture f;
    struct people pp;
    setup(&f, &pp);
    struct ql_member m;
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_set_role(&f.cx, &pp.team.id, &pp.owner.user.id, "admin", 5, &m),
                  QL_ECONFLICT);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_remove(&f.cx, &pp.team.id, &pp.owner.user.id), QL_ECONFLICT);
    /* with a second owner the first may step down */
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_add(&f.cx, &pp.team.id, "xavi@example.com", 16, "owner", 5, &m), QL_OK);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_set_role(&f.cx, &pp.team.id, &pp.owner.user.id, "viewer", 6, &m),
                  QL_OK);
    ASSERT_INT_EQ(m.role, QL_ROLE_VIEWER);
    fixture_cleanup(&f);
}

static void test_member_rules(void)
{
    struct fixture f;
    struct people pp;
    setup(&f, &pp);
    struct ql_member m;
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_add(&f.cx, &pp.team.id, "nobody@example.com", 18, "member", 6, &m),
                  QL_ENOT_FOUND);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_add(&f.cx, &pp.team.id, "xavi@example.com", 16, "boss", 4, &m),
                  QL_EVALIDATION);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_add(&f.cx, &pp.team.id, "XAVI@example.com", 16, "admin", 5, &m), QL_OK);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_member_add(&f.cx, &pp.team.id, "xavi@example.com", 16, "member", 6, &m),
                  QL_ECONFLICT);
    /* an admin cannot grant owner, and cannot remove the owner */
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, pp.other.session.token, 46, QL_VIA_BEARER, &pp.px),
                  QL_OK);
    as(&f, &pp.px);
    ASSERT_INT_EQ(ql_member_set_role(&f.cx, &pp.team.id, &pp.other.user.id, "owner", 5, &m),
                  QL_EFORBIDDEN);
    as(&f, &pp.px);
    ASSERT_INT_EQ(ql_member_remove(&f.cx, &pp.team.id, &pp.owner.user.id), QL_EFORBIDDEN);
    /* but any member may leave */
    as(&f, &pp.px);
    ASSERT_INT_EQ(ql_member_remove(&f.cx, &pp.team.id, &pp.other.user.id), QL_OK);
    fixture_cleanup(&f);
}

static void test_api_keys(void)
{
    struct fixture f;
    struct people pp;
    setup(&f, &pp);
    struct ql_new_api_key k;
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_api_key_create(&f.cx, &pp.team.id, "ci", 2, "admin", 5, NULL, 0, &k),
                  QL_EVALIDATION);
    as(&f, &pp.po);
    ASSERT_INT_EQ(
        ql_api_key_create(&f.cx, &pp.team.id, "ci", 2, "member", 6, "2025-01-01T00:00:00Z", 20, &k),
        QL_EVALIDATION);
    ASSERT_STR_EQ(f.cx.err.fields[0].code, "in_past");
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_api_key_create(&f.cx, &pp.team.id, "ci", 2, "member", 6, NULL, 0, &k), QL_OK);
    ASSERT_TRUE(strncmp(k.secret, "qk_", 3) == 0);
    ASSERT_TRUE(strncmp(k.secret, k.key.prefix, strlen(k.key.prefix)) == 0);
    struct ql_principal kp;
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, k.secret, strlen(k.secret), QL_VIA_BEARER, &kp), QL_OK);
    ASSERT_INT_EQ(kp.kind, QL_PRINCIPAL_API_KEY);
    ASSERT_INT_EQ(ql_principal_role(&kp, &pp.team.id), QL_ROLE_MEMBER);
    /* a key cannot manage keys */
    as(&f, &kp);
    struct ql_new_api_key k2;
    ASSERT_INT_EQ(ql_api_key_create(&f.cx, &pp.team.id, "x", 1, "viewer", 6, NULL, 0, &k2),
                  QL_EFORBIDDEN);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_api_key_revoke(&f.cx, &pp.team.id, &k.key.id), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, k.secret, strlen(k.secret), QL_VIA_BEARER, &kp),
                  QL_EUNAUTHENTICATED);
    as(&f, &pp.po);
    ASSERT_INT_EQ(ql_api_key_revoke(&f.cx, &pp.team.id, &k.key.id), QL_ENOT_FOUND);
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_create_makes_the_caller_owner),
        TEST(test_my_teams_page_by_id),
        TEST(test_last_owner_is_kept),
        TEST(test_member_rules),
        TEST(test_api_keys),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
