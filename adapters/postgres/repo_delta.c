/*
 * repo_delta.c - delta pages of a team's changes over PostgreSQL (changes.page and
 * page_async of core/store): the things themselves carry the position of their last change
 * (migrations/0017_sync_state.up.sql), so a page walks their position indexes; a page kept
 * from before is given again when the database says its team is unchanged (pagecache.c).
 */
#include "internal.h"
#include "pagecache.h"

#include "arena/arena.h"
#include "changes/changes.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* An xid8 column in its binary form, which is an int8's. */
static uint64_t xid8_bin(const PGresult *r, int row, int col)
{
    return (uint64_t)ql__pg_int8(r, row, col);
}

/*
 * A row of changes_page: the change (its columns from C on), and its thing's state when it
 * still exists.
 */
#define C 3
static int read_item(struct ql_ctx *cx, const PGresult *r, int row, struct ql_sync_item *it)
{
    memset(it, 0, sizeof(*it));
    it->pos.txid = ql__pg_xid8(r, row, C);
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
        o[i] = (struct at){ql__pg_xid8(r, i, C), ql__pg_int8(r, i, C + 1), i};
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
    struct ql_pg *pg;                 /* c_page_async's session */
    struct ql_pg_pages *pages;        /* the process's delta page cache; NULL: none */
    const struct ql__pg_page *cached; /* this page as read before, held until read */
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
    out->start = (struct ql_change_pos){ql__pg_xid8(r, 0, 0), 0};
    out->floor = (struct ql_change_pos){ql__pg_xid8(r, 0, 1), ql__pg_int8(r, 0, 2)};
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

/* The entries of a result of changes_page_entries (its header row skipped) into d. */
static int read_entries(struct ql_ctx *cx, const PGresult *r, struct page_dst *d)
{
    struct ql_change_page *out = d->out;
    int got = PQntuples(r);
    out->items = ql_arena_calloc(cx->arena, (size_t)got, sizeof(*out->items));
    if (out->items == NULL)
        return ql_error_nomem(&cx->err);
    int rc = QL_OK;
    for (int row = 0; rc == QL_OK && row < got; row++) {
        if (PQgetisnull(r, row, 2))
            continue; /* the header */
        struct ql_change_pos pos = {xid8_bin(r, row, 0), ql__pg_int8(r, row, 1)};
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

static struct ql__pg_page_key page_key(const struct page_dst *d)
{
    return (struct ql__pg_page_key){d->team, d->after, d->limit};
}

/* Let go of the page read before, if d holds one. */
static void let_go(struct page_dst *d)
{
    ql__pg_pages_release(d->pages, d->cached);
    d->cached = NULL;
}

/*
 * The whole result of changes_page_entries (see there): its header row, then its entries in
 * log order, or, when the header says so, those of the page read before (pagecache.c).
 * Sets others when a prompt, membership or tombstone changed after the cursor too: then
 * the page stands only if changes_other_first finds the first of them past it.
 */
static int read_entries_page(struct ql_ctx *cx, const PGresult *r, int row0, void *dst)
{
    (void)row0;
    struct page_dst *d = dst;
    struct ql_change_page *out = d->out;
    int got = PQntuples(r), h = 0;
    while (h < got && !PQgetisnull(r, h, 2)) /* first, as UNION ALL runs; not relied on */
        h++;
    if (h == got) {
        let_go(d);
        return ql_error_set(&cx->err, QL_EINTERNAL, "changes_page_entries: no header row");
    }
    out->start = (struct ql_change_pos){xid8_bin(r, h, 0), 0};
    out->floor = (struct ql_change_pos){xid8_bin(r, h, 11), ql__pg_int8(r, h, 1)};
    if (ql_change_pos_cmp(&d->after, &out->floor) < 0) {
        let_go(d);
        return QL_OK; /* below the floor: nothing, as changes_page gives */
    }
    d->others = ql__pg_int4(r, h, 7);
    int kept = ql__pg_int4(r, h, 12) == 1;
    if (kept && (d->cached == NULL || d->others)) {
        let_go(d); /* cannot be: the page comes only when it changed */
        return ql_error_set(&cx->err, QL_EINTERNAL, "changes_page_entries: no page kept");
    }
    int rc = read_entries(cx, kept ? d->cached->res : r, d);
    ql__pg_pages_count(d->pages, kept);
    struct ql__pg_page_key k = page_key(d);
    if (rc == QL_OK && !kept && !d->others && !out->held && !d->bytes && out->n > 0)
        ql__pg_pages_put(d->pages, &k, out->start.txid, r, d->cached != NULL);
    else if (!kept && d->cached)
        ql__pg_pages_drop(d->pages, &k); /* changed, and not worth keeping now */
    let_go(d);
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
    struct ql_change_pos floor = {ql__pg_xid8(r, row0, 0), ql__pg_int8(r, row0, 1)};
    if (ql_change_pos_cmp(&d->after, &floor) < 0) {
        *out = (struct ql_change_page){.start = out->start, .floor = floor};
        d->others = 0;
        return QL_OK;
    }
    if (PQgetisnull(r, row0, 2)) {
        d->others = 0; /* moved on since the page's snapshot: nothing left to merge */
        return QL_OK;
    }
    struct ql_change_pos first = {ql__pg_xid8(r, row0, 2), ql__pg_int8(r, row0, 3)};
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
    ql__pg_p_pos(q, &d->after, txid);
}

/* The parameters of changes_page: those of changes_other_first, then the rows to read. */
static void page_params(struct ql__pg_params *p, const struct page_dst *d, char *txid)
{
    other_params(p, d, txid);
    ql__pg_p_int(p, d->limit + 1);
}

/*
 * Those of changes_page_entries: changes_page's, then the horizon of the page kept from
 * before (horizon: 24 bytes that live as long as p), which d takes from the cache when the
 * caller may ask for the page again (keep); a read nobody repeats leaves the cache alone.
 */
static void entries_params(struct ql__pg_params *p, struct ql_pg *pg, struct page_dst *d, int keep,
                           char *txid, char *horizon)
{
    page_params(p, d, txid);
    d->pages = keep ? pg->db->pages : NULL;
    struct ql__pg_page_key k = page_key(d);
    d->cached = ql__pg_pages_get(d->pages, &k);
    if (d->cached)
        snprintf(horizon, 24, "%llu", (unsigned long long)d->cached->horizon);
    ql__pg_p_text(p, d->cached ? horizon : NULL);
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

int ql__pg_changes_page(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_change_pos *after, int limit, int keep,
                        struct ql_change_page *out)
{
    struct ql__pg_params p = {0}, e = {0};
    char txid[24], horizon[24];
    memset(out, 0, sizeof(*out));
    struct page_dst dst = {.out = out, .limit = limit, .after = *after, .team = *team};
    page_params(&p, &dst, txid);
    entries_params(&e, pg_of(self), &dst, keep, txid, horizon);
    int rc = read_one_page(pg_of(self), cx, QL__ST_CHANGES_PAGE_ENTRIES,
                           QL__ST_CHANGES_PAGE_ENTRIES_BYTES, &e, read_entries_page, &dst);
    let_go(&dst); /* when the statement failed before its rows were read */
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
    let_go(d); /* when the statement failed before its rows were read */
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

int ql__pg_changes_page_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                              const struct ql_change_pos *after, int limit, int keep,
                              struct ql_change_page *out, ql_done_fn done, void *arg)
{
    if (!pg_of(self)->loop) /* a session that may wait reads both statements itself */
        return ql_ctx_defer(cx, done, ql__pg_changes_page(self, cx, team, after, limit, keep, out),
                            arg);
    struct ql__pg_params p = {0};
    char txid[24], horizon[24];
    memset(out, 0, sizeof(*out));
    struct page_dst *dst = ql_arena_alloc(cx->arena, sizeof(*dst));
    if (dst == NULL)
        return ql_error_nomem(&cx->err);
    *dst = (struct page_dst){.out = out, .limit = limit, .after = *after, .team = *team};
    dst->done = done;
    dst->arg = arg;
    dst->pg = pg_of(self);
    entries_params(&p, pg_of(self), dst, keep, txid, horizon);
    int rc = ql__pg_read_async(pg_of(self), cx, QL__ST_CHANGES_PAGE_ENTRIES, &p, read_entries_page,
                               dst, page_got, dst);
    if (rc)
        let_go(dst); /* refused: page_got never runs */
    return rc;
}
#undef C
#undef VISIBLE
