/*
 * changes.c - the change log's use cases: recording a change, delta sync with its cursors,
 * the consumer loop, the activity consumer and compaction.
 *
 * Sync cursors are base64url of a version byte, a type byte and the position:
 *   'd' delta:    txid (8 bytes) and seq (8 bytes): the changes after this position;
 *   's' snapshot: the position the snapshot continues from (8), the kind being paged (1),
 *                 and the keyset of its last item: a number (8) and an id (16).
 * They carry no secret; a forged one only moves where reading starts.
 */
#include "changes/changes.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "policy/policy.h"
#include "store/store.h"
#include "tx/tx.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <string.h>

#define CURSOR_VERSION 1
#define DELTA_LEN 18
#define SNAPSHOT_LEN 35

int ql_change_kind_of(int event)
{
    switch (event) {
    case QL_EVENT_ENTRY_CREATED:
    case QL_EVENT_ENTRY_UPDATED:
    case QL_EVENT_ENTRY_DELETED:
        return QL_CHANGE_ENTRY;
    case QL_EVENT_PROMPT_CREATED:
    case QL_EVENT_PROMPT_DELETED:
        return QL_CHANGE_PROMPT;
    case QL_EVENT_USAGE_ALERT:
    case QL_EVENT_EXPORT_READY:
        return QL_CHANGE_TEAM;
    default:
        return QL_CHANGE_MEMBER;
    }
}

int ql_change_removes(int event)
{
    return event == QL_EVENT_ENTRY_DELETED || event == QL_EVENT_PROMPT_DELETED ||
           event == QL_EVENT_MEMBER_REMOVED;
}

int ql_change_pos_cmp(const struct ql_change_pos *a, const struct ql_change_pos *b)
{
    if (a->txid != b->txid)
        return a->txid < b->txid ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

int ql_change(struct ql_ctx *cx, const struct ql_uuid *team, int event, const struct ql_uuid *id)
{
    return ql_store_changes_append(cx->ports.store, cx, team, event, id);
}

/* ---- cursors --------------------------------------------------------------------------------- */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ql_sync_cursor(const struct ql_change_pos *pos, char *out)
{
    uint8_t raw[DELTA_LEN] = {CURSOR_VERSION, 'd'};
    put64(raw + 2, pos->txid);
    put64(raw + 10, (uint64_t)pos->seq);
    ql_b64_encode(raw, sizeof(raw), out, 1);
}

/* Where a snapshot is: the position it continues from, the kind and the last item paged. */
struct snap {
    struct ql_change_pos start;
    int kind;
    int64_t num;
    struct ql_uuid after;
    int has_after;
};

static void snapshot_cursor(const struct snap *s, char *out)
{
    uint8_t raw[SNAPSHOT_LEN] = {CURSOR_VERSION, 's'};
    put64(raw + 2, s->start.txid);
    raw[10] = (uint8_t)s->kind;
    put64(raw + 11, (uint64_t)s->num);
    memcpy(raw + 19, s->after.b, 16);
    ql_b64_encode(raw, sizeof(raw), out, 1);
}

/* field: where the cursor came from, as the client named it ("since", "Last-Event-ID"). */
static int bad_cursor(struct ql_ctx *cx, const char *field)
{
    return ql_error_field(&cx->err, field, "invalid_cursor", "is not a cursor this team issued");
}

/* Decode a cursor: a delta position (*snapshot 0) or a snapshot's place (*snapshot 1). */
static int parse(struct ql_ctx *cx, const char *field, const char *s, size_t n,
                 struct ql_change_pos *pos, struct snap *snap, int *snapshot)
{
    uint8_t raw[SNAPSHOT_LEN + 2];
    size_t len;
    if (n > QL_SYNC_CURSOR_MAX || ql_b64_decode(s, n, raw, sizeof(raw), &len) != QL_OK || len < 2 ||
        raw[0] != CURSOR_VERSION)
        return bad_cursor(cx, field);
    if (raw[1] == 'd' && len == DELTA_LEN) {
        *snapshot = 0;
        pos->txid = get64(raw + 2);
        pos->seq = (int64_t)get64(raw + 10);
        return pos->seq >= 0 ? QL_OK : bad_cursor(cx, field);
    }
    if (raw[1] == 's' && len == SNAPSHOT_LEN && raw[10] >= QL_CHANGE_ENTRY &&
        raw[10] <= QL_CHANGE_MEMBER) {
        *snapshot = 1;
        memset(snap, 0, sizeof(*snap));
        snap->start.txid = get64(raw + 2);
        snap->kind = raw[10];
        snap->num = (int64_t)get64(raw + 11);
        memcpy(snap->after.b, raw + 19, 16);
        snap->has_after = 1;
        /* the creation time of the entry paged last (0 past the entries): a time no entry
         * has was forged, and the store could not take it */
        if (snap->num < QL_TIME_MIN_MS || snap->num > QL_TIME_MAX_MS)
            return bad_cursor(cx, field);
        return QL_OK;
    }
    return bad_cursor(cx, field);
}

/* A delta cursor only. */
static int parse_delta(struct ql_ctx *cx, const char *field, const char *s, size_t n,
                       struct ql_change_pos *out)
{
    struct snap snap;
    int snapshot = 0;
    int rc = parse(cx, field, s, n, out, &snap, &snapshot);
    return rc ? rc : snapshot ? bad_cursor(cx, field) : QL_OK;
}

int ql_sync_cursor_parse(struct ql_ctx *cx, const char *s, size_t n, struct ql_change_pos *out)
{
    return parse_delta(cx, "since", s, n, out);
}

/* ---- sync ------------------------------------------------------------------------------------ */

static int expired(struct ql_ctx *cx)
{
    return ql_error_set(&cx->err, QL_ECURSOR_EXPIRED,
                        "This cursor is older than the change log keeps; take a new snapshot.");
}

/*
 * The changes after pos, from the store's page pg.  A page with changes proves pos is still
 * in the log (the store gives nothing below the floor); only an empty one needs the floor to
 * tell "nothing new" from "expired", so a busy reader costs one statement a page.
 */
static int delta_page(struct ql_ctx *cx, const struct ql_change_pos *pos,
                      const struct ql_change_page *pg, struct ql_sync_page *out)
{
    if (ql_change_pos_cmp(pos, &pg->floor) < 0)
        return expired(cx);
    out->items = pg->items;
    out->n = pg->n;
    out->more = pg->more;
    out->held = pg->held;
    /*
     * A page that holds every change after pos the team has so far also holds every one
     * before start: the transactions older than start had all finished when its snapshot
     * was taken.  So the cursor moves on to start, and a client of a quiet team, however
     * often it reads, does not keep a cursor that expires as the log of other teams is
     * compacted.  One statement a page: the store reads start and floor with it.
     */
    struct ql_change_pos next = out->n ? out->items[out->n - 1].pos : *pos;
    struct ql_change_pos horizon = {pg->start.txid, 0};
    if (!out->more && !out->held && ql_change_pos_cmp(&next, &horizon) < 0)
        next = horizon;
    out->next = next;
    ql_sync_cursor(&next, out->cursor);
    return QL_OK;
}

struct delta {
    struct ql_change_pos pos;
    struct ql_change_page pg;
    struct ql_sync_page *out;
    ql_done_fn done;
    void *arg;
};

static void delta_got(struct ql_ctx *cx, int rc, void *arg)
{
    struct delta *d = arg;
    if (rc == QL_ENOT_FOUND) /* the page always has a row: start and floor */
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "the change log has no floor");
    if (rc == QL_OK)
        rc = delta_page(cx, &d->pos, &d->pg, d->out);
    d->done(cx, rc, d->arg);
}

/* The delta page after pos into *out, answered in done (as ql_sync_async); keep as the
 * store's page takes it. */
static int delta(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_change_pos *pos,
                 int limit, int keep, struct ql_sync_page *out, ql_done_fn done, void *arg)
{
    struct delta *d = ql_arena_alloc(cx->arena, sizeof(*d));
    if (d == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *d = (struct delta){.pos = *pos, .out = out, .done = done, .arg = arg};
    return ql_store_changes_page_async(cx->ports.store, cx, team, &d->pos, limit, keep, &d->pg,
                                       delta_got, d);
}

/* A page of the snapshot that s says where to continue, filling up across kinds. */
static int snapshot(struct ql_ctx *cx, const struct ql_uuid *team, struct snap *s, int limit,
                    struct ql_sync_page *out)
{
    out->items = ql_arena_calloc(cx->arena, (size_t)limit, sizeof(*out->items));
    if (out->items == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    while (s->kind <= QL_CHANGE_MEMBER && out->n < limit) {
        struct ql_sync_item *items;
        int n, more;
        int rc = ql_store_changes_live(cx->ports.store, cx, team, s->kind,
                                       s->has_after ? s->num : 0, s->has_after ? &s->after : NULL,
                                       limit - out->n, &items, &n, &more);
        if (rc)
            return rc;
        memcpy(out->items + out->n, items, sizeof(*items) * (size_t)n);
        out->n += n;
        if (n > 0) {
            const struct ql_sync_item *last = &items[n - 1];
            s->after = last->id;
            s->num = last->kind == QL_CHANGE_ENTRY ? last->entry->created_ms : 0;
            s->has_after = 1;
        }
        if (more)
            break;
        s->kind++;
        s->has_after = 0;
        s->num = 0;
        memset(&s->after, 0, sizeof(s->after));
    }
    if (s->kind <= QL_CHANGE_MEMBER) {
        out->more = 1;
        snapshot_cursor(s, out->cursor);
    } else {
        ql_sync_cursor(&s->start, out->cursor); /* the changes since the snapshot began */
    }
    return QL_OK;
}

int ql_sync_changes(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_change_pos *pos,
                    int limit, struct ql_sync_page *out)
{
    memset(out, 0, sizeof(*out));
    int rc = QL_EWOULD_BLOCK; /* stays so only if the store answers later, which it must not */
    /* a stream reads each position once: nothing worth keeping */
    return ql_ctx_wait(cx, delta(cx, team, pos, limit, 0, out, ql_ctx_wait_done, &rc), &rc);
}

int ql_sync_stream_start(struct ql_ctx *cx, const struct ql_uuid *team, const char *from, size_t n,
                         const char *field, struct ql_change_pos *out)
{
    int rc = ql_authorize(cx, QL_ACT_SYNC_READ, team);
    if (rc)
        return rc;
    if (from && (rc = parse_delta(cx, field, from, n, out)) != QL_OK)
        return rc;
    struct ql_change_pos start, floor;
    rc = ql_store_changes_bounds(cx->ports.store, cx, &start, &floor);
    if (rc)
        return rc;
    if (from == NULL)
        *out = start; /* from now on: every change not yet in the tables comes */
    else if (ql_change_pos_cmp(out, &floor) < 0)
        return expired(cx);
    return QL_OK;
}

int ql_sync_async(struct ql_ctx *cx, const struct ql_uuid *team, const char *since, size_t since_n,
                  int limit, struct ql_sync_page *out, ql_done_fn done, void *arg)
{
    memset(out, 0, sizeof(*out));
    int rc = ql_authorize(cx, QL_ACT_SYNC_READ, team);
    if (rc)
        return rc;
    struct ql_change_pos pos;
    struct snap s = {.kind = QL_CHANGE_ENTRY};
    int is_snapshot = 1;
    if (since && (rc = parse(cx, "since", since, since_n, &pos, &s, &is_snapshot)) != QL_OK)
        return rc;
    if (!is_snapshot)
        return delta(cx, team, &pos, limit, 1, out, done, arg);
    struct ql_change_pos start, floor;
    rc = ql_store_changes_bounds(cx->ports.store, cx, &start, &floor);
    if (rc)
        return rc;
    if (since == NULL)
        s.start = start; /* a new snapshot: what changes after this comes as deltas */
    else if (ql_change_pos_cmp(&s.start, &floor) < 0)
        return expired(cx);
    rc = snapshot(cx, team, &s, limit, out);
    return rc ? rc : ql_ctx_defer(cx, done, QL_OK, arg);
}

int ql_sync(struct ql_ctx *cx, const struct ql_uuid *team, const char *since, size_t since_n,
            int limit, struct ql_sync_page *out)
{
    int rc = QL_EWOULD_BLOCK; /* stays so only if the store answers later, which it must not */
    return ql_ctx_wait(
        cx, ql_sync_async(cx, team, since, since_n, limit, out, ql_ctx_wait_done, &rc), &rc);
}

/* ---- consumers ------------------------------------------------------------------------------- */

/* At debug level, each batch a consumer applied: what it read, for an operator tracing one. */
static void log_batch(struct ql_ctx *cx, const char *name, const struct ql_change_pos *from,
                      const struct ql_change_pos *to, int k)
{
    char a[48], b[48], n[16];
    snprintf(a, sizeof(a), "%llu:%lld", (unsigned long long)from->txid, (long long)from->seq);
    snprintf(b, sizeof(b), "%llu:%lld", (unsigned long long)to->txid, (long long)to->seq);
    snprintf(n, sizeof(n), "%d", k);
    ql_log(cx->ports.log, QL_LOG_DEBUG, "consumer applied a batch", "consumer", name, "after", a,
           "through", b, "changes", n, NULL);
}

int ql_consume(struct ql_ctx *cx, const char *name, int limit, ql_consume_fn fn, int *n)
{
    *n = 0;
    struct ql_store *st = cx->ports.store;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    struct ql_change_pos pos;
    rc = ql_store_changes_consumer_lock(st, cx, name, &pos);
    if (rc == QL_ENOT_FOUND) { /* another worker has it now */
        ql_error_clear(&cx->err);
        return ql_tx_end(cx, QL_OK);
    }
    struct ql_change *changes = NULL;
    int k = 0;
    if (rc == QL_OK)
        rc = ql_store_changes_consumer_read(st, cx, &pos, limit, &changes, &k);
    if (rc == QL_OK && k > 0)
        rc = fn(cx, changes, k);
    if (rc == QL_OK && k > 0)
        rc = ql_store_changes_consumer_advance(st, cx, name, &pos, &changes[k - 1].pos);
    rc = ql_tx_end(cx, rc);
    if (rc == QL_OK)
        *n = k;
    else if (ql_log_enabled(cx->ports.log, QL_LOG_DEBUG))
        ql_log(cx->ports.log, QL_LOG_DEBUG, "consumer batch rolled back", "consumer", name, "error",
               cx->err.msg, NULL);
    if (rc == QL_OK && k > 0 && ql_log_enabled(cx->ports.log, QL_LOG_DEBUG))
        log_batch(cx, name, &pos, &changes[k - 1].pos, k);
    return rc;
}

int ql_activity_consume(struct ql_ctx *cx, const struct ql_change *changes, int n)
{
    struct ql_activity *rows = ql_arena_calloc(cx->arena, (size_t)n, sizeof(*rows));
    if (rows == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    int k = 0;
    for (int i = 0; i < n; i++) {
        const struct ql_change *c = &changes[i];
        if (ql_change_kind_of(c->event) == QL_CHANGE_TEAM)
            continue; /* not the team's journal activity */
        int j = 0;
        while (j < k && memcmp(rows[j].team.b, c->team.b, 16) != 0)
            j++;
        if (j == k) {
            rows[k].team = c->team;
            rows[k].last_ms = now;
            k++;
        }
        struct ql_activity *a = &rows[j];
        a->entries_created += c->event == QL_EVENT_ENTRY_CREATED;
        a->entries_updated += c->event == QL_EVENT_ENTRY_UPDATED;
        a->entries_deleted += c->event == QL_EVENT_ENTRY_DELETED;
        a->members_added += c->event == QL_EVENT_MEMBER_ADDED;
        a->members_removed += c->event == QL_EVENT_MEMBER_REMOVED;
    }
    return ql_store_maint_activity_add(cx->ports.store, cx, rows, k);
}

const struct ql_consumer *ql_consumers(int *n)
{
    static const struct ql_consumer all[] = {
        {"activity", ql_activity_consume},
        {"webhooks", ql_webhooks_consume},
    };
    *n = (int)(sizeof(all) / sizeof(all[0]));
    return all;
}

static int late(struct ql_ctx *cx)
{
    return cx->deadline_ns && ql_clock_mono_ns(cx->ports.clock) > cx->deadline_ns;
}

/*
 * Compaction in short transactions: one deleting the whole expired log would hold back the
 * horizon (the oldest running transaction) that every reader of the log waits for, for as
 * long as it ran.  Raising the floor first makes the later batches safe: below it nothing is
 * given out.  With kind, the last transaction writes the run's audit row.
 */
static int compact(struct ql_ctx *cx, int64_t retention_ms, int batch, const char *kind, int64_t *n)
{
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    *n = 0;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_tx_end(cx, ql_store_changes_compact(cx->ports.store, cx, now, now - retention_ms));
    for (int more = 1; rc == QL_OK && more;) {
        int64_t k = 0;
        if ((rc = ql_tx_begin(cx)) != QL_OK)
            return rc;
        rc = ql_store_changes_compact_batch(cx->ports.store, cx, batch, &k, &more);
        more = rc == QL_OK && more && !late(cx);
        if (rc == QL_OK && !more && kind) {
            char actor[96];
            snprintf(actor, sizeof(actor), "Job:%s", kind);
            rc = ql_audit(cx, NULL, kind, "Job", NULL, actor);
        }
        rc = ql_tx_end(cx, rc);
        if (rc == QL_OK)
            *n += k;
    }
    return rc;
}

int ql_changes_compact(struct ql_ctx *cx, int64_t retention_ms, int batch, int64_t *n)
{
    return compact(cx, retention_ms, batch, NULL, n);
}

int ql_changes_purge(struct ql_ctx *cx, const struct ql_job *job)
{
    int64_t keep = cx->cfg ? cx->cfg->change_retention_ms : 7 * 86400000LL, n;
    return compact(cx, keep, QL_CHANGES_PURGE_BATCH, job->kind, &n);
}
