/*
 * repo_usage.c - plans, quota reservations, the request log and the shared rate-limit counts
 * over PostgreSQL (the usage repository of core/store/store_usage.h; SQL in stmts_usage.h,
 * tables in migrations/0009_usage.up.sql).
 *
 * A reservation is one UPDATE of the period's row that applies the grant rule to the row
 * it locks, so concurrent reservations of any number of sessions never pass the quota; only
 * the first reservation of a team's month also inserts the row.
 */
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store_usage.h"
#include "usage/usage.h"
#include "uuid/uuid.h"

#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

static int u_state(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   int64_t period_ms, struct ql_usage_state *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_ts(&p, period_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_STATE, &p, &r);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    if (PQntuples(r) == 0) {
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    } else {
        out->plan = ql__pg_text(cx, r, 0, 0);
        out->monthly_quota = PQgetisnull(r, 0, 1) ? 0 : ql__pg_int8(r, 0, 1);
        out->used = ql__pg_int8(r, 0, 2);
        out->alerted = ql__pg_bool(r, 0, 3);
        if (!PQgetisnull(r, 0, 0) && out->plan == NULL)
            rc = QL_ENOMEM; /* ql__pg_text said so in cx->err */
    }
    PQclear(r);
    return rc;
}

static int u_subscribe(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                       const char *plan, int64_t quota, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_text(&p, plan);
    ql__pg_p_int(&p, quota);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_SUBSCRIBE, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

/* One try of the reservation: 1 when the period's row exists (*out filled), 0 when not. */
static int reserve_once(struct ql_pg *pg, struct ql_ctx *cx, const struct ql__pg_params *p,
                        struct ql_usage_grant *out, int *found)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_USAGE_RESERVE, p, &r);
    if (rc)
        return rc;
    *found = PQntuples(r) > 0;
    if (*found) {
        out->granted = ql__pg_int8(r, 0, 0);
        out->reserved = ql__pg_int8(r, 0, 1);
        out->quota = ql__pg_int8(r, 0, 2);
    }
    PQclear(r);
    return QL_OK;
}

static int u_reserve(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     int64_t period_ms, int64_t want, int64_t default_quota,
                     struct ql_usage_grant *out)
{
    struct ql_pg *pg = pg_of(self);
    memset(out, 0, sizeof(*out));
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_ts(&p, period_ms);
    ql__pg_p_int(&p, want);
    ql__pg_p_int(&p, default_quota);
    int found = 0;
    int rc = reserve_once(pg, cx, &p, out, &found);
    if (rc || found)
        return rc;
    /* The team's first reservation of the month: make the row (any session may race us). */
    struct ql__pg_params o = {0};
    ql__pg_p_uuid(&o, team);
    ql__pg_p_ts(&o, period_ms);
    rc = ql__pg_run(pg, cx, QL__ST_USAGE_OPEN, &o);
    if (rc == QL_OK)
        rc = reserve_once(pg, cx, &p, out, &found); /* not found: the team is gone */
    return rc;
}

static int u_release(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_return *rows,
                     int n)
{
    struct ql_buf cols[3];
    ql__pg_arr_begin(cx, cols, 3);
    for (int i = 0; i < n; i++) {
        ql__pg_arr_uuid(&cols[0], &rows[i].team, i == 0);
        ql__pg_arr_time(&cols[1], rows[i].period_ms, i == 0);
        ql__pg_arr_int(&cols[2], rows[i].n, i == 0);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 3, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_USAGE_RELEASE, &p);
}

static int u_log(struct ql_store *self, struct ql_ctx *cx, const struct ql_request_row *rows, int n)
{
    struct ql_buf cols[8];
    ql__pg_arr_begin(cx, cols, 8);
    for (int c = 0; c < 8; c++) /* about what a row takes, so the columns grow once */
        ql_buf_reserve(&cols[c], (size_t)n * (c == 4 ? 48 : c == 1 || c == 2 ? 37 : 28) + 16);
    for (int i = 0; i < n; i++) {
        const struct ql_request_row *w = &rows[i];
        int first = i == 0;
        ql__pg_arr_time(&cols[0], w->at_ms, first);
        ql__pg_arr_uuid(&cols[1], &w->team, first);
        ql__pg_arr_uuid(&cols[2], &w->key, first);
        ql__pg_arr_str(&cols[3], w->method, first);
        ql__pg_arr_str(&cols[4], w->route, first);
        ql__pg_arr_int(&cols[5], w->status, first);
        ql__pg_arr_int(&cols[6], w->duration_us > INT32_MAX ? INT32_MAX : w->duration_us, first);
        ql__pg_arr_str(&cols[7], w->billed ? "t" : "f", first);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 8, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_USAGE_LOG, &p);
}

/* The tally of (team, period) among t[0..n), or NULL. */
static struct ql_usage_tally *tally_of(struct ql_usage_tally *t, int n, const struct ql_uuid *team,
                                       int64_t period_ms)
{
    for (int i = 0; i < n; i++)
        if (t[i].period_ms == period_ms && memcmp(t[i].team.b, team->b, 16) == 0)
            return &t[i];
    return NULL;
}

static int u_add_used(struct ql_store *self, struct ql_ctx *cx, struct ql_usage_tally *t, int n,
                      int64_t default_quota)
{
    struct ql_buf cols[3];
    ql__pg_arr_begin(cx, cols, 3);
    for (int i = 0; i < n; i++) {
        t[i].used = -1;
        t[i].quota = default_quota;
        t[i].alerted = 0;
        ql__pg_arr_uuid(&cols[0], &t[i].team, i == 0);
        ql__pg_arr_time(&cols[1], t[i].period_ms, i == 0);
        ql__pg_arr_int(&cols[2], t[i].n, i == 0);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 3, &p);
    if (rc)
        return rc;
    ql__pg_p_int(&p, default_quota);
    PGresult *r;
    rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_ADD_USED, &p, &r);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        struct ql_uuid team;
        ql__pg_uuid(r, i, 0, &team);
        struct ql_usage_tally *x = tally_of(t, n, &team, ql__pg_ts_ms(r, i, 1));
        if (x == NULL)
            continue;
        x->used = ql__pg_int8(r, i, 2);
        x->alerted = ql__pg_bool(r, i, 3);
        x->quota = ql__pg_int8(r, i, 4);
    }
    PQclear(r);
    return QL_OK;
}

static int u_alert(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   int64_t period_ms, int *raised)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_ts(&p, period_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_ALERT, &p, &r);
    *raised = rc == QL_OK && ql__pg_affected(r) > 0;
    PQclear(r);
    return rc;
}

static int u_flushed(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_flush *f,
                     int64_t now_ms, int *fresh)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &f->instance);
    ql__pg_p_int(&p, f->seq);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_FLUSHED, &p, &r);
    if (rc == QL_OK)
        *fresh = ql__pg_affected(r) > 0;
    PQclear(r);
    return rc;
}

static int u_purge(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, before_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_PURGE, &p, &r);
    *n = rc == QL_OK ? ql__pg_affected(r) : 0;
    PQclear(r);
    return rc;
}

static int u_rates_share(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *instance,
                         const struct ql_rate_count *mine, int n, int64_t since,
                         struct ql_rate_count **out, int *nout)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, instance);
    struct ql_buf cols[3];
    ql__pg_arr_begin(cx, cols, 3);
    for (int i = 0; i < n; i++) {
        ql__pg_arr_uuid(&cols[0], &mine[i].principal, i == 0);
        ql__pg_arr_int(&cols[1], mine[i].second, i == 0);
        ql__pg_arr_int(&cols[2], mine[i].n, i == 0);
    }
    int rc = ql__pg_arr_params(cx, cols, 3, &p);
    if (rc)
        return rc;
    ql__pg_p_int(&p, since);
    PGresult *r;
    rc = ql__pg_exec(pg_of(self), cx, QL__ST_USAGE_RATES, &p, &r);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct ql_rate_count *o = rows ? ql_arena_alloc(cx->arena, sizeof(*o) * (size_t)rows) : NULL;
    if (rows && o == NULL) {
        PQclear(r);
        return ql_error_nomem(&cx->err);
    }
    for (int i = 0; i < rows; i++) {
        ql__pg_uuid(r, i, 0, &o[i].principal);
        o[i].second = ql__pg_int8(r, i, 1);
        o[i].n = ql__pg_int8(r, i, 2);
    }
    PQclear(r);
    *out = o;
    *nout = rows;
    return QL_OK;
}

const struct ql_usage_ops ql__pg_usage_ops = {
    .state = u_state,
    .subscribe = u_subscribe,
    .reserve = u_reserve,
    .release = u_release,
    .log = u_log,
    .add_used = u_add_used,
    .alert = u_alert,
    .flushed = u_flushed,
    .purge = u_purge,
    .rates_share = u_rates_share,
};
