/*
 * internal.h - shared between the files of the PostgreSQL adapter only.
 */
#ifndef QL_PG_INTERNAL_H
#define QL_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>

#include "clock/clock.h"
#include "db/db.h"
#include "queue/queue.h"
#include "stmts_security.h"
#include "store/store.h"
#include "store/store_security.h"
#include "store/store_webhooks.h"
#include "trace/trace.h"
#include "uuid/uuid.h"

struct ql_ctx;
struct ql_error;
struct ql_logger;
struct ql_uuid;
struct ql_principal;

/* Every prepared statement of the adapter; the SQL is in stmts.c. */
enum ql__pg_stmt {
    QL__ST_PING,
    QL__ST_SCHEMA_VERSION,
    QL__ST_SCHEMA_KNOWN,
    QL__ST_BEGIN,
    QL__ST_COMMIT,
    QL__ST_ROLLBACK,
    QL__ST_NOTIFY,
    QL__ST_USER_INSERT,
    QL__ST_USER_BY_EMAIL,
    QL__ST_USER_BY_ID,
    QL__ST_USER_BY_OIDC,
    QL__ST_USER_RENAME,
    QL__ST_USER_SET_PASSWORD,
    QL__ST_USER_PROFILE,
    QL__ST_SESSION_INSERT,
    QL__ST_SESSION_DELETE,
    QL__ST_SESSIONS_DELETE_USER,
    QL__ST_SESSION_TOUCH,
    QL__ST_PRINCIPAL_LOAD,
    QL__ST_PRINCIPAL_LOAD_USER,
    QL__ST_TEAM_INSERT,
    QL__ST_TEAM_GET,
    QL__ST_TEAM_LOCK,
    QL__ST_TEAM_RENAME,
    QL__ST_TEAM_DELETE,
    QL__ST_MEMBERS_LIST,
    QL__ST_MEMBER_GET,
    QL__ST_MEMBER_INSERT,
    QL__ST_MEMBER_SET_ROLE,
    QL__ST_MEMBER_DELETE,
    QL__ST_OWNERS_COUNT,
    QL__ST_KEY_INSERT,
    QL__ST_KEYS_LIST,
    QL__ST_KEY_REVOKE,
    QL__ST_KEY_TOUCH,
    QL__ST_AUDIT_APPEND,
    QL__ST_AUDIT_APPEND_MANY,
    QL__ST_AUDIT_LIST,
    QL__ST_FAILURES,
    QL__ST_FAILURE_RECORD,
    QL__ST_FAILURE_FORGET,
    QL__ST_FAILURES_CLEAR,
    QL__ST_RATE_HIT,
    QL__ST_ENTRY_INSERT,
    QL__ST_ENTRY_INSERT_MANY,
    QL__ST_ENTRY_EXIST_MANY,
    QL__ST_ENTRY_GET,
    QL__ST_ENTRY_LOCK,
    QL__ST_ENTRY_LIST,
    QL__ST_ENTRY_LIST_AUTHOR,
    QL__ST_ENTRY_LIST_PROMPT,
    QL__ST_ENTRY_LIST_BOTH,
    QL__ST_ENTRY_LIST_BYTES, /* the four, bounded by bytes (stmts_pages.h) */
    QL__ST_ENTRY_LIST_AUTHOR_BYTES,
    QL__ST_ENTRY_LIST_PROMPT_BYTES,
    QL__ST_ENTRY_LIST_BOTH_BYTES,
    QL__ST_ENTRY_UPDATE,
    QL__ST_ENTRY_DELETE,
    QL__ST_PROMPT_INSERT,
    QL__ST_PROMPT_GET,
    QL__ST_PROMPT_LIST,
    QL__ST_PROMPT_DELETE,
    QL__ST_IDEM_GET,
    QL__ST_IDEM_LOCK,
    QL__ST_IDEM_LIVE,
    QL__ST_IDEM_PUT,
    QL__ST_JOB_INSERT,
    QL__ST_JOB_INSERT_MANY,
    QL__ST_JOB_CLAIM,
    QL__ST_JOB_COMPLETE,
    QL__ST_JOB_FAIL,
    QL__ST_JOB_HEARTBEAT,
    QL__ST_JOB_RELEASE,
    QL__ST_JOB_RESCUE,
    QL__ST_JOB_PURGE,
    QL__ST_JOB_PROGRESS,
    QL__ST_JOB_LIST,
    QL__ST_JOB_GET,
    QL__ST_JOB_STATS,
    QL__ST_JOB_RETRY,
    QL__ST_JOB_CANCEL,
    QL__ST_PURGE_IDEM,
    QL__ST_PURGE_SESSIONS,
    QL__ST_PURGE_THROTTLES,
    QL__ST_PURGE_DELETED,
    QL__ST_DAILY_PICK_ALL,
    QL__ST_DAILY_PICK,
    QL__ST_DAILY_GET,
    QL__ST_ACTIVITY_ADD,
    QL__ST_ACTIVITY_GET,
    /* plans, usage and shared rate counts (stmts_usage.h) */
    QL__ST_USAGE_STATE,
    QL__ST_USAGE_SUBSCRIBE,
    QL__ST_USAGE_RESERVE,
    QL__ST_USAGE_OPEN,
    QL__ST_USAGE_RELEASE,
    QL__ST_USAGE_LOG,
    QL__ST_USAGE_ADD_USED,
    QL__ST_USAGE_ALERT,
    QL__ST_USAGE_PURGE,
    QL__ST_USAGE_FLUSHED,
    QL__ST_USAGE_RATES,
    QL__ST_CHANGE_APPEND,
    QL__ST_CHANGE_APPEND_MANY,
    QL__ST_CHANGES_PAGE,
    QL__ST_CHANGES_PAGE_ENTRIES,
    QL__ST_CHANGES_PAGE_BYTES,
    QL__ST_CHANGES_PAGE_ENTRIES_BYTES,
    QL__ST_CHANGES_OTHER_FIRST,
    QL__ST_CHANGES_BOUNDS,
    QL__ST_LIVE_ENTRIES,
    QL__ST_LIVE_ENTRIES_BYTES,
    QL__ST_LIVE_PROMPTS,
    QL__ST_CONSUMER_LOCK,
    QL__ST_CONSUMER_READ,
    QL__ST_CONSUMER_ADVANCE,
    QL__ST_CHANGES_MARK,
    QL__ST_CHANGES_COMPACT,
    QL__ST_CHANGES_COMPACT_BATCH,
    QL__ST_WEBHOOK_INSERT,
    QL__ST_WEBHOOKS_LIST,
    QL__ST_WEBHOOKS_COUNT,
    QL__ST_WEBHOOK_GET,
    QL__ST_WEBHOOK_REMOVE,
    QL__ST_WEBHOOKS_SUBSCRIBED,
    QL__ST_DELIVERIES_ADD,
    QL__ST_DELIVERY_TARGET,
    QL__ST_ATTEMPT_ADD,
    QL__ST_WEBHOOK_DISABLE,
    QL__ST_ATTEMPTS_LIST,
    QL__ST_DELIVERY_REOPEN,
    QL__ST_ATTEMPT_FAILURES,
    QL__ST_DELIVERIES_PURGE,
    QL__ST_DELIVERIES_FAIL_ORPHANS,
/* clang-format off */
#define QL__ST_SECURITY_ENUM(e, name, nparams, sql) QL__ST_##e,
    QL__PG_SECURITY_STMTS(QL__ST_SECURITY_ENUM) /* stmts_security.h */
#undef QL__ST_SECURITY_ENUM
    /* clang-format on */
    QL__ST_JOB_LEAD,
    QL__ST_MAIL_INSERT,
    QL__ST_MAIL_GET,
    QL__ST_MAIL_RECORD,
    QL__ST_MAIL_LIST,
    QL__ST_TOKEN_INSERT,
    QL__ST_TOKEN_FIND,
    QL__ST_TOKEN_USE,
    QL__ST_TOKENS_END,
    QL__ST_VERIFY_EMAIL,
    QL__ST_MAIL_PURGE,
    QL__ST_MAIL_FORGET,
    QL__ST_FLAG_PUT,
    QL__ST_FLAG_GET,
    QL__ST_FLAGS_LIST,
    QL__ST_FLAG_DELETE,
    QL__ST_FLAG_TEAM_PUT,
    QL__ST_FLAG_TEAMS_LIST,
    QL__ST_FLAG_TEAM_DELETE,
    QL__ST_FLAGS_FOR_TEAM,
    QL__ST_FLAGS_NOTIFY,
    QL__ST_WAL_LSN,
    QL__ST_REPLAY_LSN,
    /* data rights (stmts_rights.h) */
    QL__ST_R_ACCOUNT,
    QL__ST_R_MEMBERSHIPS,
    QL__ST_R_ENTRIES,
    QL__ST_R_SESSIONS,
    QL__ST_R_KEYS,
    QL__ST_R_AUDIT,
    QL__ST_EXPORT_STATE,
    QL__ST_EXPORT_INSERT,
    QL__ST_EXPORT_GET,
    QL__ST_EXPORT_RESET,
    QL__ST_EXPORT_APPEND,
    QL__ST_EXPORT_FINISH,
    QL__ST_EXPORT_PARTS,
    QL__ST_EXPORTS_PURGE,
    QL__ST_EXPORTS_REMOVE_USER,
    QL__ST_ERASE_USER,
    QL__ST_ERASE_ENTRIES,
    QL__ST_SCRUB_DELIVERIES,
    QL__ST_IDEM_REMOVE_SCOPE,
    QL__ST_IDEM_PAGE,
    QL__ST_IDEM_REMOVE,
    QL__ST_COUNT
};

struct ql__pg_stmt_def {
    const char *name;
    const char *sql;
    int nparams;
};

/*
 * Statements whose result a caller inside a transaction never looks at.  In a transaction
 * they are sent without waiting (libpq pipeline mode): BEGIN, the writes and COMMIT of a
 * typical use case then cost one round trip.  Their errors surface on the next statement
 * that waits for a result, or at COMMIT.
 */
int ql__pg_deferred(enum ql__pg_stmt st);

/*
 * What running st a second time does after its answer was lost (repeat.c): a read, a write
 * that is harmless to repeat, or a write that must not be repeated (its first run may have
 * committed).
 */
enum ql__pg_repeat { QL__PG_READ, QL__PG_REPEAT, QL__PG_ONCE };
enum ql__pg_repeat ql__pg_repeat(enum ql__pg_stmt st);

extern const struct ql__pg_stmt_def ql__pg_stmts[QL__ST_COUNT];

/* Invalidations made in the open transaction, applied locally once it commits. */
#define QL__PG_PENDING 8
/* Queues to wake after the commit (more than this: one wake-up for any queue, "*"). */
#define QL__PG_WAKE 4
/* Teams whose changes are announced after the commit (more than this: "*", every team). */
#define QL__PG_CHANGED 16

struct ql_notify;

/*
 * The session factory (db.c): what every session of a process shares.  Sessions keep a
 * pointer to it; it outlives them.
 */
struct ql_pg_db {
    struct ql_db base;
    char *conninfo;
    struct ql_logger *log;
    struct ql_clock *clock;
    struct ql_notify *notify;        /* borrowed; NULL: wake nobody (workers poll) */
    struct ql_pg_cache *cache;       /* owned; NULL: no principal cache */
    struct ql_pg_flags_cache *flags; /* owned; NULL: feature flags are read every time */
    struct ql_pg_pages *pages;       /* owned; NULL: delta pages are read every time */
    char options[128];               /* the sessions' settings (libpq "options") */
    int unnamed;         /* through a transaction pooler: no named statements, no options */
    char *loop_conninfo; /* with unnamed: where loop sessions connect (direct); NULL: nowhere */
    _Atomic uint64_t errors;
    _Atomic uint64_t timeouts;       /* statement timeouts, among errors */
    struct ql_pg_db *replica;        /* borrowed: the read replica's factory; NULL: none */
    _Atomic uint64_t replica_reads;  /* statements the replica answered */
    _Atomic uint64_t replica_misses; /* reads meant for it that the primary answered */
};

struct ql_pg {
    struct ql_store store; /* the port; first so a store pointer is a session pointer */
    struct ql_queue queue; /* the queue port over the same session */
    struct ql_db_session session;
    struct ql_pg_db *db;
    struct ql_pg_cache *cache; /* db->cache */
    int ninval;
    char inval[QL__PG_PENDING][72];
    int nwake; /* queues with jobs in the open transaction (or the next statement) */
    char wake[QL__PG_WAKE][64];
    int nchanged; /* teams with changes in the open transaction; -1: too many, say "*" */
    struct ql_uuid changed[QL__PG_CHANGED];
    int flags_dirty; /* flags written in the open transaction: flush the flag cache at commit */
    PGconn *conn;
    unsigned hints;
    struct ql_logger *log;
    struct ql_clock *clock;
    uint8_t prepared[QL__ST_COUNT];
    int in_tx;
    int pipeline; /* in libpq pipeline mode (inside a transaction) */
    int pending;  /* sent statements whose results are not read yet */
    int perr;     /* first error among them (0: none) */
    char perr_msg[256];
    int64_t retry_after_ns;
    char last_constraint[64];
    /* An event loop's session (pipe.c): statements never wait; reads are pipelined. */
    int loop;
    struct ql__pg_read *reads, *reads_tail; /* sent, oldest first */
    int nreads;
    int unsynced; /* reads sent since the last sync point */
    /* the open transaction's span (span.c), when its context is traced */
    struct ql_trace_span tx_span;
    int tx_nstmts;
    enum ql__pg_stmt tx_first;
    char tx_summary[256];
    /* Reads on the replica (replica.c): its session, made on first use. */
    struct ql_pg *replica;
    int to_replica;       /* route lag-tolerant reads to the replica now */
    uint64_t min_lsn;     /* ... once it has replayed this far */
    uint64_t replica_lsn; /* how far it had replayed when last asked */
};

/*
 * Spans (span.c): a transaction is one span from BEGIN to COMMIT or ROLLBACK, naming its
 * statements; a statement outside a transaction, and a read pipelined by an event loop's
 * session, is one span.  Each does nothing when cx is not traced.
 */
void ql__pg_span_tx_begin(struct ql_pg *pg, struct ql_ctx *cx);
void ql__pg_span_tx_stmt(struct ql_pg *pg, enum ql__pg_stmt st);
void ql__pg_span_tx_end(struct ql_pg *pg, struct ql_ctx *cx, int commit, int rc);
void ql__pg_span_stmt_begin(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                            struct ql_trace_span *sp);
void ql__pg_span_stmt_end(struct ql_ctx *cx, struct ql_trace_span *sp, int rc);
void ql__pg_span_read(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st, int64_t start_ns,
                      int rc);

/* Count a database error for metrics. */
static inline void ql__pg_count_error(struct ql_pg *pg)
{
    atomic_fetch_add_explicit(&pg->db->errors, 1, memory_order_relaxed);
}

/* Sessions (conn.c, pipe.c). */
int ql__pg_session_create(struct ql_pg_db *db, enum ql_db_kind kind, unsigned hints,
                          struct ql_pg **out);
void ql__pg_session_destroy(struct ql_pg *pg);
int ql__pg_connect(struct ql_pg *pg, struct ql_error *err);
int ql__pg_loop_connect(struct ql_pg *pg, struct ql_error *err);
int ql__pg_loop_fd(struct ql_pg *pg);
int ql__pg_loop_flush(struct ql_pg *pg);
int ql__pg_loop_input(struct ql_pg *pg);
void ql__pg_loop_close(struct ql_pg *pg);

/* Parameters of one statement call: values with lengths and formats (1 = binary). */
#define QL__PG_MAX_PARAMS 16
struct ql__pg_params {
    int n;
    const char *values[QL__PG_MAX_PARAMS];
    int lengths[QL__PG_MAX_PARAMS];
    int formats[QL__PG_MAX_PARAMS];
    char scratch[QL__PG_MAX_PARAMS][24]; /* encoded numbers and times */
};

/* Append one parameter.  Pointers are borrowed until the statement has run. */
void ql__pg_p_uuid(struct ql__pg_params *p, const struct ql_uuid *u); /* NULL: SQL NULL */
void ql__pg_p_text(struct ql__pg_params *p, const char *s);           /* NULL: SQL NULL */
void ql__pg_p_bytes(struct ql__pg_params *p, const void *b, int n);   /* bytea */
void ql__pg_p_ts(struct ql__pg_params *p, int64_t ms);                /* timestamptz */
void ql__pg_p_ts_or_null(struct ql__pg_params *p, int64_t ms);        /* 0: SQL NULL */
void ql__pg_p_int(struct ql__pg_params *p, int64_t v);
void ql__pg_p_ts_infinity(struct ql__pg_params *p, int sign); /* +1 or -1 */

/*
 * Array literals for unnest(): begin ncols columns, append one element per row to each
 * (first: the row is the first), then close them into text parameters of p.
 */
struct ql_buf;
void ql__pg_arr_begin(struct ql_ctx *cx, struct ql_buf *cols, int ncols);
void ql__pg_arr_str(struct ql_buf *b, const char *s, int first); /* NULL: SQL NULL */
void ql__pg_arr_strn(struct ql_buf *b, const char *s, size_t n, int first);
void ql__pg_arr_int(struct ql_buf *b, int64_t v, int first);
void ql__pg_arr_time(struct ql_buf *b, int64_t ms, int first); /* 0: SQL NULL */
void ql__pg_arr_uuid(struct ql_buf *b, const struct ql_uuid *u, int first);
int ql__pg_arr_params(struct ql_ctx *cx, struct ql_buf *cols, int ncols, struct ql__pg_params *p);

/* A text column as an arena copy, or NULL for SQL NULL (or out of memory: check err). */
const char *ql__pg_text(struct ql_ctx *cx, const PGresult *r, int row, int col);

/*
 * Run a prepared statement, preparing it first if this session has not yet.  Results
 * come back in binary.  On success *out holds the result (PQclear it); on failure *out is
 * NULL and the mapped code is returned with details in cx->err.msg.
 */
int ql__pg_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, PGresult **out);

/*
 * Wake the workers of queue once the current write commits (the open transaction, or the
 * next statement outside one): the session posts the queue's name on the notification
 * port after the commit.
 */
void ql__pg_wake(struct ql_pg *pg, const char *queue);

/*
 * Read one row of a result into dst (a struct of the caller's type); arena copies in cx.
 * Reading a page (ql__pg_page), it may return QL__PG_CUT instead: the page ends before this
 * row, which holds no more of it, and more follow (a page bounded by bytes, stmts_pages.h).
 */
typedef int (*ql__pg_row_fn)(struct ql_ctx *cx, const PGresult *r, int row, void *dst);
#define QL__PG_CUT 1
/*
 * Or QL__PG_LARGE: the row holds an entry too large for the page's usual statement, which
 * ql__pg_page gives back as is (the page is read again with its _bytes statement,
 * stmts_pages.h) and an event loop's session as QL_EWOULD_BLOCK (the pool does that).
 */
#define QL__PG_LARGE 2

/*
 * Read the first row of st into dst with read (QL_ENOT_FOUND when there is none), then call
 * done, later (see ql_done_fn).  An event loop's session sends st in its pipeline and calls
 * done when the row comes, or refuses at once with QL_EWOULD_BLOCK; any other session runs
 * st now and defers done on cx.
 */
struct ql__pg_read;
int ql__pg_read_async(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                      const struct ql__pg_params *p, ql__pg_row_fn read, void *dst, ql_done_fn done,
                      void *arg);

/*
 * Reads on the replica (replica.c): 1 when st may run there now; then run it there (any
 * failure, or a replica behind min_lsn, returns non-zero: the caller runs it on the
 * primary).
 */
int ql__pg_replica_wants(struct ql_pg *pg, enum ql__pg_stmt st);
int ql__pg_replica_exec(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                        const struct ql__pg_params *p, PGresult **out);
void ql__pg_route_reads(struct ql_pg *pg, int replica, uint64_t min_lsn);
uint64_t ql__pg_wal_lsn(struct ql_pg *pg);

/* Map a failed result (or a NULL result) to a QL_E* code; logs and counts it. */
int ql__pg_fail(struct ql_pg *pg, struct ql_ctx *cx, PGresult *res);

void ql__pg_store_init(struct ql_pg *pg);
void ql__pg_queue_init(struct ql_pg *pg);

/* The repositories (repo_*.c). */
extern const struct ql_users_ops ql__pg_users_ops;
extern const struct ql_sessions_ops ql__pg_sessions_ops;
extern const struct ql_principals_ops ql__pg_principals_ops;
extern const struct ql_teams_ops ql__pg_teams_ops;
extern const struct ql_members_ops ql__pg_members_ops;
extern const struct ql_api_keys_ops ql__pg_api_keys_ops;
extern const struct ql_audit_ops ql__pg_audit_ops;
extern const struct ql_throttle_ops ql__pg_throttle_ops;
extern const struct ql_entries_ops ql__pg_entries_ops;
extern const struct ql_prompts_ops ql__pg_prompts_ops;
extern const struct ql_idem_ops ql__pg_idem_ops;
extern const struct ql_maint_ops ql__pg_maint_ops;
extern const struct ql_changes_ops ql__pg_changes_ops;
/* Its compact and compact_batch (repo_maint.c). */
int ql__pg_changes_compact(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms,
                           int64_t before_ms);
int ql__pg_changes_compact_batch(struct ql_store *self, struct ql_ctx *cx, int limit, int64_t *n,
                                 int *more);
/* Its page and page_async (repo_delta.c). */
int ql__pg_changes_page(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_change_pos *after, int limit, int keep,
                        struct ql_change_page *out);
int ql__pg_changes_page_async(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                              const struct ql_change_pos *after, int limit, int keep,
                              struct ql_change_page *out, ql_done_fn done, void *arg);
/* A change position as two parameters: the text of its xid8 (s: 24 bytes that live as long
 * as p), and its seq (repo_changes.c). */
void ql__pg_p_pos(struct ql__pg_params *p, const struct ql_change_pos *pos, char *s);
/* An xid8 column, as text. */
uint64_t ql__pg_xid8(const PGresult *r, int row, int col);
extern const struct ql_usage_ops ql__pg_usage_ops; /* repo_usage.c */
extern const struct ql_webhooks_ops ql__pg_webhooks_ops;
extern const struct ql_security_ops ql__pg_security_ops; /* repo_security.c */
extern const struct ql_mail_repo_ops ql__pg_mail_ops;
extern const struct ql_flags_ops ql__pg_flags_ops;
extern const struct ql_rights_ops ql__pg_rights_ops;

/* Row readers shared by the repositories (repo_journal.c, repo_teams.c). */
int ql__pg_read_entry(struct ql_ctx *cx, const PGresult *r, int row, void *dst);
int ql__pg_read_prompt(struct ql_ctx *cx, const PGresult *r, int row, void *dst);
int ql__pg_read_member(struct ql_ctx *cx, const PGresult *r, int row, void *dst);
/* Read an entry, prompt or member from columns starting at col (ql__pg_read_* at an offset). */
int ql__pg_entry_at(struct ql_ctx *cx, const PGresult *r, int row, int col, struct ql_entry *e);
int ql__pg_entry_in(struct ql_ctx *cx, const PGresult *r, int row, int c_id, int c,
                    const struct ql_uuid *team, struct ql_entry *e);
int ql__pg_prompt_at(struct ql_ctx *cx, const PGresult *r, int row, int col, struct ql_prompt *p);
int ql__pg_member_at(struct ql_ctx *cx, const PGresult *r, int row, int col, struct ql_member *m);

/*
 * Announce a change of team once the current write commits (the open transaction, or the
 * next statement outside one): the session posts the team on the notification port.
 */
void ql__pg_changed(struct ql_pg *pg, const struct ql_uuid *team);

/*
 * A page of a list: run st, whose parameters ask for limit + 1 rows, keep at most limit,
 * set *more when there was one beyond, and read each row into a zeroed arena array of
 * size-byte elements, returned in *rows (*n of them were read).
 */
int ql__pg_page(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                const struct ql__pg_params *p, int limit, size_t size, ql__pg_row_fn read,
                void **rows, int *n, int *more);
/* The rows of a page's result r, as ql__pg_page reads them. */
int ql__pg_page_fill(struct ql_ctx *cx, const PGresult *r, int limit, size_t size,
                     ql__pg_row_fn read, void **rows, int *n, int *more);
/*
 * ql__pg_page answered as ql__pg_read_async answers: an event loop's session pipelines st
 * and fills *rows, *n and *more (which must live until done runs) when the rows come.
 */
int ql__pg_page_async(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                      const struct ql__pg_params *p, int limit, size_t size, ql__pg_row_fn read,
                      void **rows, int *n, int *more, ql_done_fn done, void *arg);

/* The first row of st into dst with read, or QL_ENOT_FOUND when st returns none. */
int ql__pg_one(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p, ql__pg_row_fn read, void *dst);

/* Run st with p and expect no rows back (or ignore them); a convenience for writes. */
int ql__pg_run(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
               const struct ql__pg_params *p);
/* Run st with p and expect it to touch a row: QL_ENOT_FOUND when it touched none. */
int ql__pg_touch_one(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const struct ql__pg_params *p);
/* The SQLSTATE's constraint name of the last failed statement ("" when none). */
const char *ql__pg_last_constraint(const struct ql_pg *pg);

/* Principal cache (cache.c), kept coherent through the notification port. */
struct ql_pg_cache;
struct ql_arena;
int ql__pg_cache_create(struct ql_notify *notify, struct ql_clock *clock, int capacity,
                        struct ql_pg_cache **out);
void ql__pg_cache_destroy(struct ql_pg_cache *c);
void ql__pg_cache_apply(struct ql_pg_cache *c, const char *key);
uint64_t ql__pg_cache_gen(struct ql_pg_cache *c);
int ql__pg_cache_get(struct ql_pg_cache *c, struct ql_arena *a, const uint8_t *digest,
                     struct ql_principal *out);
void ql__pg_cache_put(struct ql_pg_cache *c, uint64_t gen, const uint8_t *digest,
                      const struct ql_principal *p);
void ql__pg_cache_touch(struct ql_pg_cache *c, const uint8_t *digest, const struct ql_uuid *key,
                        int64_t now_ms);
/*
 * Tell every instance to forget cached principals matching key ("u:<uuid>" ...): NOTIFY
 * in the current transaction (or at once outside one), and locally after commit.
 */
int ql__pg_invalidate(struct ql_pg *pg, struct ql_ctx *cx, const char *key);

/*
 * The flag cache (flagcache.c): what flags.for_team returned, by team, for every session of
 * a process.  Any flag write (NOTIFY quill_flags, from any instance) empties it; it is
 * used only while the notification port listens, and entries expire after
 * QL_PG_CACHE_TTL_MS.  get copies an entry into the arena (1) or misses (0); put keeps a
 * result unless the cache was emptied since gen was read.
 */
struct ql_pg_flags_cache;
struct ql_flag_state;
int ql__pg_flags_cache_create(struct ql_notify *notify, struct ql_clock *clock, int capacity,
                              struct ql_pg_flags_cache **out);
void ql__pg_flags_cache_destroy(struct ql_pg_flags_cache *c);
void ql__pg_flags_cache_flush(struct ql_pg_flags_cache *c);
uint64_t ql__pg_flags_cache_gen(struct ql_pg_flags_cache *c);
int ql__pg_flags_cache_get(struct ql_pg_flags_cache *c, struct ql_arena *a,
                           const struct ql_uuid *team, struct ql_flag_state **out, int *n);
void ql__pg_flags_cache_put(struct ql_pg_flags_cache *c, uint64_t gen, const struct ql_uuid *team,
                            const struct ql_flag_state *rows, int n);

/* Binary column readers. */
int64_t ql__pg_int8(const PGresult *r, int row, int col);
int32_t ql__pg_int4(const PGresult *r, int row, int col);
int ql__pg_bool(const PGresult *r, int row, int col);
/* The rows a command touched (PQcmdTuples as a number; 0 when it says nothing). */
int64_t ql__pg_affected(PGresult *r);
/* timestamptz as ms since the Unix epoch. */
int64_t ql__pg_ts_ms(const PGresult *r, int row, int col);
/* timestamptz as ms, or 0 when NULL. */
int64_t ql__pg_ts_ms_or_0(const PGresult *r, int row, int col);
void ql__pg_uuid(const PGresult *r, int row, int col, struct ql_uuid *out);

#endif
