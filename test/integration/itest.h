/*
 * itest.h - helpers for integration tests against a real PostgreSQL.  The database comes
 * from QUILL_TEST_DATABASE_URL; when it is unset the test fails loudly instead of skipping.
 */
#ifndef QL_ITEST_H
#define QL_ITEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
