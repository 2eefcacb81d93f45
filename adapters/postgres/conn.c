/*
 * conn.c - one libpq session: lazy connection, reconnection with a retry floor, lazy
 * statement preparation and the mapping of libpq/SQLSTATE failures to Quill's codes.
 */
#include "internal.h"
#include "pg.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "uuid/uuid.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int ql_pg_create(const char *conninfo, struct ql_logger *log, struct ql_clock *clock,
                 struct ql_pg **out)
{
    *out = NULL;
    struct ql_pg *pg = calloc(1, sizeof(*pg));
    if (pg == NULL)
        return QL_ENOMEM;
    pg->conninfo = strdup(conninfo);
    if (pg->conninfo == NULL) {
        free(pg);
        return QL_ENOMEM;
    }
    pg->log = log;
    pg->clock = clock;
    ql__pg_store_init(pg);
    *out = pg;
    return QL_OK;
}

void ql_pg_destroy(struct ql_pg *pg)
{
    if (pg == NULL)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->conninfo);
    free(pg);
}

struct ql_store *ql_pg_store(struct ql_pg *pg)
{
    return &pg->store;
}

uint64_t ql_pg_error_count(const struct ql_pg *pg)
{
    return atomic_load_explicit(&pg->errors, memory_order_relaxed);
}

static void drop(struct ql_pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->in_tx = 0;
    memset(pg->prepared, 0, sizeof(pg->prepared));
}

int ql_pg_connect(struct ql_pg *pg, struct ql_error *err)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
        return QL_OK;
    int64_t now = ql_clock_mono_ns(pg->clock);
    if (now < pg->retry_after_ns)
        return ql_error_set(err, QL_EUNAVAILABLE, "database unreachable (retrying shortly)");
    drop(pg);
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {pg->conninfo, "3", "quill", NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        const char *why = pg->conn ? PQerrorMessage(pg->conn) : "out of memory";
        ql_error_set(err, QL_EUNAVAILABLE, "database connection failed: %s", why);
        pg->errors++;
        drop(pg);
        pg->retry_after_ns = now + (int64_t)QL_PG_RETRY_MS * 1000000;
        return QL_EUNAVAILABLE;
    }
    pg->retry_after_ns = 0;
    return QL_OK;
}

static int is_connection_state(const char *st)
{
    return st && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
                  strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}

int ql__pg_fail(struct ql_pg *pg, struct ql_ctx *cx, PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);
    int code;
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK || is_connection_state(st))
        code = QL_EUNAVAILABLE;
    else if (st && (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0))
        code = QL_ERETRY;
    else if (st && strcmp(st, "57014") == 0)
        code = QL_EUNAVAILABLE;
    else if (st && strncmp(st, "23", 2) == 0)
        code = QL_ECONFLICT;
    else if (st && strncmp(st, "22", 2) == 0)
        code = QL_EVALIDATION;
    else
        code = QL_EINTERNAL;
    pg->errors++;
    ql_error_set(&cx->err, code, "database: %s%s%s", st ? st : "", st ? " " : "",
                 msg && *msg ? msg : "no result");
    size_t n = strlen(cx->err.msg);
    while (n > 0 && (cx->err.msg[n - 1] == '\n' || cx->err.msg[n - 1] == ' '))
        cx->err.msg[--n] = '\0';
    if (code != QL_ECONFLICT && code != QL_EVALIDATION)
        ql_log(pg->log, QL_LOG_WARN, "database error", "error", cx->err.msg, "trace_id",
               cx->trace_id, NULL);
    if (code == QL_EUNAVAILABLE && pg->conn && PQstatus(pg->conn) != CONNECTION_OK)
        drop(pg);
    return code;
}

static int prepare(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st)
{
    const struct ql__pg_stmt_def *d = &ql__pg_stmts[st];
    PGresult *r = PQprepare(pg->conn, d->name, d->sql, d->nparams, NULL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        int rc = ql__pg_fail(pg, cx, r);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    pg->prepared[st] = 1;
    return QL_OK;
}

static int run(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p, PGresult **out)
{
    if (!pg->prepared[st]) {
        int rc = prepare(pg, cx, st);
        if (rc)
            return rc;
    }
    static const struct ql__pg_params none = {0};
    if (p == NULL)
        p = &none;
    PGresult *r =
        PQexecPrepared(pg->conn, ql__pg_stmts[st].name, p->n, p->values, p->lengths, p->formats, 1);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        int rc = ql__pg_fail(pg, cx, r);
        PQclear(r);
        return rc;
    }
    *out = r;
    return QL_OK;
}

int ql__pg_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, PGresult **out)
{
    *out = NULL;
    int fresh = 0, was_in_tx = pg->in_tx;
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        if (pg->in_tx) {
            drop(pg);
            return ql_error_set(&cx->err, QL_EUNAVAILABLE, "database connection lost");
        }
        int rc = ql_pg_connect(pg, &cx->err);
        if (rc)
            return rc;
        fresh = 1;
    }
    int rc = run(pg, cx, st, p, out);
    /*
     * A session whose server restarted only notices on its next statement.  Outside a
     * transaction, a statement that failed because the connection was gone is retried once
     * on a new connection; BEGIN and plain reads are safe to repeat, and nothing else runs
     * outside a transaction in this adapter.
     */
    if (rc == QL_EUNAVAILABLE && !fresh && !was_in_tx && st != QL__ST_COMMIT) {
        ql_error_clear(&cx->err);
        if (ql_pg_connect(pg, &cx->err) == QL_OK)
            rc = run(pg, cx, st, p, out);
        else
            rc = QL_EUNAVAILABLE;
    }
    return rc;
}

int64_t ql__pg_int8(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

int32_t ql__pg_int4(const PGresult *r, int row, int col)
{
    uint32_t v;
    memcpy(&v, PQgetvalue(r, row, col), 4);
    return (int32_t)ntohl(v);
}

int ql__pg_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] != 0;
}

/* PostgreSQL's binary timestamptz is microseconds since 2000-01-01T00:00:00Z. */
#define PG_EPOCH_MS INT64_C(946684800000)

int64_t ql__pg_ts_ms(const PGresult *r, int row, int col)
{
    int64_t us = ql__pg_int8(r, row, col);
    int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    return ms + PG_EPOCH_MS;
}

void ql__pg_uuid(const PGresult *r, int row, int col, struct ql_uuid *out)
{
    memcpy(out->b, PQgetvalue(r, row, col), 16);
}
