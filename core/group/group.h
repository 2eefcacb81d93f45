/*
 * group.h - the group-commit port: writes that arrive together share one transaction.
 *
 * A COMMIT costs the same for one row as for sixteen (a WAL flush, a snapshot, the
 * statements' executor start-up), so under load a use case hands its prepared write to
 * ql_group_join instead of committing it alone.  The port gathers the items joined with
 * the same write function while another batch is being written, and one of the joining
 * threads (the leader) calls write() once for the whole batch with its own context, that
 * is on its own database session.  The other callers sleep until their item is done.
 *
 * write() sets every item's rc: QL_OK when the item committed, QL_ERETRY when the batch
 * did not commit.  An item is never half written: the batch is one transaction.  A caller
 * whose item comes back with QL_ERETRY writes it again on its own, in its own transaction,
 * so one bad item (a team deleted meanwhile) costs its batch a retry but fails alone.
 *
 * Only the leader touches the items while write() runs; an item's cx (its principal and
 * arena) may be read there, its err is not written.  A port is shared by all threads of a
 * process and is safe to call from any of them.  NULL in ports.group: no grouping.
 *
 * A caller that must not sleep (an event loop) submits instead of joining: the item is
 * queued, a thread of the port's own writes it in a later batch, and the caller's
 * continuation runs afterwards on the caller's own thread, the way a store's asynchronous
 * calls answer (core/ctx/ctx.h).  The item and what it points to stay the caller's, untouched,
 * until then.
 */
#ifndef QL_GROUP_H
#define QL_GROUP_H

#include <stdint.h>

#include "ctx/ctx.h"

struct ql_group;
struct ql_group_item;

/* Write items[0..n) in one transaction on leader's session; set each item's rc. */
typedef void (*ql_group_write_fn)(struct ql_ctx *leader, struct ql_group_item **items, int n);

struct ql_group_item {
    struct ql_ctx *cx; /* the joining caller's context */
    void *arg;         /* the write, as the write function understands it */
    uint64_t key;      /* what it locks: items with one key are never in two batches at once */
    int rc;            /* set by write() */
    /* owned by the port while the item waits */
    ql_group_write_fn write;
    void *wait; /* how the port wakes the joining thread, or reaches the submitting one */
    int done;
    int submitted;   /* 1: submit, not join: nobody sleeps on it */
    ql_done_fn then; /* submitted: the caller's continuation, with rc */
    void *then_arg;  /* and its argument */
    struct ql_group_item *next;
};

/* What a group port has done since it started. */
struct ql_group_stats {
    uint64_t batches; /* transactions written */
    uint64_t items;   /* writes in them (items / batches: the mean group) */
    int waiting;      /* writes waiting for a group now */
};

struct ql_group_ops {
    /*
     * Write item together with concurrent items of the same write function; return when it
     * is done, with item->rc (also returned).
     */
    int (*join)(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                ql_group_write_fn write);
    /*
     * Queue item to be written with concurrent items of the same write function and return
     * 0: then(cx, item->rc, arg) runs later on the caller's thread.  Or refuse now with the
     * error (nothing queued, then never runs): QL_EWOULD_BLOCK when this port cannot
     * answer the caller without making it wait, QL_EUNAVAILABLE when it is stopping.
     */
    int (*submit)(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                  ql_group_write_fn write, ql_done_fn then, void *arg);
    /*
     * On a thread the port asked its host for (a port that takes submits needs threads to
     * write them): write batches with cx, a context on that thread's own session, while
     * items wait that may be written now; after(cx) between two batches, to reset what one
     * left in cx (its arena).  Returns when nothing is left to take.  NULL: never asks.
     */
    void (*lead)(struct ql_group *self, struct ql_ctx *cx, void (*after)(struct ql_ctx *cx));
    /* Counters for metrics; safe from any thread. */
    void (*stats)(struct ql_group *self, struct ql_group_stats *out);
};

struct ql_group {
    const struct ql_group_ops *ops;
};

static inline int ql_group_join(struct ql_group *g, struct ql_ctx *cx, struct ql_group_item *item,
                                ql_group_write_fn write)
{
    return g->ops->join(g, cx, item, write);
}

static inline int ql_group_submit(struct ql_group *g, struct ql_ctx *cx, struct ql_group_item *item,
                                  ql_group_write_fn write, ql_done_fn then, void *arg)
{
    return g->ops->submit(g, cx, item, write, then, arg);
}

static inline void ql_group_lead(struct ql_group *g, struct ql_ctx *cx,
                                 void (*after)(struct ql_ctx *cx))
{
    g->ops->lead(g, cx, after);
}

static inline void ql_group_stats(struct ql_group *g, struct ql_group_stats *out)
{
    g->ops->stats(g, out);
}

#endif
