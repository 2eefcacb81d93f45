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
 */
#ifndef QL_GROUP_H
#define QL_GROUP_H

#include <stdint.h>

struct ql_ctx;
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
    void *wait; /* how the port wakes the joining thread */
    int done;
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

static inline void ql_group_stats(struct ql_group *g, struct ql_group_stats *out)
{
    g->ops->stats(g, out);
}

#endif
