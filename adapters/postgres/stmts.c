/*
 * stmts.c - every SQL statement of the PostgreSQL adapter, in one table.  Statements are
 * prepared per session on first use and always take their input as parameters: no SQL
 * text is ever built from input.
 */
#include "internal.h"

const struct ql__pg_stmt_def ql__pg_stmts[QL__ST_COUNT] = {
    [QL__ST_PING] = {"ping", "SELECT 1", 0},
    [QL__ST_SCHEMA_VERSION] = {"schema_version",
                               "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations", 0},
    [QL__ST_BEGIN] = {"begin", "BEGIN", 0},
    [QL__ST_COMMIT] = {"commit", "COMMIT", 0},
    [QL__ST_ROLLBACK] = {"rollback", "ROLLBACK", 0},
};
