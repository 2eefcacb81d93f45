/*
 * test_sync_cache.c - delta pages answered again from memory (adapters/postgres/pagecache.c),
 * against the real PostgreSQL: a page read twice is read once, and every way a team can
 * change after its page was kept makes the next read of it give what the database holds
 * (an entry of the page updated or soft-deleted, another kind changed, a transaction that
 * was running when the page was read committing a lower position than later ones, the
 * floor raised past the cursor).  Each check compares the page with one read by a session
 * of a factory without the cache, so a stale page cannot pass.
 */
#include "arena/arena.h"
#include "changes/changes.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "integration/sync_world.h"
#include "postgres/pg.h"
#include "store/store.h"

/* A session reading the change pages of one team. */
struct reader {
    struct ql_db_session *db;
    struct ql_store *s;
    struct ql_arena arena;
    struct ql_ctx cx;
    struct ql_uuid team;
};

static struct ql_pg_db *cached_db, *plain_db;

static void reader_open(struct reader *rd, struct ql_pg_db *db, const struct ql_uuid *team)
{
    memset(rd, 0, sizeof(*rd));
    ASSERT_INT_EQ(ql_db_open(ql_pg_db_port(db), QL_DB_BLOCKING, 0, &rd->db), QL_OK);
    rd->s = ql_db_store(rd->db);
    rd->team = *team;
    ql_arena_init(&rd->arena, 0, 0);
    rd->cx.arena = &rd->arena;
    rd->cx.ports.store = rd->s;
}

static void reader_close(struct reader *rd)
{
    ql_arena_cleanup(&rd->arena);
    ql_db_session_destroy(rd->db);
}

/* The page after pos as text: each item's position, id, version, content or X, then flags.
 * keep: as the store's page takes it (0: a stream's read). */
static void page_text(struct reader *rd, const struct ql_change_pos *pos, int limit, int keep,
                      char *out, size_t cap)
{
    ql_arena_reset(&rd->arena);
    struct ql_change_page pg;
    ASSERT_INT_EQ(ql_store_changes_page(rd->s, &rd->cx, &rd->team, pos, limit, keep, &pg), QL_OK);
    size_t n = 0;
    for (int i = 0; i < pg.n && n < cap; i++) {
        const struct ql_sync_item *it = &pg.items[i];
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&it->id, id);
        n += (size_t)snprintf(out + n, cap - n, "%llu.%lld %c %s %d %.*s|",
                              (unsigned long long)it->pos.txid, (long long)it->pos.seq,
                              it->deleted ? 'X' : "?EPM"[it->kind & 3], id,
                              it -> entry ? it -> entry -> version : 0,
                              it -> entry ? (int)it -> entry -> content_n : 0,
                              it -> entry ? it -> entry -> content : "");
    }
    if (n < cap)
        snprintf(out + n, cap - n, "more=%d held=%d floor=%llu.%lld n=%d", pg.more, pg.held,
                 (unsigned long long)pg.floor.txid, (long long)pg.floor.seq, pg.n);
    ASSERT_TRUE(n < cap);
}

static struct ql_db_stats stats(void)
{
    return ql_db_stats(ql_pg_db_port(cached_db));
}

/*
 * Read the page through the cache; it must equal the page read without it.  hit: whether it
 * must have come from the cache (1), been read (0).
 */
static void same_page(struct reader *cached, struct reader *plain, const struct ql_change_pos *pos,
                      int limit, int hit)
{
    static char got[16384], want[16384];
    struct ql_db_stats before = stats();
    page_text(cached, pos, limit, 1, got, sizeof(got));
    struct ql_db_stats after = stats();
    page_text(plain, pos, limit, 1, want, sizeof(want));
    ASSERT_STR_EQ(got, want);
    ASSERT_INT_EQ(after.sync_page_hits - before.sync_page_hits, (uint64_t)hit);
    ASSERT_INT_EQ(after.sync_page_misses - before.sync_page_misses, (uint64_t)!hit);
}

struct world {
    char ts[QL_UUID_STR_LEN + 1];
    struct reader cached, plain;
    struct ql_change_pos start;
};

static void world_open(struct world *w, unsigned salt)
{
    struct ql_uuid team = fresh_row(salt, w->ts, 1);
    reader_open(&w->cached, cached_db, &team);
    reader_open(&w->plain, plain_db, &team);
    struct ql_change_pos floor;
    ASSERT_INT_EQ(ql_store_changes_bounds(w->plain.s, &w->plain.cx, &w->start, &floor), QL_OK);
    entries_in(w->ts, 12);
}

static void world_close(struct world *w)
{
    reader_close(&w->cached);
    reader_close(&w->plain);
}

/* The SQL of one write to team ts: fmt names the team once. */
static void write_sql(const char *fmt, const char *ts)
{
    team_sql(fmt, ts, 1);
}

#define UPDATE_ONE                                                                                 \
    "UPDATE journal_entries SET content = 'changed', version = version + 1, change_txid = "        \
    "pg_current_xact_id(), change_seq = nextval('changes_seq') WHERE journal_entry_id = (SELECT "  \
    "journal_entry_id FROM journal_entries WHERE team_id = '%s' ORDER BY change_txid, change_seq " \
    "OFFSET 2 LIMIT 1)"

/* Read the page twice, as the cache keeps a page the second time it is read. */
static void keep(struct world *w, int limit)
{
    same_page(&w->cached, &w->plain, &w->start, limit, 0);
    same_page(&w->cached, &w->plain, &w->start, limit, 0);
}

static void test_a_page_asked_for_again_is_kept(void)
{
    struct world w;
    world_open(&w, 300);
    same_page(&w.cached, &w.plain, &w.start, 5, 0); /* read once: not kept yet */
    same_page(&w.cached, &w.plain, &w.start, 5, 0); /* read again: kept */
    same_page(&w.cached, &w.plain, &w.start, 5, 1);
    same_page(&w.cached, &w.plain, &w.start, 5, 1);
    same_page(&w.cached, &w.plain, &w.start, 4, 0); /* another limit is another page */
    keep(&w, 50);                                   /* the whole feed: no more */
    same_page(&w.cached, &w.plain, &w.start, 50, 1);
    world_close(&w);
}

static void test_an_entry_of_the_page_changed_is_read_again(void)
{
    struct world w;
    world_open(&w, 301);
    keep(&w, 5);
    write_sql(UPDATE_ONE, w.ts);                    /* the third entry moves to the end */
    same_page(&w.cached, &w.plain, &w.start, 5, 0); /* read, and kept in its place */
    same_page(&w.cached, &w.plain, &w.start, 5, 1);
    write_sql("UPDATE journal_entries SET deleted_at = now(), change_txid = pg_current_xact_id(), "
              "change_seq = nextval('changes_seq') WHERE journal_entry_id = (SELECT "
              "journal_entry_id FROM journal_entries WHERE team_id = '%s' ORDER BY change_txid, "
              "change_seq LIMIT 1)",
              w.ts);
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    /* a new entry after the page moves nothing in it, but the page is read again */
    entries_in(w.ts, 1);
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    same_page(&w.cached, &w.plain, &w.start, 50, 0);
    entries_in(w.ts, 1);
    same_page(&w.cached, &w.plain, &w.start, 50, 0); /* the new one is in the whole feed */
    world_close(&w);
}

static void test_another_kind_changed_is_read_again(void)
{
    struct world w;
    world_open(&w, 302);
    keep(&w, 5);
    write_sql("INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at) "
              "VALUES (gen_random_uuid(), '%s', 'p', 'c', now(), now())",
              w.ts);
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    same_page(&w.cached, &w.plain, &w.start, 50, 0); /* reaches the prompt: never kept */
    same_page(&w.cached, &w.plain, &w.start, 50, 0);
    write_sql("WITH d AS (DELETE FROM journal_entries WHERE journal_entry_id = (SELECT "
              "journal_entry_id FROM journal_entries WHERE team_id = '%s' ORDER BY change_txid, "
              "change_seq LIMIT 1) RETURNING team_id, journal_entry_id) INSERT INTO "
              "sync_tombstones (team_id, kind, entity_id) SELECT team_id, 1, journal_entry_id "
              "FROM d",
              w.ts);
    same_page(&w.cached, &w.plain, &w.start, 5, 0); /* erased: the tombstone bumps the team */
    world_close(&w);
}

/*
 * A transaction that was running when the page was read (so the page's horizon lies at or
 * below its id) commits a change to an entry of the page after a newer transaction committed
 * one of its own: its position is lower than the newest, yet at or past the page's horizon.
 */
static void test_a_transaction_running_when_the_page_was_read_changes_it(void)
{
    struct world w;
    world_open(&w, 303);
    char sql[1024];
    snprintf(sql, sizeof(sql), UPDATE_ONE, w.ts);
    PGconn *old = connect_or_fail();
    exec_ok(old, "BEGIN; SELECT pg_current_xact_id()");
    keep(&w, 5); /* below old's id */
    same_page(&w.cached, &w.plain, &w.start, 5, 1);
    write_sql(UPDATE_ONE, w.ts); /* a newer transaction moves an entry of the page */
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    exec_ok(old, sql); /* then old moves one too, to a lower position than that one's */
    exec_ok(old, "COMMIT");
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    same_page(&w.cached, &w.plain, &w.start, 5, 1);

    /* Newer ids than a running transaction's, held back: positions at or past the page's
     * horizon, so the page is read every time until that horizon moves on (the check
     * cannot tell them from changes made since); each read keeps it in its place. */
    exec_ok(old, "BEGIN; SELECT pg_current_xact_id()");
    entries_in(w.ts, 2);
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    same_page(&w.cached, &w.plain, &w.start, 5, 0);
    exec_ok(old, "COMMIT");
    PQfinish(old);
    same_page(&w.cached, &w.plain, &w.start, 5, 0); /* the horizon moved on */
    same_page(&w.cached, &w.plain, &w.start, 5, 1); /* kept again */
    world_close(&w);
}

static void test_a_floor_raised_past_the_cursor_expires_a_kept_page(void)
{
    struct world w;
    world_open(&w, 304);
    keep(&w, 5);
    const char *got = itest_sql(url, "SELECT txid || ' ' || seq FROM change_floor");
    ASSERT_NOT_NULL(got);
    char old_floor[64], sql[512];
    snprintf(old_floor, sizeof(old_floor), "%s", got);
    snprintf(sql, sizeof(sql),
             "UPDATE change_floor SET txid = (SELECT max(change_txid) FROM journal_entries WHERE "
             "team_id = '%s'), seq = 0",
             w.ts);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    static char page[4096];
    page_text(&w.cached, &w.start, 5, 1, page, sizeof(page));
    snprintf(sql, sizeof(sql),
             "UPDATE change_floor SET txid = split_part('%s', ' ', 1)::xid8, "
             "seq = split_part('%s', ' ', 2)::int8",
             old_floor, old_floor);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    ASSERT_TRUE(strncmp(page, "more=0 held=0", 13) == 0); /* nothing: the cursor expired */
    same_page(&w.cached, &w.plain, &w.start, 5, 1);       /* the floor back: still kept */
    world_close(&w);
}

/* A live stream reads each position once: its reads neither use nor fill the cache. */
static void test_a_streams_reads_are_never_kept(void)
{
    struct world w;
    world_open(&w, 306);
    static char text[4096];
    struct ql_db_stats before = stats();
    for (int i = 0; i < 4; i++)
        page_text(&w.cached, &w.start, 5, 0, text, sizeof(text));
    struct ql_db_stats after = stats();
    ASSERT_INT_EQ(after.sync_page_hits, before.sync_page_hits);
    ASSERT_INT_EQ(after.sync_page_misses, before.sync_page_misses);
    ASSERT_INT_EQ(after.sync_page_bytes, before.sync_page_bytes);
    keep(&w, 5); /* a client's read of the same page is kept */
    same_page(&w.cached, &w.plain, &w.start, 5, 1);
    struct ql_db_stats kept = stats();
    page_text(&w.cached, &w.start, 5, 0, text, sizeof(text)); /* and a stream does not use it */
    ASSERT_INT_EQ(stats().sync_page_hits, kept.sync_page_hits);
    world_close(&w);
}

/* A cache smaller than two pages keeps the newest and evicts the older. */
static void test_the_cache_keeps_to_its_bytes(void)
{
    struct ql_pg_db *small;
    const struct ql_pg_db_config c = {
        .conninfo = url, .clock = ql_sysclock(), .sync_cache_bytes = 32 << 10};
    ASSERT_INT_EQ(ql_pg_db_create(&c, &small), QL_OK);
    struct world w;
    world_open(&w, 305);
    struct reader rd;
    struct ql_uuid team;
    ASSERT_INT_EQ(ql_uuid_parse(w.ts, strlen(w.ts), &team), QL_OK);
    reader_open(&rd, small, &team);
    char text[4096];
    for (int round = 0; round < 3; round++)
        for (int limit = 1; limit <= 12; limit++)
            page_text(&rd, &w.start, limit, 1, text, sizeof(text));
    struct ql_db_stats st = ql_db_stats(ql_pg_db_port(small));
    ASSERT_TRUE(st.sync_page_bytes > 0 && st.sync_page_bytes <= 32 << 10);
    ASSERT_INT_EQ(st.sync_page_hits + st.sync_page_misses, 36);
    ASSERT_TRUE(st.sync_page_misses > 12); /* 12 pages do not fit: some were read again */
    reader_close(&rd);
    world_close(&w);
    ql_pg_db_destroy(small);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    const struct ql_pg_db_config c = {
        .conninfo = url, .clock = ql_sysclock(), .sync_cache_bytes = 8 << 20};
    const struct ql_pg_db_config p = {.conninfo = url, .clock = ql_sysclock()};
    if (ql_pg_db_create(&c, &cached_db) != QL_OK || ql_pg_db_create(&p, &plain_db) != QL_OK) {
        printf("Bail out! cannot create the session factories\n");
        return 1;
    }
    static const struct ql_test tests[] = {
        TEST(test_a_page_asked_for_again_is_kept),
        TEST(test_an_entry_of_the_page_changed_is_read_again),
        TEST(test_another_kind_changed_is_read_again),
        TEST(test_a_transaction_running_when_the_page_was_read_changes_it),
        TEST(test_a_floor_raised_past_the_cursor_expires_a_kept_page),
        TEST(test_a_streams_reads_are_never_kept),
        TEST(test_the_cache_keeps_to_its_bytes),
    };
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    ql_pg_db_destroy(cached_db);
    ql_pg_db_destroy(plain_db);
    return rc;
}
