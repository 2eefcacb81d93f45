/*
 * Unit tests of feature flags (core/flag): the bucket of a team (stable, spread evenly,
 * monotone as a rollout grows), the value of a flag for a team, and the use cases against
 * the fakes: who may do what, validation, audit rows, and a failure rolling a change back.
 */
#include "err/err.h"
#include "fixture.h"
#include "flag/flag.h"
#include "model/model.h"
#include "test.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>

static struct ql_uuid team_n(int i)
{
    struct ql_uuid u;
    uint8_t rnd[10] = {0};
    memcpy(rnd, &i, sizeof(i));
    ql_uuid7_from(&u, T0 + i, rnd);
    return u;
}

static void test_buckets_are_stable_and_even(void)
{
    struct ql_uuid t;
    ASSERT_INT_EQ(ql_uuid_parse("01890a5d-ac96-774b-bcce-b302099a8057", 36, &t), QL_OK);
    /* pinned: a change here moves teams in and out of every rollout in production */
    ASSERT_INT_EQ(ql_flag_bucket("new-editor", &t), ql_flag_bucket("new-editor", &t));
    int pinned = ql_flag_bucket("new-editor", &t);
    printf("# bucket(new-editor, 01890a5d-...) = %d\n", pinned);
    ASSERT_INT_EQ(pinned, 23); /* FNV-1a 32 of "new-editor:01890a5d-..." mod 100 */
    int counts[100] = {0}, differs = 0;
    for (int i = 0; i < 10000; i++) {
        struct ql_uuid u = team_n(i);
        int b = ql_flag_bucket("new-editor", &u);
        ASSERT_TRUE(b >= 0 && b < 100);
        counts[b]++;
        differs += b != ql_flag_bucket("dark-mode", &u); /* each flag picks its own teams */
    }
    for (int b = 0; b < 100; b++)
        ASSERT_TRUE(counts[b] > 50 && counts[b] < 150); /* about 100 each */
    ASSERT_TRUE(differs > 9000);
}

static void test_a_growing_rollout_keeps_its_teams(void)
{
    struct ql_flag_state s = {"beta", 0, 0, QL_FLAG_NO_OVERRIDE};
    int was[1000] = {0}, on = 0;
    for (int pct = 0; pct <= 100; pct += 5) {
        s.rollout_percent = pct;
        on = 0;
        for (int i = 0; i < 1000; i++) {
            struct ql_uuid u = team_n(i);
            int v = ql_flag_value(&s, &u);
            ASSERT_TRUE(v >= was[i]); /* once in, in for good */
            was[i] = v;
            on += v;
        }
        ASSERT_TRUE(on >= pct * 10 - 60 && on <= pct * 10 + 60);
    }
    ASSERT_INT_EQ(on, 1000);
}

static void test_value_rules(void)
{
    struct ql_uuid t = team_n(7);
    struct ql_flag_state s = {"x", 0, 0, QL_FLAG_NO_OVERRIDE};
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 0);
    s.enabled = 1; /* on for every team */
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 1);
    s.override = 0; /* an override wins either way */
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 0);
    s = (struct ql_flag_state){"x", 0, 100, QL_FLAG_NO_OVERRIDE};
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 1);
    s.override = 0;
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 0);
    s = (struct ql_flag_state){"x", 0, 0, 1};
    ASSERT_INT_EQ(ql_flag_value(&s, &t), 1);
}

/* ---- use cases ------------------------------------------------------------------------------ */

struct world {
    struct fixture f;
    struct ql_principal operator, viewer, stranger;
    struct ql_membership m;
    struct ql_team team;
};

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fixture_init(&w->f);
    w->team = (struct ql_team){.id = team_n(1), .name = "T", .created_ms = T0, .updated_ms = T0};
    struct ql_uuid owner = team_n(99);
    ASSERT_INT_EQ(ql_store_teams_insert(&w->f.store.base, &w->f.cx, &w->team, &owner), QL_OK);
    w->operator=(struct ql_principal){.kind = QL_PRINCIPAL_OPERATOR, .via = QL_VIA_ADMIN};
    w->m = (struct ql_membership){w->team.id, QL_ROLE_VIEWER};
    w->viewer = (struct ql_principal){.kind = QL_PRINCIPAL_USER, .via = QL_VIA_BEARER};
    w->viewer.user_id = team_n(50);
    w->viewer.nteams = 1;
    w->viewer.teams = &w->m;
    w->stranger = w->viewer;
    w->stranger.user_id = team_n(51);
    w->stranger.nteams = 0;
    w->stranger.teams = NULL;
}

static void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static const char *last_action(struct world *w)
{
    return w->f.store.naudit ? w->f.store.audit[w->f.store.naudit - 1].e.action : "";
}

static void test_the_operator_manages_flags_and_each_change_is_audited(void)
{
    struct world w;
    setup(&w);
    as(&w, &w.operator);
    struct ql_flag f;
    int created;
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "new-editor", "The new editor", 0, 100, &f, &created),
                  QL_OK);
    ASSERT_INT_EQ(created, 1);
    ASSERT_STR_EQ(last_action(&w), "flag.create");
    ASSERT_STR_EQ(w.f.store.audit[w.f.store.naudit - 1].e.actor, "Operator");
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "new-editor", NULL, 0, 0, &f, &created), QL_OK);
    ASSERT_INT_EQ(created, 0);
    ASSERT_STR_EQ(f.description, "");
    ASSERT_STR_EQ(last_action(&w), "flag.update");
    struct ql_flag_team o;
    ASSERT_INT_EQ(ql_flags_team_put(&w.f.cx, "new-editor", &w.team.id, 1, &o, &created), QL_OK);
    ASSERT_STR_EQ(last_action(&w), "flag.team_set");
    ASSERT_INT_EQ(w.f.store.audit[w.f.store.naudit - 1].has_team, 1); /* the team's own chain */
    /* the viewer reads the team's values */
    as(&w, &w.viewer);
    struct ql_flag_value *v;
    int n;
    ASSERT_INT_EQ(ql_flags_for_team(&w.f.cx, &w.team.id, &v, &n), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_STR_EQ(v[0].key, "new-editor");
    ASSERT_INT_EQ(v[0].on, 1);
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_team_delete(&w.f.cx, "new-editor", &w.team.id), QL_OK);
    ASSERT_STR_EQ(last_action(&w), "flag.team_clear");
    ASSERT_INT_EQ(ql_flags_team_delete(&w.f.cx, "new-editor", &w.team.id), QL_ENOT_FOUND);
    as(&w, &w.viewer);
    ASSERT_INT_EQ(ql_flags_for_team(&w.f.cx, &w.team.id, &v, &n), QL_OK);
    ASSERT_INT_EQ(v[0].on, 0);
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_delete(&w.f.cx, "new-editor"), QL_OK);
    ASSERT_STR_EQ(last_action(&w), "flag.delete");
    ASSERT_INT_EQ(ql_flags_delete(&w.f.cx, "new-editor"), QL_ENOT_FOUND);
    ASSERT_STR_EQ(w.f.cx.err.msg, "No such flag.");
    fixture_cleanup(&w.f);
}

static void test_only_the_operator_changes_flags_and_only_members_read_them(void)
{
    struct world w;
    setup(&w);
    struct ql_flag f;
    struct ql_flag_team o;
    int created;
    as(&w, &w.viewer);
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "x", "", 1, 0, &f, &created), QL_EFORBIDDEN);
    as(&w, &w.viewer);
    ASSERT_INT_EQ(ql_flags_team_put(&w.f.cx, "x", &w.team.id, 1, &o, &created), QL_EFORBIDDEN);
    as(&w, NULL);
    ASSERT_INT_EQ(ql_flags_delete(&w.f.cx, "x"), QL_EUNAUTHENTICATED);
    struct ql_flag_value *v;
    int n;
    as(&w, &w.stranger);
    ASSERT_INT_EQ(ql_flags_for_team(&w.f.cx, &w.team.id, &v, &n), QL_ENOT_FOUND);
    ASSERT_INT_EQ(w.f.store.naudit, 0);
    fixture_cleanup(&w.f);
}

static void test_bad_input_is_refused_field_by_field(void)
{
    struct world w;
    setup(&w);
    struct ql_flag f;
    int created;
    static const char *bad[] = {
        "",       "Upper", "-lead",
        "sp ace", "a/b",   "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        as(&w, &w.operator);
        ASSERT_INT_EQ(ql_flags_put(&w.f.cx, bad[i], "", 1, 0, &f, &created), QL_EVALIDATION);
        ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "flagKey");
    }
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "ok.key_1-2", "", 1, 101, &f, &created), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "rolloutPercent");
    char longdesc[600];
    memset(longdesc, 'd', sizeof(longdesc) - 1);
    longdesc[sizeof(longdesc) - 1] = '\0';
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "ok", longdesc, 1, 0, &f, &created), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "description");
    /* an override of an unknown flag, or for an unknown team */
    struct ql_flag_team o;
    struct ql_uuid nobody = team_n(77);
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_team_put(&w.f.cx, "ghost", &w.team.id, 1, &o, &created), QL_ENOT_FOUND);
    ASSERT_STR_EQ(w.f.cx.err.msg, "No such flag.");
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "real", "", 1, 0, &f, &created), QL_OK);
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_team_put(&w.f.cx, "real", &nobody, 1, &o, &created), QL_ENOT_FOUND);
    ASSERT_STR_EQ(w.f.cx.err.msg, "No such team.");
    /* list cursors are keys */
    struct ql_flag *list;
    int n;
    const char *next;
    as(&w, &w.operator);
    ASSERT_INT_EQ(ql_flags_list(&w.f.cx, "Not A Key", 10, &list, &n, &next), QL_EVALIDATION);
    fixture_cleanup(&w.f);
}

static void test_a_failed_audit_takes_the_change_back(void)
{
    struct world w;
    setup(&w);
    struct ql_flag f;
    int created;
    as(&w, &w.operator);
    w.f.store.fail_call = 2; /* the flag's write, then the audit row fails */
    w.f.store.fail_code = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(ql_flags_put(&w.f.cx, "x", "", 1, 0, &f, &created), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(w.f.store.fail_hits, 1);
    ASSERT_INT_EQ(w.f.store.nflags, 0);
    as(&w, &w.operator);
    struct ql_flag *list;
    int n;
    const char *next;
    ASSERT_INT_EQ(ql_flags_list(&w.f.cx, NULL, 10, &list, &n, &next), QL_OK);
    ASSERT_INT_EQ(n, 0);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_buckets_are_stable_and_even),
        TEST(test_a_growing_rollout_keeps_its_teams),
        TEST(test_value_rules),
        TEST(test_the_operator_manages_flags_and_each_change_is_audited),
        TEST(test_only_the_operator_changes_flags_and_only_members_read_them),
        TEST(test_bad_input_is_refused_field_by_field),
        TEST(test_a_failed_audit_takes_the_change_back),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
