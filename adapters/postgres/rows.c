/*
 * rows.c - running a statement for its rows: a page of a list, the first row, or none
 * (over ql__pg_exec of conn.c).
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"

int ql__pg_page(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, int limit, size_t size, ql__pg_row_fn read,
                void **rows, int *n, int *more)
{
    *rows = NULL;
    *n = 0;
    *more = 0;
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc)
        return rc;
    rc = ql__pg_page_fill(cx, r, limit, size, read, rows, n, more);
    PQclear(r);
    return rc;
}

int ql__pg_page_fill(struct ql_ctx *cx, const PGresult *r, int limit, size_t size,
                     ql__pg_row_fn read, void **rows, int *n, int *more)
{
    int rc = QL_OK;
    int got = PQntuples(r);
    *n = 0;
    *more = got > limit;
    if (got > limit)
        got = limit;
    char *out = ql_arena_calloc(cx->arena, (size_t)(got ? got : 1), size);
    if (out == NULL)
        rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    for (int i = 0; rc == QL_OK && i < got; i++, (*n)++)
        rc = read(cx, r, i, out + (size_t)i * size);
    if (rc == QL__PG_CUT) { /* QL__PG_LARGE goes back as it is */
        (*n)--;             /* the row that cut the page is not part of it */
        *more = 1;
        rc = QL_OK;
    }
    *rows = out;
    return rc;
}

int ql__pg_one(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p, ql__pg_row_fn read, void *dst)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) ? read(cx, r, 0, dst) : ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

int ql__pg_run(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    PQclear(r);
    return rc;
}

/* Run st with p; QL_ENOT_FOUND when it touched no row. */
int ql__pg_touch_one(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql__pg_params *p)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc)
        return rc;
    if (ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

const char *ql__pg_last_constraint(const struct ql_pg *pg)
{
    return pg->last_constraint;
}
