/*
 * pg.h - the PostgreSQL adapter: the database port (sessions with their store and queue
 * ports), the notification port over LISTEN/NOTIFY, the migration runner of quill-migrate
 * and the audit-chain verifier of quill-admin.
 *
 * Only apps/x/main.c (and the tests) build these objects; everything else receives the
 * ports.  A process makes one notification port and one session factory over it:
 *
 *   ql_pg_notify_create -> ql_pg_db_create(notify) -> sessions ... ->
 *   ql_pg_db_destroy (after every session) -> ql_pg_notify_destroy
 *
 * A blocking session connects lazily, prepares each statement on first use, and after the
 * connection is lost reconnects on the next call (at most once per QL_PG_RETRY_MS while the
 * server stays away, so callers fail fast with QL_EUNAVAILABLE instead of piling up behind
 * connect attempts).  A loop session never waits (see core/db/db.h).
 */
#ifndef QL_PG_H
#define QL_PG_H

#include <stdint.h>
#include <stdio.h>

struct ql_pg_db;
struct ql_pg_notify;
struct ql_db;
struct ql_db_session;
struct ql_notify;
struct ql_logger;
struct ql_clock;
struct ql_error;
struct ql_audit_anchors;

#define QL_PG_RETRY_MS 250
/* Cached principals are re-read from the database at least this often. */
#define QL_PG_CACHE_TTL_MS 300000

/*
 * The notification port of a process: one thread and one connection to conninfo (copied)
 * carry every channel.  *out owns it; destroy it after everything that subscribed or posts.
 * Destroying sends what was posted first, when the database can be reached.
 */
int ql_pg_notify_create(const char *conninfo, struct ql_logger *log, struct ql_pg_notify **out);
void ql_pg_notify_destroy(struct ql_pg_notify *n);
struct ql_notify *ql_pg_notify_port(struct ql_pg_notify *n); /* borrowed */

struct ql_pg_db_config {
    const char *conninfo;     /* libpq connection string or URI; copied */
    struct ql_logger *log;    /* borrowed */
    struct ql_clock *clock;   /* borrowed */
    struct ql_notify *notify; /* borrowed; wakes workers after commits, keeps the cache
                                 coherent.  NULL: wake nobody, and no principal cache */
    int cache_capacity;       /* principals cached per process; 0: no cache */
    size_t sync_cache_bytes;  /* delta pages kept per process (pagecache.c); 0: none */
    int statement_timeout_ms; /* a statement running longer is cancelled (503); 0: none */
    int idle_tx_timeout_ms;   /* a session idle in a transaction (not in a pipeline) longer
                                 loses its connection; 0: none */
    /*
     * Connections go through PgBouncer in transaction mode (1.18 and older), where one
     * client's transactions may each run on another server connection: statements are
     * sent unnamed (parsed with every call: no statement outlives its transaction) and
     * the sessions send no settings (the two timeouts above are then the database's or
     * the role's: ALTER ROLE ... SET).  Neither LISTEN nor session advisory locks may go
     * through such a pooler, nor may the event loops' pipelines (they span transactions):
     * loop sessions connect to loop_conninfo instead, or refuse when it is NULL.
     */
    int pooler;
    const char *loop_conninfo; /* with pooler: a direct URL for the loop sessions; copied */
    /*
     * The read replica's factory (borrowed; made with its own config, without notify or
     * cache), or NULL.  Blocking sessions of this factory then answer route_reads (see
     * core/db/db.h): the reads it allows (single entries and lists of a team's entries,
     * prompts, members, keys, audit rows, webhooks, activity) go to a session of replica.
     */
    struct ql_pg_db *replica;
};

/*
 * The session factory.  Nothing connects yet.  *out owns it; destroy it after every
 * session it opened.
 */
int ql_pg_db_create(const struct ql_pg_db_config *cfg, struct ql_pg_db **out);
void ql_pg_db_destroy(struct ql_pg_db *db);
struct ql_db *ql_pg_db_port(struct ql_pg_db *db); /* borrowed */

/* Reads a loop session has sent and not yet answered (tests and diagnostics). */
int ql_pg_session_waiting(struct ql_db_session *s);

/*
 * Recompute every audit chain; print the first broken row of the log (or a summary) to
 * out.  0 when everything verifies, QL_ECONFLICT when a chain is broken.  anchors (sorted,
 * or NULL) are rows that must still be in the log with the same hash; each one seen is
 * marked met.  heads, when not NULL, receives each verified chain's last row (unsorted),
 * the anchors of the next run.
 */
int ql_pg_audit_verify(const char *conninfo, struct ql_audit_anchors *anchors,
                       struct ql_audit_anchors *heads, FILE *out, struct ql_error *err);

#endif
