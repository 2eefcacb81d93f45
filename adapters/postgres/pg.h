/*
 * pg.h - the PostgreSQL adapter: the store port (and later the queue port) over one libpq
 * connection, plus the migration runner used by quill-migrate.
 *
 * A struct ql_pg is one database session owned by one thread.  It connects lazily,
 * prepares each statement on first use, and after the connection is lost it reconnects
 * on the next call (at most once per QL_PG_RETRY_MS while the server stays away, so
 * callers fail fast with QL_EUNAVAILABLE instead of piling up behind connect attempts).
 */
#ifndef QL_PG_H
#define QL_PG_H

#include <stdint.h>
#include <stdio.h>

struct ql_pg;
struct ql_store;
struct ql_logger;
struct ql_clock;
struct ql_error;
struct ql_pg_cache;

#define QL_PG_RETRY_MS 250
/* Cached principals are re-read from the database at least this often. */
#define QL_PG_CACHE_TTL_MS 300000

/*
 * Create a session for conninfo (a libpq connection string or URI; copied).  Does not
 * connect yet.  cache (borrowed, may be NULL) is the process's principal cache.  On success *out
 * owns the session (ql_pg_destroy); on failure it is NULL.
 */
int ql_pg_create(const char *conninfo, struct ql_logger *log, struct ql_clock *clock,
                 struct ql_pg_cache *cache, struct ql_pg **out);
void ql_pg_destroy(struct ql_pg *pg);

/*
 * Server settings for this session's connections from now on, in libpq's "options" form
 * ("-c name=value ...", at most 255 bytes); applied at the next (re)connection.
 */
void ql_pg_set_options(struct ql_pg *pg, const char *options);

/* Connect now (or check the connection); 0 or QL_EUNAVAILABLE with the reason in err. */
int ql_pg_connect(struct ql_pg *pg, struct ql_error *err);

/* The store port of this session (borrowed; lives as long as pg). */
struct ql_store *ql_pg_store(struct ql_pg *pg);

/* The queue port of this session (borrowed): jobs join the store's transactions. */
struct ql_queue *ql_pg_queue(struct ql_pg *pg);

/* Number of database errors seen by this session (for metrics). */
uint64_t ql_pg_error_count(const struct ql_pg *pg);

/*
 * The session of an event loop (pipe.c).  It never waits: its store answers principals
 * from the cache and entry reads asynchronously (get_async), pipelined on one non-blocking
 * connection that the loop drives; every other call fails at once with QL_EWOULD_BLOCK.
 *   ql_pg_loop_connect  blocks: call it off the loop, while the loop leaves the session be.
 *   ql_pg_loop_fd       the socket to watch for reading (-1: not connected).
 *   ql_pg_loop_flush    after every turn of the loop: sends the reads of the turn.  Returns
 *                       1 while data is left to send (watch for writing and call it again).
 *   ql_pg_loop_input    when the socket is readable: answers the reads whose rows came.
 * Either of the last two returns -1 when the connection is lost: stop watching the socket,
 * then call ql_pg_loop_close, which answers the reads still waiting with QL_EWOULD_BLOCK
 * (the loop runs those requests again on its pool).  ql_pg_destroy closes it too.
 */
int ql_pg_loop_create(const char *conninfo, struct ql_logger *log, struct ql_clock *clock,
                      struct ql_pg_cache *cache, struct ql_pg **out);
int ql_pg_loop_connect(struct ql_pg *pg, struct ql_error *err);
int ql_pg_loop_fd(const struct ql_pg *pg);
int ql_pg_loop_flush(struct ql_pg *pg);
int ql_pg_loop_input(struct ql_pg *pg);
void ql_pg_loop_close(struct ql_pg *pg);
/* Reads sent and not yet answered. */
int ql_pg_loop_waiting(const struct ql_pg *pg);

/*
 * Recompute every audit chain; print the first broken row of the log (or a summary) to
 * out.  0 when everything verifies, QL_ECONFLICT when a chain is broken.
 */
int ql_pg_audit_verify(const char *conninfo, FILE *out, struct ql_error *err);

/*
 * The waker of one process (waker.c): a thread with its own connection that sends NOTIFY
 * quill_jobs after jobs commit.  Give it to every session that enqueues; a session without
 * one wakes nobody, and workers find its jobs by polling.  Destroy it after those sessions
 * (pending wake-ups are sent first).
 */
struct ql_pg_waker;
int ql_pg_waker_create(const char *conninfo, struct ql_logger *log, struct ql_pg_waker **out);
void ql_pg_waker_destroy(struct ql_pg_waker *w);
void ql_pg_set_waker(struct ql_pg *pg, struct ql_pg_waker *w); /* borrowed */

/*
 * The principal cache shared by the sessions of one process (see cache.c).  Starts a
 * listener thread with its own connection.  capacity is the number of principals kept.
 * On success *out owns the cache; destroy it after every session using it.
 */
int ql_pg_cache_create(const char *conninfo, struct ql_logger *log, int capacity,
                       struct ql_pg_cache **out);
void ql_pg_cache_destroy(struct ql_pg_cache *c);

#endif
