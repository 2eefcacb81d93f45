/*
 * test_sync.c - delta sync under concurrent writers, against the real PostgreSQL.
 *
 * Writers create, update and delete journal entries of one team, each write with its
 * change in one transaction; some hold their transaction open for a while after writing,
 * so they commit after transactions that began later (their txid is older than changes
 * already committed).  Meanwhile a reader takes a snapshot and then pages with since,
 * applying every page to a replica.  When the writers are done and the reader has caught
 * up, the replica must equal a fresh snapshot, every change the team's log holds past the
 * snapshot must have been read, and no position may come twice.  Many rounds.
 */
#include "arena/arena.h"
#include "changes/changes.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "integration/sync_world.h"
#include "store/store.h"

#include <pthread.h>

#define ROUNDS 12
#define WRITERS 6
#define SLOW_WRITERS 2
#define WRITES 40 /* per writer and round */
#define MAX_ROWS (WRITERS * WRITES)

/* ---- writers -----------------------------------------------------------------------------------
 */

struct writer {
    pthread_t thread;
    int index;
    int slow; /* holds each transaction open a few ms after writing */
    struct ql_uuid team, user;
    struct ql_uuid own[WRITES]; /* its live entries */
    int nown;
    int64_t versions[WRITES];
    int failures;
};

/* One transaction: the write and its change; slow writers wait before COMMIT. */
static int write_one(struct writer *w, struct ql_store *s, struct ql_ctx *cx, unsigned *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    int op = w->nown == 0 ? 0 : (int)((*rng >> 16) % 3); /* 0 create, 1 update, 2 delete */
    int at = w->nown ? (int)((*rng >> 8) % (unsigned)w->nown) : 0;
    int64_t now = wall_ms();
    int rc = ql_store_begin(s, cx);
    struct ql_entry e = {.team_id = w->team, .has_author_user = 1, .author_user = w->user};
    char content[64];
    if (rc == QL_OK && op == 0) {
        e.id = itest_fresh_id((unsigned)w->index);
        snprintf(content, sizeof(content), "w%d created", w->index);
        e.content = content;
        e.content_n = strlen(content);
        e.version = 1;
        e.created_ms = e.updated_ms = now;
        rc = ql_store_entries_insert(s, cx, &e);
        if (rc == QL_OK)
            rc = ql_store_changes_append(s, cx, &w->team, QL_EVENT_ENTRY_CREATED, &e.id);
    } else if (rc == QL_OK && op == 1) {
        rc = ql_store_entries_lock(s, cx, &w->team, &w->own[at], &e);
        snprintf(content, sizeof(content), "w%d v%lld", w->index, (long long)e.version + 1);
        e.content = content;
        e.content_n = strlen(content);
        e.version++;
        e.updated_ms = now;
        if (rc == QL_OK)
            rc = ql_store_entries_update(s, cx, &e);
        if (rc == QL_OK)
            rc = ql_store_changes_append(s, cx, &w->team, QL_EVENT_ENTRY_UPDATED, &e.id);
    } else if (rc == QL_OK) {
        e.id = w->own[at];
        rc = ql_store_entries_remove(s, cx, &w->team, &e.id, now);
        if (rc == QL_OK)
            rc = ql_store_changes_append(s, cx, &w->team, QL_EVENT_ENTRY_DELETED, &e.id);
    }
    if (rc == QL_OK && w->slow)
        nap_ms(2 + (int)((*rng >> 4) % 15)); /* later transactions commit meanwhile */
    if (rc == QL_OK)
        rc = ql_store_commit(s, cx);
    else
        ql_store_rollback(s, cx);
    if (rc != QL_OK)
        return rc;
    if (op == 0) {
        w->own[w->nown] = e.id;
        w->versions[w->nown++] = 1;
    } else if (op == 1) {
        w->versions[at] = e.version;
    } else {
        w->own[at] = w->own[--w->nown];
        w->versions[at] = w->versions[w->nown];
    }
    return QL_OK;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ql_db_session *db = itest_session(url, QL_DB_BLOCKING);
    struct ql_store *s = ql_db_store(db);
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    unsigned rng = 0x9e3779b9u * (unsigned)(w->index + 1);
    for (int i = 0; i < WRITES; i++) {
        if (write_one(w, s, &cx, &rng) != QL_OK) {
            printf("# writer %d: %s\n", w->index, cx.err.msg);
            w->failures++;
            ql_error_clear(&cx.err);
        }
        ql_arena_reset(&arena);
    }
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(db);
    return NULL;
}

/* ---- the reader's replica -----------------------------------------------------------------------
 */

struct replica {
    int n;
    struct ql_uuid ids[MAX_ROWS];
    int64_t versions[MAX_ROWS];
    char contents[MAX_ROWS][64];
};

static int find(const struct replica *r, const struct ql_uuid *id)
{
    for (int i = 0; i < r->n; i++)
        if (memcmp(r->ids[i].b, id->b, 16) == 0)
            return i;
    return -1;
}

static void apply(struct replica *r, const struct ql_sync_page *pg)
{
    for (int i = 0; i < pg->n; i++) {
        const struct ql_sync_item *it = &pg->items[i];
        if (it->kind != QL_CHANGE_ENTRY)
            continue; /* members and global prompts: not what this test writes */
        int at = find(r, &it->id);
        if (it->deleted) {
            if (at >= 0) {
                r->n--;
                r->ids[at] = r->ids[r->n];
                r->versions[at] = r->versions[r->n];
                memcpy(r->contents[at], r->contents[r->n], sizeof(r->contents[0]));
            }
            continue;
        }
        if (at < 0)
            at = r->n++;
        r->ids[at] = it->id;
        r->versions[at] = it->entry->version;
        snprintf(r->contents[at], sizeof(r->contents[0]), "%.*s", (int)it->entry->content_n,
                 it->entry->content);
    }
}

struct reader {
    struct ql_store *s;
    struct ql_arena arena;
    struct ql_ctx cx;
    struct ql_principal p;
    struct ql_membership m;
    struct ql_uuid team;
    char cursor[QL_SYNC_CURSOR_MAX];
    struct ql_change_pos last; /* the newest position read as a delta */
    int deltas;                /* delta items read */
    int repeats;               /* positions read twice or out of order */
};

/* One page from the reader's cursor (a snapshot when it has none); returns the page. */
static void read_page(struct reader *rd, struct replica *r, int limit, struct ql_sync_page *pg,
                      int snapshot)
{
    ql_arena_reset(&rd->arena);
    ql_error_clear(&rd->cx.err);
    rd->cx.principal = &rd->p;
    const char *since = rd->cursor[0] ? rd->cursor : NULL;
    int rc = ql_sync(&rd->cx, &rd->team, since, since ? strlen(since) : 0, limit, pg);
    if (rc != QL_OK)
        printf("# sync: %d %s\n", rc, rd->cx.err.msg);
    ASSERT_INT_EQ(rc, QL_OK);
    for (int i = 0; !snapshot && i < pg->n; i++) {
        if (ql_change_pos_cmp(&pg->items[i].pos, &rd->last) <= 0)
            rd->repeats++;
        rd->last = pg->items[i].pos;
        rd->deltas++;
    }
    apply(r, pg);
    snprintf(rd->cursor, sizeof(rd->cursor), "%s", pg->cursor);
}

/* Page until the feed has nothing more, nothing held included. */
static void catch_up(struct reader *rd, struct replica *r, int snapshot)
{
    for (int guard = 0; guard < 10000; guard++) {
        struct ql_sync_page pg;
        read_page(rd, r, 7, &pg, snapshot);
        if (!pg.more && !pg.held)
            return;
        if (pg.held)
            nap_ms(1);
    }
    ASSERT_TRUE(!"the feed never settled");
}

/* ---- a round -----------------------------------------------------------------------------------
 */

static void round_once(int round)
{
    char sql[1024];
    char ts[QL_UUID_STR_LEN + 1], us[QL_UUID_STR_LEN + 1];
    struct ql_uuid team = fresh_row(200, ts, 1), user = fresh_row(201, us, 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ('%s', '%s', "
             "'owner', now())",
             ts, us);
    ASSERT_NOT_NULL(itest_sql(url, sql));

    struct ql_db_session *db = itest_session(url, QL_DB_BLOCKING);
    struct reader rd = {.s = ql_db_store(db), .team = team};
    ql_arena_init(&rd.arena, 0, 0);
    rd.cx.arena = &rd.arena;
    rd.cx.ports.store = rd.s;
    rd.m = (struct ql_membership){team, QL_ROLE_VIEWER};
    rd.p = (struct ql_principal){.kind = QL_PRINCIPAL_USER, .user_id = user, .nteams = 1};
    rd.p.teams = &rd.m;
    struct replica *r = calloc(1, sizeof(*r)), *fresh = calloc(1, sizeof(*fresh));
    ASSERT_NOT_NULL(r);
    ASSERT_NOT_NULL(fresh);

    /* Writers start; the reader takes its snapshot while they write. */
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.index = i, .slow = i < SLOW_WRITERS, .team = team, .user = user};
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    catch_up(&rd, r, 1);
    char snapshot_end[QL_SYNC_CURSOR_MAX];
    snprintf(snapshot_end, sizeof(snapshot_end), "%s", rd.cursor);
    for (int i = 0; i < 200; i++) { /* deltas while they write */
        struct ql_sync_page pg;
        read_page(&rd, r, 5, &pg, 0);
        if (!pg.more)
            nap_ms(1);
    }
    int failures = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
        failures += w[i].failures;
    }
    ASSERT_INT_EQ(failures, 0);
    catch_up(&rd, r, 0);
    ASSERT_INT_EQ(rd.repeats, 0);

    /* The replica is what a fresh snapshot holds, and what the writers left. */
    struct reader again = {.s = rd.s, .team = team, .m = rd.m, .p = rd.p};
    again.p.teams = &again.m;
    ql_arena_init(&again.arena, 0, 0);
    again.cx.arena = &again.arena;
    again.cx.ports.store = rd.s;
    catch_up(&again, fresh, 1);
    ql_arena_cleanup(&again.arena);
    int live = 0;
    for (int i = 0; i < WRITERS; i++) {
        live += w[i].nown;
        for (int k = 0; k < w[i].nown; k++) {
            int at = find(r, &w[i].own[k]);
            ASSERT_TRUE(at >= 0);
            ASSERT_INT_EQ(r->versions[at], w[i].versions[k]);
        }
    }
    ASSERT_INT_EQ(r->n, live);
    ASSERT_INT_EQ(fresh->n, live);
    for (int i = 0; i < fresh->n; i++) {
        int at = find(r, &fresh->ids[i]);
        ASSERT_TRUE(at >= 0);
        ASSERT_INT_EQ(r->versions[at], fresh->versions[i]);
        ASSERT_STR_EQ(r->contents[at], fresh->contents[i]);
    }
    /*
     * Past the snapshot's end, each entry changed since came at least once (at its last
     * change) and at most once per change logged: a page gives a thing once however often
     * it changed between two reads.
     */
    struct ql_change_pos from;
    ASSERT_INT_EQ(ql_sync_cursor_parse(&rd.cx, snapshot_end, strlen(snapshot_end), &from), QL_OK);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM changes WHERE team_id = '%s' AND (txid, seq) > "
             "('%llu'::xid8, %lld)) || ' ' || (SELECT count(*) FROM journal_entries WHERE team_id "
             "= '%s' AND (change_txid, change_seq) > ('%llu'::xid8, %lld))",
             ts, (unsigned long long)from.txid, (long long)from.seq, ts,
             (unsigned long long)from.txid, (long long)from.seq);
    const char *counts = itest_sql(url, sql);
    ASSERT_NOT_NULL(counts);
    int logged = 0, things = 0;
    ASSERT_INT_EQ(sscanf(counts, "%d %d", &logged, &things), 2);
    ASSERT_TRUE(things > 0);
    ASSERT_TRUE(rd.deltas >= things);
    ASSERT_TRUE(rd.deltas <= logged);
    if (round == 0)
        printf("# round 0: %d deltas read for %d things changed (%d changes), %d entries live\n",
               rd.deltas, things, logged, live);
    ql_arena_cleanup(&rd.arena);
    free(r);
    free(fresh);
    ql_db_session_destroy(db);
}

static void test_a_reader_paging_beside_writers_misses_and_repeats_nothing(void)
{
    for (int i = 0; i < ROUNDS; i++)
        round_once(i);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_a_reader_paging_beside_writers_misses_and_repeats_nothing),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
