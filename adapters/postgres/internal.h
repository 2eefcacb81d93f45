/*
 * internal.h - shared between the files of the PostgreSQL adapter only.
 */
#ifndef QL_PG_INTERNAL_H
#define QL_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>

#include "clock/clock.h"
#include "store/store.h"

struct ql_ctx;
struct ql_error;
struct ql_logger;
struct ql_uuid;

/* Every prepared statement of the adapter; the SQL is in stmts.c. */
enum ql__pg_stmt {
    QL__ST_PING,
    QL__ST_SCHEMA_VERSION,
    QL__ST_BEGIN,
    QL__ST_COMMIT,
    QL__ST_ROLLBACK,
    QL__ST_COUNT
};

struct ql__pg_stmt_def {
    const char *name;
    const char *sql;
    int nparams;
};

extern const struct ql__pg_stmt_def ql__pg_stmts[QL__ST_COUNT];

struct ql_pg {
    struct ql_store store; /* the port; first so a store pointer is a session pointer */
    PGconn *conn;
    char *conninfo;
    struct ql_logger *log;
    struct ql_clock *clock;
    uint8_t prepared[QL__ST_COUNT];
    int in_tx;
    int64_t retry_after_ns;
    _Atomic uint64_t errors;
};

/* Parameters of one statement call: values with lengths and formats (1 = binary). */
struct ql__pg_params {
    int n;
    const char *values[16];
    int lengths[16];
    int formats[16];
};

/*
 * Run a prepared statement, preparing it first if this session has not yet.  Results
 * come back in binary.  On success *out holds the result (PQclear it); on failure *out is
 * NULL and the mapped code is returned with details in cx->err.msg.
 */
int ql__pg_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, PGresult **out);

/* Map a failed result (or a NULL result) to a QL_E* code; logs and counts it. */
int ql__pg_fail(struct ql_pg *pg, struct ql_ctx *cx, PGresult *res);

void ql__pg_store_init(struct ql_pg *pg);

/* Binary column readers. */
int64_t ql__pg_int8(const PGresult *r, int row, int col);
int32_t ql__pg_int4(const PGresult *r, int row, int col);
int ql__pg_bool(const PGresult *r, int row, int col);
/* timestamptz as ms since the Unix epoch. */
int64_t ql__pg_ts_ms(const PGresult *r, int row, int col);
void ql__pg_uuid(const PGresult *r, int row, int col, struct ql_uuid *out);

#endif
