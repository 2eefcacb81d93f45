/*
 * conn.c - one libpq session: lazy connection, reconnection with a retry floor, lazy
 * statement preparation and the mapping of libpq/SQLSTATE failures to Quill's codes.
 */
#include "internal.h"
#include "pg.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "notify/notify.h"
#include "uuid/uuid.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the session port -------------------------------------------------------------------- */

static struct ql_pg *of_session(struct ql_db_session *s)
{
    return (struct ql_pg *)((char *)s - offsetof(struct ql_pg, session));
}

static struct ql_store *s_store(struct ql_db_session *s)
{
    return &of_session(s)->store;
}

static struct ql_queue *s_queue(struct ql_db_session *s)
{
    return &of_session(s)->queue;
}

static int s_connect(struct ql_db_session *s, struct ql_error *err)
{
    return ql__pg_connect(of_session(s), err);
}

static int s_loop_connect(struct ql_db_session *s, struct ql_error *err)
{
    return ql__pg_loop_connect(of_session(s), err);
}

static int s_fd(struct ql_db_session *s)
{
    return ql__pg_loop_fd(of_session(s));
}

static int s_flush(struct ql_db_session *s)
{
    return ql__pg_loop_flush(of_session(s));
}

static int s_input(struct ql_db_session *s)
{
    return ql__pg_loop_input(of_session(s));
}

static void s_disconnect(struct ql_db_session *s)
{
    ql__pg_loop_close(of_session(s));
}

static void s_destroy(struct ql_db_session *s)
{
    ql__pg_session_destroy(of_session(s));
}

static const struct ql_db_session_ops blocking_ops = {
    .store = s_store,
    .queue = s_queue,
    .connect = s_connect,
    .destroy = s_destroy,
};

static void s_route_reads(struct ql_db_session *s, int replica, uint64_t min_lsn)
{
    ql__pg_route_reads(of_session(s), replica, min_lsn);
}

static uint64_t s_wal_lsn(struct ql_db_session *s)
{
    return ql__pg_wal_lsn(of_session(s));
}

/* A blocking session of a factory with a read replica. */
static const struct ql_db_session_ops replica_ops = {
    .store = s_store,
    .queue = s_queue,
    .connect = s_connect,
    .destroy = s_destroy,
    .route_reads = s_route_reads,
    .wal_lsn = s_wal_lsn,
};

static const struct ql_db_session_ops loop_ops = {
    .store = s_store,
    .queue = s_queue,
    .connect = s_loop_connect,
    .fd = s_fd,
    .flush = s_flush,
    .input = s_input,
    .disconnect = s_disconnect,
    .destroy = s_destroy,
};

int ql__pg_session_create(struct ql_pg_db *db, enum ql_db_kind kind, unsigned hints,
                          struct ql_pg **out)
{
    *out = NULL;
    struct ql_pg *pg = calloc(1, sizeof(*pg));
    if (pg == NULL)
        return QL_ENOMEM;
    pg->db = db;
    pg->log = db->log;
    pg->clock = db->clock;
    pg->cache = db->cache;
    pg->hints = hints;
    pg->loop = kind == QL_DB_LOOP;
    pg->session.ops = pg->loop ? &loop_ops : db->replica ? &replica_ops : &blocking_ops;
    ql__pg_store_init(pg);
    ql__pg_queue_init(pg);
    *out = pg;
    return QL_OK;
}

void ql__pg_session_destroy(struct ql_pg *pg)
{
    if (pg == NULL)
        return;
    ql__pg_loop_close(pg);
    ql__pg_session_destroy(pg->replica);
    free(pg);
}

static void drop(struct ql_pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    if (pg->in_tx)
        pg->nwake = pg->nchanged = 0; /* the transaction is lost */
    pg->in_tx = 0;
    pg->ninval = 0;
    pg->pipeline = 0;
    pg->pending = 0;
    pg->perr = 0;
    memset(pg->prepared, 0, sizeof(pg->prepared));
}

int ql__pg_connect(struct ql_pg *pg, struct ql_error *err)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
        return QL_OK;
    int64_t now = ql_clock_mono_ns(pg->clock);
    if (now < pg->retry_after_ns)
        return ql_error_set(err, QL_EUNAVAILABLE, "database unreachable (retrying shortly)");
    drop(pg);
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", "options",
                                       NULL};
    char options[256];
    snprintf(options, sizeof(options), "%s%s", pg->db->options,
             (pg->hints & QL_DB_INDEX_SCANS) ? " -c enable_bitmapscan=off -c enable_seqscan=off"
                                             : "");
    /* Through a pooler, a loop session connects directly (ql_pg_db_config.loop_conninfo). */
    const char *to = pg->loop && pg->db->loop_conninfo ? pg->db->loop_conninfo : pg->db->conninfo;
    const char *vals[] = {to, "3", "quill", options[0] ? options : NULL, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        const char *why = pg->conn ? PQerrorMessage(pg->conn) : "out of memory";
        ql_error_set(err, QL_EUNAVAILABLE, "database connection failed: %s", why);
        ql__pg_count_error(pg);
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
                  strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0 ||
                  strcmp(st, "25P03") == 0); /* idle_in_transaction_session_timeout */
}

int ql__pg_fail(struct ql_pg *pg, struct ql_ctx *cx, PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);
    int code;
    int timeout = st && strcmp(st, "57014") == 0; /* the statement timeout */
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK || is_connection_state(st) ||
        timeout)
        code = QL_EUNAVAILABLE;
    else if (st && (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0))
        code = QL_ERETRY;
    else if (st && strncmp(st, "23", 2) == 0)
        code = QL_ECONFLICT;
    else if (st && strncmp(st, "22", 2) == 0)
        code = QL_EVALIDATION;
    else
        code = QL_EINTERNAL;
    if (code != QL_ECONFLICT && code != QL_EVALIDATION)
        ql__pg_count_error(pg);
    if (timeout)
        atomic_fetch_add_explicit(&pg->db->timeouts, 1, memory_order_relaxed);
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(pg->last_constraint, sizeof(pg->last_constraint), "%s", cons ? cons : "");
    ql_error_set(&cx->err, code, "database: %s%s%s", st ? st : "", st ? " " : "",
                 msg && *msg ? msg : "no result");
    size_t n = strlen(cx->err.msg);
    while (n > 0 && (cx->err.msg[n - 1] == '\n' || cx->err.msg[n - 1] == ' '))
        cx->err.msg[--n] = '\0';
    if (code == QL_ECONFLICT || code == QL_EVALIDATION) {
        /* 4xx messages reach clients: keep the database's words (which may quote values)
         * in a debug line and answer with the code's plain message. */
        ql_log(pg->log, QL_LOG_DEBUG, "database refused a write", "sqlstate", st, "constraint",
               pg->last_constraint, "trace_id", cx->trace_id, NULL);
        ql_error_set(&cx->err, code, NULL);
    } else {
        ql_log(pg->log, QL_LOG_WARN, "database error", "error", cx->err.msg, "trace_id",
               cx->trace_id, NULL);
    }
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

/* Send st without waiting: named (prepared before) or, through a pooler, unnamed. */
static int send_stmt(struct ql_pg *pg, enum ql__pg_stmt st, const struct ql__pg_params *p)
{
    if (pg->db->unnamed)
        return PQsendQueryParams(pg->conn, ql__pg_stmts[st].sql, p->n, NULL, p->values, p->lengths,
                                 p->formats, 1);
    return PQsendQueryPrepared(pg->conn, ql__pg_stmts[st].name, p->n, p->values, p->lengths,
                               p->formats, 1);
}

/* Run st and wait for its result; *sent tells whether st itself went to the server. */
static int run(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p, PGresult **out, int *sent)
{
    static const struct ql__pg_params none = {0};
    if (p == NULL)
        p = &none;
    if (pg->db->unnamed) {
        *sent = 1;
        PGresult *r = PQexecParams(pg->conn, ql__pg_stmts[st].sql, p->n, NULL, p->values,
                                   p->lengths, p->formats, 1);
        ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
            int rc = ql__pg_fail(pg, cx, r);
            PQclear(r);
            return rc;
        }
        *out = r;
        return QL_OK;
    }
    if (!pg->prepared[st]) {
        int rc = prepare(pg, cx, st);
        if (rc)
            return rc;
    }
    *sent = 1;
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

/* ---- pipeline mode (inside transactions) -------------------------------------------------- */

/* The connection broke in the middle of a pipeline: nothing of the transaction survives. */
static int pipeline_lost(struct ql_pg *pg, struct ql_ctx *cx)
{
    ql__pg_count_error(pg);
    drop(pg);
    return ql_error_set(&cx->err, QL_EUNAVAILABLE, "database connection lost");
}

/*
 * Read the results of one sent statement.  When keep is set the first result is handed
 * out in *out (or NULL on error); otherwise results are checked and freed.  The first
 * failure of the transaction is remembered in pg->perr.
 */
static int read_one(struct ql_pg *pg, struct ql_ctx *cx, int keep, PGresult **out)
{
    PGresult *r;
    int got = 0;
    /* ql__pg_fail drops a broken connection, so check it on every turn */
    while (pg->conn && (r = PQgetResult(pg->conn)) != NULL) {
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_FATAL_ERROR && pg->perr == 0) {
            struct ql_error saved = cx->err;
            pg->perr = ql__pg_fail(pg, cx, r);
            snprintf(pg->perr_msg, sizeof(pg->perr_msg), "%s", cx->err.msg);
            cx->err = saved;
        }
        if (keep && !got && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)) {
            *out = r;
            got = 1;
        } else {
            PQclear(r);
        }
    }
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
        return pipeline_lost(pg, cx);
    return QL_OK;
}

/* Make the server flush and read every pending result; returns the first error, if any. */
static int drain(struct ql_pg *pg, struct ql_ctx *cx)
{
    if (pg->pending > 0 && (PQsendFlushRequest(pg->conn) != 1 || PQflush(pg->conn) != 0))
        return pipeline_lost(pg, cx);
    while (pg->pending > 0) {
        pg->pending--;
        int rc = read_one(pg, cx, 0, NULL);
        if (rc)
            return rc;
    }
    return QL_OK;
}

static int perr(struct ql_pg *pg, struct ql_ctx *cx)
{
    return ql_error_set(&cx->err, pg->perr, "%s", pg->perr_msg);
}

/* Send st in the pipeline; wait for its result unless it is deferred. */
static int pipelined(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql__pg_params *p, PGresult **out)
{
    if (pg->perr)
        return perr(pg, cx); /* the transaction already failed: the server skips the rest */
    if (!pg->prepared[st] && !pg->db->unnamed) {
        const struct ql__pg_stmt_def *d = &ql__pg_stmts[st];
        if (PQsendPrepare(pg->conn, d->name, d->sql, d->nparams, NULL) != 1)
            return pipeline_lost(pg, cx);
        pg->pending++;
        int rc = drain(pg, cx);
        if (rc)
            return rc;
        if (pg->perr)
            return perr(pg, cx);
        pg->prepared[st] = 1;
    }
    static const struct ql__pg_params none = {0};
    if (p == NULL)
        p = &none;
    if (send_stmt(pg, st, p) != 1)
        return pipeline_lost(pg, cx);
    if (ql__pg_deferred(st)) {
        pg->pending++;
        return QL_OK;
    }
    int rc = drain(pg, cx);
    if (rc == QL_OK && (PQsendFlushRequest(pg->conn) != 1 || PQflush(pg->conn) != 0))
        rc = pipeline_lost(pg, cx);
    if (rc == QL_OK)
        rc = read_one(pg, cx, 1, out);
    if (rc == QL_OK && pg->perr) {
        PQclear(*out);
        *out = NULL;
        rc = perr(pg, cx);
    }
    return rc;
}

/* Send BEGIN, COMMIT or ROLLBACK without waiting (prepared, so the server parses nothing). */
static int send_plain(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st)
{
    static const struct ql__pg_params none = {0};
    if (!pg->prepared[st] && !pg->db->unnamed) {
        if (PQsendPrepare(pg->conn, ql__pg_stmts[st].name, ql__pg_stmts[st].sql, 0, NULL) != 1)
            return pipeline_lost(pg, cx);
        pg->pending++;
        pg->prepared[st] = 1; /* a failure aborts the pipeline and resets the session */
    }
    if (send_stmt(pg, st, &none) != 1)
        return pipeline_lost(pg, cx);
    pg->pending++;
    return QL_OK;
}

/* BEGIN: enter pipeline mode and send BEGIN without waiting. */
static int pipeline_begin(struct ql_pg *pg, struct ql_ctx *cx)
{
    if (PQenterPipelineMode(pg->conn) != 1)
        return ql_error_set(&cx->err, QL_EINTERNAL, "cannot enter pipeline mode");
    pg->pipeline = 1;
    pg->pending = 0;
    pg->perr = 0;
    return send_plain(pg, cx, QL__ST_BEGIN);
}

/* ---- wake-ups ------------------------------------------------------------------------- */

void ql__pg_wake(struct ql_pg *pg, const char *queue)
{
    if (strlen(queue) >= sizeof(pg->wake[0]) || strpbrk(queue, "\"\\{},") != NULL)
        queue = "*"; /* any queue */
    for (int i = 0; i < pg->nwake; i++)
        if (strcmp(pg->wake[i], queue) == 0)
            return;
    if (pg->nwake == QL__PG_WAKE) {
        snprintf(pg->wake[pg->nwake - 1], sizeof(pg->wake[0]), "*"); /* the last stands for any */
        return;
    }
    snprintf(pg->wake[pg->nwake++], sizeof(pg->wake[0]), "%s", queue);
}

void ql__pg_changed(struct ql_pg *pg, const struct ql_uuid *team)
{
    if (pg->nchanged < 0)
        return; /* already "*" */
    for (int i = 0; i < pg->nchanged; i++)
        if (memcmp(pg->changed[i].b, team->b, 16) == 0)
            return;
    if (pg->nchanged == QL__PG_CHANGED)
        pg->nchanged = -1;
    else
        pg->changed[pg->nchanged++] = *team;
}

/*
 * The writes of the open transaction (or of the last statement) are over: when they
 * committed, wake the workers of the queues that got jobs and announce the teams that got
 * changes.  Either way, forget them.
 */
static void wake_after(struct ql_pg *pg, int committed)
{
    struct ql_notify *n = pg->db->notify;
    for (int i = 0; committed && n && i < pg->nwake; i++)
        ql_notify_post(n, QL_NOTIFY_JOBS, pg->wake[i]);
    if (committed && n && pg->nchanged < 0)
        ql_notify_post(n, QL_NOTIFY_CHANGES, "*");
    for (int i = 0; committed && n && i < pg->nchanged; i++) {
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&pg->changed[i], id);
        ql_notify_post(n, QL_NOTIFY_CHANGES, id);
    }
    pg->nwake = 0;
    pg->nchanged = 0;
}

/* COMMIT or ROLLBACK, the sync point, every result, and back to normal mode. */
static int pipeline_end(struct ql_pg *pg, struct ql_ctx *cx, int commit)
{
    int rc = send_plain(pg, cx, commit ? QL__ST_COMMIT : QL__ST_ROLLBACK);
    if (rc)
        return rc;
    if (PQpipelineSync(pg->conn) != 1)
        return pipeline_lost(pg, cx);
    while (pg->pending > 0) {
        pg->pending--;
        rc = read_one(pg, cx, 0, NULL);
        if (rc)
            return rc;
    }
    PGresult *sync = PQgetResult(pg->conn);
    int synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(pg->conn) != 1)
        return pipeline_lost(pg, cx);
    pg->pipeline = 0;
    if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        /* An error made the server skip our COMMIT: the failed transaction is still open. */
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
    int committed = commit && pg->perr == 0;
    if (pg->perr) {
        rc = commit ? perr(pg, cx) : QL_OK;
        pg->perr = 0;
    }
    wake_after(pg, committed);
    return rc;
}

/* An idle connection (no statement, no LISTEN) that has input: only a server going away
 * sends anything then.  Also true when the socket is in error. */
static int idle_broken(PGconn *c)
{
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN, .revents = 0};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
}

int ql__pg_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, PGresult **out)
{
    *out = NULL;
    if (pg->loop) /* an event loop's session: see pipe.c */
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the event loop does not wait");
    if (pg->to_replica && ql__pg_replica_wants(pg, st)) {
        if (ql__pg_replica_exec(pg, cx, st, p, out) == QL_OK)
            return QL_OK;
        ql_error_clear(&cx->err); /* the primary answers instead */
    }
    int fresh = 0, was_in_tx = pg->in_tx;
    /*
     * A connection whose server went away while it sat idle (a restart, a failover) has
     * something to read: the server's last words, the end of the stream.  Look before a
     * transaction begins or a statement runs on its own (a poll that does not wait), so that
     * a new connection takes it instead of its failing once sent.
     */
    if (pg->conn && !pg->in_tx && idle_broken(pg->conn)) {
        ql__pg_count_error(pg); /* a lost connection, as when a statement finds it */
        ql_log(pg->log, QL_LOG_WARN, "database connection lost", "error",
               "closed by the server while idle", "trace_id", cx->trace_id, NULL);
        drop(pg);
    }
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        if (pg->in_tx) {
            drop(pg);
            return ql_error_set(&cx->err, QL_EUNAVAILABLE, "database connection lost");
        }
        int rc = ql__pg_connect(pg, &cx->err);
        if (rc) {
            wake_after(pg, 0);
            return rc;
        }
        fresh = 1;
    }
    if (st == QL__ST_BEGIN)
        return pipeline_begin(pg, cx);
    if (pg->pipeline) {
        if (st == QL__ST_COMMIT || st == QL__ST_ROLLBACK)
            return pipeline_end(pg, cx, st == QL__ST_COMMIT);
        ql__pg_span_tx_stmt(pg, st);
        return pipelined(pg, cx, st, p, out);
    }
    struct ql_trace_span sp;
    ql__pg_span_stmt_begin(pg, cx, st, &sp);
    int sent = 0;
    int rc = run(pg, cx, st, p, out, &sent);
    /*
     * Outside a transaction, a statement that failed because the connection was gone (or
     * was cancelled by the statement timeout) is retried once, on a new connection, when
     * running it again cannot apply it twice: it was never sent (its preparation failed),
     * or it is a read or a write harmless to repeat (repeat.c).  Any other write may have
     * committed before its answer was lost: its caller gets QL_EUNAVAILABLE, "may have been
     * written", as for a COMMIT whose answer was lost.
     */
    if (rc == QL_EUNAVAILABLE && !fresh && !was_in_tx &&
        (!sent || ql__pg_repeat(st) != QL__PG_ONCE)) {
        ql_error_clear(&cx->err);
        rc = ql__pg_connect(pg, &cx->err);
        sent = 0;
        if (rc == QL_OK)
            rc = run(pg, cx, st, p, out, &sent);
    }
    if (!pg->in_tx)
        wake_after(pg, rc == QL_OK);
    ql__pg_span_stmt_end(cx, &sp, rc);
    return rc;
}
