/* Integration tests of the PostgreSQL session: round trips, transactions, reconnection. */
#include "sysclock/sysclock.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "itest.h"
#include "postgres/pg.h"
#include "arena/arena.h"
#include "model/model.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_security.h"
#include "uuid/uuid.h"
#include "test.h"

#include <time.h>
#include <unistd.h>

static const char *url;

static struct ql_db_session *session(void)
{
    struct ql_db_session *pg;
    pg = itest_session(url, QL_DB_BLOCKING);
    return pg;
}

static void test_ping_and_schema_version(void)
{
    struct ql_db_session *pg = session();
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(ql_db_store(pg), &cx), QL_OK);
    int64_t v = -1;
    ASSERT_INT_EQ(ql_store_schema_version(ql_db_store(pg), &cx, &v), QL_OK);
    const char *want = itest_sql(url, "SELECT coalesce(max(version),0) FROM schema_migrations");
    ASSERT_NOT_NULL(want);
    ASSERT_INT_EQ(v, atoll(want));
    ql_db_session_destroy(pg);
}

static void test_transactions(void)
{
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ql_store_rollback(s, &cx);
    ASSERT_INT_EQ(cx.err.code, 0);
    /* after a rollback the session is usable again */
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ql_db_session_destroy(pg);
}

/*
 * Idempotency: B looked for a record before A committed one, then takes the key's lock
 * after A committed and released it.  The lock must still refuse B (409 in progress; B's
 * retry replays A), or B would run the same request a second time.
 */
static void test_idempotency_lock_sees_a_record_committed_meanwhile(void)
{
    struct ql_db_session *a = session(), *b = session();
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    char key[64];
    struct timespec now; /* a key of its own: records outlive runs in the test database */
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(key, sizeof(key), "race-%lld-%ld-%d", (long long)now.tv_sec, now.tv_nsec,
             (int)getpid());
    struct ql_idem_record rec = {.status = 201,
                                 .sealed = (const uint8_t *)"sealed-bytes-here-0123456789012345",
                                 .sealed_n = 34,
                                 .created_ms = 1,
                                 .expires_ms = INT64_C(4102444800000)};
    ASSERT_INT_EQ(ql_store_begin(ql_db_store(a), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_db_store(a), &cx, "user:t", key), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(ql_db_store(a), &cx, "user:t", key, &rec), QL_OK);
    struct ql_idem_record got;
    ASSERT_INT_EQ(ql_store_idem_get(ql_db_store(b), &cx, "user:t", key, 2, &got), QL_ENOT_FOUND);
    ql_error_clear(&cx.err);
    /* while A holds the lock */
    ASSERT_INT_EQ(ql_store_begin(ql_db_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_db_store(b), &cx, "user:t", key), QL_EIDEM_IN_PROGRESS);
    ql_store_rollback(ql_db_store(b), &cx);
    ql_error_clear(&cx.err);
    ASSERT_INT_EQ(ql_store_commit(ql_db_store(a), &cx), QL_OK);
    /* after A committed: the lock is free, but the record says the request already ran */
    ASSERT_INT_EQ(ql_store_begin(ql_db_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_db_store(b), &cx, "user:t", key), QL_EIDEM_IN_PROGRESS);
    ql_store_rollback(ql_db_store(b), &cx);
    ql_error_clear(&cx.err);
    /* another key is free */
    ASSERT_INT_EQ(ql_store_begin(ql_db_store(b), &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_lock(ql_db_store(b), &cx, "user:t", "another-key"), QL_OK);
    ql_store_rollback(ql_db_store(b), &cx);
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(a);
    ql_db_session_destroy(b);
}

static void kill_sessions(void)
{
    ASSERT_NOT_NULL(itest_sql(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = 'quill' AND pid <> pg_backend_pid() "
                                   "AND datname = current_database()"));
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
}

/* A fresh UUIDv7 for rows of this run (the test database outlives runs in development). */
static void insert_team(const struct ql_uuid *id)
{
    char sql[256], s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(id, s);
    snprintf(sql, sizeof(sql),
             "INSERT INTO teams (team_id, name, created_at, updated_at) VALUES ('%s', 't', now(), "
             "now())",
             s);
    ASSERT_NOT_NULL(itest_sql(url, sql));
}

static const char *entry_content(const struct ql_uuid *id)
{
    char sql[160], s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(id, s);
    snprintf(sql, sizeof(sql), "SELECT content FROM journal_entries WHERE journal_entry_id = '%s'",
             s);
    return itest_sql(url, sql);
}

static void entry_in(struct ql_entry *e, const struct ql_uuid *team, const char *content)
{
    memset(e, 0, sizeof(*e));
    e->id = itest_fresh_id(0);
    e->team_id = *team;
    e->content = content;
    e->content_n = strlen(content);
    e->version = 1;
    e->created_ms = e->updated_ms = ql_uuid7_ms(&e->id);
}

/*
 * The group commit's statements: many entries, changes and audit rows, one statement per
 * table, in one transaction.  Content survives the array literals byte for byte, audit rows
 * chain in the order given, and a batch with one bad row leaves nothing behind.
 */
static void test_many_rows_in_one_statement_each(void)
{
    struct ql_uuid t1 = itest_fresh_id(0), t2 = itest_fresh_id(0), nowhere = itest_fresh_id(0);
    insert_team(&t1);
    insert_team(&t2);
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    static const char *contents[3] = {"quotes \" and \\ back\\slash, {braces} and commas", "NULL",
                                      "line\nbreak, tab\t, \xc3\xa9t\xc3\xa9 \xe2\x9c\x93"};
    struct ql_entry e[3];
    entry_in(&e[0], &t1, contents[0]);
    entry_in(&e[1], &t1, contents[1]);
    entry_in(&e[2], &t2, contents[2]);
    const struct ql_entry *es[3] = {&e[0], &e[1], &e[2]};
    const struct ql_uuid *teams[3] = {&t1, &t1, &t2};
    struct ql_audit_entry a[3];
    char targets[3][QL_UUID_STR_LEN + 1];
    for (int i = 0; i < 3; i++) {
        ql_uuid_format(&e[i].id, targets[i]);
        a[i] = (struct ql_audit_entry){
            itest_fresh_id(0), 0,         e[i].created_ms, "User:x", "journal_entry.create",
            "JournalEntry",    targets[i]};
    }
    char team1[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&t1, team1);
    const struct ql_uuid *ids[3] = {&e[0].id, &e[1].id, &e[2].id};
    const int events[3] = {QL_EVENT_ENTRY_CREATED, QL_EVENT_ENTRY_CREATED, QL_EVENT_ENTRY_CREATED};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert_many(s, &cx, es, 3), QL_OK);
    ASSERT_INT_EQ(ql_store_changes_append_many(s, &cx, teams, events, ids, NULL, 3), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append_many(s, &cx, teams, a, 3), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_OK);
    for (int i = 0; i < 3; i++)
        ASSERT_STR_EQ(entry_content(&e[i].id), contents[i]);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(target_id, ',' ORDER BY seq) FROM audit_log WHERE chain = "
             "'team:%s'",
             team1);
    char want[2 * QL_UUID_STR_LEN + 2];
    snprintf(want, sizeof(want), "%s,%s", targets[0], targets[1]);
    ASSERT_STR_EQ(itest_sql(url, sql), want);
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(entity_id::text, ',' ORDER BY seq) FROM changes WHERE team_id = "
             "'%s' AND event = %d",
             team1, QL_EVENT_ENTRY_CREATED);
    snprintf(want, sizeof(want), "%s,%s", targets[0], targets[1]);
    ASSERT_STR_EQ(itest_sql(url, sql), want); /* the changes, in the batch's order */
    struct ql_error err;
    ql_error_clear(&err);
    FILE *out = fopen("/dev/null", "w");
    ASSERT_INT_EQ(ql_pg_audit_verify(url, NULL, NULL, out, &err), QL_OK);
    fclose(out);

    /* One entry of a team that does not exist: the whole batch fails, nothing is written. */
    struct ql_entry ok, bad;
    entry_in(&ok, &t2, "fine");
    entry_in(&bad, &nowhere, "orphan");
    const struct ql_entry *batch[2] = {&ok, &bad};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert_many(s, &cx, batch, 2), QL_OK); /* deferred */
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_ECONFLICT); /* the foreign key, at COMMIT */
    ASSERT_INT_EQ(cx.err.code, QL_ECONFLICT);
    ql_error_clear(&cx.err);
    ql_store_rollback(s, &cx);
    char okid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&ok.id, okid);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM journal_entries WHERE journal_entry_id = '%s'",
             okid);
    ASSERT_STR_EQ(itest_sql(url, sql), "0");
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

static void test_reconnects_after_server_side_kill(void)
{
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    uint64_t errors = ql_db_stats(ql_pg_db_port(itest_factory(url))).errors;
    kill_sessions();
    /* outside a transaction the lost connection is replaced transparently; the loss counts */
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_db_stats(ql_pg_db_port(itest_factory(url))).errors, errors + 1);
    ql_db_session_destroy(pg);
}

/*
 * A configuration reload that changes a parameter the server reports to clients
 * (IntervalStyle): an idle session hears of it only with its next statement's answer, so
 * the poll of idle sessions before a statement does not take it for a lost connection.
 */
static void test_a_configuration_reload_is_not_a_lost_connection(void)
{
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    uint64_t errors = ql_db_stats(ql_pg_db_port(itest_factory(url))).errors;
    ASSERT_NOT_NULL(itest_sql(url, "ALTER SYSTEM SET IntervalStyle = 'iso_8601'"));
    ASSERT_NOT_NULL(itest_sql(url, "SELECT pg_reload_conf()"));
    usleep(300 * 1000); /* the reload reaches every backend */
    int rc = ql_store_ping(s, &cx);
    uint64_t after = ql_db_stats(ql_pg_db_port(itest_factory(url))).errors;
    ASSERT_NOT_NULL(itest_sql(url, "ALTER SYSTEM RESET IntervalStyle"));
    ASSERT_NOT_NULL(itest_sql(url, "SELECT pg_reload_conf()"));
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(after, errors);
    ql_db_session_destroy(pg);
}

static void test_lost_connection_inside_transaction_fails(void)
{
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    kill_sessions();
    ASSERT_INT_EQ(ql_store_commit(s, &cx), QL_EUNAVAILABLE);
    ql_store_rollback(s, &cx);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ql_db_session_destroy(pg);
}

static void test_unreachable_database_fails_fast(void)
{
    struct ql_db_session *pg =
        itest_session("postgresql://postgres@127.0.0.1:1/none", QL_DB_BLOCKING);
    struct ql_ctx cx = {0};
    ASSERT_INT_EQ(ql_store_ping(ql_db_store(pg), &cx), QL_EUNAVAILABLE);
    ASSERT_TRUE(strstr(cx.err.msg, "database connection failed") != NULL);
    /* within the retry floor the next call does not even try to connect */
    ASSERT_INT_EQ(ql_store_ping(ql_db_store(pg), &cx), QL_EUNAVAILABLE);
    ASSERT_TRUE(strstr(cx.err.msg, "retrying shortly") != NULL);
    ql_db_session_destroy(pg);
}

/*
 * A statement that waits past the statement timeout (here: on a row another connection
 * has locked) is cancelled and answers QL_EUNAVAILABLE, counted apart, and the session
 * goes on.
 */
/* A session of a factory of its own (*db) whose statements and idle transactions time out. */
static struct ql_db_session *timed_session(int statement_ms, int idle_tx_ms, struct ql_pg_db **db)
{
    const struct ql_pg_db_config cfg = {.conninfo = url,
                                        .clock = ql_sysclock(),
                                        .statement_timeout_ms = statement_ms,
                                        .idle_tx_timeout_ms = idle_tx_ms};
    ASSERT_INT_EQ(ql_pg_db_create(&cfg, db), QL_OK);
    struct ql_db_session *pg;
    ASSERT_INT_EQ(ql_db_open(ql_pg_db_port(*db), QL_DB_BLOCKING, 0, &pg), QL_OK);
    return pg;
}

/*
 * Two attempts at one account in the same millisecond, both refused: each takes its row back.
 * A forget must not pick a row another forget holds (it would wait for it, then delete
 * nothing): here a row of the key and time is held as a concurrent forget would hold it, and
 * the forget deletes the other one at once.  A short statement timeout stands for "at once".
 */
static void test_forgets_of_one_key_and_time_take_different_rows(void)
{
    struct ql_pg_db *db;
    struct ql_db_session *pg = timed_session(1000, 0, &db);
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    struct ql_uuid id = itest_fresh_id(0);
    char key[64], sql[160];
    ql_uuid_format(&id, key + snprintf(key, sizeof(key), "login:"));
    int64_t t = 1767225600123LL, oldest = 0;
    ASSERT_INT_EQ(ql_store_throttle_record_failure(s, &cx, key, t), QL_OK);
    ASSERT_INT_EQ(ql_store_throttle_record_failure(s, &cx, key, t), QL_OK);
    PGconn *holder = PQconnectdb(url);
    ASSERT_INT_EQ(PQstatus(holder), CONNECTION_OK);
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT 1 FROM login_failures WHERE email = '%s' LIMIT 1 FOR UPDATE", key);
    PQclear(PQexec(holder, sql));
    ASSERT_INT_EQ(ql_store_throttle_forget_failure(s, &cx, key, t), QL_OK);
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);
    int n = -1;
    ASSERT_INT_EQ(ql_store_throttle_failures(s, &cx, key, t - 1000, &n, &oldest), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(ql_store_throttle_clear_failures(s, &cx, key), QL_OK);
    ql_db_session_destroy(pg);
    ql_pg_db_destroy(db);
}

static void test_a_statement_past_its_timeout_is_cancelled(void)
{
    struct ql_pg_db *db;
    struct ql_db_session *pg = timed_session(200, 300, &db);
    struct ql_store *s = ql_db_store(pg);
    struct ql_ctx cx = {0};
    struct ql_uuid team = itest_fresh_id(0);
    insert_team(&team);
    char sql[256], t[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&team, t);
    PGconn *holder = PQconnectdb(url);
    ASSERT_INT_EQ(PQstatus(holder), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM teams WHERE team_id = '%s' FOR UPDATE", t);
    PQclear(PQexec(holder, sql));
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_INT_EQ(ql_store_teams_lock(s, &cx, &team), QL_EUNAVAILABLE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ql_store_rollback(s, &cx);
    ASSERT_TRUE(strstr(cx.err.msg, "57014") != NULL);
    struct ql_db_stats st = ql_db_stats(ql_pg_db_port(db));
    ASSERT_INT_EQ(st.timeouts, 1);
    ASSERT_INT_EQ(st.errors, 1);
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);
    /* the session goes on */
    ql_error_clear(&cx.err);
    ASSERT_INT_EQ(ql_store_ping(s, &cx), QL_OK);
    ql_db_session_destroy(pg);
    ql_pg_db_destroy(db);
}

/*
 * A team's lock orders its membership, key, webhook, prompt and settings changes; it must not
 * hold up the team's entries.  An entry's insert checks its team's row with a key-share lock,
 * which a team lock taken FOR UPDATE blocks: every group-commit batch carrying one of the
 * team's entries would then wait for an admin's transaction.  A short statement timeout
 * stands for "at once"; a second team lock still waits (and times out).
 */
static void test_a_team_lock_holds_up_team_changes_not_entries(void)
{
    struct ql_pg_db *ldb, *db;
    struct ql_db_session *locker = timed_session(1000, 0, &ldb);
    struct ql_db_session *pg = timed_session(1000, 0, &db);
    struct ql_store *ls = ql_db_store(locker), *s = ql_db_store(pg);
    struct ql_ctx lcx = {0}, cx = {0};
    struct ql_uuid team = itest_fresh_id(0);
    insert_team(&team);
    ASSERT_INT_EQ(ql_store_begin(ls, &lcx), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_lock(ls, &lcx, &team), QL_OK);
    struct ql_entry e = {.id = itest_fresh_id(0),
                         .team_id = team,
                         .content = "written meanwhile",
                         .content_n = 17,
                         .version = 1,
                         .created_ms = ql_clock_now_ms(ql_sysclock())};
    e.updated_ms = e.created_ms;
    ASSERT_INT_EQ(ql_store_entries_insert(s, &cx, &e), QL_OK);
    ASSERT_INT_EQ(ql_store_begin(s, &cx), QL_OK);
    ASSERT_INT_EQ(ql_store_teams_lock(s, &cx, &team), QL_EUNAVAILABLE);
    ql_store_rollback(s, &cx);
    ql_store_rollback(ls, &lcx);
    ql_db_session_destroy(pg);
    ql_pg_db_destroy(db);
    ql_db_session_destroy(locker);
    ql_pg_db_destroy(ldb);
}

/*
 * Consumers read the log in (txid, seq) order, numerically: a batch that ends where the
 * number of digits of txid grows (99, then 100) must not sort as text ("100" < "99"), or
 * its last change is not its highest and the next batch reads part of it again.
 */
static void test_consumer_read_orders_positions_as_numbers(void)
{
    struct ql_db_session *pg = session();
    struct ql_store *s = ql_db_store(pg);
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    struct ql_ctx cx = {.arena = &arena};
    /* Positions no transaction can have any more: the test's own, far below every other. */
    const char *team = "0190aaaa-0000-7000-8000-00000000c0de";
    char sql[512];
    snprintf(sql, sizeof(sql), "DELETE FROM changes WHERE team_id = '%s'", team); /* a rerun */
    ASSERT_NOT_NULL(itest_sql(url, sql));
    snprintf(sql, sizeof(sql),
             "INSERT INTO changes (team_id, txid, seq, kind, event, entity_id) SELECT '%s', "
             "t::text::xid8, t, 1, 1, gen_random_uuid() FROM generate_series(97, 101) AS t",
             team);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    uint64_t want[] = {98, 99, 100, 101};
    struct ql_change_pos pos = {97, 97};
    for (int i = 0; i < 4; i += 2) { /* two batches of two */
        struct ql_change *got = NULL;
        int n = 0;
        ASSERT_INT_EQ(ql_store_changes_consumer_read(s, &cx, &pos, 2, &got, &n), QL_OK);
        ASSERT_INT_EQ(n, 2);
        ASSERT_TRUE(got[0].pos.txid == want[i] && got[1].pos.txid == want[i + 1]);
        pos = got[1].pos;
    }
    snprintf(sql, sizeof(sql), "DELETE FROM changes WHERE team_id = '%s'", team);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    ql_arena_cleanup(&arena);
    ql_db_session_destroy(pg);
}

/*
 * The daily purge of soft-deleted rows: a prompt deleted long ago (below the change log's
 * floor) that an entry still refers to stays, even when that entry was deleted over 30 days
 * ago too but is still above the floor (a sync cursor may read it), so not purged yet.
 * Deleting the prompt then broke the entry's foreign key and failed the whole purge.
 */
static void test_purge_keeps_a_prompt_an_unpurged_entry_refers_to(void)
{
    struct ql_db_session *pg = session();
    struct ql_ctx cx = {0};
    char team[QL_UUID_STR_LEN + 1], prompt[QL_UUID_STR_LEN + 1], entry[QL_UUID_STR_LEN + 1];
    struct ql_uuid t = itest_fresh_id(0), p = itest_fresh_id(0), e = itest_fresh_id(0);
    ql_uuid_format(&t, team);
    ql_uuid_format(&p, prompt);
    ql_uuid_format(&e, entry);
    char sql[900], floor[64], left[16];
    const char *got = itest_sql(url, "SELECT txid FROM change_floor");
    ASSERT_NOT_NULL(got);
    snprintf(floor, sizeof(floor), "%s", got);
    snprintf(sql, sizeof(sql),
             "INSERT INTO teams VALUES ('%s', 'purge', now(), now());"
             "INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at, "
             "deleted_at, change_txid) VALUES ('%s', '%s', 'q', 'c', now() - interval '90 days', "
             "now() - interval '60 days', now() - interval '60 days', '0');"
             "INSERT INTO journal_entries (journal_entry_id, team_id, prompt_id, content, "
             "created_at, updated_at, deleted_at, change_txid) VALUES ('%s', '%s', '%s', 'a', "
             "now() - interval '80 days', now() - interval '40 days', now() - interval '40 days', "
             "'9000000000000000000')",
             team, prompt, team, entry, team, prompt);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    /* a floor above 0 for the purge, so that a change at txid 0 is below it; put back after */
    ASSERT_NOT_NULL(itest_sql(url, "UPDATE change_floor SET txid = '1' WHERE txid < '1'"));
    int64_t n = -1, now = ql_clock_now_ms(ql_sysclock());
    int rc = ql_store_maint_purge_deleted(ql_db_store(pg), &cx, now - 30 * 86400000LL, &n);
    snprintf(sql, sizeof(sql), "UPDATE change_floor SET txid = '%s'", floor);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM prompts WHERE prompt_id = '%s'", prompt);
    got = itest_sql(url, sql);
    snprintf(left, sizeof(left), "%s", got ? got : "?");
    snprintf(sql, sizeof(sql), "DELETE FROM teams WHERE team_id = '%s'", team);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_STR_EQ(left, "1");
    ql_db_session_destroy(pg);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_ping_and_schema_version),
        TEST(test_transactions),
        TEST(test_idempotency_lock_sees_a_record_committed_meanwhile),
        TEST(test_forgets_of_one_key_and_time_take_different_rows),
        TEST(test_many_rows_in_one_statement_each),
        TEST(test_reconnects_after_server_side_kill),
        TEST(test_a_configuration_reload_is_not_a_lost_connection),
        TEST(test_lost_connection_inside_transaction_fails),
        TEST(test_unreachable_database_fails_fast),
        TEST(test_a_statement_past_its_timeout_is_cancelled),
        TEST(test_a_team_lock_holds_up_team_changes_not_entries),
        TEST(test_consumer_read_orders_positions_as_numbers),
        TEST(test_purge_keeps_a_prompt_an_unpurged_entry_refers_to),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
