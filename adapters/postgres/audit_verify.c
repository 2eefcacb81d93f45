/*
 * audit_verify.c - recompute every audit chain from the rows themselves and name the first
 * row that does not fit: a wrong sequence, a previous hash that is not its predecessor's
 * hash, a hash that is not SHA-256(previous hash || canonical text), or a chain head that
 * does not match the last row (rows removed from the end) or has no row at all (a chain
 * removed whole).  Rows are streamed in single-row mode, so memory stays flat however long
 * the log is (but for one anchor per chain, when the caller asks for them).
 *
 * With anchors (core/audit/anchor.h) it also checks that each anchored row is still there
 * with the same hash, which is what shows a chain removed with its head or rebuilt whole.
 */
#include "pg.h"

#include "audit/anchor.h"
#include "audit/audit.h"
#include "buf/buf.h"
#include "err/err.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct chain_state {
    char name[64];
    int64_t seq;
    uint8_t hash[32];
    size_t hash_len;
};

static int check_head(PGconn *c, const struct chain_state *st, FILE *out)
{
    const char *vals[1] = {st->name};
    PGresult *r = PQexecParams(c, "SELECT seq, hash FROM audit_heads WHERE chain = $1", 1, NULL,
                               vals, NULL, NULL, 1);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok) {
        const unsigned char *p = (const unsigned char *)PQgetvalue(r, 0, 0);
        int64_t seq = 0;
        for (int i = 0; i < 8; i++)
            seq = seq << 8 | p[i];
        ok = seq == st->seq && (size_t)PQgetlength(r, 0, 1) == st->hash_len &&
             memcmp(PQgetvalue(r, 0, 1), st->hash, st->hash_len) == 0;
    }
    PQclear(r);
    if (!ok)
        fprintf(out,
                "chain %s: the head does not match its last row (seq %" PRId64
                "): rows were removed or the head was altered\n",
                st->name, st->seq);
    return ok;
}

/* A head whose chain has no row at all: every row of that chain was removed.  1 when there is
 * none, 0 when there is one (named on out), -1 when the heads cannot be read. */
static int check_empty_chains(PGconn *c, FILE *out)
{
    PGresult *r = PQexec(c, "SELECT h.chain, h.seq FROM audit_heads h WHERE NOT EXISTS (SELECT 1 "
                            "FROM audit_log l WHERE l.chain = h.chain) ORDER BY h.chain LIMIT 1");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK ? 1 : -1;
    if (ok == 1 && PQntuples(r) > 0) {
        fprintf(out,
                "chain %s: the head names seq %s but the chain has no rows: rows were removed "
                "or the head was altered\n",
                PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        ok = 0;
    }
    PQclear(r);
    return ok;
}

/* The row (chain, seq, hash) against the chain's anchor, if it names this row: 0 when it
 * fits or is not anchored, 1 (named on out) when the anchored row has another hash. */
static int check_anchor(struct ql_audit_anchor *a, const char *chain, int64_t seq,
                        const uint8_t *hash, size_t hl, FILE *out)
{
    if (a == NULL || a->seq != seq)
        return 0;
    if (hl == 32 && memcmp(hash, a->hash, 32) == 0) {
        a->met = 1;
        return 0;
    }
    fprintf(out, "chain %s: seq %" PRId64 " is not the row anchored: the chain was rewritten\n",
            chain, seq);
    return 1;
}

/* Anchored rows the log no longer has: 1 when every anchor was met, 0 (named on out) when
 * one was not. */
static int check_anchors_met(const struct ql_audit_anchors *anchors, FILE *out)
{
    for (size_t i = 0; anchors && i < anchors->n; i++)
        if (!anchors->v[i].met) {
            fprintf(out,
                    "chain %s: the anchored row seq %" PRId64
                    " is gone: the chain was removed or cut\n",
                    anchors->v[i].chain, anchors->v[i].seq);
            return 0;
        }
    return 1;
}

/* The end of a verified chain: check its head; keep its last row as its new anchor. */
static int end_chain(PGconn *hc, const struct chain_state *st, struct ql_audit_anchors *heads,
                     FILE *out, int *nomem)
{
    if (!check_head(hc, st, out))
        return 0;
    if (heads && st->hash_len == 32 && ql_audit_anchors_add(heads, st->name, st->seq, st->hash))
        *nomem = 1;
    return 1;
}

/* Run q on c; 1 when it succeeded (a command or rows), else 0 with the error in err. */
static int run_on(PGconn *c, const char *q, struct ql_error *err)
{
    PGresult *r = PQexec(c, q);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        ql_error_set(err, QL_EINTERNAL, "%s failed: %s", q, PQerrorMessage(c));
    PQclear(r);
    return ok;
}

/*
 * Both connections read one snapshot: the rows streamed on c and the heads read on hc.  Read
 * apart, an append committed between the two made a head run ahead of the last row read, and
 * a live chain reported "rows were removed" (seen in the end-to-end suite, the worker
 * writing to the account chain while quill-admin verified).
 */
static int same_snapshot(PGconn *c, PGconn *hc, struct ql_error *err)
{
    static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    if (!run_on(c, begin, err))
        return 0;
    PGresult *r = PQexec(c, "SELECT pg_export_snapshot()");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    char *id = ok ? PQescapeLiteral(c, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) : NULL;
    PQclear(r);
    char set[128];
    ok = id && snprintf(set, sizeof(set), "SET TRANSACTION SNAPSHOT %s", id) < (int)sizeof(set);
    PQfreemem(id);
    if (!ok) {
        ql_error_set(err, QL_EINTERNAL, "exporting a snapshot failed: %s", PQerrorMessage(c));
        return 0;
    }
    return run_on(hc, begin, err) && run_on(hc, set, err);
}

int ql_pg_audit_verify(const char *conninfo, struct ql_audit_anchors *anchors,
                       struct ql_audit_anchors *heads, FILE *out, struct ql_error *err)
{
    if (sodium_init() < 0)
        return ql_error_set(err, QL_EINTERNAL, "libsodium failed to initialise");
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        ql_error_set(err, QL_EUNAVAILABLE, "cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return QL_EUNAVAILABLE;
    }
    /* Heads are checked on a second connection: the first is busy streaming rows. */
    PGconn *hc = PQconnectdb(conninfo);
    int rc = QL_OK;
    if (PQstatus(hc) != CONNECTION_OK) {
        rc = ql_error_set(err, QL_EUNAVAILABLE, "cannot connect: %s", PQerrorMessage(hc));
        goto out;
    }
    if (!same_snapshot(c, hc, err)) {
        rc = QL_EINTERNAL;
        goto out;
    }
    if (!PQsendQuery(c, "SELECT chain, seq, (extract(epoch FROM at) * 1000000)::bigint, actor, "
                        "action, target_type, target_id, audit_id::text, encode(prev_hash, 'hex'), "
                        "encode(hash, 'hex') FROM audit_log ORDER BY chain, seq") ||
        !PQsetSingleRowMode(c)) {
        rc = ql_error_set(err, QL_EINTERNAL, "query failed: %s", PQerrorMessage(c));
        goto out;
    }
    struct chain_state st = {"", 0, {0}, 0};
    struct ql_buf text;
    ql_buf_init(&text, NULL);
    int64_t rows = 0, chains = 0, broken = 0;
    int nomem = 0;
    struct ql_audit_anchor *anchor = NULL;
    PGresult *r;
    char id[64] = "";
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            PQclear(r);
            continue;
        }
        if (PQresultStatus(r) != PGRES_SINGLE_TUPLE) {
            rc = ql_error_set(err, QL_EINTERNAL, "reading audit_log failed: %s",
                              PQresultErrorMessage(r));
            PQclear(r);
            continue;
        }
        if (broken) {
            PQclear(r);
            continue; /* drain */
        }
        const char *chain = PQgetvalue(r, 0, 0);
        int64_t seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 7));
        if (strcmp(chain, st.name) != 0) {
            if (st.name[0] && !end_chain(hc, &st, heads, out, &nomem))
                broken = 1;
            snprintf(st.name, sizeof(st.name), "%s", chain);
            anchor = anchors ? ql_audit_anchors_find(anchors, chain) : NULL;
            st.seq = 0;
            st.hash_len = 0;
            chains++;
        }
        uint8_t prev[32], hash[32];
        size_t pl = 0, hl = 0;
        sodium_hex2bin(prev, sizeof(prev), PQgetvalue(r, 0, 8), (size_t)PQgetlength(r, 0, 8), NULL,
                       &pl, NULL);
        sodium_hex2bin(hash, sizeof(hash), PQgetvalue(r, 0, 9), (size_t)PQgetlength(r, 0, 9), NULL,
                       &hl, NULL);
        text.len = 0;
        ql_buf_append(&text, prev, pl);
        ql_audit_canonical(&text, chain, seq, strtoll(PQgetvalue(r, 0, 2), NULL, 10),
                           PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
                           PQgetvalue(r, 0, 6), id);
        uint8_t want[32];
        crypto_hash_sha256(want, (const uint8_t *)text.data, text.len);
        const char *why = NULL;
        if (!broken && seq != st.seq + 1)
            why = "sequence gap (a row is missing)";
        else if (!broken && (pl != st.hash_len || memcmp(prev, st.hash, pl) != 0))
            why = "previous hash does not match the row before";
        else if (!broken && (hl != 32 || memcmp(hash, want, 32) != 0))
            why = "hash does not match the row's content (the row was altered)";
        if (why) {
            fprintf(out, "chain %s: broken at seq %" PRId64 " (audit_id %s): %s\n", chain, seq, id,
                    why);
            broken = 1;
        } else if (!broken && check_anchor(anchor, chain, seq, hash, hl, out)) {
            broken = 1;
        }
        st.seq = seq;
        memcpy(st.hash, hash, hl);
        st.hash_len = hl;
        rows++;
        PQclear(r);
    }
    if (rc == QL_OK && !broken && st.name[0] && !end_chain(hc, &st, heads, out, &nomem))
        broken = 1;
    if (rc == QL_OK && !broken && !check_anchors_met(anchors, out))
        broken = 1;
    if (rc == QL_OK && nomem)
        rc = ql_error_set(err, QL_ENOMEM, "out of memory keeping the chains' anchors");
    int empty = rc == QL_OK && !broken ? check_empty_chains(hc, out) : 1;
    if (empty < 0)
        rc = ql_error_set(err, QL_EINTERNAL, "reading audit_heads failed: %s", PQerrorMessage(hc));
    broken |= empty == 0;
    ql_buf_cleanup(&text);
    if (rc == QL_OK && broken)
        rc = ql_error_set(err, QL_ECONFLICT, "the audit log does not verify");
    if (rc == QL_OK)
        fprintf(out, "audit log verified: %" PRId64 " rows in %" PRId64 " chains\n", rows, chains);
    if (rc == QL_OK && anchors && anchors->n)
        fprintf(out, "all %zu anchored rows are in the log\n", anchors->n);
out:
    PQfinish(hc);
    PQfinish(c);
    return rc;
}
