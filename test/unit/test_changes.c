/*
 * test_changes.c - the change log's use cases over the fake store: delta sync and its
 * cursors, snapshots that continue as deltas, tombstones and expiry (the consumers:
 * test_consume.c).
 */
#include "b64/b64.h"
#include "changes_world.h"
#include "prompt/prompt.h"
#include "webhook/webhook.h"

#include <stdio.h>

/* ---- a client's replica: what it knows after applying pages -----------------------------------
 */

#define REPLICA_MAX 64

struct replica {
    int n;
    struct {
        int kind;
        struct ql_uuid id;
        int64_t version; /* entries: their version; others 0 */
    } rows[REPLICA_MAX];
};

static int find(const struct replica *r, int kind, const struct ql_uuid *id)
{
    for (int i = 0; i < r->n; i++)
        if (r->rows[i].kind == kind && memcmp(r->rows[i].id.b, id->b, 16) == 0)
            return i;
    return -1;
}

static void apply(struct replica *r, const struct ql_sync_page *pg)
{
    for (int i = 0; i < pg->n; i++) {
        const struct ql_sync_item *it = &pg->items[i];
        int at = find(r, it->kind, &it->id);
        if (it->deleted) {
            if (at >= 0)
                r->rows[at] = r->rows[--r->n];
            continue;
        }
        if (at < 0) {
            ASSERT_TRUE(r->n < REPLICA_MAX);
            at = r->n++;
        }
        r->rows[at].kind = it->kind;
        r->rows[at].id = it->id;
        r->rows[at].version = it->entry ? it->entry->version : 0;
    }
}

/* Read every page from since (NULL: a snapshot) into r; the last cursor into cursor. */
static void drain(struct world *w, const char *since, int limit, struct replica *r, char *cursor)
{
    char at[QL_SYNC_CURSOR_MAX];
    snprintf(at, sizeof(at), "%s", since ? since : "");
    for (int guard = 0; guard < 100; guard++) {
        struct ql_sync_page pg;
        ASSERT_INT_EQ(sync_page(w, at[0] ? at : NULL, limit, &pg), QL_OK);
        apply(r, &pg);
        snprintf(at, sizeof(at), "%s", pg.cursor);
        if (!pg.more)
            break;
    }
    snprintf(cursor, QL_SYNC_CURSOR_MAX, "%s", at);
}

static void assert_same(const struct replica *a, const struct replica *b)
{
    ASSERT_INT_EQ(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        int at = find(b, a->rows[i].kind, &a->rows[i].id);
        ASSERT_TRUE(at >= 0);
        ASSERT_INT_EQ(a->rows[i].version, b->rows[at].version);
    }
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_a_snapshot_holds_everything_live_and_continues_as_deltas(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e1 = write_entry(&w, "one");
    write_entry(&w, "two");
    write_entry(&w, "three");
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &e1.id, NULL, 0), QL_OK);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 2, &r, cursor); /* pages of two: entries, then prompts, then members */
    int entries = 0, members = 0;
    for (int i = 0; i < r.n; i++) {
        entries += r.rows[i].kind == QL_CHANGE_ENTRY;
        members += r.rows[i].kind == QL_CHANGE_MEMBER;
    }
    ASSERT_INT_EQ(entries, 2); /* the deleted one is not in a snapshot */
    ASSERT_INT_EQ(members, 2);
    ASSERT_INT_EQ(find(&r, QL_CHANGE_ENTRY, &e1.id), -1);
    /* The snapshot's last cursor reads what changed after it, and nothing before. */
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 0);
    ASSERT_INT_EQ(pg.more, 0);
    struct ql_entry e4 = write_entry(&w, "four");
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_INT_EQ(pg.items[0].kind, QL_CHANGE_ENTRY);
    ASSERT_MEM_EQ(pg.items[0].id.b, e4.id.b, 16);
    ASSERT_NOT_NULL(pg.items[0].entry);
    ASSERT_STR_EQ(pg.items[0].entry->content, "four");
    fixture_cleanup(&w.f);
}

static void test_deltas_bring_a_replica_to_the_live_state(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0}, fresh = {0};
    char cursor[QL_SYNC_CURSOR_MAX], ignored[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 3, &r, cursor);
    struct ql_entry a = write_entry(&w, "a");
    struct ql_entry b = write_entry(&w, "b");
    struct ql_entry_input in = {"a2", 2, 0, NULL, 0};
    struct ql_entry out;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &a.id, &in, NULL, 0, &out), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &b.id, NULL, 0), QL_OK);
    struct ql_prompt p;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_prompt_create(&w.f.cx, &w.team.id, "Why?", 4, "why", 3, &p), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_member_remove(&w.f.cx, &w.team.id, &w.viewer.user.id), QL_OK);
    /* the viewer is gone; the owner reads on */
    w.pv = w.po;
    drain(&w, cursor, 2, &r, cursor);
    drain(&w, NULL, 5, &fresh, ignored);
    assert_same(&r, &fresh);
    ASSERT_INT_EQ(r.rows[find(&r, QL_CHANGE_ENTRY, &a.id)].version, 2);
    ASSERT_INT_EQ(find(&r, QL_CHANGE_ENTRY, &b.id), -1);
    ASSERT_INT_EQ(find(&r, QL_CHANGE_MEMBER, &w.viewer.user.id), -1);
    ASSERT_TRUE(find(&r, QL_CHANGE_PROMPT, &p.id) >= 0);
    fixture_cleanup(&w.f);
}

static void test_a_change_to_a_thing_gone_since_reads_as_a_tombstone(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    struct ql_entry e = write_entry(&w, "short-lived");
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &e.id, NULL, 0), QL_OK);
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 2);
    for (int i = 0; i < 2; i++) { /* created, then deleted: both say it is gone now */
        ASSERT_INT_EQ(pg.items[i].deleted, 1);
        ASSERT_NULL(pg.items[i].entry);
        ASSERT_MEM_EQ(pg.items[i].id.b, e.id.b, 16);
    }
    ASSERT_TRUE(ql_change_pos_cmp(&pg.items[0].pos, &pg.items[1].pos) < 0);
    fixture_cleanup(&w.f);
}

static void test_limit_and_has_more_page_through_the_log(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    for (int i = 0; i < 5; i++)
        write_entry(&w, "x");
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 2, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 2);
    ASSERT_INT_EQ(pg.more, 1);
    char next[QL_SYNC_CURSOR_MAX];
    snprintf(next, sizeof(next), "%s", pg.cursor);
    ASSERT_INT_EQ(sync_page(&w, next, 3, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 3);
    ASSERT_INT_EQ(pg.more, 0);
    /* an empty page keeps the cursor where it was */
    snprintf(next, sizeof(next), "%s", pg.cursor);
    ASSERT_INT_EQ(sync_page(&w, next, 3, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 0);
    ASSERT_STR_EQ(pg.cursor, next);
    fixture_cleanup(&w.f);
}

static void test_committed_changes_behind_a_running_transaction_are_held(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    write_entry(&w, "visible");
    w.f.store.horizon = w.f.store.txno + 1; /* an older transaction is still running */
    write_entry(&w, "held");
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_INT_EQ(pg.held, 1);
    ASSERT_STR_EQ(pg.items[0].entry->content, "visible");
    char next[QL_SYNC_CURSOR_MAX];
    snprintf(next, sizeof(next), "%s", pg.cursor);
    w.f.store.horizon = 0; /* it ended */
    ASSERT_INT_EQ(sync_page(&w, next, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_INT_EQ(pg.held, 0);
    ASSERT_STR_EQ(pg.items[0].entry->content, "held");
    fixture_cleanup(&w.f);
}

static void test_cursors_are_checked(void)
{
    struct world w;
    setup(&w);
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, "not-a-cursor", 50, &pg), QL_EVALIDATION);
    ASSERT_INT_EQ(sync_page(&w, "AWQAAAAAAAAAAQ", 50, &pg), QL_EVALIDATION); /* too short */
    char forged[QL_SYNC_CURSOR_MAX];
    struct ql_change_pos pos = {5, -1};
    ql_sync_cursor(&pos, forged);
    ASSERT_INT_EQ(sync_page(&w, forged, 50, &pg), QL_EVALIDATION); /* negative seq */
    pos.seq = 3;
    ql_sync_cursor(&pos, forged);
    struct ql_change_pos back;
    ASSERT_INT_EQ(ql_sync_cursor_parse(&w.f.cx, forged, strlen(forged), &back), QL_OK);
    ASSERT_TRUE(back.txid == 5 && back.seq == 3);
    /* a snapshot cursor is not a stream position */
    char snap[QL_SYNC_CURSOR_MAX];
    write_entry(&w, "first"); /* the snapshot's first page ends inside the entries */
    write_entry(&w, "second");
    ASSERT_INT_EQ(sync_page(&w, NULL, 1, &pg), QL_OK);
    ASSERT_INT_EQ(pg.more, 1);
    snprintf(snap, sizeof(snap), "%s", pg.cursor);
    ASSERT_INT_EQ(ql_sync_cursor_parse(&w.f.cx, snap, strlen(snap), &back), QL_EVALIDATION);
    /* a snapshot's place whose entry time no entry can have: its 8 bytes after the kind */
    uint8_t raw[64];
    size_t len;
    ASSERT_INT_EQ(ql_b64_decode(snap, strlen(snap), raw, sizeof(raw), &len), QL_OK);
    ASSERT_INT_EQ(raw[10], QL_CHANGE_ENTRY);
    for (int fill = 0x7f; fill <= 0x80; fill++) { /* near INT64_MAX, then near INT64_MIN */
        memset(raw + 11, fill, 8);
        ql_b64_encode(raw, len, forged, 1);
        ASSERT_INT_EQ(sync_page(&w, forged, 50, &pg), QL_EVALIDATION);
        ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "since");
        ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "invalid_cursor");
    }
    /* each names where the client put it */
    ASSERT_INT_EQ(sync_page(&w, "x", 50, &pg), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "since");
    as(&w, &w.pv);
    ASSERT_INT_EQ(
        ql_sync_stream_start(&w.f.cx, &w.team.id, snap, strlen(snap), "Last-Event-ID", &back),
        QL_EVALIDATION);
    ASSERT_INT_EQ(w.f.cx.err.nfields, 1);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "Last-Event-ID");
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_sync_stream_start(&w.f.cx, &w.team.id, "x", 1, "since", &back),
                  QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "since");
    fixture_cleanup(&w.f);
}

static void test_only_members_read_a_teams_feed(void)
{
    struct world w;
    setup(&w);
    struct ql_sync_page pg;
    as(&w, &w.px);
    int rc = ql_sync(&w.f.cx, &w.team.id, NULL, 0, 50, &pg);
    ASSERT_TRUE(rc == QL_ENOT_FOUND || rc == QL_EFORBIDDEN);
    struct ql_change_pos pos;
    as(&w, &w.px);
    rc = ql_sync_stream_start(&w.f.cx, &w.team.id, NULL, 0, NULL, &pos);
    ASSERT_TRUE(rc == QL_ENOT_FOUND || rc == QL_EFORBIDDEN);
    as(&w, &w.pv); /* viewers may */
    ASSERT_INT_EQ(ql_sync_stream_start(&w.f.cx, &w.team.id, NULL, 0, NULL, &pos), QL_OK);
    fixture_cleanup(&w.f);
}

static void test_a_cursor_older_than_the_log_keeps_has_expired(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    write_entry(&w, "old");
    write_entry(&w, "old too");
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 1, &pg), QL_OK); /* a client one change in */
    char mid[QL_SYNC_CURSOR_MAX];
    snprintf(mid, sizeof(mid), "%s", pg.cursor);
    /* The activity consumer has read everything; a week passes; compaction runs. */
    int n;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
    w.f.clock.now_ms += 8 * 24 * 3600 * 1000LL;
    write_entry(&w, "new");
    int64_t gone;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_changes_compact(&w.f.cx, 7 * 24 * 3600 * 1000LL, 100, &gone), QL_OK);
    ASSERT_TRUE(gone >= 2);
    ASSERT_INT_EQ(sync_page(&w, mid, 50, &pg), QL_ECURSOR_EXPIRED);
    struct ql_change_pos pos;
    as(&w, &w.pv);
    ASSERT_INT_EQ(
        ql_sync_stream_start(&w.f.cx, &w.team.id, mid, strlen(mid), "Last-Event-ID", &pos),
        QL_ECURSOR_EXPIRED);
    /* a new snapshot works, and holds the new entry */
    struct replica fresh = {0};
    drain(&w, NULL, 50, &fresh, cursor);
    int entries = 0;
    for (int i = 0; i < fresh.n; i++)
        entries += fresh.rows[i].kind == QL_CHANGE_ENTRY;
    ASSERT_INT_EQ(entries, 3);
    fixture_cleanup(&w.f);
}

static void test_a_quiet_teams_cursor_keeps_up_with_the_log(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    /* another team of the owner is busy; this one is quiet, and its client reads on */
    struct ql_team other;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_team_create(&w.f.cx, "U", 1, &other), QL_OK);
    resolve(&w, &w.owner, &w.po);
    for (int i = 0; i < 3; i++) {
        struct ql_entry e;
        struct ql_entry_input in = {"busy", 4, 0, NULL, 0};
        as(&w, &w.po);
        ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &other.id, &in, &e), QL_OK);
    }
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 0);
    char polled[QL_SYNC_CURSOR_MAX];
    snprintf(polled, sizeof(polled), "%s", pg.cursor);
    int n;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "activity", 100, ql_activity_consume, &n), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_consume(&w.f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
    w.f.clock.now_ms += 8 * 24 * 3600 * 1000LL;
    int64_t gone;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_changes_compact(&w.f.cx, 7 * 24 * 3600 * 1000LL, 100, &gone), QL_OK);
    ASSERT_TRUE(gone >= 3);
    /* the cursor of a week ago has expired; the one of the last read has not */
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_ECURSOR_EXPIRED);
    ASSERT_INT_EQ(sync_page(&w, polled, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 0);
    struct ql_change_pos pos;
    as(&w, &w.pv);
    ASSERT_INT_EQ(
        ql_sync_stream_start(&w.f.cx, &w.team.id, polled, strlen(polled), "Last-Event-ID", &pos),
        QL_OK);
    /* and what the team writes next comes after it */
    struct ql_entry e = write_entry(&w, "at last");
    ASSERT_INT_EQ(sync_page(&w, polled, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_TRUE(memcmp(pg.items[0].id.b, e.id.b, 16) == 0);
    fixture_cleanup(&w.f);
}

static void test_team_events_are_for_webhooks_not_for_sync(void)
{
    struct world w;
    setup(&w);
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_change(&w.f.cx, &w.team.id, QL_EVENT_USAGE_ALERT, &w.team.id), QL_OK);
    ASSERT_INT_EQ(ql_change_kind_of(QL_EVENT_USAGE_ALERT), QL_CHANGE_TEAM);
    struct ql_sync_page pg;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 0);
    ASSERT_INT_EQ(pg.held, 0);
    write_entry(&w, "after");
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    fixture_cleanup(&w.f);
}

/*
 * A client's delta page may be asked for again, so the store may keep it; a live stream
 * reads each position once, so it may not (adapters/postgres/pagecache.c keeps pages).
 */
static int keep_seen;
static int (*page_of_fake)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                           const struct ql_change_pos *after, int limit, int keep,
                           struct ql_change_page *out);

static int page_noting_keep(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_change_pos *after, int limit, int keep,
                            struct ql_change_page *out)
{
    keep_seen = keep;
    return page_of_fake(self, cx, team, after, limit, keep, out);
}

static void test_clients_pages_may_be_kept_and_streams_reads_not(void)
{
    struct world w;
    setup(&w);
    struct ql_changes_ops ops = *w.f.store.ops.changes;
    page_of_fake = ops.page;
    ops.page = page_noting_keep;
    ops.page_async = NULL; /* through page */
    w.f.store.ops.changes = &ops;
    struct replica r = {0};
    char cursor[QL_SYNC_CURSOR_MAX];
    drain(&w, NULL, 50, &r, cursor);
    write_entry(&w, "one");
    struct ql_sync_page pg;
    keep_seen = -1;
    ASSERT_INT_EQ(sync_page(&w, cursor, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_INT_EQ(keep_seen, 1);
    struct ql_change_pos from;
    ASSERT_INT_EQ(ql_sync_cursor_parse(&w.f.cx, cursor, strlen(cursor), &from), QL_OK);
    keep_seen = -1;
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_sync_changes(&w.f.cx, &w.team.id, &from, 50, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 1);
    ASSERT_INT_EQ(keep_seen, 0);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_snapshot_holds_everything_live_and_continues_as_deltas),
        TEST(test_deltas_bring_a_replica_to_the_live_state),
        TEST(test_a_change_to_a_thing_gone_since_reads_as_a_tombstone),
        TEST(test_limit_and_has_more_page_through_the_log),
        TEST(test_committed_changes_behind_a_running_transaction_are_held),
        TEST(test_cursors_are_checked),
        TEST(test_only_members_read_a_teams_feed),
        TEST(test_a_cursor_older_than_the_log_keeps_has_expired),
        TEST(test_a_quiet_teams_cursor_keeps_up_with_the_log),
        TEST(test_team_events_are_for_webhooks_not_for_sync),
        TEST(test_clients_pages_may_be_kept_and_streams_reads_not),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
