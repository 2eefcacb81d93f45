/*
 * The authorization matrix: every kind of principal × every role × every action, against
 * a table written from the contract (../shared/API.md "Roles"), not from the policy code.
 */
#include "err/err.h"
#include "model/model.h"
#include "policy/policy.h"
#include "test.h"

enum who {
    OWNER,
    ADMIN,
    MEMBER,
    VIEWER,
    NONMEMBER,
    KEY_MEMBER,
    KEY_VIEWER,
    KEY_OTHER,
    OPERATOR,
    ANON,
    NWHO
};

static const char *const who_names[NWHO] = {"owner",      "admin",      "member",     "viewer",
                                            "non-member", "key:member", "key:viewer", "key:other",
                                            "operator",   "anonymous"};

#define OK QL_OK
#define NF QL_ENOT_FOUND
#define FB QL_EFORBIDDEN
#define UA QL_EUNAUTHENTICATED

/* expected[action][who] */
static const int expected[QL_ACT_COUNT][NWHO] = {
    /*                          own adm mem vie non kmem kvie koth op  anon */
    [QL_ACT_TEAM_READ] = {OK, OK, OK, OK, NF, OK, OK, NF, NF, UA},
    [QL_ACT_TEAM_UPDATE] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_TEAM_DELETE] = {OK, FB, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_MEMBER_LIST] = {OK, OK, OK, OK, NF, OK, OK, NF, NF, UA},
    [QL_ACT_MEMBER_MANAGE] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_MEMBER_GRANT_OWNER] = {OK, FB, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_MEMBER_LEAVE] = {OK, OK, OK, OK, NF, FB, FB, NF, NF, UA},
    [QL_ACT_KEY_MANAGE] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_AUDIT_READ] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_ENTRY_READ] = {OK, OK, OK, OK, NF, OK, OK, NF, NF, UA},
    [QL_ACT_ENTRY_CREATE] = {OK, OK, OK, FB, NF, OK, FB, NF, NF, UA},
    [QL_ACT_ENTRY_EDIT_OWN] = {OK, OK, OK, FB, NF, OK, FB, NF, NF, UA},
    [QL_ACT_ENTRY_EDIT_ANY] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_PROMPT_READ] = {OK, OK, OK, OK, NF, OK, OK, NF, NF, UA},
    [QL_ACT_PROMPT_MANAGE] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_WEBHOOK_MANAGE] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_SUBSCRIPTION_READ] = {OK, OK, FB, FB, NF, FB, FB, NF, NF, UA},
    [QL_ACT_SYNC_READ] = {OK, OK, OK, OK, NF, OK, OK, NF, NF, UA},
    [QL_ACT_OPERATE] = {FB, FB, FB, FB, FB, FB, FB, FB, OK, UA},
};

static const struct ql_uuid team = {{1, 2, 3, 4, 5, 6, 0x70, 8, 0x80, 10, 11, 12, 13, 14, 15, 16}};
static const struct ql_uuid other = {{9, 9, 9, 9, 9, 9, 0x70, 9, 0x80, 9, 9, 9, 9, 9, 9, 9}};

static void principal_for(enum who w, struct ql_principal *p, struct ql_membership *m)
{
    memset(p, 0, sizeof(*p));
    static const int user_roles[] = {QL_ROLE_OWNER, QL_ROLE_ADMIN, QL_ROLE_MEMBER, QL_ROLE_VIEWER};
    switch (w) {
    case OWNER:
    case ADMIN:
    case MEMBER:
    case VIEWER:
        p->kind = QL_PRINCIPAL_USER;
        m->team_id = team;
        m->role = user_roles[w];
        p->teams = m;
        p->nteams = 1;
        break;
    case NONMEMBER:
        p->kind = QL_PRINCIPAL_USER;
        m->team_id = other;
        m->role = QL_ROLE_OWNER;
        p->teams = m;
        p->nteams = 1;
        break;
    case KEY_MEMBER:
    case KEY_VIEWER:
        p->kind = QL_PRINCIPAL_API_KEY;
        p->key_team_id = team;
        p->key_role = w == KEY_MEMBER ? QL_ROLE_MEMBER : QL_ROLE_VIEWER;
        break;
    case KEY_OTHER:
        p->kind = QL_PRINCIPAL_API_KEY;
        p->key_team_id = other;
        p->key_role = QL_ROLE_MEMBER;
        break;
    case OPERATOR:
        p->kind = QL_PRINCIPAL_OPERATOR;
        break;
    default:
        p->kind = QL_PRINCIPAL_NONE;
    }
}

static void test_matrix(void)
{
    int cells = 0;
    for (int a = 0; a < QL_ACT_COUNT; a++) {
        for (int w = 0; w < NWHO; w++) {
            struct ql_principal p;
            struct ql_membership m;
            principal_for((enum who)w, &p, &m);
            int role = ql_principal_role(&p, &team);
            int got = ql_policy_decide(&p, a, role);
            if (got != expected[a][w]) {
                printf("#   %s as %s: got %s, want %s\n", ql_action_name(a), who_names[w],
                       ql_err_name(got), ql_err_name(expected[a][w]));
            }
            ASSERT_INT_EQ(got, expected[a][w]);
            cells++;
        }
    }
    ASSERT_INT_EQ(cells, QL_ACT_COUNT * NWHO);
}

static void test_null_principal_is_unauthenticated(void)
{
    ASSERT_INT_EQ(ql_policy_decide(NULL, QL_ACT_TEAM_READ, QL_ROLE_OWNER), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(ql_policy_decide(NULL, QL_ACT_OPERATE, QL_ROLE_NONE), QL_EUNAUTHENTICATED);
}

static void test_unknown_action_is_forbidden(void)
{
    struct ql_principal p;
    struct ql_membership m;
    principal_for(OWNER, &p, &m);
    ASSERT_INT_EQ(ql_policy_decide(&p, QL_ACT_COUNT, QL_ROLE_OWNER), QL_EFORBIDDEN);
    ASSERT_INT_EQ(ql_policy_decide(&p, -1, QL_ROLE_OWNER), QL_EFORBIDDEN);
}

static void test_roles_parse_and_name(void)
{
    ASSERT_INT_EQ(ql_role_parse("owner", 5), QL_ROLE_OWNER);
    ASSERT_INT_EQ(ql_role_parse("viewer", 6), QL_ROLE_VIEWER);
    ASSERT_INT_EQ(ql_role_parse("owners", 6), QL_ROLE_NONE);
    ASSERT_INT_EQ(ql_role_parse("Owner", 5), QL_ROLE_NONE);
    ASSERT_STR_EQ(ql_role_name(QL_ROLE_ADMIN), "admin");
    ASSERT_STR_EQ(ql_role_name(42), "none");
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_matrix),
        TEST(test_null_principal_is_unauthenticated),
        TEST(test_unknown_action_is_forbidden),
        TEST(test_roles_parse_and_name),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
