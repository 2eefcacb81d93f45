/*
 * db.h - the database port: where sessions come from.
 *
 * A struct ql_db is a factory of sessions over one database, built once per process in
 * apps/x/main.c and handed to whatever needs PostgreSQL: the HTTP server opens one blocking
 * session per pool thread and one loop session per event loop, the job engine one per
 * runner plus its own.  Nothing else opens a database connection.
 *
 * A session is one database connection owned by one thread at a time.  It offers the store
 * and queue ports over that connection; both share its transactions.
 *
 *   QL_DB_BLOCKING  every call waits for its answer (pool threads, job runners).  The
 *                   session connects lazily and reconnects after a loss on a later call.
 *   QL_DB_LOOP      no call ever waits: the session belongs to an event loop that drives
 *                   its socket.  Calls that would wait are refused with QL_EWOULD_BLOCK,
 *                   and reads that support it are pipelined (the store's *_async
 *                   methods): their continuations run later, from ql_db_session_input().
 *                   connect() blocks, so the loop runs it off the loop (on a pool thread)
 *                   while it leaves the session alone; then it watches fd() for reading,
 *                   calls flush() after every turn (1: data left to send, watch for
 *                   writing) and input() when readable.  flush() and input() return -1
 *                   when the connection is lost: stop watching the socket, then call
 *                   disconnect(), which answers every waiting read with QL_EWOULD_BLOCK.
 *
 * Errors: open() fails only for lack of memory (nothing connects yet); connect() returns
 * QL_EUNAVAILABLE with the reason in err.
 */
#ifndef QL_DB_H
#define QL_DB_H

#include <stddef.h>
#include <stdint.h>

struct ql_db;
struct ql_db_session;
struct ql_store;
struct ql_queue;
struct ql_error;

enum ql_db_kind { QL_DB_BLOCKING, QL_DB_LOOP };

/* Hints for how a session is used. */
enum {
    /*
     * The statements of this session are written for index scans (the job engine's claims):
     * right after a burst of inserts a table's statistics are stale, and the planner would
     * rather sort the whole backlog than walk an index it thinks covers nothing.
     */
    QL_DB_INDEX_SCANS = 1 << 0,
};

struct ql_db_session_ops {
    /* The ports over this session (borrowed; they live as long as the session). */
    struct ql_store *(*store)(struct ql_db_session *self);
    struct ql_queue *(*queue)(struct ql_db_session *self);
    /* Connect now, or check the connection.  Blocks, on every kind of session. */
    int (*connect)(struct ql_db_session *self, struct ql_error *err);
    /* Loop sessions only (see above); NULL for blocking ones. */
    int (*fd)(struct ql_db_session *self);
    int (*flush)(struct ql_db_session *self);
    int (*input)(struct ql_db_session *self);
    void (*disconnect)(struct ql_db_session *self);
    /* Close the connection and free the session. */
    void (*destroy)(struct ql_db_session *self);
    /*
     * Blocking sessions of a factory with a read replica; NULL otherwise.  route_reads:
     * until called again, run the reads that tolerate lag on the replica (replica 1) once it
     * has replayed the WAL up to min_lsn (0: any), falling back to the primary when it has
     * not, or fails; everything else, and everything inside a transaction, runs on the
     * primary.  wal_lsn: the primary's WAL position now (after a write: a position whose
     * replay shows the write), 0 when it cannot say.
     */
    void (*route_reads)(struct ql_db_session *self, int replica, uint64_t min_lsn);
    uint64_t (*wal_lsn)(struct ql_db_session *self);
};

struct ql_db_session {
    const struct ql_db_session_ops *ops;
};

struct ql_db_stats {
    uint64_t errors;            /* database errors: connections lost, statements that failed */
    uint64_t timeouts;          /* statements cancelled by the statement timeout (among errors) */
    uint64_t replica_reads;     /* statements answered by the read replica */
    uint64_t replica_fallbacks; /* reads meant for it that the primary answered */
    uint64_t sync_page_hits;    /* delta pages answered from memory (unchanged since read) */
    uint64_t sync_page_misses;  /* delta pages looked for there and read: none, or changed */
    uint64_t sync_page_bytes;   /* what the kept delta pages take */
};

struct ql_db_ops {
    /* A new session of kind with hints; nothing connects yet.  *out owns it (destroy). */
    int (*open)(struct ql_db *self, enum ql_db_kind kind, unsigned hints,
                struct ql_db_session **out);
    /* What every session of this factory has seen so far (for metrics). */
    void (*stats)(struct ql_db *self, struct ql_db_stats *out);
};

struct ql_db {
    const struct ql_db_ops *ops;
};

/* Open a session; *out is NULL on failure. */
static inline int ql_db_open(struct ql_db *db, enum ql_db_kind kind, unsigned hints,
                             struct ql_db_session **out)
{
    *out = NULL;
    return db->ops->open(db, kind, hints, out);
}

static inline struct ql_db_stats ql_db_stats(struct ql_db *db)
{
    struct ql_db_stats s = {0};
    db->ops->stats(db, &s);
    return s;
}

static inline struct ql_store *ql_db_store(struct ql_db_session *s)
{
    return s->ops->store(s);
}

static inline struct ql_queue *ql_db_queue(struct ql_db_session *s)
{
    return s->ops->queue(s);
}

static inline int ql_db_connect(struct ql_db_session *s, struct ql_error *err)
{
    return s->ops->connect(s, err);
}

static inline int ql_db_fd(struct ql_db_session *s)
{
    return s->ops->fd ? s->ops->fd(s) : -1;
}

static inline int ql_db_flush(struct ql_db_session *s)
{
    return s->ops->flush ? s->ops->flush(s) : -1;
}

static inline int ql_db_input(struct ql_db_session *s)
{
    return s->ops->input ? s->ops->input(s) : -1;
}

static inline void ql_db_disconnect(struct ql_db_session *s)
{
    if (s->ops->disconnect)
        s->ops->disconnect(s);
}

/* 1 when the session can send reads to a read replica (see route_reads). */
static inline int ql_db_has_replica(struct ql_db_session *s)
{
    return s->ops->route_reads != NULL;
}

static inline void ql_db_route_reads(struct ql_db_session *s, int replica, uint64_t min_lsn)
{
    if (s->ops->route_reads)
        s->ops->route_reads(s, replica, min_lsn);
}

static inline uint64_t ql_db_wal_lsn(struct ql_db_session *s)
{
    return s->ops->wal_lsn ? s->ops->wal_lsn(s) : 0;
}

/* "16/B374D848" (a pg_lsn as text: two hex numbers of up to 8 digits) as a number; 0 when
 * it is not one (lsn.c). */
uint64_t ql_db_lsn_parse(const char *s, size_t n);

/* Destroy a session; NULL does nothing. */
static inline void ql_db_session_destroy(struct ql_db_session *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
