/*
 * Integration tests of an event loop's database session (adapters/postgres/pipe.c) against
 * a real PostgreSQL: reads pipelined on one connection and answered in order, nothing that
 * would wait, and a lost connection handing its reads back.  The tests drive the session
 * with poll(2) the way quill-api's loops drive it with libuv.
 */
#include "arena/arena.h"
#include "changes/changes.h"
#include "sysclock/sysclock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "itest.h"
#include "model/model.h"
#include "postgres/pg.h"
#include "store/store.h"
#include "uuid/uuid.h"
#include "test.h"

#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *url;

static const char *sqlf(const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return itest_sql(url, sql);
}

static struct ql_uuid uuid_of(const char *s)
{
    struct ql_uuid u;
    ASSERT_NOT_NULL(s);
    ASSERT_INT_EQ(ql_uuid_parse(s, strlen(s), &u), QL_OK);
    return u;
}

/* A team with a live entry per content and one deleted entry; ids into ids[0..n]. */
static struct ql_uuid team_with_entries(const char *const *contents, int n, struct ql_uuid *ids)
{
    struct ql_uuid team = uuid_of(sqlf("INSERT INTO teams (team_id, name, created_at, "
                                       "updated_at) VALUES (gen_random_uuid(), 't', now(), "
                                       "now()) RETURNING team_id"));
    char t[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&team, t);
    for (int i = 0; i <= n; i++)
        ids[i] = uuid_of(sqlf("INSERT INTO journal_entries (journal_entry_id, team_id, content, "
                              "created_at, updated_at, deleted_at) VALUES (gen_random_uuid(), "
                              "'%s', '%s', now(), now(), %s) RETURNING journal_entry_id",
                              t, i < n ? contents[i] : "gone", i < n ? "NULL" : "now()"));
    return team;
}

struct answer {
    int calls;
    int rc;
    struct ql_entry e;
    struct ql_ctx cx;
};

static void on_answer(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct answer *a = arg;
    a->calls++;
    a->rc = rc;
}

/* Ask for an entry; returns what get_async returned (0: on_answer runs later). */
static int ask(struct ql_db_session *pg, struct ql_arena *arena, const struct ql_uuid *team,
               const struct ql_uuid *id, struct answer *a)
{
    memset(a, 0, sizeof(*a));
    a->cx.arena = arena;
    return ql_store_entries_get_async(ql_db_store(pg), &a->cx, team, id, &a->e, on_answer, a);
}

/* Run the session until no read waits (0) or the connection is lost (-1); 5 s at most. */
static int drive(struct ql_db_session *pg)
{
    for (int turn = 0; turn < 500 && ql_pg_session_waiting(pg) > 0; turn++) {
        int more = ql_db_flush(pg);
        if (more < 0)
            return -1;
        struct pollfd p = {ql_db_fd(pg), (short)(POLLIN | (more ? POLLOUT : 0)), 0};
        if (poll(&p, 1, 10) > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) &&
            ql_db_input(pg) < 0)
            return -1;
    }
    return ql_pg_session_waiting(pg) == 0 ? 0 : -2;
}

static struct ql_db_session *loop_session(void)
{
    return itest_session(url, QL_DB_LOOP);
}

/* A loop session, connected. */
static struct ql_db_session *connected_loop_session(void)
{
    struct ql_db_session *pg = loop_session();
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_db_connect(pg, &err), QL_OK);
    return pg;
}

#define NREADS 60

static void test_reads_are_pipelined_and_answered_in_order(void)
{
    static const char *const contents[2] = {"one", "two \xe2\x9c\x93"};
    struct ql_uuid ids[3], missing;
    struct ql_uuid team = team_with_entries(contents, 2, ids);
    missing = ids[0];
    missing.b[15] ^= 0x5a;
    struct ql_db_session *pg = connected_loop_session();
    ASSERT_TRUE(ql_db_fd(pg) >= 0);
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    static struct answer a[NREADS];
    for (int i = 0; i < NREADS; i++)
        ASSERT_INT_EQ(
            ask(pg, &arena, &team, i % 4 == 3 ? &missing : &ids[i % 4 == 2 ? 2 : i % 2], &a[i]),
            QL_OK);
    /* all sent on the one connection, none answered before the loop reads */
    ASSERT_INT_EQ(ql_pg_session_waiting(pg), NREADS);
    for (int i = 0; i < NREADS; i++)
        ASSERT_INT_EQ(a[i].calls, 0);
    ASSERT_INT_EQ(drive(pg), 0);
    for (int i = 0; i < NREADS; i++) {
        ASSERT_INT_EQ(a[i].calls, 1);
        if (i % 4 >= 2) { /* the deleted entry and the missing one */
            ASSERT_INT_EQ(a[i].rc, QL_ENOT_FOUND);
            continue;
        }
        ASSERT_INT_EQ(a[i].rc, QL_OK);
        ASSERT_MEM_EQ(a[i].e.id.b, ids[i % 2].b, 16);
        ASSERT_MEM_EQ(a[i].e.team_id.b, team.b, 16);
        ASSERT_STR_EQ(a[i].e.content, contents[i % 2]);
        ASSERT_INT_EQ(a[i].e.version, 1);
    }
    /* the session stays usable for the next turn */
    ask(pg, &arena, &team, &ids[1], &a[0]);
    ASSERT_INT_EQ(drive(pg), 0);
    ASSERT_INT_EQ(a[0].rc, QL_OK);
    ASSERT_STR_EQ(a[0].e.content, contents[1]);
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

static void test_the_loop_session_never_waits(void)
{
    static const char *const contents[1] = {"x"};
    struct ql_uuid ids[2];
    struct ql_uuid team = team_with_entries(contents, 1, ids);
    struct ql_db_session *pg = loop_session();
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct answer a;
    /* not connected: refused at once, and the continuation never runs */
    ASSERT_INT_EQ(ask(pg, &arena, &team, &ids[0], &a), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(a.calls, 0);
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_db_connect(pg, &err), QL_OK);
    /* connected: every statement that would wait is refused without touching the socket */
    struct ql_ctx cx = {.arena = &arena};
    struct ql_store *s = ql_db_store(pg);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_EWOULD_BLOCK);
    uint8_t digest[QL_DIGEST_LEN] = {1};
    struct ql_principal p;
    ASSERT_INT_EQ(ql_store_principals_load(s, &cx, digest, &p), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(ql_store_sessions_touch(s, &cx, digest, 1), QL_EWOULD_BLOCK);
    struct ql_entry e;
    ASSERT_INT_EQ(ql_store_entries_get(s, &cx, &team, &ids[0], &e), QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(ql_pg_session_waiting(pg), 0);
    /* and the pipeline still works after the refusals */
    ask(pg, &arena, &team, &ids[0], &a);
    ASSERT_INT_EQ(drive(pg), 0);
    ASSERT_INT_EQ(a.rc, QL_OK);
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

static void test_lost_connection_hands_its_reads_back(void)
{
    static const char *const contents[1] = {"kept"};
    struct ql_uuid ids[2];
    struct ql_uuid team = team_with_entries(contents, 1, ids);
    struct ql_db_session *pg = connected_loop_session();
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct answer a[5];
    for (int i = 0; i < 5; i++)
        ask(pg, &arena, &team, &ids[0], &a[i]);
    /*
     * The server goes away before the turn ends, and its farewell (an error, then the end of
     * the stream) is waiting on the socket before the reads are sent into it.  Sending still
     * works (the kernel takes the bytes), reading gets the farewell before the end: every read
     * is answered "run it elsewhere", and only the next input finds the stream over.
     */
    uint64_t errors = ql_db_stats(ql_pg_db_port(itest_factory(url))).errors;
    ASSERT_NOT_NULL(sqlf("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                         "application_name = 'quill' AND datname = current_database()"));
    struct pollfd farewell = {ql_db_fd(pg), POLLIN, 0};
    ASSERT_INT_EQ(poll(&farewell, 1, 2000), 1);
    ASSERT_INT_EQ(drive(pg), 0);
    for (int i = 0; i < 5; i++) {
        ASSERT_INT_EQ(a[i].calls, 1);
        ASSERT_INT_EQ(a[i].rc, QL_EWOULD_BLOCK);
    }
    struct pollfd end = {ql_db_fd(pg), POLLIN, 0};
    ASSERT_INT_EQ(poll(&end, 1, 2000), 1);
    ASSERT_INT_EQ(ql_db_input(pg), -1);
    ql_db_disconnect(pg);
    for (int i = 0; i < 5; i++) {
        ASSERT_INT_EQ(a[i].calls, 1);
        ASSERT_INT_EQ(a[i].rc, QL_EWOULD_BLOCK);
    }
    ASSERT_INT_EQ(ql_db_fd(pg), -1);
    ASSERT_INT_EQ(ql_db_stats(ql_pg_db_port(itest_factory(url))).errors, errors + 1); /* the loss */
    /* a new connection serves again */
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_db_connect(pg, &err), QL_OK);
    ask(pg, &arena, &team, &ids[0], &a[0]);
    ASSERT_INT_EQ(drive(pg), 0);
    ASSERT_INT_EQ(a[0].rc, QL_OK);
    ASSERT_STR_EQ(a[0].e.content, "kept");
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

/*
 * A team whose prompt changed after a cursor: the page of entries before the prompt is still
 * answered on the loop (the loop asks where the prompt lies, changes_other_first, in the
 * same pipeline); a page that reaches it goes to the pool, which reads every kind.
 */
static void test_a_delta_page_before_a_prompt_change_stays_on_the_loop(void)
{
    static const char *const contents[3] = {"a", "b", "c"};
    struct ql_uuid ids[4];
    struct ql_uuid team = team_with_entries(contents, 3, ids);
    char t[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&team, t);
    ASSERT_NOT_NULL(sqlf("INSERT INTO prompts (prompt_id, team_id, text, category, created_at, "
                         "updated_at) VALUES (gen_random_uuid(), '%s', 'p', 'c', now(), now())",
                         t));
    struct ql_db_session *pg = connected_loop_session();
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    const char *first = sqlf("SELECT min(change_txid)::text FROM journal_entries WHERE team_id = "
                             "'%s'",
                             t);
    ASSERT_NOT_NULL(first);
    struct ql_change_pos from = {strtoull(first, NULL, 10) - 1, 0}; /* just before the team's */
    for (int limit = 2; limit <= 5; limit += 3) { /* 3 entries and a deleted one, then the prompt */
        struct answer a = {.cx.arena = &arena};
        struct ql_change_page page;
        ASSERT_INT_EQ(ql_store_changes_page_async(ql_db_store(pg), &a.cx, &team, &from, limit, 1,
                                                  &page, on_answer, &a),
                      QL_OK);
        ASSERT_INT_EQ(drive(pg), 0);
        ASSERT_INT_EQ(a.calls, 1);
        if (limit == 5) { /* reaches the prompt */
            ASSERT_INT_EQ(a.rc, QL_EWOULD_BLOCK);
            break;
        }
        ASSERT_INT_EQ(a.rc, QL_OK);
        ASSERT_TRUE(page.n == 2 && page.more);
        ASSERT_MEM_EQ(page.items[0].id.b, ids[0].b, 16);
        ASSERT_MEM_EQ(page.items[1].id.b, ids[1].b, 16);
    }
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_reads_are_pipelined_and_answered_in_order),
        TEST(test_the_loop_session_never_waits),
        TEST(test_lost_connection_hands_its_reads_back),
        TEST(test_a_delta_page_before_a_prompt_change_stays_on_the_loop),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
