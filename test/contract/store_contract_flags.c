/*
 * store_contract_flags.c - the store contract's cases for feature flags and their per-team
 * overrides (struct ql_flags_ops; store_contract.h).  Flags are global, so cases only ever
 * look at keys they made.
 */
#include "contract/store_contract.h"
#include "flag/flag.h"

#include <string.h>

#define FLAGS(c) ((c)->s->ops->flags)

static struct ql_flag flag_in(struct cc *c, const char *key, int enabled, int pct)
{
    return (struct ql_flag){.id = cc_id(),
                            .key = key,
                            .description = "about it",
                            .enabled = enabled,
                            .rollout_percent = pct,
                            .created_ms = c->now,
                            .updated_ms = c->now};
}

/* The state of key among what for_team returned, or NULL. */
static const struct ql_flag_state *state_of(const struct ql_flag_state *s, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0)
            return &s[i];
    return NULL;
}

/* Create, replace, read, list by key in pages, remove. */
static void test_flags_put_get_list_remove(void)
{
    struct cc c;
    cc_open(&c);
    const char *k1 = cc_unique(&c, "flag");
    const char *k2 = ql_arena_sprintf(&c.arena, "%s-b", k1);
    const char *k3 = ql_arena_sprintf(&c.arena, "%s-c", k1);
    struct ql_flag f1 = flag_in(&c, k1, 0, 25), out;
    int created = -1;
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f1, &created, &out), QL_OK);
    ASSERT_INT_EQ(created, 1);
    ASSERT_ID_EQ(&out.id, &f1.id);
    ASSERT_STR_EQ(out.key, k1);
    ASSERT_STR_EQ(out.description, "about it");
    ASSERT_INT_EQ(out.enabled, 0);
    ASSERT_INT_EQ(out.rollout_percent, 25);
    ASSERT_INT_EQ(out.created_ms, c.now);
    /* a second put replaces what it says, keeps the id and the creation time */
    struct ql_flag again = flag_in(&c, k1, 1, 60);
    again.description = "";
    again.updated_ms = c.now + 1000;
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &again, &created, &out), QL_OK);
    ASSERT_INT_EQ(created, 0);
    ASSERT_ID_EQ(&out.id, &f1.id);
    ASSERT_INT_EQ(out.enabled, 1);
    ASSERT_INT_EQ(out.rollout_percent, 60);
    ASSERT_STR_EQ(out.description, "");
    ASSERT_INT_EQ(out.created_ms, c.now);
    ASSERT_INT_EQ(out.updated_ms, c.now + 1000);
    struct ql_flag got;
    ASSERT_INT_EQ(FLAGS(&c)->get(c.s, &c.cx, k1, &got), QL_OK);
    ASSERT_INT_EQ(got.rollout_percent, 60);
    struct ql_flag f2 = flag_in(&c, k2, 0, 0), f3 = flag_in(&c, k3, 1, 100);
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f3, &created, &out), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f2, &created, &out), QL_OK);
    struct ql_flag *list;
    int n, more;
    ASSERT_INT_EQ(FLAGS(&c)->list(c.s, &c.cx, k1, 1, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_STR_EQ(list[0].key, k2);
    ASSERT_INT_EQ(FLAGS(&c)->list(c.s, &c.cx, k2, 1, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(list[0].key, k3);
    ASSERT_INT_EQ(list[0].enabled, 1);
    ASSERT_INT_EQ(FLAGS(&c)->remove(c.s, &c.cx, k2, &out), QL_OK);
    ASSERT_ID_EQ(&out.id, &f2.id);
    CC_FAILS(&c, FLAGS(&c)->get(c.s, &c.cx, k2, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, FLAGS(&c)->remove(c.s, &c.cx, k2, &out), QL_ENOT_FOUND);
    ASSERT_INT_EQ(FLAGS(&c)->list(c.s, &c.cx, k1, 1, &list, &n, &more), QL_OK);
    ASSERT_STR_EQ(list[0].key, k3);
    cc_close(&c);
}

/* Overrides: set, change, list, remove; what for_team makes of them; gone with the flag. */
static void test_flag_overrides(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a), u = cc_team(&c, "U", &a);
    const char *k = cc_unique(&c, "flag");
    struct ql_flag f = flag_in(&c, k, 0, 30), out;
    int created;
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f, &created, &out), QL_OK);
    struct ql_flag_state *st;
    int n;
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    const struct ql_flag_state *s = state_of(st, n, k);
    ASSERT_NOT_NULL(s);
    ASSERT_INT_EQ(s->enabled, 0);
    ASSERT_INT_EQ(s->rollout_percent, 30);
    ASSERT_INT_EQ(s->override, QL_FLAG_NO_OVERRIDE);
    for (int i = 1; i < n; i++)
        ASSERT_TRUE(strcmp(st[i - 1].key, st[i].key) < 0); /* by key */
    struct ql_flag_team o;
    ASSERT_INT_EQ(FLAGS(&c)->team_put(c.s, &c.cx, k, &t.id, 1, c.now + 5, &created, &o), QL_OK);
    ASSERT_INT_EQ(created, 1);
    ASSERT_ID_EQ(&o.team_id, &t.id);
    ASSERT_INT_EQ(o.enabled, 1);
    ASSERT_INT_EQ(o.created_ms, c.now + 5);
    ASSERT_INT_EQ(FLAGS(&c)->team_put(c.s, &c.cx, k, &t.id, 0, c.now + 9, &created, &o), QL_OK);
    ASSERT_INT_EQ(created, 0);
    ASSERT_INT_EQ(o.enabled, 0);
    ASSERT_INT_EQ(o.created_ms, c.now + 5);
    ASSERT_INT_EQ(o.updated_ms, c.now + 9);
    ASSERT_INT_EQ(FLAGS(&c)->team_put(c.s, &c.cx, k, &u.id, 1, c.now, &created, &o), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    ASSERT_INT_EQ(state_of(st, n, k)->override, 0);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &u.id, &st, &n), QL_OK);
    ASSERT_INT_EQ(state_of(st, n, k)->override, 1);
    struct ql_flag_team *list;
    int more;
    ASSERT_INT_EQ(FLAGS(&c)->team_list(c.s, &c.cx, k, NULL, 1, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&list[0].team_id, &t.id); /* by team id: t was made first */
    ASSERT_INT_EQ(FLAGS(&c)->team_list(c.s, &c.cx, k, &t.id, 5, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&list[0].team_id, &u.id);
    /* unknown flags and teams */
    struct ql_uuid nobody = cc_id();
    const char *missing = cc_unique(&c, "flag");
    CC_FAILS(&c, FLAGS(&c)->team_put(c.s, &c.cx, missing, &t.id, 1, c.now, &created, &o),
             QL_ENOT_FOUND);
    CC_FAILS(&c, FLAGS(&c)->team_put(c.s, &c.cx, k, &nobody, 1, c.now, &created, &o),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(FLAGS(&c)->team_remove(c.s, &c.cx, k, &t.id), QL_OK);
    CC_FAILS(&c, FLAGS(&c)->team_remove(c.s, &c.cx, k, &t.id), QL_ENOT_FOUND);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    ASSERT_INT_EQ(state_of(st, n, k)->override, QL_FLAG_NO_OVERRIDE);
    /* a deleted flag takes its overrides with it */
    ASSERT_INT_EQ(FLAGS(&c)->remove(c.s, &c.cx, k, &out), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &u.id, &st, &n), QL_OK);
    ASSERT_NULL(state_of(st, n, k));
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f, &created, &out), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->team_list(c.s, &c.cx, k, NULL, 5, &list, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 0);
    cc_close(&c);
}

/* Flag writes are transactional: a rollback takes them back; inside, reads see them. */
static void test_flag_writes_roll_back(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    const char *k = cc_unique(&c, "flag");
    struct ql_flag f = flag_in(&c, k, 1, 0), out;
    int created;
    struct ql_flag_state *st;
    int n;
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    ASSERT_NULL(state_of(st, n, k));
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->put(c.s, &c.cx, &f, &created, &out), QL_OK);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    ASSERT_NOT_NULL(state_of(st, n, k));
    ql_store_rollback(c.s, &c.cx);
    struct ql_flag got;
    CC_FAILS(&c, FLAGS(&c)->get(c.s, &c.cx, k, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(FLAGS(&c)->for_team(c.s, &c.cx, &t.id, &st, &n), QL_OK);
    ASSERT_NULL(state_of(st, n, k));
    cc_close(&c);
}

const struct ql_test contract_flags_tests[] = {
    TEST(test_flags_put_get_list_remove),
    TEST(test_flag_overrides),
    TEST(test_flag_writes_roll_back),
};
const int contract_flags_ntests = QL_NTESTS(contract_flags_tests);
