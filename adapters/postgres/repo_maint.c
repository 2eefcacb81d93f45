/*
 * repo_maint.c - housekeeping statements run by jobs (purges), the daily prompt picks and
 * the per-team activity counts, and the change log's compaction.
 */
#include "internal.h"

#include "buf/buf.h"

#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* Run st; *n gets the rows it reported (a count column when it returns one). */
static int count(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                 const struct ql__pg_params *p, int64_t *n)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc == QL_OK && r) {
        if (PQntuples(r) == 1 && PQnfields(r) == 1 && !PQgetisnull(r, 0, 0))
            *n = ql__pg_int8(r, 0, 0);
        else
            *n = ql__pg_affected(r);
    }
    PQclear(r);
    return rc;
}

static int m_idem(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    return count(pg_of(self), cx, QL__ST_PURGE_IDEM, &p, n);
}

static int m_sessions(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t idle_ms,
                      int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_int(&p, idle_ms);
    return count(pg_of(self), cx, QL__ST_PURGE_SESSIONS, &p, n);
}

static int m_throttles(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    return count(pg_of(self), cx, QL__ST_PURGE_THROTTLES, &p, n);
}

static int m_deleted(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, before_ms);
    return count(pg_of(self), cx, QL__ST_PURGE_DELETED, &p, n);
}

/* A UTC day as the text of a date ("2026-11-30"); the statements cast it. */
static void p_day(struct ql__pg_params *p, int64_t day_ms, char *buf)
{
    char t[QL_TIME_LEN + 1];
    ql_time_format(day_ms, t);
    memcpy(buf, t, 10);
    buf[10] = '\0';
    ql__pg_p_text(p, buf);
}

static int m_pick_all(struct ql_store *self, struct ql_ctx *cx, int64_t day_ms, int64_t now_ms,
                      int64_t *n)
{
    struct ql__pg_params p = {0};
    char day[16];
    p_day(&p, day_ms, day);
    ql__pg_p_ts(&p, now_ms);
    return count(pg_of(self), cx, QL__ST_DAILY_PICK_ALL, &p, n);
}

static int read_daily(struct ql_pg *pg, struct ql_ctx *cx, const struct ql_uuid *team,
                      int64_t day_ms, struct ql_prompt *out)
{
    struct ql__pg_params p = {0};
    char day[16];
    ql__pg_p_uuid(&p, team);
    p_day(&p, day_ms, day);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_DAILY_GET, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    memset(out, 0, sizeof(*out));
    ql__pg_uuid(r, 0, 0, &out->id);
    if ((out->has_team = !PQgetisnull(r, 0, 1)))
        ql__pg_uuid(r, 0, 1, &out->team_id);
    out->text = ql__pg_text(cx, r, 0, 2);
    out->category = ql__pg_text(cx, r, 0, 3);
    out->created_ms = ql__pg_ts_ms(r, 0, 4);
    out->updated_ms = ql__pg_ts_ms(r, 0, 5);
    out->deleted_ms = ql__pg_ts_ms_or_0(r, 0, 6);
    PQclear(r);
    return out->text && out->category ? QL_OK : ql_error_set(&cx->err, QL_ENOMEM, NULL);
}

static int m_daily_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                       int64_t day_ms, int64_t now_ms, struct ql_prompt *out)
{
    struct ql_pg *pg = pg_of(self);
    int rc = read_daily(pg, cx, team, day_ms, out);
    if (rc != QL_ENOT_FOUND)
        return rc;
    /*
     * No pick yet (a team created today), or its prompt was deleted since: make it exactly as
     * the midnight job would, among the live prompts.
     */
    ql_error_clear(&cx->err);
    struct ql__pg_params p = {0};
    char day[16];
    ql__pg_p_uuid(&p, team);
    p_day(&p, day_ms, day);
    ql__pg_p_ts(&p, now_ms);
    rc = ql__pg_run(pg, cx, QL__ST_DAILY_PICK, &p);
    return rc ? rc : read_daily(pg, cx, team, day_ms, out);
}

static int m_activity_add(struct ql_store *self, struct ql_ctx *cx, const struct ql_activity *rows,
                          int n)
{
    struct ql_buf cols[6];
    ql__pg_arr_begin(cx, cols, 6);
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        const struct ql_activity *a = &rows[i];
        ql__pg_arr_uuid(&cols[0], &a->team, i == 0);
        ql__pg_arr_int(&cols[1], a->entries_created, i == 0);
        ql__pg_arr_int(&cols[2], a->entries_updated, i == 0);
        ql__pg_arr_int(&cols[3], a->entries_deleted, i == 0);
        ql__pg_arr_int(&cols[4], a->members_added, i == 0);
        ql__pg_arr_int(&cols[5], a->members_removed, i == 0);
        if (a->last_ms > last)
            last = a->last_ms;
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 6, &p);
    if (rc)
        return rc;
    ql__pg_p_ts(&p, last);
    return ql__pg_run(pg_of(self), cx, QL__ST_ACTIVITY_ADD, &p);
}

static int m_activity_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                          struct ql_activity *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_ACTIVITY_GET, &p, &r);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->team = *team;
    if (PQntuples(r) == 1) {
        out->entries_created = ql__pg_int8(r, 0, 0);
        out->entries_updated = ql__pg_int8(r, 0, 1);
        out->entries_deleted = ql__pg_int8(r, 0, 2);
        out->members_added = ql__pg_int8(r, 0, 3);
        out->members_removed = ql__pg_int8(r, 0, 4);
        out->last_ms = ql__pg_ts_ms_or_0(r, 0, 5);
    }
    PQclear(r);
    return QL_OK;
}

const struct ql_maint_ops ql__pg_maint_ops = {
    .purge_idempotency = m_idem,
    .purge_sessions = m_sessions,
    .purge_throttles = m_throttles,
    .purge_deleted = m_deleted,
    .daily_pick_all = m_pick_all,
    .daily_get = m_daily_get,
    .activity_add = m_activity_add,
    .activity_get = m_activity_get,
};

/* The change log's purge (ql_changes_ops compact and compact_batch, in repo_changes.c's table). */
int ql__pg_changes_compact(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms,
                           int64_t before_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    int rc = ql__pg_run(pg_of(self), cx, QL__ST_CHANGES_MARK, &p);
    if (rc)
        return rc;
    struct ql__pg_params q = {0};
    ql__pg_p_ts(&q, before_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_CHANGES_COMPACT, &q);
}

int ql__pg_changes_compact_batch(struct ql_store *self, struct ql_ctx *cx, int limit, int64_t *n,
                                 int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_int(&p, limit);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_CHANGES_COMPACT_BATCH, &p, &r);
    *n = 0;
    *more = 0;
    if (rc == QL_OK && PQntuples(r)) {
        *n = ql__pg_int8(r, 0, 0);
        *more = *n >= limit || ql__pg_int8(r, 0, 1) >= limit;
    }
    PQclear(r);
    return rc;
}
