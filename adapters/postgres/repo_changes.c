/*
 * repo_changes.c - the change log over PostgreSQL (core/changes/changes.h; the table and
 * why positions are safe to page by are in migrations/0007_changes.up.sql).
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

/* A position as the text of an xid8 and a seq (s: at least 24 bytes). */
static void pos_params(struct ql__pg_params *p, const struct ql_change_pos *pos, char *s)
{
    snprintf(s, 24, "%llu", (unsigned long long)pos->txid);
    ql__pg_p_text(p, s);
    ql__pg_p_int(p, pos->seq);
}

/* An xid8 column, as text. */
static uint64_t txid_at(const PGresult *r, int row, int col)
{
    return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

/* An xid8 column in its binary form, which is an int8's. */
static uint64_t txid_bin(const PGresult *r, int row, int col)
{
    return (uint64_t)ql__pg_int8(r, row, col);
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

/*
 * A row of changes_page: the change (its columns from C on), and its thing's state when it
 * still exists.
 */
#define C 3
static int read_item(struct ql_ctx *cx, const PGresult *r, int row, struct ql_sync_item *it)
{
    memset(it, 0, sizeof(*it));
    it->pos.txid = txid_at(r, row, C);
    it->pos.seq = ql__pg_int8(r, row, C + 1);
    it->kind = ql__pg_int4(r, row, C + 2);
    ql__pg_uuid(r, row, C + 3, &it->id);
    int rc = QL_OK;
    if (it->kind == QL_CHANGE_ENTRY && !PQgetisnull(r, row, C + 4)) {
        struct ql_entry *e = ql_arena_alloc(cx->arena, sizeof(*e));
        rc = e ? ql__pg_entry_at(cx, r, row, C + 4, e) : ql_error_nomem(&cx->err);
        it->entry = e;
    } else if (it->kind == QL_CHANGE_PROMPT && !PQgetisnull(r, row, C + 14)) {
        struct ql_prompt *p = ql_arena_alloc(cx->arena, sizeof(*p));
        rc = p ? ql__pg_prompt_at(cx, r, row, C + 14, p) : ql_error_nomem(&cx->err);
        it->prompt = p;
    } else if (it->kind == QL_CHANGE_MEMBER && !PQgetisnull(r, row, C + 21)) {
        struct ql_member *m = ql_arena_alloc(cx->arena, sizeof(*m));
        rc = m ? ql__pg_member_at(cx, r, row, C + 21, m) : ql_error_nomem(&cx->err);
        it->member = m;
    } else {
        it->deleted = 1; /* gone now, whatever this change did */
    }
    return rc;
}
#define VISIBLE (C + 26) /* the column that says a change may be given out */

/* A live entry without content: too large, or past the page's bytes (stmts_pages.h). */
static int no_content(const PGresult *r, int row)
{
    return ql__pg_int4(r, row, C + 2) == QL_CHANGE_ENTRY && !PQgetisnull(r, row, C + 4) &&
           PQgetisnull(r, row, C + 9);
}

/*
 * The rows of changes_page in the order of the log.  The statement leaves its rows in the
 * order its lookups give them: sorting them there, each with the state of its thing, cost
 * about a tenth of the statement's execution; here it is a position and a row number each.
 */
struct at {
    uint64_t txid;
    int64_t seq;
    int row;
};

static int at_cmp(const void *a, const void *b)
{
    const struct at *x = a, *y = b;
    if (x->txid != y->txid)
        return x->txid < y->txid ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static struct at *in_log_order(struct ql_ctx *cx, const PGresult *r, int n)
{
    struct at *o = ql_arena_alloc(cx->arena, sizeof(*o) * (size_t)(n ? n : 1));
    if (o == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        o[i] = (struct at){txid_at(r, i, C), ql__pg_int8(r, i, C + 1), i};
    qsort(o, (size_t)n, sizeof(*o), at_cmp);
    return o;
}

/* What read_page fills: the page, and how many changes it may hold. */
struct page_dst {
    struct ql_change_page *out;
    int limit;
    struct ql_change_pos after; /* changes_page_entries: the page's cursor */
    struct ql_uuid team;        /* changes_page_entries: the team, which its rows leave out */
    int others;      /* set by changes_page_entries: other kinds changed after the cursor */
    int bytes;       /* read by a _bytes statement (stmts_pages.h) */
    ql_done_fn done; /* c_page_async's */
    void *arg;
    struct ql_pg *pg; /* c_page_async's session */
};

/*
 * The whole result of changes_page, read as the "row" of ql__pg_one or ql__pg_read_async
 * (the statement always returns a row: with no change, the one row of start and floor).
 */
static int read_page(struct ql_ctx *cx, const PGresult *r, int row0, void *dst)
{
    (void)row0;
    struct page_dst *d = dst;
    struct ql_change_page *out = d->out;
    int limit = d->limit;
    int got = PQntuples(r);
    out->start = (struct ql_change_pos){txid_at(r, 0, 0), 0};
    out->floor = (struct ql_change_pos){txid_at(r, 0, 1), ql__pg_int8(r, 0, 2)};
    if (PQgetisnull(r, 0, C))
        got = 0; /* the one row of no change */
    out->items = ql_arena_calloc(cx->arena, (size_t)(got ? got : 1), sizeof(*out->items));
    struct at *order = in_log_order(cx, r, got);
    if (out->items == NULL || order == NULL)
        return ql_error_nomem(&cx->err);
    int rc = QL_OK;
    for (int i = 0; rc == QL_OK && i < got; i++) {
        if (!ql__pg_bool(r, order[i].row, VISIBLE)) {
            out->held = 1;
            break;
        }
        int large = no_content(r, order[i].row);
        if (large && !d->bytes)
            return QL__PG_LARGE;
        if (i == limit || large) {
            out->more = 1; /* by count, or by bytes: the rest comes without content */
            break;
        }
        rc = read_item(cx, r, order[i].row, &out->items[i]);
        out->n++;
    }
    return rc;
}

/*
 * The whole result of changes_page_entries (see there): its header row, then its entries in
 * log order.  Sets others when a prompt, membership or tombstone changed after the cursor
 * too: then the page stands only if changes_other_first finds the first of them past it.
 */
static int read_entries_page(struct ql_ctx *cx, const PGresult *r, int row0, void *dst)
{
    (void)row0;
    struct page_dst *d = dst;
    struct ql_change_page *out = d->out;
    int got = PQntuples(r), h = 0;
    while (h < got && !PQgetisnull(r, h, 2)) /* first, as UNION ALL runs; not relied on */
        h++;
    if (h == got)
        return ql_error_set(&cx->err, QL_EINTERNAL, "changes_page_entries: no header row");
    out->start = (struct ql_change_pos){txid_bin(r, h, 0), 0};
    out->floor = (struct ql_change_pos){txid_bin(r, h, 11), ql__pg_int8(r, h, 1)};
    if (ql_change_pos_cmp(&d->after, &out->floor) < 0)
        return QL_OK; /* below the floor: nothing, as changes_page gives */
    d->others = ql__pg_int4(r, h, 7);
    out->items = ql_arena_calloc(cx->arena, (size_t)got, sizeof(*out->items));
    if (out->items == NULL)
        return ql_error_nomem(&cx->err);
    int rc = QL_OK;
    for (int row = 0; rc == QL_OK && row < got; row++) {
        if (row == h)
            continue;
        struct ql_change_pos pos = {txid_bin(r, row, 0), ql__pg_int8(r, row, 1)};
        if (pos.txid >= out->start.txid) {
            out->held = 1; /* committed, perhaps, but not yet below the horizon */
            break;
        }
        if (out->n == d->limit) {
            out->more = 1;
            break;
        }
        if (PQgetisnull(r, row, 10) && PQgetisnull(r, row, 6)) { /* live, without content */
            if (!d->bytes)
                return QL__PG_LARGE; /* too large: the _bytes statement reads the page */
            out->more = 1;           /* the page's bytes end before it */
            break;
        }
        struct ql_sync_item *it = &out->items[out->n];
        it->pos = pos;
        it->kind = QL_CHANGE_ENTRY;
        ql__pg_uuid(r, row, 2, &it->id);
        if (PQgetisnull(r, row, 10)) {
            struct ql_entry *e = ql_arena_alloc(cx->arena, sizeof(*e));
            rc = e ? ql__pg_entry_in(cx, r, row, 2, 3, &d->team, e) : ql_error_nomem(&cx->err);
            it->entry = e;
        } else {
            it->deleted = 1; /* soft-deleted: a tombstone for the reader */
        }
        out->n++;
    }
    return rc;
}

/*
 * changes_other_first's row, for a page of entries d read from its cursor: the page stands
 * (others cleared) when the first other change lies past the page's last entry, or at or
 * past its horizon (then it is held, as changes_page would hold it).  Positions below that
 * horizon had finished changing when the page was read, except by moving on, which only
 * takes a thing out of the page's reach; and a floor raised past the cursor meanwhile
 * empties the page, so the reader hears that its cursor expired.
 */
static int read_other_first(struct ql_ctx *cx, const PGresult *r, int row0, void *dst)
{
    (void)cx;
    struct page_dst *d = dst;
    struct ql_change_page *out = d->out;
    struct ql_change_pos floor = {txid_at(r, row0, 0), ql__pg_int8(r, row0, 1)};
    if (ql_change_pos_cmp(&d->after, &floor) < 0) {
        *out = (struct ql_change_page){.start = out->start, .floor = floor};
        d->others = 0;
        return QL_OK;
    }
    if (PQgetisnull(r, row0, 2)) {
        d->others = 0; /* moved on since the page's snapshot: nothing left to merge */
        return QL_OK;
    }
    struct ql_change_pos first = {txid_at(r, row0, 2), ql__pg_int8(r, row0, 3)};
    if (first.txid >= out->start.txid) {
        out->held |= !out->more;
        d->others = 0;
    } else if (out->more && out->n && ql_change_pos_cmp(&first, &out->items[out->n - 1].pos) > 0) {
        d->others = 0;
    }
    return QL_OK;
}

/* The parameters of changes_other_first, the team and the cursor of d, into q (txid: 24
 * bytes that live as long as q). */
static void other_params(struct ql__pg_params *q, const struct page_dst *d, char *txid)
{
    ql__pg_p_uuid(q, &d->team);
    pos_params(q, &d->after, txid);
}

/* The parameters of changes_page: those of changes_other_first, then the rows to read. */
static void page_params(struct ql__pg_params *p, const struct page_dst *d, char *txid)
{
    other_params(p, d, txid);
    ql__pg_p_int(p, d->limit + 1);
}

/* st read into d, or st_bytes when an entry is too large for it (stmts_pages.h). */
static int read_one_page(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                         enum ql__pg_stmt st_bytes, const struct ql__pg_params *p,
                         ql__pg_row_fn read, struct page_dst *d)
{
    int rc = ql__pg_one(pg, cx, st, p, read, d);
    if (rc == QL__PG_LARGE) {
        memset(d->out, 0, sizeof(*d->out));
        d->others = 0;
        d->bytes = 1;
        rc = ql__pg_one(pg, cx, st_bytes, p, read, d);
        d->bytes = 0;
    }
    return rc;
}

static int c_page(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_change_pos *after, int limit, struct ql_change_page *out)
{
    struct ql__pg_params p = {0};
    char txid[24];
    memset(out, 0, sizeof(*out));
    struct page_dst dst = {.out = out, .limit = limit, .after = *after, .team = *team};
    page_params(&p, &dst, txid);
    int rc = read_one_page(pg_of(self), cx, QL__ST_CHANGES_PAGE_ENTRIES,
                           QL__ST_CHANGES_PAGE_ENTRIES_BYTES, &p, read_entries_page, &dst);
    if (rc == QL_OK && dst.others) {
        struct ql__pg_params q = {0};
        other_params(&q, &dst, txid);
        rc = ql__pg_one(pg_of(self), cx, QL__ST_CHANGES_OTHER_FIRST, &q, read_other_first, &dst);
    }
    if (rc == QL_OK && dst.others) {
        memset(out, 0, sizeof(*out));
        rc = read_one_page(pg_of(self), cx, QL__ST_CHANGES_PAGE, QL__ST_CHANGES_PAGE_BYTES, &p,
                           read_page, &dst);
    }
    if (rc == QL_ENOT_FOUND)
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "change_floor has no row");
    return rc;
}

/*
 * On an event loop's session, the statements are pipelined with the loop's other reads.
 * When other kinds changed too, changes_other_first follows on the loop; a page that
 * reaches their first change needs changes_page as well, and that is left to the pool
 * (QL_EWOULD_BLOCK there runs the request again on it).
 */
static void other_got(struct ql_ctx *cx, int rc, void *arg)
{
    struct page_dst *d = arg;
    if (rc == QL_OK && d->others)
        rc = ql_error_set(&cx->err, QL_EWOULD_BLOCK, "other kinds changed: the pool reads it");
    d->done(cx, rc, d->arg);
}

static void page_got(struct ql_ctx *cx, int rc, void *arg)
{
    struct page_dst *d = arg;
    if (rc == QL_OK && d->others) {
        struct ql__pg_params q = {0};
        char txid[24];
        other_params(&q, d, txid);
        rc = ql__pg_read_async(d->pg, cx, QL__ST_CHANGES_OTHER_FIRST, &q, read_other_first, d,
                               other_got, d);
        if (rc == QL_OK)
            return;
    }
    d->done(cx, rc, d->arg);
}

static int c_page_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_change_pos *after, int limit, struct ql_change_page *out,
                        ql_done_fn done, void *arg)
{
    if (!pg_of(self)->loop) /* a session that may wait reads both statements itself */
        return ql_ctx_defer(cx, done, c_page(self, cx, team, after, limit, out), arg);
    struct ql__pg_params p = {0};
    char txid[24];
    memset(out, 0, sizeof(*out));
    struct page_dst *dst = ql_arena_alloc(cx->arena, sizeof(*dst));
    if (dst == NULL)
        return ql_error_nomem(&cx->err);
    *dst = (struct page_dst){.out = out, .limit = limit, .after = *after, .team = *team};
    dst->done = done;
    dst->arg = arg;
    dst->pg = pg_of(self);
    page_params(&p, dst, txid);
    return ql__pg_read_async(pg_of(self), cx, QL__ST_CHANGES_PAGE_ENTRIES, &p, read_entries_page,
                             dst, page_got, dst);
}
#undef C
#undef VISIBLE

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
    *start = (struct ql_change_pos){txid_at(r, 0, 0), 0};
    *floor = (struct ql_change_pos){txid_at(r, 0, 1), ql__pg_int8(r, 0, 2)};
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
        *pos = (struct ql_change_pos){txid_at(r, 0, 0), ql__pg_int8(r, 0, 1)};
    PQclear(r);
    return rc;
}

static int read_change(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_change *c = dst;
    c->pos = (struct ql_change_pos){txid_at(r, row, 0), ql__pg_int8(r, row, 1)};
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
    pos_params(&p, after, txid);
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
    pos_params(&p, from, was);
    pos_params(&p, to, now);
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
    .page = c_page,
    .page_async = c_page_async,
    .bounds = c_bounds,
    .live = c_live,
    .consumer_lock = c_consumer_lock,
    .consumer_read = c_consumer_read,
    .consumer_advance = c_consumer_advance,
    .compact = ql__pg_changes_compact,
    .compact_batch = ql__pg_changes_compact_batch,
};
