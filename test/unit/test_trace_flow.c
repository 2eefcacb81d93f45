/*
 * Unit tests of how the trace context flows through the core's writes: a group commit's
 * changes each carry the context of the request that made them (not the leader's), and with
 * tracing off the change log carries none.  (The rest of the flow, from a change to its
 * webhook delivery and the post's traceparent, is in test_webhook.c.)
 */
#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "group/group.h"
#include "team/team.h"
#include "test.h"
#include "trace/trace.h"

/* A group whose waiting items stand for other threads' creations: the next join writes all. */
struct test_group {
    struct ql_group base;
    struct ql_group_item *waiting[4];
    int nwaiting;
};

static int tg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    struct test_group *g = (struct test_group *)self;
    struct ql_group_item *batch[5];
    int n = 0;
    for (int i = 0; i < g->nwaiting; i++)
        batch[n++] = g->waiting[i];
    batch[n++] = item;
    g->nwaiting = 0;
    write(cx, batch, n);
    return item->rc;
}

static const struct ql_group_ops tg_ops = {tg_join};

static void test_group_changes_carry_each_request_s_trace(void)
{
    struct fixture f;
    fixture_init(&f);
    struct ql_credentials c = {"own@example.com", 15, "correct horse battery", 21, "P", 1, NULL};
    struct ql_auth_result owner;
    struct ql_principal po;
    struct ql_team team;
    ASSERT_INT_EQ(ql_account_signup(&f.cx, &c, &owner), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, owner.session.token, 46, QL_VIA_BEARER, &po), QL_OK);
    f.cx.principal = &po;
    ASSERT_INT_EQ(ql_team_create(&f.cx, "T", 1, &team), QL_OK);
    fixture_next(&f);
    ASSERT_INT_EQ(ql_account_resolve(&f.cx, owner.session.token, 46, QL_VIA_BEARER, &po), QL_OK);

    struct fake_tracer t;
    fake_tracer_init(&t);
    struct test_group g = {.base = {&tg_ops}};
    /* another request's creation waits in the group, with its own recorded trace */
    struct ql_ctx peer = f.cx;
    peer.principal = &po;
    peer.ports.tracer = &t.base;
    memcpy(peer.trace_id, "fedcba9876543210fedcba9876543210", 33);
    memcpy(peer.span_id, "1111111111111111", 17);
    peer.trace_flags = QL_TRACE_SAMPLED;
    struct ql_entry e1, mine;
    memset(&e1, 0, sizeof(e1));
    ql_uuid7_from(&e1.id, T0, (const uint8_t[10]){1});
    e1.team_id = team.id;
    e1.has_author_user = 1;
    e1.author_user = owner.user.id;
    e1.content = "peer's";
    e1.content_n = 6;
    e1.version = 1;
    e1.created_ms = e1.updated_ms = T0;
    struct ql_group_item i1 = {.cx = &peer, .arg = &e1};
    g.waiting[g.nwaiting++] = &i1;
    /* this request leads the group; its trace is not sampled, and says so */
    f.cx.ports.group = &g.base;
    f.cx.ports.tracer = &t.base;
    memcpy(f.cx.span_id, "2222222222222222", 17);
    f.cx.trace_flags = 0;
    fixture_next(&f);
    f.cx.principal = &po;
    int changes = f.store.nchanges;
    struct ql_entry_input in = {"leader's", 8, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&f.cx, &team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(f.store.nchanges, changes + 2);
    int peers = 0, leaders = 0;
    for (int i = changes; i < changes + 2; i++) {
        const char *tp = f.store.changes[i].traceparent;
        peers += strcmp(tp, "00-fedcba9876543210fedcba9876543210-1111111111111111-01") == 0;
        leaders += strcmp(tp, "00-0123456789abcdef0123456789abcdef-2222222222222222-00") == 0;
    }
    ASSERT_INT_EQ(peers, 1);
    ASSERT_INT_EQ(leaders, 1);
    /* tracing off: the change log carries nothing */
    f.cx.ports.tracer = NULL;
    f.cx.ports.group = NULL;
    fixture_next(&f);
    f.cx.principal = &po;
    ASSERT_INT_EQ(ql_entry_create(&f.cx, &team.id, &in, &mine), QL_OK);
    ASSERT_STR_EQ(f.store.changes[f.store.nchanges - 1].traceparent, "");
    fixture_cleanup(&f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_group_changes_carry_each_request_s_trace),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
