/*
 * repo_audit.c - the audit log and the login/rate throttles over PostgreSQL.  Chaining
 * (sequence, previous hash, hash) is done by the audit_log trigger under a row lock on the
 * chain's head, so appends to one chain serialise and different chains never wait.
 */
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* The chain a team's rows (team NULL: the account's rows) are appended to. */
static void chain_of(const struct ql_uuid *team, char chain[48])
{
    snprintf(chain, 48, "account");
    if (team) {
        memcpy(chain, "team:", 5);
        ql_uuid_format(team, chain + 5);
    }
}

static int a_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_audit_entry *e)
{
    char chain[48];
    chain_of(team, chain);
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &e->id);
    ql__pg_p_text(&p, chain);
    ql__pg_p_uuid(&p, team);
    ql__pg_p_ts(&p, e->at_ms);
    ql__pg_p_text(&p, e->actor);
    ql__pg_p_text(&p, e->action);
    ql__pg_p_text(&p, e->target_type);
    ql__pg_p_text(&p, e->target_id);
    return ql__pg_run(pg_of(self), cx, QL__ST_AUDIT_APPEND, &p);
}

static int a_append_many(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_uuid *const *teams, const struct ql_audit_entry *es, int n)
{
    struct ql_buf cols[8];
    ql__pg_arr_begin(cx, cols, 8);
    for (int i = 0; i < n; i++) {
        const struct ql_audit_entry *e = &es[i];
        int first = i == 0;
        char chain[48];
        chain_of(teams[i], chain);
        ql__pg_arr_uuid(&cols[0], &e->id, first);
        ql__pg_arr_str(&cols[1], chain, first);
        ql__pg_arr_uuid(&cols[2], teams[i], first);
        ql__pg_arr_time(&cols[3], e->at_ms, first);
        ql__pg_arr_str(&cols[4], e->actor, first);
        ql__pg_arr_str(&cols[5], e->action, first);
        ql__pg_arr_str(&cols[6], e->target_type, first);
        ql__pg_arr_str(&cols[7], e->target_id, first);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 8, &p);
    if (rc == QL_OK)
        rc = ql__pg_run(pg_of(self), cx, QL__ST_AUDIT_APPEND_MANY, &p);
    return rc;
}

/* Columns of AUDIT_LIST: audit_id, at, actor, action, target_type, target_id, seq. */
static int read_audit(struct ql_ctx *cx, const PGresult *r, int i, void *dst)
{
    struct ql_audit_entry *e = dst;
    ql__pg_uuid(r, i, 0, &e->id);
    e->at_ms = ql__pg_ts_ms(r, i, 1);
    e->actor = ql__pg_text(cx, r, i, 2);
    e->action = ql__pg_text(cx, r, i, 3);
    e->target_type = ql__pg_text(cx, r, i, 4);
    e->target_id = ql__pg_text(cx, r, i, 5);
    e->seq = ql__pg_int8(r, i, 6);
    if (!e->actor || !e->action || !e->target_type || !e->target_id)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    return QL_OK;
}

static int a_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after_id, int limit,
                  struct ql_audit_entry **out, int *n, int *more)
{
    /* A team's rows are its chain; pages go down its sequence ("after" is a seq). */
    char chain[48] = "team:";
    ql_uuid_format(team, chain + 5);
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, chain);
    ql__pg_p_int(&p, after_id ? after_ms : INT64_MAX);
    ql__pg_p_int(&p, limit + 1);
    ql__pg_p_uuid(&p, team); /* the chain names it too; this says it to a sharded planner */
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_AUDIT_LIST, &p, limit, sizeof(**out), read_audit,
                         &rows, n, more);
    *out = rows;
    return rc;
}

const struct ql_audit_ops ql__pg_audit_ops = {
    .append = a_append,
    .append_many = a_append_many,
    .list = a_list,
};

/* ---- throttles ---------------------------------------------------------------------------- */

static int th_failures(struct ql_store *self, struct ql_ctx *cx, const char *email,
                       int64_t since_ms, int *count, int64_t *oldest_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, email);
    ql__pg_p_ts(&p, since_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_FAILURES, &p, &r);
    if (rc == QL_OK) {
        *count = (int)ql__pg_int8(r, 0, 0);
        *oldest_ms = ql__pg_ts_ms_or_0(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

static int th_record(struct ql_store *self, struct ql_ctx *cx, const char *email, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, email);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_FAILURE_RECORD, &p);
}

static int th_forget(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t at_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    ql__pg_p_ts(&p, at_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_FAILURE_FORGET, &p);
}

static int th_clear(struct ql_store *self, struct ql_ctx *cx, const char *email)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, email);
    return ql__pg_run(pg_of(self), cx, QL__ST_FAILURES_CLEAR, &p);
}

static int th_hit(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t window_ms,
                  int *count, int *prev)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    ql__pg_p_ts(&p, window_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_RATE_HIT, &p, &r);
    if (rc == QL_OK) {
        *count = ql__pg_int4(r, 0, 0);
        *prev = ql__pg_int4(r, 0, 1);
    }
    PQclear(r);
    return rc;
}

const struct ql_throttle_ops ql__pg_throttle_ops = {
    .failures = th_failures,
    .record_failure = th_record,
    .forget_failure = th_forget,
    .clear_failures = th_clear,
    .hit = th_hit,
};
