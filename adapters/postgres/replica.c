/*
 * replica.c - reads on a streaming replica (DATABASE_READ_URL).
 *
 * A blocking session of a factory with a replica keeps a second session, to the replica,
 * made on first use.  While its owner has routed reads there (route_reads: the HTTP pool
 * does so for the requests of read routes whose caller wrote nothing lately), the
 * statements below run on it when the session is not in a transaction; everything else
 * (principals, touches, rate counters, writes) stays on the primary, so revocations and
 * throttles never lag.  A replica that is down, has not replayed the WAL up to the
 * caller's minimum position, or fails a statement (a recovery conflict, say) costs
 * nothing but a fallback: the primary answers.
 */
#include "internal.h"

#include "ctx/ctx.h"
#include "err/err.h"

#include <stdlib.h>
#include <string.h>

/* After a failed connection, the replica is tried again this much later. */
#define REPLICA_RETRY_MS 5000

/* The reads that tolerate lag: plain reads of a team's data, whose staleness a caller
 * sees as "not yet", never as a broken request. */
static int lag_tolerant(enum ql__pg_stmt st)
{
    switch (st) {
    case QL__ST_ENTRY_GET:
    case QL__ST_ENTRY_LIST:
    case QL__ST_ENTRY_LIST_AUTHOR:
    case QL__ST_ENTRY_LIST_PROMPT:
    case QL__ST_ENTRY_LIST_BOTH:
    case QL__ST_TEAM_GET:
    case QL__ST_MEMBERS_LIST:
    case QL__ST_MEMBER_GET:
    case QL__ST_KEYS_LIST:
    case QL__ST_AUDIT_LIST:
    case QL__ST_PROMPT_LIST:
    case QL__ST_PROMPT_GET:
    case QL__ST_ACTIVITY_GET:
    case QL__ST_WEBHOOKS_LIST:
    case QL__ST_WEBHOOK_GET:
    case QL__ST_ATTEMPTS_LIST:
        return 1;
    default:
        return 0;
    }
}

int ql__pg_replica_wants(struct ql_pg *pg, enum ql__pg_stmt st)
{
    return pg->db->replica && !pg->in_tx && !pg->pipeline && lag_tolerant(st);
}

static void missed(struct ql_pg *pg)
{
    atomic_fetch_add_explicit(&pg->db->replica_misses, 1, memory_order_relaxed);
}

int ql__pg_replica_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                        const struct ql__pg_params *p, PGresult **out)
{
    *out = NULL;
    if (pg->replica == NULL &&
        ql__pg_session_create(pg->db->replica, QL_DB_BLOCKING, 0, &pg->replica) != QL_OK) {
        missed(pg);
        return QL_ENOMEM;
    }
    struct ql_error saved = cx->err;
    int rc = QL_OK;
    if (pg->min_lsn > pg->replica_lsn) { /* has it replayed the caller's write yet? */
        PGresult *r;
        rc = ql__pg_exec(pg->replica, cx, QL__ST_REPLAY_LSN, NULL, &r);
        if (rc == QL_OK && PQntuples(r) == 1)
            pg->replica_lsn = ql_db_lsn_parse(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        PQclear(r);
        if (rc == QL_OK && pg->min_lsn > pg->replica_lsn)
            rc = QL_EUNAVAILABLE; /* behind: the primary answers */
    }
    if (rc == QL_OK)
        rc = ql__pg_exec(pg->replica, cx, st, p, out);
    cx->err = saved; /* the replica's failures are not the request's */
    if (rc) {
        missed(pg);
        /* A replica that cannot be reached is left alone for a while: every read must not
         * pay for a connection attempt (up to connect_timeout) first. */
        if (pg->replica->conn == NULL)
            pg->replica->retry_after_ns =
                ql_clock_mono_ns(pg->clock) + (int64_t)REPLICA_RETRY_MS * 1000000;
        return rc;
    }
    atomic_fetch_add_explicit(&pg->db->replica_reads, 1, memory_order_relaxed);
    return QL_OK;
}

void ql__pg_route_reads(struct ql_pg *pg, int replica, uint64_t min_lsn)
{
    pg->to_replica = replica && pg->db->replica;
    pg->min_lsn = min_lsn;
}

uint64_t ql__pg_wal_lsn(struct ql_pg *pg)
{
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    PGresult *r;
    uint64_t lsn = 0;
    if (ql__pg_exec(pg, &cx, QL__ST_WAL_LSN, NULL, &r) == QL_OK && PQntuples(r) == 1)
        lsn = ql_db_lsn_parse(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    return lsn;
}
