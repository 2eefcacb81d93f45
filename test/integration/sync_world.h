/*
 * sync_world.h - what the sync tests share: the test database (url, set by main), fresh
 * ids, rows of users and teams made with SQL, and statements run on their own connections.
 * Included by one test program each (its functions are static).
 */
#ifndef QL_SYNC_WORLD_H
#define QL_SYNC_WORLD_H

#include "integration/itest.h"
#include "test.h"
#include "uuid/uuid.h"

#include <stdatomic.h>
#include <time.h>

static const char *url;

static inline int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A new user, or a new team with no member yet: its id, and in s its text. */
static inline struct ql_uuid fresh_row(unsigned salt, char *s, int team)
{
    char sql[512];
    struct ql_uuid id = itest_fresh_id(salt);
    ql_uuid_format(&id, s);
    if (team)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO teams (team_id, name, created_at, updated_at) VALUES ('%s', 'S', "
                 "now(), now())",
                 s);
    else
        snprintf(sql, sizeof(sql),
                 "INSERT INTO users (user_id, email, display_name, password_hash, created_at, "
                 "updated_at) VALUES ('%s', 'sync-%s@example.com', 'S', 'x', now(), now())",
                 s, s);
    ASSERT_NOT_NULL(itest_sql(url, sql));
    return id;
}

static inline PGconn *connect_or_fail(void)
{
    PGconn *c = PQconnectdb(url);
    ASSERT_TRUE(PQstatus(c) == CONNECTION_OK);
    return c;
}

static inline void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        printf("# %s: %s", sql, PQresultErrorMessage(r));
    ASSERT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
}

/* Run fmt (naming team ts once) n times, a transaction each: positions one after another. */
static inline void team_sql(const char *fmt, const char *ts, int n)
{
    char sql[512];
    snprintf(sql, sizeof(sql), fmt, ts);
    for (int i = 0; i < n; i++)
        ASSERT_NOT_NULL(itest_sql(url, sql));
}

static inline void entries_in(const char *ts, int n)
{
    team_sql("INSERT INTO journal_entries (journal_entry_id, team_id, content, created_at, "
             "updated_at) VALUES (gen_random_uuid(), '%s', 'e', now(), now())",
             ts, n);
}

#endif
