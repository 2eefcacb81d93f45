/*
 * Unit tests of ql_entry_create_async, the creation an event loop submits to the group
 * commit, against the fakes: what it refuses at once, what it hands to the group, and what
 * its continuation answers for each way the group's write can end.  The group here keeps
 * the submitted item; the test then writes it as a leader would, with a context of its own,
 * and runs the continuation as the caller's thread would.
 */
#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "group/group.h"
#include "team/team.h"
#include "tx/tx.h"
#include "test.h"

struct kept_group {
    struct ql_group base;
    struct ql_group_item *item;
    ql_group_write_fn write;
    int submits;
};

static int kg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    (void)self, (void)cx, (void)write;
    return item->rc = QL_ERETRY;
}

static int kg_submit(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                     ql_group_write_fn write, ql_done_fn then, void *arg)
{
    (void)cx;
    struct kept_group *g = (struct kept_group *)self;
    g->item = item;
    g->write = write;
    item->then = then;
    item->then_arg = arg;
    g->submits++;
    return QL_OK;
}

static const struct ql_group_ops kg_ops = {.join = kg_join, .submit = kg_submit};

struct world {
    struct fixture f;
    struct ql_auth_result owner;
    struct ql_principal po;
    struct ql_team team;
    struct kept_group g;
    struct ql_entry e;
    int done_calls, done_rc;
};

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fixture_init(&w->f);
    fixture_owner_team(&w->f, &w->owner, &w->po, &w->team);
    w->g.base.ops = &kg_ops;
    w->f.cx.ports.group = &w->g.base;
}

static void done(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct world *w = arg;
    w->done_calls++;
    w->done_rc = rc;
}

static int create(struct world *w, const char *content)
{
    struct ql_entry_input in = {content, strlen(content), 0, NULL, 0};
    return ql_entry_create_async(&w->f.cx, &w->team.id, &in, &w->e, done, w);
}

/* Write the kept item as a group's leader would: with a context of its own. */
static void lead(struct world *w)
{
    struct ql_ctx leader = w->f.cx;
    leader.principal = NULL;
    leader.tx = NULL;
    w->g.write(&leader, &w->g.item, 1);
}

static void then(struct world *w)
{
    struct ql_group_item *it = w->g.item;
    it->then(it->cx, it->rc, it->then_arg);
}

static void test_a_submitted_creation_is_written_by_the_leader(void)
{
    struct world w;
    setup(&w);
    int entries = w.f.store.nentries, audits = w.f.store.naudit, changes = w.f.store.nchanges;
    ASSERT_INT_EQ(create(&w, "from the loop"), QL_OK);
    ASSERT_INT_EQ(w.g.submits, 1);
    ASSERT_INT_EQ(w.f.store.nentries, entries); /* nothing yet: the leader writes */
    ASSERT_INT_EQ(w.done_calls, 0);
    lead(&w);
    ASSERT_INT_EQ(w.g.item->rc, QL_OK);
    then(&w);
    ASSERT_INT_EQ(w.done_calls, 1);
    ASSERT_INT_EQ(w.done_rc, QL_OK);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    ASSERT_MEM_EQ(w.f.store.entries[entries].e.id.b, w.e.id.b, 16);
    ASSERT_INT_EQ(w.f.store.nchanges, changes + 1);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    /* The audit row names the submitting request's principal, not the leader's (none). */
    char actor[64];
    ql_principal_actor(&w.po, actor, sizeof(actor));
    ASSERT_STR_EQ(w.f.store.audit[audits].e.actor, actor);
    ASSERT_TRUE(w.e.has_author_user);
    ASSERT_MEM_EQ(w.e.author_user.b, w.owner.user.id.b, 16);
    fixture_cleanup(&w.f);
}

static void test_what_cannot_be_submitted_is_refused_at_once(void)
{
    struct world w;
    setup(&w);
    int entries = w.f.store.nentries;
    /* Invalid: answered now, with the field named. */
    ASSERT_INT_EQ(create(&w, ""), QL_EVALIDATION);
    ASSERT_INT_EQ(w.g.submits, 0);
    /* Hooks (an idempotency record) need the request's own transaction. */
    struct ql_tx_hooks hooks = {0};
    fixture_next(&w.f);
    w.f.cx.principal = &w.po;
    w.f.cx.tx = &hooks;
    ASSERT_INT_EQ(create(&w, "keyed"), QL_EWOULD_BLOCK);
    w.f.cx.tx = NULL;
    /* No group port. */
    fixture_next(&w.f);
    w.f.cx.principal = &w.po;
    w.f.cx.ports.group = NULL;
    ASSERT_INT_EQ(create(&w, "alone"), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(w.g.submits, 0);
    ASSERT_INT_EQ(w.f.store.nentries, entries);
    ASSERT_INT_EQ(w.done_calls, 0);
    fixture_cleanup(&w.f);
}

static void test_a_group_that_did_not_commit_sends_it_where_it_may_wait(void)
{
    struct world w;
    setup(&w);
    int entries = w.f.store.nentries, audits = w.f.store.naudit;
    ASSERT_INT_EQ(create(&w, "rolled back"), QL_OK);
    w.f.store.fail_call = 3; /* the third store call of the group's transaction fails */
    lead(&w);
    ASSERT_INT_EQ(w.g.item->rc, QL_ERETRY);
    then(&w);
    ASSERT_INT_EQ(w.done_calls, 1);
    ASSERT_INT_EQ(w.done_rc, QL_EWOULD_BLOCK); /* ql_entry_create writes it, from the start */
    ASSERT_INT_EQ(w.f.store.nentries, entries);
    ASSERT_INT_EQ(w.f.store.naudit, audits);
    fixture_cleanup(&w.f);
}

static void test_a_group_whose_commit_is_unknown_says_so(void)
{
    struct world w;
    setup(&w);
    ASSERT_INT_EQ(create(&w, "lost"), QL_OK);
    w.g.item->rc = QL_EUNAVAILABLE; /* as settle() leaves it when nobody could tell */
    then(&w);
    ASSERT_INT_EQ(w.done_calls, 1);
    ASSERT_INT_EQ(w.done_rc, QL_EUNAVAILABLE);
    ASSERT_TRUE(strstr(w.f.cx.err.msg, "may have been written") != NULL);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_submitted_creation_is_written_by_the_leader),
        TEST(test_what_cannot_be_submitted_is_refused_at_once),
        TEST(test_a_group_that_did_not_commit_sends_it_where_it_may_wait),
        TEST(test_a_group_whose_commit_is_unknown_says_so),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
