/*
 * pipe.c - the session of an event loop: it never waits.
 *
 * An HTTP loop that answers a read itself saves the two thread hand-offs of the pool and,
 * more, lets one connection carry the reads of many requests: they are sent in libpq's
 * pipeline mode as they come, one sync point per turn of the loop, and PostgreSQL answers
 * them with one read and one write of its socket for the lot instead of one each.
 *
 * Such a session is a struct ql_pg with loop set.  Its store answers principals from the
 * cache (the cache is consulted before any statement), entry and profile reads and delta
 * pages of the change log through ql__pg_read_async and pages of entries through
 * ql__pg_page_async; every statement that would wait fails at once with QL_EWOULD_BLOCK
 * (conn.c), and the caller runs the request again on the pool.  The connection is opened
 * by a blocking call, made off the loop, and then driven by the loop (see pg.h).
 *
 * Reads live in their caller's arena and are answered in the order they were sent, which
 * is the order of the results.  A read whose statement failed, or that was aborted with its
 * pipeline, is answered QL_EWOULD_BLOCK: the pool runs the request again and reports the
 * error properly.
 */
#include "internal.h"
#include "pg.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"

#include <string.h>

/* More reads than this waiting on one connection: the rest go to the pool. */
#define MAX_READS 1024

/* The statements a loop session may run: prepared when it connects. */
static const enum ql__pg_stmt loop_stmts[] = {
    QL__ST_ENTRY_GET,
    QL__ST_USER_PROFILE,
    QL__ST_ENTRY_LIST,
    QL__ST_ENTRY_LIST_AUTHOR,
    QL__ST_ENTRY_LIST_PROMPT,
    QL__ST_ENTRY_LIST_BOTH,
    QL__ST_CHANGES_PAGE_ENTRIES,
    QL__ST_CHANGES_OTHER_FIRST,
};

struct ql__pg_read {
    struct ql__pg_read *next;
    struct ql_ctx *cx;
    ql__pg_row_fn read;
    void *dst;
    ql_done_fn done;
    void *arg;
    int rc;
    int answered; /* its result came; done runs at the NULL that ends it */
    enum ql__pg_stmt st;
    int64_t start_ns; /* when it was sent (its span's start) */
    /* A page (ql__pg_page_async): every row up to limit, not the first. */
    int page, limit;
    size_t size;
    void **rows;
    int *n, *more;
};

int ql__pg_loop_connect(struct ql_pg *pg, struct ql_error *err)
{
    /* Through PgBouncer 1.18 a pipeline may not span transactions (sync points): a loop
     * session connects directly (ql__pg_connect), or its reads all go to the pool. */
    if (pg->db->unnamed && pg->db->loop_conninfo == NULL)
        return ql_error_set(err, QL_EUNAVAILABLE, "no loop sessions through a pooler");
    int rc = ql__pg_connect(pg, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(loop_stmts) / sizeof(loop_stmts[0]); i++) {
        const struct ql__pg_stmt_def *d = &ql__pg_stmts[loop_stmts[i]];
        PGresult *r = PQprepare(pg->conn, d->name, d->sql, d->nparams, NULL);
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            ql_error_set(err, QL_EUNAVAILABLE, "cannot prepare %s: %s", d->name,
                         PQerrorMessage(pg->conn));
        PQclear(r);
        if (!ok) {
            ql__pg_loop_close(pg);
            return QL_EUNAVAILABLE;
        }
        pg->prepared[loop_stmts[i]] = 1;
    }
    if (PQsetnonblocking(pg->conn, 1) != 0 || PQenterPipelineMode(pg->conn) != 1) {
        ql_error_set(err, QL_EUNAVAILABLE, "cannot enter pipeline mode: %s",
                     PQerrorMessage(pg->conn));
        ql__pg_loop_close(pg);
        return QL_EUNAVAILABLE;
    }
    return QL_OK;
}

int ql__pg_loop_fd(struct ql_pg *pg)
{
    return pg->conn ? PQsocket(pg->conn) : -1;
}

int ql_pg_session_waiting(struct ql_db_session *s)
{
    const struct ql_pg *pg = (const struct ql_pg *)((char *)s - offsetof(struct ql_pg, session));
    return pg->nreads;
}

/*
 * Send st in the pipeline and queue its read, answered through read and done; NULL (and
 * nothing sent) when the session cannot take it.
 */
static struct ql__pg_read *send_read(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                                     const struct ql__pg_params *p, ql__pg_row_fn read,
                                     ql_done_fn done, void *arg)
{
    struct ql__pg_read *rd = NULL;
    if (pg->conn && pg->prepared[st] && pg->nreads < MAX_READS)
        rd = ql_arena_calloc(cx->arena, 1, sizeof(*rd));
    if (rd == NULL || PQsendQueryPrepared(pg->conn, ql__pg_stmts[st].name, p->n, p->values,
                                          p->lengths, p->formats, 1) != 1)
        return NULL;
    rd->cx = cx;
    rd->st = st;
    rd->read = read;
    rd->done = done;
    rd->arg = arg;
    if (ql_trace_on(cx))
        rd->start_ns = ql_clock_mono_ns(cx->ports.clock);
    if (pg->reads_tail)
        pg->reads_tail->next = rd;
    else
        pg->reads = rd;
    pg->reads_tail = rd;
    pg->nreads++;
    pg->unsynced = 1;
    return rd;
}

int ql__pg_read_async(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                      const struct ql__pg_params *p, ql__pg_row_fn read, void *dst, ql_done_fn done,
                      void *arg)
{
    if (!pg->loop)
        return ql_ctx_defer(cx, done, ql__pg_one(pg, cx, st, p, read, dst), arg);
    struct ql__pg_read *rd = send_read(pg, cx, st, p, read, done, arg);
    if (rd == NULL)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the loop's session cannot take it");
    rd->dst = dst;
    return QL_OK;
}

int ql__pg_page_async(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                      const struct ql__pg_params *p, int limit, size_t size, ql__pg_row_fn read,
                      void **rows, int *n, int *more, ql_done_fn done, void *arg)
{
    if (!pg->loop)
        return ql_ctx_defer(cx, done, ql__pg_page(pg, cx, st, p, limit, size, read, rows, n, more),
                            arg);
    *rows = NULL;
    *n = *more = 0;
    struct ql__pg_read *rd = send_read(pg, cx, st, p, read, done, arg);
    if (rd == NULL)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the loop's session cannot take it");
    rd->page = 1;
    rd->limit = limit;
    rd->size = size;
    rd->rows = rows;
    rd->n = n;
    rd->more = more;
    return QL_OK;
}

static int lost(struct ql_pg *pg)
{
    ql__pg_count_error(pg);
    ql_log(pg->log, QL_LOG_WARN, "the event loop lost its database connection", "error",
           pg->conn ? PQerrorMessage(pg->conn) : "not connected", NULL);
    return -1;
}

int ql__pg_loop_flush(struct ql_pg *pg)
{
    if (pg->conn == NULL)
        return -1;
    if (pg->unsynced) {
        if (PQpipelineSync(pg->conn) != 1)
            return lost(pg);
        pg->unsynced = 0;
    }
    int r = PQflush(pg->conn);
    return r < 0 ? lost(pg) : r;
}

static struct ql__pg_read *take_first(struct ql_pg *pg)
{
    struct ql__pg_read *rd = pg->reads;
    pg->reads = rd->next;
    if (pg->reads == NULL)
        pg->reads_tail = NULL;
    pg->nreads--;
    return rd;
}

/* Record the result of the oldest read; its done runs at the NULL that follows. */
static void take_result(struct ql_pg *pg, PGresult *r)
{
    struct ql__pg_read *rd = pg->reads;
    if (rd->answered)
        return; /* one result per statement; anything more is ignored */
    rd->answered = 1;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_TUPLES_OK && rd->page) {
        rd->rc =
            ql__pg_page_fill(rd->cx, r, rd->limit, rd->size, rd->read, rd->rows, rd->n, rd->more);
    } else if (s == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        rd->rc = rd->read(rd->cx, r, 0, rd->dst);
    } else if (s == PGRES_TUPLES_OK) {
        rd->rc = ql_error_set(&rd->cx->err, QL_ENOT_FOUND, NULL);
    } else {
        if (s != PGRES_PIPELINE_ABORTED)
            ql_log(pg->log, QL_LOG_WARN, "a pipelined read failed; the pool runs it again", "error",
                   PQresultErrorMessage(r), "trace_id", rd->cx->trace_id, NULL);
        rd->rc = ql_error_set(&rd->cx->err, QL_EWOULD_BLOCK, "the read failed on the loop");
    }
    if (rd->rc == QL__PG_LARGE) /* its page needs a second statement (stmts_pages.h) */
        rd->rc = ql_error_set(&rd->cx->err, QL_EWOULD_BLOCK, "large entries: the pool reads them");
}

int ql__pg_loop_input(struct ql_pg *pg)
{
    if (pg->conn == NULL)
        return -1;
    if (PQconsumeInput(pg->conn) != 1)
        return lost(pg);
    int idle = 0;
    while (pg->reads && !PQisBusy(pg->conn)) {
        PGresult *r = PQgetResult(pg->conn);
        if (r == NULL) {
            /* the end of one statement's results, or libpq moving to the next statement */
            if (!pg->reads->answered) {
                if (++idle > 1)
                    break;
                continue;
            }
            idle = 0;
            struct ql__pg_read *rd = take_first(pg);
            if (rd->start_ns)
                ql__pg_span_read(pg, rd->cx, rd->st, rd->start_ns, rd->rc);
            rd->done(rd->cx, rd->rc, rd->arg);
            continue;
        }
        idle = 0;
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            take_result(pg, r);
        PQclear(r);
    }
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return lost(pg);
    return 0;
}

void ql__pg_loop_close(struct ql_pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->unsynced = 0;
    memset(pg->prepared, 0, sizeof(pg->prepared));
    while (pg->reads) {
        struct ql__pg_read *rd = take_first(pg);
        rd->done(rd->cx, ql_error_set(&rd->cx->err, QL_EWOULD_BLOCK, "database connection lost"),
                 rd->arg);
    }
}
