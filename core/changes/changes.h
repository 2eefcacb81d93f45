/*
 * changes.h - the change log and what reads it: delta sync, and internal consumers.
 *
 * Every committed change to a team's journal entries, prompts and members is one row of
 * the log, written by the use case in the transaction of the change (ql_change): it exists
 * if and only if the change committed.  Clients read a team's log through delta sync
 * (ql_sync) and live streams; internal reactions (the activity counts) read the whole log
 * in batches as consumers (ql_consume), advancing their position in the transaction of
 * their effects, so each change takes effect once even across crashes.
 *
 * Positions are (txid, seq): the writing transaction's 64-bit id and a number ordering the
 * rows of that transaction.  The store returns only changes of transactions older than the
 * oldest one still running, so a reader never passes a position behind which a change
 * could still appear (see migrations/0007_changes.up.sql).  A position is exclusive: a
 * page holds the changes after it.
 */
#ifndef QL_CHANGES_H
#define QL_CHANGES_H

#include <stddef.h>
#include <stdint.h>

#include "ctx/ctx.h"
#include "model/model.h"

struct ql_ctx;

enum ql_change_kind {
    QL_CHANGE_ENTRY = 1,
    QL_CHANGE_PROMPT = 2,
    QL_CHANGE_MEMBER = 3,
    QL_CHANGE_TEAM = 4, /* about the team as a whole: not part of its synced data */
};

/* What happened; the number is stored, so never renumber. */
enum ql_change_event {
    QL_EVENT_ENTRY_CREATED = 1,
    QL_EVENT_ENTRY_UPDATED = 2,
    QL_EVENT_ENTRY_DELETED = 3,
    QL_EVENT_PROMPT_CREATED = 4,
    QL_EVENT_PROMPT_DELETED = 5,
    QL_EVENT_MEMBER_ADDED = 6,
    QL_EVENT_MEMBER_CHANGED = 7, /* role, or the user's name */
    QL_EVENT_MEMBER_REMOVED = 8,
    QL_EVENT_USAGE_ALERT = 9,   /* the team's API usage crossed 90 % of its quota (id: the team) */
    QL_EVENT_EXPORT_READY = 10, /* an admin's data export is ready (id: the export) */
};

/* The kind an event is about, and whether it removes the thing (1) or not (0). */
int ql_change_kind_of(int event);
int ql_change_removes(int event);

struct ql_change_pos {
    uint64_t txid;
    int64_t seq;
};

/* -1, 0, 1 as a is before, at or after b. */
int ql_change_pos_cmp(const struct ql_change_pos *a, const struct ql_change_pos *b);

/* One change as consumers see it. */
struct ql_change {
    struct ql_change_pos pos;
    struct ql_uuid team;
    int event;
    struct ql_uuid id;
    const char *traceparent; /* the trace context of the write (arena); NULL: none */
};

/*
 * One change as sync clients see it: the thing's current state, or a tombstone when it is
 * gone (deleted since, or the change removed it).  Exactly one of entry, prompt, member is
 * set for an upsert; all are NULL for a delete.
 */
struct ql_sync_item {
    struct ql_change_pos pos; /* of the change; {0, 0} in a snapshot */
    int kind;
    int deleted;
    struct ql_uuid id;
    const struct ql_entry *entry;
    const struct ql_prompt *prompt;
    const struct ql_member *member;
};

/*
 * What the store gives for a page of a team's changes: the changes, and the log's bounds
 * as the page's own snapshot saw them (so they agree with what it returned).
 */
struct ql_change_page {
    struct ql_sync_item *items; /* arena */
    int n;
    int more;                   /* another page follows at once */
    int held;                   /* committed changes after it wait for an older transaction */
    struct ql_change_pos start; /* every transaction before it had finished */
    struct ql_change_pos floor; /* the oldest position the log keeps */
};

/* Record a change of team in the open transaction. */
int ql_change(struct ql_ctx *cx, const struct ql_uuid *team, int event, const struct ql_uuid *id);

/* ---- delta sync ------------------------------------------------------------------------------ */

#define QL_SYNC_CURSOR_MAX 64

struct ql_sync_page {
    struct ql_sync_item *items; /* arena */
    int n;
    int more; /* another page follows at once */
    int held; /* committed changes follow but wait for an older transaction: read again soon */
    struct ql_change_pos next;       /* where the next page starts (cursor says the same) */
    char cursor[QL_SYNC_CURSOR_MAX]; /* what to pass as since next */
};

/*
 * A page of team's changes after since (n bytes), at most limit of them.  Without since, a
 * snapshot of everything live, in pages whose last cursor continues with the changes made
 * since the snapshot began (a change in flight then may come once more as a delta; upserts
 * and deletes are idempotent).  QL_ECURSOR_EXPIRED when since is older than the log keeps;
 * QL_EVALIDATION for a cursor Quill did not issue.  Viewers and up.
 */
int ql_sync(struct ql_ctx *cx, const struct ql_uuid *team, const char *since, size_t since_n,
            int limit, struct ql_sync_page *out);

/*
 * ql_sync answered in a continuation: 0 when done will run with the answer, or an error now
 * and done never runs.  A delta page may be answered later (an event loop's session); a
 * snapshot is read at once, so on a session that cannot wait it fails (QL_EWOULD_BLOCK).
 * *out lives until done runs.
 */
int ql_sync_async(struct ql_ctx *cx, const struct ql_uuid *team, const char *since, size_t since_n,
                  int limit, struct ql_sync_page *out, ql_done_fn done, void *arg);

/*
 * Where a live stream of team starts: after the delta cursor from (n bytes; NULL: from
 * now on), which the client sent as field ("Last-Event-ID", or "since" after a snapshot).
 * Viewers and up; QL_ECURSOR_EXPIRED as ql_sync, QL_EVALIDATION (naming field) for a
 * cursor Quill did not issue or a snapshot's.
 */
int ql_sync_stream_start(struct ql_ctx *cx, const struct ql_uuid *team, const char *from, size_t n,
                         const char *field, struct ql_change_pos *out);

/*
 * The changes of team after *pos, at most limit, for a reader authorized when it began (a
 * live stream): the delta page of ql_sync.
 */
int ql_sync_changes(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_change_pos *pos,
                    int limit, struct ql_sync_page *out);

/* The cursor of a delta position into out (QL_SYNC_CURSOR_MAX bytes), and back. */
void ql_sync_cursor(const struct ql_change_pos *pos, char *out);
int ql_sync_cursor_parse(struct ql_ctx *cx, const char *s, size_t n, struct ql_change_pos *out);

/* ---- consumers ------------------------------------------------------------------------------- */

/*
 * Apply fn to the next batch (at most limit) of changes after the consumer name's position,
 * and advance it, in one transaction.  *n gets how many were applied (0: none waiting, or
 * another worker holds the consumer now).  fn runs inside the transaction and may write.
 */
typedef int (*ql_consume_fn)(struct ql_ctx *cx, const struct ql_change *changes, int n);
int ql_consume(struct ql_ctx *cx, const char *name, int limit, ql_consume_fn fn, int *n);

/* The activity consumer: counts each team's entry and member events. */
int ql_activity_consume(struct ql_ctx *cx, const struct ql_change *changes, int n);

/* Every consumer a worker runs; the name is its row in change_consumers. */
struct ql_consumer {
    const char *name;
    ql_consume_fn fn;
};
const struct ql_consumer *ql_consumers(int *n);

/*
 * Delete changes older than the retention (and already consumed): raise the log's floor in
 * a transaction, then delete below it at most batch changes (and sync tombstones) a
 * transaction, until none is left or the context's deadline passes (the next run goes on:
 * what lies below the floor has expired already).  *n gets how many changes went.
 */
int ql_changes_compact(struct ql_ctx *cx, int64_t retention_ms, int batch, int64_t *n);

/* The job "purge.changes" (hourly): ql_changes_compact in batches of
 * QL_CHANGES_PURGE_BATCH, with one audit row a run, in the transaction of its last batch. */
#define QL_CHANGES_PURGE_BATCH 2000
struct ql_job;
int ql_changes_purge(struct ql_ctx *cx, const struct ql_job *job);

#endif
