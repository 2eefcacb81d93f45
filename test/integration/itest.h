/*
 * itest.h - helpers for integration tests against a real PostgreSQL.  The database comes
 * from QUILL_TEST_DATABASE_URL; when it is unset the test fails loudly instead of skipping.
 */
#ifndef QL_ITEST_H
#define QL_ITEST_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "postgres/pg.h"
#include "sysclock/sysclock.h"
#include "uuid/uuid.h"

static inline const char *itest_url(const char *var)
{
    const char *u = getenv(var);
    if (u == NULL || *u == '\0') {
        printf("Bail out! %s is not set: integration tests need a real PostgreSQL "
               "(run them through tools/quill test)\n",
               var);
        exit(1);
    }
    return u;
}

/*
 * A new uuid7 of now that no other call of this process or of another test process makes:
 * a counter (first, so the ids of one process follow each other within a millisecond), salt
 * (to tell kinds of ids apart when reading a failure), the process id and the clock's
 * nanoseconds in its random part.  Thread-safe.
 */
static inline struct ql_uuid itest_fresh_id(unsigned salt)
{
    static atomic_uint seq;
    unsigned n = atomic_fetch_add(&seq, 1), pid = (unsigned)getpid();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint8_t rnd[10] = {(uint8_t)(n >> 8),
                       (uint8_t)n,
                       0x80, /* the variant's byte */
                       (uint8_t)salt,
                       (uint8_t)(n >> 16),
                       (uint8_t)pid,
                       (uint8_t)(pid >> 8),
                       (uint8_t)ts.tv_nsec,
                       (uint8_t)(ts.tv_nsec >> 8),
                       (uint8_t)(ts.tv_nsec >> 16)};
    struct ql_uuid u;
    ql_uuid7_from(&u, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, rnd);
    return u;
}

/* Run sql on a fresh connection; returns the first value of the first row (static), or NULL. */
static inline const char *itest_sql(const char *url, const char *sql)
{
    static char out[1024];
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, sql);
    const char *ret = NULL;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
        ret = out;
    } else if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        out[0] = '\0';
        ret = out;
    } else {
        printf("# sql failed: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    PQfinish(c);
    return ret;
}

/*
 * What l (LISTENing) hears within wait_ms, into out: each notification as "payload,", or
 * as "channel:payload," when with_channel is set.
 */
static inline void itest_heard(PGconn *l, int wait_ms, int with_channel, char *out, size_t cap)
{
    out[0] = 0;
    for (int t = 0; t < wait_ms; t += 10) {
        usleep(10000);
        PQconsumeInput(l);
        PGnotify *n;
        while ((n = PQnotifies(l)) != NULL) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "%s%s%s,", with_channel ? n->relname : "",
                     with_channel ? ":" : "", n->extra);
            PQfreemem(n);
        }
    }
}

/*
 * The session factory of url for this test program: no notifications, no principal cache.
 * Made on first use and kept for the life of the process (reachable, so not a leak).
 */
static inline struct ql_pg_db *itest_factory(const char *url)
{
    static struct {
        const char *url;
        struct ql_pg_db *db;
    } made[4];
    for (int i = 0; i < 4; i++) {
        if (made[i].db && strcmp(made[i].url, url) == 0)
            return made[i].db;
        if (made[i].db == NULL) {
            /* with a delta page cache, as quill-api runs: every page read twice checks it */
            const struct ql_pg_db_config c = {
                .conninfo = url, .clock = ql_sysclock(), .sync_cache_bytes = 8 << 20};
            if (ql_pg_db_create(&c, &made[i].db) != 0) {
                printf("Bail out! cannot create a session factory\n");
                exit(1);
            }
            made[i].url = url;
            return made[i].db;
        }
    }
    printf("Bail out! too many session factories\n");
    exit(1);
}

/* A new session of kind on url; never NULL (bails out). */
static inline struct ql_db_session *itest_session(const char *url, enum ql_db_kind kind)
{
    struct ql_db_session *s;
    if (ql_db_open(ql_pg_db_port(itest_factory(url)), kind, 0, &s) != 0) {
        printf("Bail out! cannot open a session\n");
        exit(1);
    }
    return s;
}

#endif
