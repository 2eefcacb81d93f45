/*
 * span.c - client spans of the database work of a traced context.
 *
 * The granularity: one span per transaction, and one per statement run outside a
 * transaction (a read, or a write that is a transaction of its own).  A transaction here is
 * mostly one round trip: BEGIN, the writes whose results nobody reads and COMMIT leave
 * together in libpq's pipeline mode, so spans per statement inside it would be a row of
 * slivers of one wait, cost a span each, and say less than one span that names its
 * statements (db.query.summary: "BEGIN entry_insert change_append audit_append COMMIT") and
 * covers what the request waited for.  A statement outside a transaction is one round trip,
 * and gets its own span named after its prepared statement.  Spans carry the statements'
 * names, never their parameters.  A context that is not traced costs one test per call.
 */
#include "internal.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The attributes every database span has: the system, the database, where it is. */
static void conn_attrs(struct ql_pg *pg, struct ql_trace_span *sp)
{
    ql_span_cstr(sp, "db.system.name", "postgresql");
    if (pg->conn == NULL)
        return;
    ql_span_cstr(sp, "db.namespace", PQdb(pg->conn));
    ql_span_cstr(sp, "server.address", PQhost(pg->conn));
    const char *port = PQport(pg->conn);
    if (port && *port)
        ql_span_int(sp, "server.port", strtol(port, NULL, 10));
}

static void fail(struct ql_trace_span *sp, int rc)
{
    if (rc == QL_OK)
        return;
    ql_span_cstr(sp, "error.type", ql_err_name(rc));
    ql_span_error(sp, ql_err_name(rc));
}

void ql__pg_span_tx_begin(struct ql_pg *pg, struct ql_ctx *cx)
{
    pg->tx_span.on = 0;
    pg->tx_nstmts = 0;
    pg->tx_first = QL__ST_BEGIN;
    if (!ql_trace_on(cx))
        return;
    ql_span_begin(cx, &pg->tx_span, QL_SPAN_CLIENT, "BEGIN");
    if (!pg->tx_span.on)
        return; /* the tracer sheds */
    snprintf(pg->tx_summary, sizeof(pg->tx_summary), "BEGIN");
}

void ql__pg_span_tx_stmt(struct ql_pg *pg, enum ql__pg_stmt st)
{
    if (!pg->tx_span.on || st == QL__ST_BEGIN || st == QL__ST_COMMIT || st == QL__ST_ROLLBACK)
        return;
    if (pg->tx_nstmts++ == 0)
        pg->tx_first = st;
    size_t n = strlen(pg->tx_summary);
    const char *name = ql__pg_stmts[st].name;
    if (n + strlen(name) + 16 < sizeof(pg->tx_summary))
        snprintf(pg->tx_summary + n, sizeof(pg->tx_summary) - n, " %s", name);
    else if (n >= 4 && strcmp(pg->tx_summary + n - 4, " ...") != 0)
        snprintf(pg->tx_summary + n, sizeof(pg->tx_summary) - n, " ...");
}

void ql__pg_span_tx_end(struct ql_pg *pg, struct ql_ctx *cx, int commit, int rc)
{
    struct ql_trace_span *sp = &pg->tx_span;
    if (!sp->on)
        return;
    /* named after its first statement ("BEGIN entry_insert"), known only now */
    char trace[33], span[17], parent[17], name[96];
    memcpy(trace, sp->trace_id, sizeof(trace));
    memcpy(span, sp->span_id, sizeof(span));
    memcpy(parent, sp->parent_id, sizeof(parent));
    int len = snprintf(name, sizeof(name), "BEGIN%s%s", pg->tx_nstmts ? " " : "",
                       pg->tx_nstmts ? ql__pg_stmts[pg->tx_first].name : "");
    ql_span_init(sp, trace, span, parent, QL_SPAN_CLIENT, name,
                 len < 0                       ? 0
                 : (size_t)len >= sizeof(name) ? sizeof(name) - 1
                                               : (size_t)len,
                 sp->start_ns);
    size_t n = strlen(pg->tx_summary);
    snprintf(pg->tx_summary + n, sizeof(pg->tx_summary) - n, " %s", commit ? "COMMIT" : "ROLLBACK");
    conn_attrs(pg, sp);
    ql_span_cstr(sp, "db.query.summary", pg->tx_summary);
    ql_span_int(sp, "db.operation.batch.size", pg->tx_nstmts);
    ql_span_cstr(sp, "db.transaction.outcome", commit && rc == QL_OK ? "commit" : "rollback");
    fail(sp, rc);
    ql_span_end(cx, sp);
}

void ql__pg_span_stmt_begin(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                            struct ql_trace_span *sp)
{
    sp->on = 0;
    if (!ql_trace_on(cx))
        return;
    ql_span_begin(cx, sp, QL_SPAN_CLIENT, ql__pg_stmts[st].name);
    if (!sp->on)
        return;
    conn_attrs(pg, sp);
    ql_span_cstr(sp, "db.query.summary", ql__pg_stmts[st].name);
}

void ql__pg_span_stmt_end(struct ql_ctx *cx, struct ql_trace_span *sp, int rc)
{
    if (!sp->on)
        return;
    fail(sp, rc);
    ql_span_end(cx, sp);
}

void ql__pg_span_read(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st, int64_t start_ns,
                      int rc)
{
    if (!ql_trace_on(cx))
        return;
    struct ql_trace_span sp;
    ql_span_begin(cx, &sp, QL_SPAN_CLIENT, ql__pg_stmts[st].name);
    if (!sp.on)
        return;
    sp.start_ns = start_ns;
    conn_attrs(pg, &sp);
    ql_span_cstr(&sp, "db.query.summary", ql__pg_stmts[st].name);
    ql_span_bool(&sp, "quill.db.pipelined", 1);
    if (rc != QL_ENOT_FOUND)
        fail(&sp, rc);
    ql_span_end(cx, &sp);
}
