/*
 * store_contract_identity.c - the store contract's cases for users, sessions, principals, API
 * keys, teams, members, audit rows and transactions (store_contract.h).
 */
#include "contract/store_contract.h"

#include <string.h>

/* ---- users -------------------------------------------------------------------------------- */

static void assert_user(const struct ql_user *got, const struct ql_user *want)
{
    ASSERT_ID_EQ(&got->id, &want->id);
    ASSERT_STR_EQ(got->email, want->email);
    ASSERT_STR_EQ(got->display_name, want->display_name);
    ASSERT_STR_EQ(got->password_hash, want->password_hash);
    ASSERT_INT_EQ(got->created_ms, want->created_ms);
    ASSERT_INT_EQ(got->updated_ms, want->updated_ms);
}

static void test_users_insert_find_and_refuse_a_taken_email(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "Ada"), got;
    ASSERT_INT_EQ(ql_store_users_by_email(c.s, &c.cx, u.email, &got), QL_OK);
    assert_user(&got, &u);
    ASSERT_INT_EQ(ql_store_users_by_id(c.s, &c.cx, &u.id, &got), QL_OK);
    assert_user(&got, &u);
    struct ql_user dup = u;
    dup.id = cc_id();
    dup.display_name = "Not Ada";
    CC_FAILS(&c, ql_store_users_insert(c.s, &c.cx, &dup, NULL, NULL), QL_EEMAIL_TAKEN);
    CC_FAILS(&c, ql_store_users_by_id(c.s, &c.cx, &dup.id, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_users_by_email(c.s, &c.cx, u.email, &got), QL_OK);
    assert_user(&got, &u);
    CC_FAILS(&c, ql_store_users_by_email(c.s, &c.cx, cc_unique(&c, "nobody"), &got), QL_ENOT_FOUND);
    /* a user who signs in only through OIDC has no password */
    struct ql_user o = {cc_id(), cc_unique(&c, "oidc"), "Oidc", NULL, c.now, c.now};
    ASSERT_INT_EQ(ql_store_users_insert(c.s, &c.cx, &o, "https://idp.test", o.email), QL_OK);
    ASSERT_INT_EQ(ql_store_users_by_id(c.s, &c.cx, &o.id, &got), QL_OK);
    ASSERT_NULL(got.password_hash);
    ASSERT_STR_EQ(got.email, o.email);
    cc_close(&c);
}

/* ---- sessions and principals --------------------------------------------------------------- */

/* p's role in team by its memberships alone (load_user leaves the kind to its caller). */
static int role_in(const struct ql_principal *p, const struct ql_uuid *team)
{
    for (int i = 0; i < p->nteams; i++)
        if (memcmp(p->teams[i].team_id.b, team->b, 16) == 0)
            return p->teams[i].role;
    return QL_ROLE_NONE;
}

static void test_sessions_load_principals_with_live_memberships(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), o = cc_user(&c, "O");
    struct ql_team a = cc_team(&c, "A", &u), b = cc_team(&c, "B", &o);
    ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &b.id, &u.id, QL_ROLE_VIEWER, c.now), QL_OK);
    uint8_t d[QL_DIGEST_LEN], unknown[QL_DIGEST_LEN];
    cc_digest(d);
    cc_digest(unknown);
    struct ql_uuid sid = cc_id();
    ASSERT_INT_EQ(
        ql_store_sessions_insert(c.s, &c.cx, d, &sid, &u.id, c.now, c.now + 3600000, NULL, NULL),
        QL_OK);
    struct ql_principal p;
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d, &p), QL_OK);
    ASSERT_INT_EQ(p.kind, QL_PRINCIPAL_USER);
    ASSERT_ID_EQ(&p.user_id, &u.id);
    ASSERT_ID_EQ(&p.credential_id, &sid);
    ASSERT_MEM_EQ(p.digest, d, QL_DIGEST_LEN);
    ASSERT_INT_EQ(p.created_ms, c.now);
    ASSERT_INT_EQ(p.expires_ms, c.now + 3600000);
    ASSERT_INT_EQ(p.last_seen_ms, c.now);
    ASSERT_INT_EQ(p.nteams, 2);
    ASSERT_INT_EQ(role_in(&p, &a.id), QL_ROLE_OWNER);
    ASSERT_INT_EQ(role_in(&p, &b.id), QL_ROLE_VIEWER);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, unknown, &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load_user(c.s, &c.cx, &u.id, &p), QL_OK);
    ASSERT_ID_EQ(&p.user_id, &u.id);
    ASSERT_INT_EQ(p.nteams, 2);
    ASSERT_INT_EQ(role_in(&p, &a.id), QL_ROLE_OWNER);
    ASSERT_INT_EQ(role_in(&p, &b.id), QL_ROLE_VIEWER);
    /* a soft-deleted team leaves every membership at once */
    ASSERT_INT_EQ(ql_store_teams_remove(c.s, &c.cx, &a.id, c.now + 1), QL_OK);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d, &p), QL_OK);
    ASSERT_INT_EQ(p.nteams, 1);
    ASSERT_INT_EQ(role_in(&p, &a.id), QL_ROLE_NONE);
    ASSERT_INT_EQ(role_in(&p, &b.id), QL_ROLE_VIEWER);
    ASSERT_INT_EQ(ql_store_principals_load_user(c.s, &c.cx, &u.id, &p), QL_OK);
    ASSERT_INT_EQ(p.nteams, 1);
    ASSERT_INT_EQ(role_in(&p, &b.id), QL_ROLE_VIEWER);
    /* removing the session ends it; removing it again finds nothing */
    ASSERT_INT_EQ(ql_store_sessions_remove(c.s, &c.cx, d), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d, &p), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_sessions_remove(c.s, &c.cx, d), QL_ENOT_FOUND);
    cc_close(&c);
}

static void test_sessions_remove_user_keeps_the_one_asked_for(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), o = cc_user(&c, "O");
    uint8_t d[4][QL_DIGEST_LEN];
    for (int i = 0; i < 4; i++) {
        cc_digest(d[i]);
        struct ql_uuid sid = cc_id();
        const struct ql_uuid *who = i == 3 ? &o.id : &u.id;
        ASSERT_INT_EQ(ql_store_sessions_insert(c.s, &c.cx, d[i], &sid, who, c.now, c.now + 60000,
                                               "agent", "192.0.2.1"),
                      QL_OK);
    }
    struct ql_principal p;
    ASSERT_INT_EQ(ql_store_sessions_remove_user(c.s, &c.cx, &u.id, d[1]), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d[0], &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d[1], &p), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d[2], &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d[3], &p), QL_OK); /* another user's */
    ASSERT_INT_EQ(ql_store_sessions_remove_user(c.s, &c.cx, &u.id, NULL), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d[1], &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d[3], &p), QL_OK);
    ASSERT_ID_EQ(&p.user_id, &o.id);
    cc_close(&c);
}

static struct ql_api_key key_in(struct cc *c, const struct ql_team *t, int role, int64_t at)
{
    struct ql_api_key k = {.id = cc_id(),
                           .team_id = t->id,
                           .name = cc_unique(c, "key"),
                           .role = role,
                           .prefix = "qk_abcdefgh",
                           .created_ms = at};
    return k;
}

static void test_api_keys_load_as_principals_until_revoked_or_team_deleted(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_team t = cc_team(&c, "T", &u), t2 = cc_team(&c, "T2", &u);
    struct ql_api_key k = key_in(&c, &t, QL_ROLE_MEMBER, c.now);
    struct ql_api_key k2 = key_in(&c, &t2, QL_ROLE_VIEWER, c.now);
    k2.expires_ms = c.now + 86400000;
    uint8_t d[QL_DIGEST_LEN], d2[QL_DIGEST_LEN];
    cc_digest(d);
    cc_digest(d2);
    ASSERT_INT_EQ(ql_store_api_keys_insert(c.s, &c.cx, &k, d, &u.id), QL_OK);
    ASSERT_INT_EQ(ql_store_api_keys_insert(c.s, &c.cx, &k2, d2, &u.id), QL_OK);
    struct ql_principal p;
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d, &p), QL_OK);
    ASSERT_INT_EQ(p.kind, QL_PRINCIPAL_API_KEY);
    ASSERT_ID_EQ(&p.credential_id, &k.id);
    ASSERT_ID_EQ(&p.key_team_id, &t.id);
    ASSERT_INT_EQ(p.key_role, QL_ROLE_MEMBER);
    ASSERT_INT_EQ(p.created_ms, c.now);
    ASSERT_INT_EQ(p.expires_ms, 0);
    ASSERT_INT_EQ(p.last_seen_ms, 0);
    ASSERT_INT_EQ(p.nteams, 0);
    ASSERT_INT_EQ(ql_store_api_keys_revoke(c.s, &c.cx, &t.id, &k.id, c.now + 1), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d, &p), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_principals_load(c.s, &c.cx, d2, &p), QL_OK);
    ASSERT_INT_EQ(p.key_role, QL_ROLE_VIEWER);
    ASSERT_INT_EQ(p.expires_ms, c.now + 86400000);
    /* the key of a deleted team stops working with it */
    ASSERT_INT_EQ(ql_store_teams_remove(c.s, &c.cx, &t2.id, c.now + 2), QL_OK);
    CC_FAILS(&c, ql_store_principals_load(c.s, &c.cx, d2, &p), QL_ENOT_FOUND);
    cc_close(&c);
}

static void test_api_keys_list_newest_first_in_pages_and_revoke(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_team t = cc_team(&c, "T", &u), other = cc_team(&c, "O", &u);
    /* created at +0, +1, +2 and +2 again: the tie goes to the greater id */
    struct ql_api_key k[4];
    static const int at[4] = {0, 1, 2, 2};
    for (int i = 0; i < 4; i++) {
        k[i] = key_in(&c, &t, i % 2 ? QL_ROLE_VIEWER : QL_ROLE_MEMBER, c.now + at[i]);
        uint8_t d[QL_DIGEST_LEN];
        cc_digest(d);
        ASSERT_INT_EQ(ql_store_api_keys_insert(c.s, &c.cx, &k[i], d, &u.id), QL_OK);
    }
    k[3].expires_ms = 0;
    struct ql_api_key *items;
    int n, more;
    ASSERT_INT_EQ(ql_store_api_keys_list(c.s, &c.cx, &t.id, 0, NULL, 2, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&items[0].id, &k[3].id);
    ASSERT_ID_EQ(&items[1].id, &k[2].id);
    ASSERT_ID_EQ(&items[0].team_id, &t.id);
    ASSERT_STR_EQ(items[0].name, k[3].name);
    ASSERT_INT_EQ(items[0].role, QL_ROLE_VIEWER);
    ASSERT_STR_EQ(items[0].prefix, "qk_abcdefgh");
    ASSERT_INT_EQ(items[0].created_ms, c.now + 2);
    ASSERT_INT_EQ(items[0].expires_ms, 0);
    ASSERT_INT_EQ(items[0].last_used_ms, 0);
    struct ql_uuid after = items[1].id;
    ASSERT_INT_EQ(ql_store_api_keys_list(c.s, &c.cx, &t.id, items[1].created_ms, &after, 2, &items,
                                         &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&items[0].id, &k[1].id);
    ASSERT_ID_EQ(&items[1].id, &k[0].id);
    /* a revoked key leaves the list; it cannot be revoked twice, nor through another team */
    ASSERT_INT_EQ(ql_store_api_keys_revoke(c.s, &c.cx, &t.id, &k[1].id, c.now + 5), QL_OK);
    CC_FAILS(&c, ql_store_api_keys_revoke(c.s, &c.cx, &t.id, &k[1].id, c.now + 6), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_api_keys_revoke(c.s, &c.cx, &other.id, &k[0].id, c.now + 6),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_api_keys_list(c.s, &c.cx, &t.id, 0, NULL, 10, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&items[0].id, &k[3].id);
    ASSERT_ID_EQ(&items[1].id, &k[2].id);
    ASSERT_ID_EQ(&items[2].id, &k[0].id);
    ASSERT_INT_EQ(ql_store_api_keys_list(c.s, &c.cx, &other.id, 0, NULL, 10, &items, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(more, 0);
    cc_close(&c);
}

/* ---- teams and members -------------------------------------------------------------------- */

static void test_teams_insert_get_rename_and_soft_delete(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "Owner");
    struct ql_team t = cc_team(&c, "Poets", &u), got;
    ASSERT_INT_EQ(ql_store_teams_get(c.s, &c.cx, &t.id, &got), QL_OK);
    ASSERT_ID_EQ(&got.id, &t.id);
    ASSERT_STR_EQ(got.name, "Poets");
    ASSERT_INT_EQ(got.created_ms, c.now);
    ASSERT_INT_EQ(got.updated_ms, c.now);
    /* the owner is its first member */
    struct ql_member m;
    ASSERT_INT_EQ(ql_store_members_get(c.s, &c.cx, &t.id, &u.id, &m), QL_OK);
    ASSERT_INT_EQ(m.role, QL_ROLE_OWNER);
    ASSERT_STR_EQ(m.email, u.email);
    ASSERT_STR_EQ(m.display_name, "Owner");
    ASSERT_INT_EQ(m.joined_ms, c.now);
    int owners = -1;
    ASSERT_INT_EQ(ql_store_members_count_owners(c.s, &c.cx, &t.id, &owners), QL_OK);
    ASSERT_INT_EQ(owners, 1);
    ASSERT_INT_EQ(ql_store_teams_update_name(c.s, &c.cx, &t.id, "Poets 2", c.now + 5, &got), QL_OK);
    ASSERT_STR_EQ(got.name, "Poets 2");
    ASSERT_INT_EQ(got.created_ms, c.now);
    ASSERT_INT_EQ(got.updated_ms, c.now + 5);
    ASSERT_INT_EQ(ql_store_teams_get(c.s, &c.cx, &t.id, &got), QL_OK);
    ASSERT_STR_EQ(got.name, "Poets 2");
    ASSERT_INT_EQ(got.updated_ms, c.now + 5);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_lock(c.s, &c.cx, &t.id), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    /* a soft-deleted team is gone for every method */
    ASSERT_INT_EQ(ql_store_teams_remove(c.s, &c.cx, &t.id, c.now + 6), QL_OK);
    CC_FAILS(&c, ql_store_teams_get(c.s, &c.cx, &t.id, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_teams_update_name(c.s, &c.cx, &t.id, "x", c.now + 7, &got),
             QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_teams_remove(c.s, &c.cx, &t.id, c.now + 7), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    CC_FAILS(&c, ql_store_teams_lock(c.s, &c.cx, &t.id), QL_ENOT_FOUND);
    ql_store_rollback(c.s, &c.cx);
    struct ql_uuid nowhere = cc_id();
    CC_FAILS(&c, ql_store_teams_get(c.s, &c.cx, &nowhere, &got), QL_ENOT_FOUND);
    cc_close(&c);
}

/*
 * Members come by user id in pages.  They are added in descending id order, so a store that
 * lists them in insertion order fails.
 */
static void test_members_pages_conflicts_roles_and_removal(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u[5];
    u[0] = cc_user(&c, "Owner");
    for (int i = 1; i < 5; i++)
        u[i] = cc_user(&c, "Member");
    struct ql_team t = cc_team(&c, "T", &u[0]);
    static const int roles[5] = {QL_ROLE_OWNER, QL_ROLE_ADMIN, QL_ROLE_MEMBER, QL_ROLE_VIEWER,
                                 QL_ROLE_MEMBER};
    for (int i = 4; i >= 1; i--)
        ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &t.id, &u[i].id, roles[i], c.now + i),
                      QL_OK);
    struct ql_member *items;
    int n, more, seen = 0;
    static const int page_n[3] = {2, 2, 1}, page_more[3] = {1, 1, 0};
    struct ql_uuid after;
    for (int page = 0; page < 3; page++) {
        ASSERT_INT_EQ(
            ql_store_members_list(c.s, &c.cx, &t.id, page ? &after : NULL, 2, &items, &n, &more),
            QL_OK);
        ASSERT_INT_EQ(n, page_n[page]);
        ASSERT_INT_EQ(more, page_more[page]);
        for (int i = 0; i < n; i++, seen++) {
            ASSERT_ID_EQ(&items[i].user_id, &u[seen].id);
            ASSERT_STR_EQ(items[i].email, u[seen].email);
            ASSERT_INT_EQ(items[i].role, roles[seen]);
            ASSERT_INT_EQ(items[i].joined_ms, c.now + seen);
        }
        after = items[n - 1].user_id;
    }
    ASSERT_INT_EQ(seen, 5);
    ASSERT_INT_EQ(ql_store_members_list(c.s, &c.cx, &t.id, NULL, 5, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 5);
    ASSERT_INT_EQ(more, 0);
    CC_FAILS(&c, ql_store_members_insert(c.s, &c.cx, &t.id, &u[1].id, QL_ROLE_VIEWER, c.now),
             QL_ECONFLICT);
    struct ql_member m;
    ASSERT_INT_EQ(ql_store_members_get(c.s, &c.cx, &t.id, &u[1].id, &m), QL_OK);
    ASSERT_INT_EQ(m.role, QL_ROLE_ADMIN);
    ASSERT_INT_EQ(ql_store_members_set_role(c.s, &c.cx, &t.id, &u[2].id, QL_ROLE_OWNER), QL_OK);
    ASSERT_INT_EQ(ql_store_members_get(c.s, &c.cx, &t.id, &u[2].id, &m), QL_OK);
    ASSERT_INT_EQ(m.role, QL_ROLE_OWNER);
    int owners = 0;
    ASSERT_INT_EQ(ql_store_members_count_owners(c.s, &c.cx, &t.id, &owners), QL_OK);
    ASSERT_INT_EQ(owners, 2);
    ASSERT_INT_EQ(ql_store_members_remove(c.s, &c.cx, &t.id, &u[3].id), QL_OK);
    CC_FAILS(&c, ql_store_members_get(c.s, &c.cx, &t.id, &u[3].id, &m), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_members_list(c.s, &c.cx, &t.id, NULL, 10, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 4);
    ASSERT_ID_EQ(&items[3].user_id, &u[4].id);
    cc_close(&c);
}

/* ---- audit rows --------------------------------------------------------------------------- */

static void test_audit_rows_chain_per_team_and_list_newest_first(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_uuid team = cc_id(), other = cc_id();
    struct ql_audit_entry a[4];
    const char *target = cc_unique(&c, "target");
    for (int i = 0; i < 4; i++)
        a[i] = (struct ql_audit_entry){cc_id(),       0,      c.now + i, "User:contract",
                                       "team.update", "Team", target};
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, &team, &a[0]), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, &other, &a[1]), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, NULL, &a[2]), QL_OK); /* the account chain */
    const struct ql_uuid *teams[2] = {&team, &team};
    struct ql_audit_entry pair[2] = {a[1], a[3]};
    pair[0].id = cc_id();
    ASSERT_INT_EQ(ql_store_audit_append_many(c.s, &c.cx, teams, pair, 2), QL_OK);
    struct ql_audit_entry *items;
    int n, more;
    ASSERT_INT_EQ(ql_store_audit_list(c.s, &c.cx, &team, 0, NULL, 2, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&items[0].id, &pair[1].id);
    ASSERT_INT_EQ(items[0].seq, 3);
    ASSERT_INT_EQ(items[0].at_ms, c.now + 3);
    ASSERT_STR_EQ(items[0].actor, "User:contract");
    ASSERT_STR_EQ(items[0].action, "team.update");
    ASSERT_STR_EQ(items[0].target_type, "Team");
    ASSERT_STR_EQ(items[0].target_id, target);
    ASSERT_ID_EQ(&items[1].id, &pair[0].id);
    ASSERT_INT_EQ(items[1].seq, 2);
    struct ql_uuid after = items[1].id;
    ASSERT_INT_EQ(
        ql_store_audit_list(c.s, &c.cx, &team, items[1].seq, &after, 2, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&items[0].id, &a[0].id);
    ASSERT_INT_EQ(items[0].seq, 1);
    ASSERT_INT_EQ(ql_store_audit_list(c.s, &c.cx, &other, 0, NULL, 10, &items, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&items[0].id, &a[1].id);
    cc_close(&c);
}

/* ---- transactions ------------------------------------------------------------------------- */

/*
 * What a transaction writes, inserts, updates and deletes alike, is gone after ROLLBACK and
 * kept after COMMIT.
 */
static void test_transactions_roll_back_everything_and_commit_everything(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U"), v = cc_user(&c, "V"), got;
    struct ql_team t = cc_team(&c, "Before", &u), t2, gt;
    ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &t.id, &v.id, QL_ROLE_VIEWER, c.now), QL_OK);
    struct ql_user x = {cc_id(), cc_unique(&c, "x"), "X", "fake$x", c.now, c.now};
    struct ql_entry e = {.id = cc_id(), .team_id = t.id, .content = "kept?", .content_n = 5};
    e.version = 1;
    e.created_ms = e.updated_ms = c.now;
    for (int commit = 0; commit < 2; commit++) {
        t2 = (struct ql_team){cc_id(), "New", c.now, c.now};
        ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
        ASSERT_INT_EQ(ql_store_users_insert(c.s, &c.cx, &x, NULL, NULL), QL_OK);
        ASSERT_INT_EQ(ql_store_teams_insert(c.s, &c.cx, &t2, &u.id), QL_OK);
        ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e), QL_OK);
        ASSERT_INT_EQ(ql_store_teams_update_name(c.s, &c.cx, &t.id, "After", c.now + 1, &gt),
                      QL_OK);
        ASSERT_INT_EQ(ql_store_members_remove(c.s, &c.cx, &t.id, &v.id), QL_OK);
        if (commit) {
            ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
            break;
        }
        ql_store_rollback(c.s, &c.cx);
        ASSERT_INT_EQ(c.cx.err.code, QL_OK);
        CC_FAILS(&c, ql_store_users_by_id(c.s, &c.cx, &x.id, &got), QL_ENOT_FOUND);
        CC_FAILS(&c, ql_store_teams_get(c.s, &c.cx, &t2.id, &gt), QL_ENOT_FOUND);
        struct ql_entry ge;
        CC_FAILS(&c, ql_store_entries_get(c.s, &c.cx, &t.id, &e.id, &ge), QL_ENOT_FOUND);
        ASSERT_INT_EQ(ql_store_teams_get(c.s, &c.cx, &t.id, &gt), QL_OK);
        ASSERT_STR_EQ(gt.name, "Before");
        struct ql_member m;
        ASSERT_INT_EQ(ql_store_members_get(c.s, &c.cx, &t.id, &v.id, &m), QL_OK);
        ASSERT_INT_EQ(m.role, QL_ROLE_VIEWER);
        ASSERT_INT_EQ(ql_store_members_get(c.s, &c.cx, &t.id, &u.id, &m), QL_OK);
        ASSERT_INT_EQ(m.role, QL_ROLE_OWNER);
    }
    ASSERT_INT_EQ(ql_store_users_by_id(c.s, &c.cx, &x.id, &got), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_get(c.s, &c.cx, &t2.id, &gt), QL_OK);
    struct ql_entry ge;
    ASSERT_INT_EQ(ql_store_entries_get(c.s, &c.cx, &t.id, &e.id, &ge), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_get(c.s, &c.cx, &t.id, &gt), QL_OK);
    ASSERT_STR_EQ(gt.name, "After");
    struct ql_member m;
    CC_FAILS(&c, ql_store_members_get(c.s, &c.cx, &t.id, &v.id, &m), QL_ENOT_FOUND);
    cc_close(&c);
}

const struct ql_test contract_identity_tests[] = {
    TEST(test_users_insert_find_and_refuse_a_taken_email),
    TEST(test_sessions_load_principals_with_live_memberships),
    TEST(test_sessions_remove_user_keeps_the_one_asked_for),
    TEST(test_api_keys_load_as_principals_until_revoked_or_team_deleted),
    TEST(test_api_keys_list_newest_first_in_pages_and_revoke),
    TEST(test_teams_insert_get_rename_and_soft_delete),
    TEST(test_members_pages_conflicts_roles_and_removal),
    TEST(test_audit_rows_chain_per_team_and_list_newest_first),
    TEST(test_transactions_roll_back_everything_and_commit_everything),
};
const int contract_identity_ntests = QL_NTESTS(contract_identity_tests);
