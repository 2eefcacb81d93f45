/*
 * Unit tests of entry creations whose COMMIT lost its answer (the connection failed after it
 * was sent): whether it landed is asked, not guessed, so a client whose entry is stored gets
 * it (201) instead of a 409 from writing it again, or a 503 for an entry that exists.
 */
#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "group/group.h"
#include "team/team.h"
#include "tx/tx.h"
#include "test.h"

#include <stddef.h>

struct world {
    struct fixture f;
    struct ql_auth_result owner;
    struct ql_principal po;
    struct ql_team team;
    int (*real_commit)(struct ql_store *self, struct ql_ctx *cx);
    int lose;      /* >0: the next COMMITs lose their answer (1: landed, 2: not landed) */
    int down_then; /* after losing the answer, the database stays away */
};

/* The fake's COMMIT, whose answer the connection loses. */
static int lossy_commit(struct ql_store *self, struct ql_ctx *cx)
{
    struct world *w = (struct world *)((char *)self - offsetof(struct fixture, store));
    if (w->lose == 0)
        return w->real_commit(self, cx);
    int landed = w->lose == 1;
    w->lose = 0;
    if (landed && w->real_commit(self, cx) != QL_OK)
        return cx->err.code;
    w->f.store.down = w->down_then;
    return ql_error_set(&cx->err, QL_EUNAVAILABLE, "database connection lost");
}

static void as(struct world *w)
{
    fixture_next(&w->f);
    w->f.cx.principal = &w->po;
}

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fixture_init(&w->f);
    fixture_owner_team(&w->f, &w->owner, &w->po, &w->team);
    w->real_commit = w->f.store.ops.commit;
    w->f.store.ops.commit = lossy_commit;
    as(w);
}

/* A group port whose next join writes `waiting` (another thread's creation) with its item. */
struct test_group {
    struct ql_group base;
    struct ql_group_item *waiting;
};

static int tg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    struct test_group *g = (struct test_group *)self;
    struct ql_group_item *batch[2] = {g->waiting, item};
    g->waiting = NULL;
    write(cx, batch[0] ? batch : batch + 1, batch[0] ? 2 : 1);
    return item->rc;
}

static const struct ql_group_ops tg_ops = {tg_join};

/* An entry another thread prepared, as ql_entry_create hands it to the group. */
static void peer_entry(struct world *w, struct ql_entry *e)
{
    memset(e, 0, sizeof(*e));
    ql_uuid7_from(&e->id, T0, (const uint8_t[10]){7});
    e->team_id = w->team.id;
    e->has_author_user = 1;
    e->author_user = w->owner.user.id;
    e->content = "peer";
    e->content_n = 4;
    e->version = 1;
    e->created_ms = e->updated_ms = T0;
}

/* A creation of another thread (e1 on the peer context), waiting in the group to be joined. */
struct grouped {
    struct test_group g;
    struct ql_ctx peer;
    struct ql_entry e1;
    struct ql_group_item i1;
};

static void grouped_setup(struct world *w, struct grouped *gr)
{
    memset(gr, 0, sizeof(*gr));
    gr->g.base.ops = &tg_ops;
    w->f.cx.ports.group = &gr->g.base;
    gr->peer = w->f.cx;
    peer_entry(w, &gr->e1);
    gr->i1.cx = &gr->peer;
    gr->i1.arg = &gr->e1;
    gr->g.waiting = &gr->i1;
}

static int stored(struct world *w, const struct ql_entry *e)
{
    int n = 0;
    for (int i = 0; i < w->f.store.nentries; i++)
        n += memcmp(w->f.store.entries[i].e.id.b, e->id.b, 16) == 0;
    return n;
}

/* The group's COMMIT landed: both callers have their entry, once; nobody writes it again. */
static void test_group_whose_commit_landed_answers_success(void)
{
    struct world w;
    setup(&w);
    struct grouped gr;
    grouped_setup(&w, &gr);
    struct ql_entry mine;
    int entries = w.f.store.nentries, audits = w.f.store.naudit;
    w.lose = 1;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(gr.i1.rc, QL_OK); /* its thread answers 201 with e1 */
    ASSERT_INT_EQ(w.f.store.nentries, entries + 2);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 2);
    ASSERT_INT_EQ(stored(&w, &mine), 1);
    ASSERT_INT_EQ(stored(&w, &gr.e1), 1);
    ASSERT_INT_EQ(w.f.cx.err.code, QL_OK);
    fixture_cleanup(&w.f);
}

/* The group's COMMIT did not land: each caller writes its entry again, alone. */
static void test_group_whose_commit_did_not_land_writes_each_alone(void)
{
    struct world w;
    setup(&w);
    struct grouped gr;
    grouped_setup(&w, &gr);
    struct ql_entry mine;
    int entries = w.f.store.nentries;
    w.lose = 2;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(gr.i1.rc, QL_ERETRY); /* its own thread writes it alone */
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    ASSERT_INT_EQ(stored(&w, &mine), 1);
    fixture_cleanup(&w.f);
}

/* Nobody can tell whether the group landed: 503 for each, and no write that could 409. */
static void test_group_in_doubt_answers_unavailable(void)
{
    struct world w;
    setup(&w);
    struct grouped gr;
    grouped_setup(&w, &gr);
    struct ql_entry mine;
    int entries = w.f.store.nentries;
    w.lose = 1;
    w.down_then = 1;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(gr.i1.rc, QL_EUNAVAILABLE);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 2); /* it did land */
    fixture_cleanup(&w.f);
}

/* An existence check that runs before the server finished the COMMIT: nothing is there yet. */
static int absent(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es, int n,
                  int *found)
{
    (void)self;
    (void)cx;
    (void)es;
    memset(found, 0, sizeof(*found) * (size_t)n);
    return QL_OK;
}

/*
 * The group's COMMIT landed but the check says "not stored" (it came too early): the lone
 * write meets the entry's own id and the client gets that entry (201), not a 409.
 */
static void test_group_checked_too_early_answers_success(void)
{
    struct world w;
    setup(&w);
    struct grouped gr;
    grouped_setup(&w, &gr);
    struct ql_entries_ops early = *w.f.store.ops.entries;
    early.exist_many = absent;
    w.f.store.ops.entries = &early;
    int entries = w.f.store.nentries;
    w.lose = 1;
    struct ql_entry mine;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(w.f.cx.err.code, QL_OK);
    ASSERT_INT_EQ(gr.i1.rc, QL_ERETRY); /* its thread writes it alone: the same answer */
    ASSERT_INT_EQ(w.f.store.nentries, entries + 2);
    ASSERT_INT_EQ(stored(&w, &mine), 1);
    ASSERT_INT_EQ(mine.content_n, 4);
    ASSERT_INT_EQ(memcmp(mine.content, "mine", 4), 0);
    ASSERT_INT_EQ(mine.version, 1);
    fixture_cleanup(&w.f);
}

static int no_hook(struct ql_ctx *cx, void *ud)
{
    (void)cx;
    (void)ud;
    return QL_OK;
}

/* A lone creation (with an idempotency record's hooks) whose COMMIT landed: 201, recorded. */
static void test_lone_creation_whose_commit_landed_answers_success(void)
{
    struct world w;
    setup(&w);
    struct ql_tx_hooks hooks = {no_hook, no_hook, NULL, 0};
    w.f.cx.tx = &hooks;
    int entries = w.f.store.nentries;
    w.lose = 1;
    struct ql_entry mine;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(hooks.committed, 1);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    ASSERT_INT_EQ(stored(&w, &mine), 1);
    /* one that did not land stays a 503 */
    as(&w);
    w.f.cx.tx = NULL;
    w.lose = 2;
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    fixture_cleanup(&w.f);
}

/*
 * A lone creation (with an idempotency record's hooks) whose COMMIT landed, but whose check
 * says "not stored" (it came too early): writing its id again, rolled back, meets its own
 * entry, and the client gets it (201), recorded, not a 503.
 */
static void test_lone_creation_checked_too_early_answers_success(void)
{
    struct world w;
    setup(&w);
    struct ql_tx_hooks hooks = {no_hook, no_hook, NULL, 0};
    w.f.cx.tx = &hooks;
    struct ql_entries_ops early = *w.f.store.ops.entries;
    early.exist_many = absent;
    w.f.store.ops.entries = &early;
    int entries = w.f.store.nentries;
    w.lose = 1;
    struct ql_entry mine;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(w.f.cx.err.code, QL_OK);
    ASSERT_INT_EQ(hooks.committed, 1);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    ASSERT_INT_EQ(stored(&w, &mine), 1);
    ASSERT_INT_EQ(mine.content_n, 4);
    ASSERT_INT_EQ(memcmp(mine.content, "mine", 4), 0);
    /* one that did not land stays a 503, and the write that asked left nothing behind */
    as(&w);
    hooks.committed = 0;
    w.lose = 2;
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(hooks.committed, 0);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_group_whose_commit_landed_answers_success),
        TEST(test_group_whose_commit_did_not_land_writes_each_alone),
        TEST(test_group_in_doubt_answers_unavailable),
        TEST(test_group_checked_too_early_answers_success),
        TEST(test_lone_creation_whose_commit_landed_answers_success),
        TEST(test_lone_creation_checked_too_early_answers_success),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
