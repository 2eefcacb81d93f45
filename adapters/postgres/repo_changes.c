/*
 * repo_changes.c - the change log over PostgreSQL (core/changes/changes.h; the table and
 * why positions are safe to page by are in migrations/0007_changes.up.sql); its delta pages
 * are repo_delta.c's.
 *
 * Appends are sent without waiting inside the writer's transaction, and note the team so
 * that, once the transaction commits, the session announces the change on the
 * notification port (conn.c): live streams on every instance then read the log.
 */
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "changes/changes.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

void ql__pg_p_pos(struct ql__pg_params *p, const struct ql_change_pos *pos, char *s)
{
    snprintf(s, 24, "%llu", (unsigned long long)pos->txid);
    ql__pg_p_text(p, s);
    ql__pg_p_int(p, pos->seq);
}

uint64_t ql__pg_xid8(const PGresult *r, int row, int col)
{
    return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static int c_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int event,
                    const struct ql_uuid *id)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_int(&p, ql_change_kind_of(event));
    ql__pg_p_int(&p, event);
    ql__pg_p_uuid(&p, id);
    ql__pg_p_text(&p, ql_trace_context_of(cx, cx));
    int rc = ql__pg_run(pg_of(self), cx, QL__ST_CHANGE_APPEND, &p);
    if (rc == QL_OK)
        ql__pg_changed(pg_of(self), team);
    return rc;
}

static int c_append_many(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_uuid *const *teams, const int *events,
                         const struct ql_uuid *const *ids, const char *const *traceparents, int n)
{
    struct ql_buf cols[5];
    ql__pg_arr_begin(cx, cols, 5);
    const char *own = traceparents ? NULL : ql_trace_context_of(cx, cx);
    for (int i = 0; i < n; i++) {
        ql__pg_arr_uuid(&cols[0], teams[i], i == 0);
        ql__pg_arr_int(&cols[1], ql_change_kind_of(events[i]), i == 0);
        ql__pg_arr_int(&cols[2], events[i], i == 0);
        ql__pg_arr_uuid(&cols[3], ids[i], i == 0);
        ql__pg_arr_str(&cols[4], traceparents ? traceparents[i] : own, i == 0);
    }
    struct ql__pg_params p = {0};
    int rc = ql__pg_arr_params(cx, cols, 5, &p);
    if (rc == QL_OK)
        rc = ql__pg_run(pg_of(self), cx, QL__ST_CHANGE_APPEND_MANY, &p);
    for (int i = 0; rc == QL_OK && i < n; i++)
        ql__pg_changed(pg_of(self), teams[i]);
    return rc;
}

static int c_bounds(struct ql_store *self, struct ql_ctx *cx, struct ql_change_pos *start,
                    struct ql_change_pos *floor)
{
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_CHANGES_BOUNDS, NULL, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return ql_error_set(&cx->err, QL_EINTERNAL, "change_floor has no row");
    }
    *start = (struct ql_change_pos){ql__pg_xid8(r, 0, 0), 0};
    *floor = (struct ql_change_pos){ql__pg_xid8(r, 0, 1), ql__pg_int8(r, 0, 2)};
    PQclear(r);
    return QL_OK;
}

/* Live things as sync items: the row readers of each kind, wrapped. */
static int live_entry(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_sync_item *it = dst;
    struct ql_entry *e = ql_arena_alloc(cx->arena, sizeof(*e));
    if (e == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *it = (struct ql_sync_item){.kind = QL_CHANGE_ENTRY, .entry = e};
    int rc = ql__pg_entry_at(cx, r, row, 0, e);
    it->id = e->id;
    return rc;
}

/* A row of live_entries, or QL__PG_LARGE without its content (stmts_pages.h). */
static int read_live_entry(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return PQgetisnull(r, row, 5) ? QL__PG_LARGE : live_entry(cx, r, row, dst);
}

/* A row of live_entries_bytes, or QL__PG_CUT without its content: past the page's bytes. */
static int read_live_entry_bytes(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    return PQgetisnull(r, row, 5) ? QL__PG_CUT : live_entry(cx, r, row, dst);
}

static int read_live_prompt(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_sync_item *it = dst;
    struct ql_prompt *p = ql_arena_alloc(cx->arena, sizeof(*p));
    if (p == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *it = (struct ql_sync_item){.kind = QL_CHANGE_PROMPT, .prompt = p};
    int rc = ql__pg_prompt_at(cx, r, row, 0, p);
    it->id = p->id;
    return rc;
}

static int read_live_member(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_sync_item *it = dst;
    struct ql_member *m = ql_arena_alloc(cx->arena, sizeof(*m));
    if (m == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *it = (struct ql_sync_item){.kind = QL_CHANGE_MEMBER, .member = m};
    int rc = ql__pg_member_at(cx, r, row, 0, m);
    it->id = m->user_id;
    return rc;
}

static int c_live(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int kind,
                  int64_t num, const struct ql_uuid *after, int limit, struct ql_sync_item **out,
                  int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, team);
    ql__pg_p_uuid(&p, after);
    enum ql__pg_stmt st;
    ql__pg_row_fn read;
    if (kind == QL_CHANGE_ENTRY) {
        ql__pg_p_ts(&p, num);
        st = QL__ST_LIVE_ENTRIES;
        read = read_live_entry;
    } else if (kind == QL_CHANGE_PROMPT) {
        st = QL__ST_LIVE_PROMPTS;
        read = read_live_prompt;
    } else {
        st = QL__ST_MEMBERS_LIST;
        read = read_live_member;
    }
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, st, &p, limit, sizeof(**out), read, &rows, n, more);
    if (rc == QL__PG_LARGE)
        rc = ql__pg_page(pg_of(self), cx, QL__ST_LIVE_ENTRIES_BYTES, &p, limit, sizeof(**out),
                         read_live_entry_bytes, &rows, n, more);
    *out = rows;
    return rc;
}

static int c_consumer_lock(struct ql_store *self, struct ql_ctx *cx, const char *name,
                           struct ql_change_pos *pos)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, name);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_CONSUMER_LOCK, &p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, "consumer %s is busy or unknown", name);
    else
        *pos = (struct ql_change_pos){ql__pg_xid8(r, 0, 0), ql__pg_int8(r, 0, 1)};
    PQclear(r);
    return rc;
}

static int read_change(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_change *c = dst;
    c->pos = (struct ql_change_pos){ql__pg_xid8(r, row, 0), ql__pg_int8(r, row, 1)};
    ql__pg_uuid(r, row, 2, &c->team);
    c->event = ql__pg_int4(r, row, 3);
    ql__pg_uuid(r, row, 4, &c->id);
    c->traceparent = ql__pg_text(cx, r, row, 5); /* NULL when none, or out of memory */
    return QL_OK;
}

static int c_consumer_read(struct ql_store *self, struct ql_ctx *cx,
                           const struct ql_change_pos *after, int limit, struct ql_change **out,
                           int *n)
{
    struct ql__pg_params p = {0};
    char txid[24];
    ql__pg_p_pos(&p, after, txid);
    ql__pg_p_int(&p, limit);
    void *rows;
    int more;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_CONSUMER_READ, &p, limit, sizeof(**out),
                         read_change, &rows, n, &more);
    *out = rows;
    return rc;
}

/*
 * A compare-and-set on the position, waited for: the row lock of consumer_lock already
 * keeps a second run out, and this makes a second application of one batch impossible
 * even if that lock were ever lost (one round trip per batch, not per change).
 */
static int c_consumer_advance(struct ql_store *self, struct ql_ctx *cx, const char *name,
                              const struct ql_change_pos *from, const struct ql_change_pos *to)
{
    struct ql__pg_params p = {0};
    char was[24], now[24];
    ql__pg_p_text(&p, name);
    ql__pg_p_pos(&p, from, was);
    ql__pg_p_pos(&p, to, now);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_CONSUMER_ADVANCE, &p, &r);
    if (rc == QL_OK && ql__pg_affected(r) == 0)
        rc = ql_error_set(&cx->err, QL_ECONFLICT, "consumer %s was moved by another run", name);
    PQclear(r);
    return rc;
}

const struct ql_changes_ops ql__pg_changes_ops = {
    .append = c_append,
    .append_many = c_append_many,
    .page = ql__pg_changes_page,
    .page_async = ql__pg_changes_page_async,
    .bounds = c_bounds,
    .live = c_live,
    .consumer_lock = c_consumer_lock,
    .consumer_read = c_consumer_read,
    .consumer_advance = c_consumer_advance,
    .compact = ql__pg_changes_compact,
    .compact_batch = ql__pg_changes_compact_batch,
};
