/*
 * store_contract_changes.c - the store contract's cases for the change log: appending in a
 * transaction, paging a team's changes with the current state of their things, where a
 * snapshot starts, live things for snapshots, and a consumer's position (store_contract.h).
 *
 * Another test may run a transaction beside these (the database is shared), and a change
 * behind a running transaction is held back: reads retry for a while when told so.
 */
#include "contract/store_contract.h"

#include "changes/changes.h"
#include "fakes/fakes.h"
#include "trace/trace.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct ql_entry entry_of(struct cc *c, const struct ql_team *t, const struct ql_user *by,
                                int64_t at, const char *content)
{
    struct ql_entry e = {.id = cc_id(), .team_id = t->id, .has_author_user = 1};
    e.author_user = by->id;
    e.content = content;
    e.content_n = strlen(content);
    e.version = 1;
    e.created_ms = e.updated_ms = c->now + at;
    return e;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A page of t's changes after pos, read again while changes are held (up to 5 s). */
static void page(struct cc *c, const struct ql_team *t, const struct ql_change_pos *pos, int limit,
                 struct ql_sync_item **items, int *n, int *more)
{
    struct ql_change_page pg = {.held = 1};
    for (int tries = 0; pg.held && tries < 500; tries++) {
        if (tries)
            nap_ms(10);
        ASSERT_INT_EQ(ql_store_changes_page(c->s, &c->cx, &t->id, pos, limit, 1, &pg), QL_OK);
        if (pg.n == limit && pg.more)
            break; /* a full page: what is held lies beyond it */
    }
    *items = pg.items;
    *n = pg.n;
    *more = pg.more;
    /* the page's bounds agree with it: its changes lie between the floor and the start */
    ASSERT_TRUE(ql_change_pos_cmp(&pg.floor, &pg.start) <= 0);
    for (int i = 0; i < pg.n; i++)
        ASSERT_TRUE(ql_change_pos_cmp(&pg.items[i].pos, &pg.start) < 0);
}

static void append_committed(struct cc *c, const struct ql_team *t, int event,
                             const struct ql_uuid *id)
{
    ASSERT_INT_EQ(ql_store_begin(c->s, &c->cx), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append(c->s, &c->cx, &t->id, event, id), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c->s, &c->cx), QL_OK);
}

/*
 * The positions of t's first n changes in the log after *after, read as a consumer reads
 * them (again while they are held).  Pages need not follow the log: PostgreSQL's read the
 * things themselves.
 */
static void log_positions(struct cc *c, const struct ql_team *t, const struct ql_change_pos *after,
                          struct ql_change_pos *out, int n)
{
    int got = 0;
    for (int tries = 0; got < n && tries < 500; tries++) {
        if (tries)
            nap_ms(10);
        struct ql_change *ch;
        int k;
        ASSERT_INT_EQ(ql_store_begin(c->s, &c->cx), QL_OK);
        ASSERT_INT_EQ(ql_store_changes_consumer_read(c->s, &c->cx, after, 10000, &ch, &k), QL_OK);
        got = 0;
        for (int i = 0; i < k && got < n; i++)
            if (memcmp(ch[i].team.b, t->id.b, 16) == 0)
                out[got++] = ch[i].pos;
        ql_store_rollback(c->s, &c->cx);
    }
    ASSERT_INT_EQ(got, n);
}

/* The index of the last item about id in items[0..n), or -1. */
static int last_about(const struct ql_sync_item *items, int n, const struct ql_uuid *id)
{
    int at = -1;
    for (int i = 0; i < n; i++)
        if (memcmp(items[i].id.b, id->b, 16) == 0)
            at = i;
    return at;
}

/*
 * The changes after a position come in commit order, each with its thing as it is now.
 * A store may give one item per change (the fake reads the log) or one per thing changed
 * since (PostgreSQL reads the things, migration 0017); either way, applying them in order
 * gives the state now: an entry written and deleted reads as a tombstone, a member as the
 * member.  Positions grow; limit and more page through them; a rolled-back write leaves
 * nothing; another team sees none of it.
 */
static void test_changes_page_in_order_with_current_state(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t = cc_team(&c, "T", &a), other = cc_team(&c, "O", &a);
    struct ql_change_pos start, floor;
    ASSERT_INT_EQ(ql_store_changes_bounds(c.s, &c.cx, &start, &floor), QL_OK);
    ASSERT_TRUE(ql_change_pos_cmp(&floor, &start) <= 0);
    struct ql_entry e1 = entry_of(&c, &t, &a, 0, "first"), e2 = entry_of(&c, &t, &a, 1, "gone");
    const struct ql_entry *both[2] = {&e1, &e2};
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert_many(c.s, &c.cx, both, 2), QL_OK);
    const struct ql_uuid *teams[2] = {&t.id, &t.id};
    const struct ql_uuid *ids[2] = {&e1.id, &e2.id};
    const int events[2] = {QL_EVENT_ENTRY_CREATED, QL_EVENT_ENTRY_CREATED};
    ASSERT_INT_EQ(ql_store_changes_append_many(c.s, &c.cx, teams, events, ids, NULL, 2), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t.id, &e2.id, c.now + 5), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append(c.s, &c.cx, &t.id, QL_EVENT_ENTRY_DELETED, &e2.id),
                  QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &t.id, &b.id, QL_ROLE_VIEWER, c.now), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append(c.s, &c.cx, &t.id, QL_EVENT_MEMBER_ADDED, &b.id), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    /* A transaction that rolls back leaves no change. */
    struct ql_entry e1b = e1;
    e1b.content = "never";
    e1b.content_n = 5;
    e1b.version = 2;
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_update(c.s, &c.cx, &e1b), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append(c.s, &c.cx, &t.id, QL_EVENT_ENTRY_UPDATED, &e1.id),
                  QL_OK);
    ql_store_rollback(c.s, &c.cx);

    struct ql_sync_item *items;
    int n, more;
    page(&c, &t, &start, 10, &items, &n, &more);
    ASSERT_INT_EQ(more, 0);
    ASSERT_TRUE(n >= 3);
    for (int i = 0; i < n; i++)
        ASSERT_TRUE(ql_change_pos_cmp(i ? &items[i - 1].pos : &start, &items[i].pos) < 0);
    int k1 = last_about(items, n, &e1.id), k2 = last_about(items, n, &e2.id);
    int kb = last_about(items, n, &b.id);
    ASSERT_TRUE(k1 >= 0 && k2 >= 0 && kb >= 0);
    ASSERT_INT_EQ(items[k1].kind, QL_CHANGE_ENTRY);
    ASSERT_INT_EQ(items[k1].deleted, 0);
    ASSERT_NOT_NULL(items[k1].entry);
    ASSERT_STR_EQ(items[k1].entry->content, "first");
    ASSERT_INT_EQ(items[k2].deleted, 1); /* created, but deleted since */
    ASSERT_NULL(items[k2].entry);
    ASSERT_INT_EQ(items[kb].kind, QL_CHANGE_MEMBER);
    ASSERT_NOT_NULL(items[kb].member);
    ASSERT_ID_EQ(&items[kb].member->user_id, &b.id);
    ASSERT_INT_EQ(items[kb].member->role, QL_ROLE_VIEWER);
    for (int i = 0; i < n; i++) /* nothing but these three */
        ASSERT_TRUE(memcmp(items[i].id.b, e1.id.b, 16) == 0 ||
                    memcmp(items[i].id.b, e2.id.b, 16) == 0 ||
                    memcmp(items[i].id.b, b.id.b, 16) == 0);
    /* Pages of two, each from the last position of the one before, give the same items. */
    struct ql_change_pos all[16], at = start;
    int total = n;
    for (int i = 0; i < n; i++)
        all[i] = items[i].pos;
    int seen = 0;
    do {
        page(&c, &t, &at, 2, &items, &n, &more);
        ASSERT_INT_EQ(more, seen + n < total);
        ASSERT_INT_EQ(n, more ? 2 : total - seen);
        for (int i = 0; i < n; i++)
            ASSERT_INT_EQ(ql_change_pos_cmp(&items[i].pos, &all[seen + i]), 0);
        seen += n;
        if (n)
            at = items[n - 1].pos;
    } while (more);
    ASSERT_INT_EQ(seen, total);
    page(&c, &t, &at, 2, &items, &n, &more);
    ASSERT_INT_EQ(n, 0);
    /* The other team sees only its own: nothing changed there. */
    page(&c, &other, &start, 10, &items, &n, &more);
    ASSERT_INT_EQ(n, 0);
    cc_close(&c);
}

/* What a snapshot taken now misses comes after its start; nothing before it is new. */
static void test_a_snapshot_start_comes_after_every_committed_change(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    append_committed(&c, &t, QL_EVENT_MEMBER_ADDED, &a.id);
    struct ql_sync_item *items;
    int n, more;
    struct ql_change_pos zero = {0, 0};
    page(&c, &t, &zero, 10, &items, &n, &more);
    ASSERT_INT_EQ(n, 1);
    struct ql_change_pos start, floor;
    ASSERT_INT_EQ(ql_store_changes_bounds(c.s, &c.cx, &start, &floor), QL_OK);
    ASSERT_TRUE(ql_change_pos_cmp(&items[0].pos, &start) < 0);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_members_set_role(c.s, &c.cx, &t.id, &a.id, QL_ROLE_ADMIN), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append(c.s, &c.cx, &t.id, QL_EVENT_MEMBER_CHANGED, &a.id),
                  QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    page(&c, &t, &start, 10, &items, &n, &more);
    ASSERT_INT_EQ(n, 1);
    ASSERT_TRUE(ql_change_pos_cmp(&start, &items[0].pos) < 0);
    cc_close(&c);
}

/* Live things for snapshots: entries newest first in keyset pages, members by id. */
static void test_live_things_page_in_keyset_order(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t = cc_team(&c, "T", &a);
    ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &t.id, &b.id, QL_ROLE_VIEWER, c.now), QL_OK);
    struct ql_entry e[3] = {entry_of(&c, &t, &a, 10, "old"), entry_of(&c, &t, &a, 30, "new"),
                            entry_of(&c, &t, &a, 20, "deleted")};
    for (int i = 0; i < 3; i++)
        ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[i]), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t.id, &e[2].id, c.now + 40), QL_OK);
    struct ql_sync_item *items;
    int n, more;
    ASSERT_INT_EQ(
        ql_store_changes_live(c.s, &c.cx, &t.id, QL_CHANGE_ENTRY, 0, NULL, 1, &items, &n, &more),
        QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&items[0].id, &e[1].id);
    ASSERT_STR_EQ(items[0].entry->content, "new");
    struct ql_uuid after = items[0].id;
    ASSERT_INT_EQ(ql_store_changes_live(c.s, &c.cx, &t.id, QL_CHANGE_ENTRY,
                                        items[0].entry->created_ms, &after, 5, &items, &n, &more),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&items[0].id, &e[0].id);
    ASSERT_INT_EQ(
        ql_store_changes_live(c.s, &c.cx, &t.id, QL_CHANGE_MEMBER, 0, NULL, 5, &items, &n, &more),
        QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_ID_EQ(&items[0].id, &a.id); /* a's id was made first: it sorts first */
    ASSERT_ID_EQ(&items[1].id, &b.id);
    ASSERT_INT_EQ(items[1].member->role, QL_ROLE_VIEWER);
    cc_close(&c);
}

/* The ids of items[0..n) are those of want[0..nwant). */
static void assert_ids(const struct ql_sync_item *items, int n, const struct ql_entry *const *want,
                       int nwant)
{
    ASSERT_INT_EQ(n, nwant);
    for (int i = 0; i < n && i < nwant; i++)
        ASSERT_ID_EQ(&items[i].id, &want[i]->id);
}

/*
 * Pages of entries end at QL_PAGE_CONTENT_MAX bytes of content as well as at their limit:
 * after the entry that reaches it (one that lands exactly on it ends the page too), with
 * more set, and at least one entry however large.  Delta pages (oldest first), snapshot
 * pages and lists (newest first) alike.
 */
static void test_pages_end_at_their_bytes_of_content(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_change_pos start, floor;
    ASSERT_INT_EQ(ql_store_changes_bounds(c.s, &c.cx, &start, &floor), QL_OK);
    static const size_t sizes[5] = {QL_PAGE_CONTENT_MAX - 10, 10, 5, 2000000, 3};
    struct ql_entry e[5];
    char *text[5];
    for (int i = 0; i < 5; i++) {
        text[i] = malloc(sizes[i] + 1);
        ASSERT_NOT_NULL(text[i]);
        memset(text[i], 'a' + i, sizes[i]);
        text[i][sizes[i]] = 0;
        e[i] = entry_of(&c, &t, &a, i + 1, text[i]);
        ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
        ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[i]), QL_OK);
        ASSERT_INT_EQ(ql_store_changes_append(c.s, &c.cx, &t.id, QL_EVENT_ENTRY_CREATED, &e[i].id),
                      QL_OK);
        ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    }
    struct ql_sync_item *items;
    int n, more;
    /* the deltas: e0 and e1 reach the bytes exactly, e2 and e3 pass them, e4 is the last */
    const struct ql_entry *d1[2] = {&e[0], &e[1]}, *d2[2] = {&e[2], &e[3]}, *d3[1] = {&e[4]};
    page(&c, &t, &start, 10, &items, &n, &more);
    assert_ids(items, n, d1, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_INT_EQ(items[1].entry->content_n, 10);
    struct ql_change_pos pos = items[1].pos;
    page(&c, &t, &pos, 10, &items, &n, &more);
    assert_ids(items, n, d2, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_INT_EQ(items[1].entry->content_n, 2000000);
    pos = items[1].pos;
    page(&c, &t, &pos, 10, &items, &n, &more);
    assert_ids(items, n, d3, 1);
    ASSERT_INT_EQ(more, 0);
    /* a snapshot's and a list's pages, newest first: e4 and e3 pass the bytes, then the rest */
    const struct ql_entry *s1[2] = {&e[4], &e[3]}, *s2[3] = {&e[2], &e[1], &e[0]};
    ASSERT_INT_EQ(
        ql_store_changes_live(c.s, &c.cx, &t.id, QL_CHANGE_ENTRY, 0, NULL, 10, &items, &n, &more),
        QL_OK);
    assert_ids(items, n, s1, 2);
    ASSERT_INT_EQ(more, 1);
    struct ql_uuid after = items[1].id;
    ASSERT_INT_EQ(ql_store_changes_live(c.s, &c.cx, &t.id, QL_CHANGE_ENTRY,
                                        items[1].entry->created_ms, &after, 10, &items, &n, &more),
                  QL_OK);
    assert_ids(items, n, s2, 3);
    ASSERT_INT_EQ(more, 0);
    ASSERT_MEM_EQ(items[2].entry->content, text[0], sizes[0]);
    struct ql_entry *listed;
    struct ql_entry_query q = {.limit = 10};
    ASSERT_INT_EQ(ql_store_entries_list(c.s, &c.cx, &t.id, &q, &listed, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&listed[1].id, &e[3].id);
    q.after_ms = listed[1].created_ms;
    q.after_id = &after;
    ASSERT_INT_EQ(ql_store_entries_list(c.s, &c.cx, &t.id, &q, &listed, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&listed[0].id, &e[2].id);
    for (int i = 0; i < 5; i++)
        free(text[i]);
    cc_close(&c);
}

/* A consumer's position: read it under its lock, read what follows, advance, read again. */
static void test_a_consumer_reads_from_its_position_and_advances(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_change_pos start, floor, pos[2];
    ASSERT_INT_EQ(ql_store_changes_bounds(c.s, &c.cx, &start, &floor), QL_OK);
    append_committed(&c, &t, QL_EVENT_MEMBER_ADDED, &a.id);
    append_committed(&c, &t, QL_EVENT_MEMBER_CHANGED, &a.id);
    log_positions(&c, &t, &start, pos, 2);
    struct ql_change_pos first = pos[0], second = pos[1];

    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    struct ql_change_pos at;
    ASSERT_INT_EQ(ql_store_changes_consumer_lock(c.s, &c.cx, "activity", &at), QL_OK);
    struct ql_change *ch;
    int k;
    /* Read every team's changes after the first of ours: ours is among them, in order. */
    ASSERT_INT_EQ(ql_store_changes_consumer_read(c.s, &c.cx, &first, 1000, &ch, &k), QL_OK);
    int found = -1;
    for (int i = 0; i < k && found < 0; i++)
        if (ql_change_pos_cmp(&ch[i].pos, &second) == 0)
            found = i;
    ASSERT_TRUE(found >= 0);
    ASSERT_ID_EQ(&ch[found].team, &t.id);
    ASSERT_ID_EQ(&ch[found].id, &a.id);
    ASSERT_INT_EQ(ch[found].event, QL_EVENT_MEMBER_CHANGED);
    for (int i = 1; i < k; i++)
        ASSERT_TRUE(ql_change_pos_cmp(&ch[i - 1].pos, &ch[i].pos) < 0);
    /*
     * The position moves only from where it was read: a stale "from" (another run moved it)
     * is a conflict and moves nothing.  Rolled back: other runs share this consumer.
     */
    struct ql_change_pos stale = {at.txid + 1, at.seq}, moved;
    CC_FAILS(&c, ql_store_changes_consumer_advance(c.s, &c.cx, "activity", &stale, &second),
             QL_ECONFLICT);
    ASSERT_INT_EQ(ql_store_changes_consumer_advance(c.s, &c.cx, "activity", &at, &second), QL_OK);
    ql_store_rollback(c.s, &c.cx);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_consumer_lock(c.s, &c.cx, "activity", &moved), QL_OK);
    ASSERT_INT_EQ(ql_change_pos_cmp(&moved, &at), 0);
    ql_store_rollback(c.s, &c.cx);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    CC_FAILS(&c, ql_store_changes_consumer_lock(c.s, &c.cx, "no-such-consumer", &at),
             QL_ENOT_FOUND);
    ql_store_rollback(c.s, &c.cx);
    cc_close(&c);
}

/*
 * A change carries the trace context of its write while tracing is on (a tracer in the
 * context), and in a batch the context given for each; consumers read it back.
 */
static void test_a_change_carries_the_trace_context_of_its_write(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct fake_tracer tracer;
    fake_tracer_init(&tracer);
    struct fake_clock clock;
    fake_clock_init(&clock, c.now);
    c.cx.ports.clock = &clock.base; /* spans are timed */
    memcpy(c.cx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", 33);
    memcpy(c.cx.span_id, "00f067aa0ba902b7", 17);
    c.cx.trace_flags = QL_TRACE_SAMPLED;
    struct ql_change_pos start, floor, pos[4];
    ASSERT_INT_EQ(ql_store_changes_bounds(c.s, &c.cx, &start, &floor), QL_OK);
    append_committed(&c, &t, QL_EVENT_MEMBER_ADDED, &a.id); /* tracing off: none */
    c.cx.ports.tracer = &tracer.base;
    append_committed(&c, &t, QL_EVENT_MEMBER_CHANGED, &a.id);
    const struct ql_uuid *teams[2] = {&t.id, &t.id}, *ids[2] = {&a.id, &a.id};
    const int events[2] = {QL_EVENT_MEMBER_CHANGED, QL_EVENT_MEMBER_CHANGED};
    const char *given[2] = {"00-11111111111111111111111111111111-2222222222222222-00", NULL};
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append_many(c.s, &c.cx, teams, events, ids, given, 2), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    c.cx.ports.tracer = NULL;
    log_positions(&c, &t, &start, pos, 4);
    struct ql_change_pos before = {pos[0].txid, pos[0].seq - 1};
    struct ql_change *ch;
    int k;
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_consumer_read(c.s, &c.cx, &before, 1000, &ch, &k), QL_OK);
    ql_store_rollback(c.s, &c.cx);
    const char *want[4] = {NULL, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                           given[0], NULL};
    int found = 0;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < 4; j++) {
            if (ql_change_pos_cmp(&ch[i].pos, &pos[j]) != 0)
                continue;
            found++;
            if (want[j])
                ASSERT_STR_EQ(ch[i].traceparent, want[j]);
            else
                ASSERT_NULL(ch[i].traceparent);
        }
    }
    ASSERT_INT_EQ(found, 4);
    /* against PostgreSQL, the writes were spans of the trace: the transactions' */
    for (int i = 0; i < tracer.n; i++) {
        ASSERT_STR_EQ(tracer.spans[i].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        ASSERT_STR_EQ(tracer.spans[i].parent_id, "00f067aa0ba902b7");
    }
    c.cx.ports.clock = NULL;
    cc_close(&c);
}

const struct ql_test contract_changes_tests[] = {
    TEST(test_changes_page_in_order_with_current_state),
    TEST(test_a_snapshot_start_comes_after_every_committed_change),
    TEST(test_live_things_page_in_keyset_order),
    TEST(test_pages_end_at_their_bytes_of_content),
    TEST(test_a_consumer_reads_from_its_position_and_advances),
    TEST(test_a_change_carries_the_trace_context_of_its_write),
};
const int contract_changes_ntests = QL_NTESTS(contract_changes_tests);
