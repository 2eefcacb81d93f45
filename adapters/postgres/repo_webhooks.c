/*
 * repo_webhooks.c - webhook endpoints, deliveries and attempts over PostgreSQL
 * (core/store/store.h, struct ql_webhooks_ops; the tables are in
 * migrations/0008_webhooks.up.sql, the SQL in stmts_webhooks.h).
 */
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* Split "a,b,c" (arena text) into the endpoint's events. */
static void split_events(char *s, struct ql_webhook *w)
{
    w->nevents = 0;
    while (s && *s && w->nevents < QL_WEBHOOK_EVENTS_MAX) {
        w->events[w->nevents++] = s;
        char *comma = strchr(s, ',');
        if (comma == NULL)
            break;
        *comma = '\0';
        s = comma + 1;
    }
}

/* An endpoint from eight columns starting at col (QL__PG_WEBHOOK_COLS). */
static int webhook_at(struct ql_ctx *cx, const PGresult *r, int row, int col, struct ql_webhook *w)
{
    memset(w, 0, sizeof(*w));
    ql__pg_uuid(r, row, col, &w->id);
    ql__pg_uuid(r, row, col + 1, &w->team_id);
    w->url = ql__pg_text(cx, r, row, col + 2);
    w->description = ql__pg_text(cx, r, row, col + 3);
    char *events = (char *)ql__pg_text(cx, r, row, col + 4);
    w->failures = ql__pg_int4(r, row, col + 5);
    w->created_ms = ql__pg_ts_ms(r, row, col + 6);
    w->disabled_ms = ql__pg_ts_ms_or_0(r, row, col + 7);
    if (w->url == NULL || w->description == NULL || events == NULL)
        return ql_error_nomem(&cx->err);
    split_events(events, w);
    return QL_OK;
}

static int read_webhook(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return webhook_at(cx, r, row, 0, dst);
}

/* An attempt from ten columns (QL__PG_ATTEMPT_COLS). */
static int read_attempt(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_delivery_attempt *a = dst;
    memset(a, 0, sizeof(*a));
    ql__pg_uuid(r, row, 0, &a->delivery_id);
    ql__pg_uuid(r, row, 1, &a->webhook_id);
    a->event = ql__pg_text(cx, r, row, 2);
    a->attempt = ql__pg_int4(r, row, 3);
    a->ok = ql__pg_bool(r, row, 4);
    a->response_status = PQgetisnull(r, row, 5) ? 0 : ql__pg_int4(r, row, 5);
    a->error = ql__pg_text(cx, r, row, 6);
    a->duration_ms = ql__pg_int4(r, row, 7);
    a->at_ms = ql__pg_ts_ms(r, row, 8);
    ql__pg_uuid(r, row, 9, &a->team_id);
    return a->event ? QL_OK : ql_error_nomem(&cx->err);
}

static int w_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_webhook *w,
                    const uint8_t *secret, size_t n)
{
    struct ql_buf events;
    ql__pg_arr_begin(cx, &events, 1);
    for (int i = 0; i < w->nevents; i++)
        ql__pg_arr_str(&events, w->events[i], i == 0);
    struct ql__pg_params ev = {0};
    int rc = ql__pg_arr_params(cx, &events, 1, &ev);
    if (rc)
        return rc;
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &w->id);
    ql__pg_p_uuid(&p, &w->team_id);
    ql__pg_p_text(&p, w->url);
    ql__pg_p_text(&p, w->description);
    ql__pg_p_text(&p, ev.values[0]);
    ql__pg_p_bytes(&p, secret, (int)n);
    ql__pg_p_ts(&p, w->created_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_WEBHOOK_INSERT, &p);
}

static int w_list(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  int64_t after_ms, const struct ql_uuid *after, int limit, struct ql_webhook **out,
                  int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, after);
    ql__pg_p_ts(&p, after_ms);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_WEBHOOKS_LIST, &p, limit, sizeof(**out),
                         read_webhook, &rows, n, more);
    *out = rows;
    return rc;
}

static int w_count(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_WEBHOOKS_COUNT, &p, &r);
    if (rc)
        return rc;
    *n = PQntuples(r) == 1 ? ql__pg_int8(r, 0, 0) : 0;
    PQclear(r);
    return QL_OK;
}

static int w_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 const struct ql_uuid *id, struct ql_webhook *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    return ql__pg_one(pg_of(self), cx, QL__ST_WEBHOOK_GET, &p, read_webhook, out);
}

static int w_remove(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *id, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, id);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_WEBHOOK_REMOVE, &p);
}

static int w_subscribed(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *teams,
                        int nteams, struct ql_webhook **out, int *n)
{
    struct ql_buf col;
    ql__pg_arr_begin(cx, &col, 1);
    for (int i = 0; i < nteams; i++)
        ql__pg_arr_uuid(&col, &teams[i], i == 0);
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, &col, 1, &p);
    if (rc)
        return rc;
    void *rows;
    int more;
    rc = ql__pg_page(pg_of(self), cx, QL__ST_WEBHOOKS_SUBSCRIBED, &p, 1 << 20, sizeof(**out),
                     read_webhook, &rows, n, &more);
    *out = rows;
    return rc;
}

static int w_deliveries_add(struct ql_store *self, struct ql_ctx *cx, const struct ql_delivery *d,
                            int n)
{
    struct ql_buf cols[6];
    ql__pg_arr_begin(cx, cols, 6);
    for (int i = 0; i < n; i++) {
        int first = i == 0;
        ql__pg_arr_uuid(&cols[0], &d[i].id, first);
        ql__pg_arr_uuid(&cols[1], &d[i].webhook_id, first);
        ql__pg_arr_uuid(&cols[2], &d[i].team_id, first);
        ql__pg_arr_str(&cols[3], d[i].event, first);
        ql__pg_arr_str(&cols[4], d[i].body, first);
        ql__pg_arr_time(&cols[5], d[i].created_ms, first);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 6, &p);
    return rc ? rc : ql__pg_run(pg_of(self), cx, QL__ST_DELIVERIES_ADD, &p);
}

static int w_target(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *delivery,
                    struct ql_delivery *d, struct ql_webhook *w, int *deleted, uint8_t **secret,
                    size_t *secret_n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, delivery);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_DELIVERY_TARGET, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    }
    memset(d, 0, sizeof(*d));
    ql__pg_uuid(r, 0, 0, &d->id);
    ql__pg_uuid(r, 0, 1, &d->webhook_id);
    ql__pg_uuid(r, 0, 2, &d->team_id);
    d->event = ql__pg_text(cx, r, 0, 3);
    d->body = ql__pg_text(cx, r, 0, 4);
    d->created_ms = ql__pg_ts_ms(r, 0, 5);
    d->attempts = ql__pg_int4(r, 0, 6);
    rc = webhook_at(cx, r, 0, 7, w);
    *deleted = ql__pg_bool(r, 0, 15);
    d->succeeded = ql__pg_bool(r, 0, 17);
    *secret_n = (size_t)PQgetlength(r, 0, 16);
    *secret = ql_arena_alloc(cx->arena, *secret_n ? *secret_n : 1);
    if (rc == QL_OK && (d->event == NULL || d->body == NULL || *secret == NULL))
        rc = ql_error_nomem(&cx->err);
    if (rc == QL_OK)
        memcpy(*secret, PQgetvalue(r, 0, 16), *secret_n);
    PQclear(r);
    return rc;
}

static int w_attempt_add(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_delivery_attempt *a, int final, int *failures)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &a->delivery_id);
    ql__pg_p_int(&p, a->attempt);
    ql__pg_p_uuid(&p, &a->webhook_id);
    ql__pg_p_ts(&p, a->at_ms);
    ql__pg_p_text(&p, a->ok ? "t" : "f");
    if (a->response_status)
        ql__pg_p_int(&p, a->response_status);
    else
        ql__pg_p_text(&p, NULL);
    ql__pg_p_text(&p, a->error);
    ql__pg_p_int(&p, a->duration_ms);
    ql__pg_p_text(&p, final ? "t" : "f");
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_ATTEMPT_ADD, &p, &r);
    if (rc)
        return rc;
    *failures = PQntuples(r) ? ql__pg_int4(r, 0, 0) : 0;
    PQclear(r);
    return QL_OK;
}

static int w_disable(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *webhook,
                     int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, webhook);
    ql__pg_p_ts(&p, now_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_WEBHOOK_DISABLE, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    PQclear(r);
    return rc;
}

static int w_attempts(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_uuid *webhook, const struct ql_delivery_attempt *after,
                      int limit, struct ql_delivery_attempt **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, webhook);
    ql__pg_p_uuid(&p, after ? &after->delivery_id : NULL);
    ql__pg_p_ts(&p, after ? after->at_ms : 0);
    ql__pg_p_int(&p, after ? after->attempt : 0);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_ATTEMPTS_LIST, &p, limit, sizeof(**out),
                         read_attempt, &rows, n, more);
    *out = rows;
    return rc;
}

static int w_reopen(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *webhook, const struct ql_uuid *delivery)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, webhook);
    ql__pg_p_uuid(&p, delivery);
    return ql__pg_touch_one(pg_of(self), cx, QL__ST_DELIVERY_REOPEN, &p);
}

static int w_failures(struct ql_store *self, struct ql_ctx *cx, int limit,
                      struct ql_delivery_attempt **out, int *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_int(&p, limit);
    void *rows;
    int more;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_ATTEMPT_FAILURES, &p, limit, sizeof(**out),
                         read_attempt, &rows, n, &more);
    *out = rows;
    return rc;
}

static int w_purge(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int limit,
                   int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, before_ms);
    ql__pg_p_int(&p, limit);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_DELIVERIES_PURGE, &p, &r);
    if (rc)
        return rc;
    *n = ql__pg_affected(r);
    PQclear(r);
    return QL_OK;
}

static int w_fail_orphans(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms,
                          const char *error, int limit, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, now_ms);
    ql__pg_p_text(&p, error);
    ql__pg_p_int(&p, limit);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_DELIVERIES_FAIL_ORPHANS, &p, &r);
    if (rc)
        return rc;
    *n = PQntuples(r) == 1 ? ql__pg_int8(r, 0, 0) : 0;
    PQclear(r);
    return QL_OK;
}

const struct ql_webhooks_ops ql__pg_webhooks_ops = {
    .insert = w_insert,
    .list = w_list,
    .count = w_count,
    .get = w_get,
    .remove = w_remove,
    .subscribed = w_subscribed,
    .deliveries_add = w_deliveries_add,
    .target = w_target,
    .attempt_add = w_attempt_add,
    .disable = w_disable,
    .attempts = w_attempts,
    .reopen = w_reopen,
    .failures = w_failures,
    .purge = w_purge,
    .fail_orphans = w_fail_orphans,
};
