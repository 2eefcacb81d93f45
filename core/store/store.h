/*
 * store.h - the store port: transactions and the repositories of Quill's aggregates.
 *
 * One store object is one database session: a pool thread of quill-api or a job slot of
 * quill-worker owns one and nobody else touches it.  Methods block.  Statements run inside
 * the transaction opened by begin() when one is open, else each in its own.
 *
 * Errors: QL_EUNAVAILABLE when the database cannot be reached (the adapter reconnects on
 * the next call), QL_ERETRY on a serialization failure or deadlock, QL_ECONFLICT on a
 * unique violation the caller did not map itself, QL_EINTERNAL otherwise.  Details go to
 * cx->err.msg for logs, never to clients.
 */
#ifndef QL_STORE_H
#define QL_STORE_H

#include <stdint.h>

struct ql_ctx;
struct ql_store;

struct ql_store_ops {
    /* Round trip to the database. */
    int (*ping)(struct ql_store *self, struct ql_ctx *cx);
    /* Highest applied migration version, 0 when none. */
    int (*schema_version)(struct ql_store *self, struct ql_ctx *cx, int64_t *out);
    int (*begin)(struct ql_store *self, struct ql_ctx *cx);
    int (*commit)(struct ql_store *self, struct ql_ctx *cx);
    /* Never fails from the caller's point of view: a lost connection is reset later. */
    void (*rollback)(struct ql_store *self, struct ql_ctx *cx);
};

struct ql_store {
    const struct ql_store_ops *ops;
};

static inline int ql_store_ping(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->ping(s, cx);
}

static inline int ql_store_schema_version(struct ql_store *s, struct ql_ctx *cx, int64_t *out)
{
    return s->ops->schema_version(s, cx, out);
}

static inline int ql_store_begin(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->begin(s, cx);
}

static inline int ql_store_commit(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->commit(s, cx);
}

static inline void ql_store_rollback(struct ql_store *s, struct ql_ctx *cx)
{
    s->ops->rollback(s, cx);
}

#endif
