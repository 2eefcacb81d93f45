/*
 * internal.h - what the files of the HTTP adapter share beyond req.h and h1.h: the
 * executor, the pool, metrics, connections, loops and the server.  Nothing here is public.
 *
 *   h1.c        the HTTP/1.1 protocol of one connection, without I/O
 *   conn.c      a connection's socket: reading, writing, timeouts, its lifetime
 *   exec.c      the request executor: routing, loop or pool, completion, streams
 *   loop.c      an event loop: its ready list, its database session's turn, its clock
 *   loopdb.c    that database session's connection state
 *   stream.c    live sync streams: topics per team, fed from the change log
 *   inbox.c     notifications into the loops, and which streams a revocation names
 *   server.c    listeners, loop threads, signals, shutdown
 *   pool.c      the threads that run blocking work
 *   meter.c     API keys' quotas and the request log (meter_thread.c: what waits for them)
 *   metrics.c   per-loop counters and /metrics
 *   span.c      the server span of each request (core/trace)
 *   respond.c, body.c, auth.c, idem.c, serialize.c, router.c   what handlers use
 *   h_*.c, routes.c                                               the handlers and their table
 */
#ifndef QL_HTTP_INTERNAL_H
#define QL_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "group/group.h"
#include "h1.h"
#include "log/log.h"
#include "meter.h"
#include "req.h"
#include "uuid/uuid.h"

/* ---- the executor (exec.c) ----------------------------------------------------------------- */

struct ql__exec;

/* What the executor needs from its loop; tests give it a fake. */
struct ql__exec_ops {
    /* Queue t on the pool (the write pool for grouped routes); QL_EUNAVAILABLE when full. */
    int (*submit)(struct ql__exec *x, struct ql__task *t, int grouped);
    /* The loop's own ports, when reads may run on the loop now (1), else 0. */
    int (*loop_ports)(struct ql__exec *x, struct ql_ports *out);
    /* Requests joined the ready list: call ql__exec_run_ready soon, but not now. */
    void (*ready)(struct ql__exec *x);
    /* r was answered (or its stream opened) after ns nanoseconds: metrics and access log. */
    void (*finished)(struct ql__exec *x, struct ql_http_req *r, int64_t ns);
    /* r is settled (IDLE) after its response: a closed connection may be freed now. */
    void (*settled)(struct ql__exec *x, struct ql_http_req *r);
    /* 64 random bits for request and trace ids (not for secrets). */
    uint64_t (*rand)(struct ql__exec *x);
};

struct ql__exec {
    const struct ql__exec_ops *ops;
    const struct ql_http_env *env;
    struct ql_http_server *server;
    const struct ql_http_route *routes;
    int nroutes;
    struct ql_http_req *ready_head, *ready_tail;
    int stopping;                       /* new requests are answered with Connection: close */
    atomic_int inflight;                /* requests dispatched and not yet answered */
    _Atomic uint64_t loop_reads;        /* requests answered with the loop's own ports */
    _Atomic uint64_t loop_misses;       /* requests those ports handed to the pool */
    _Atomic uint64_t loop_writes;       /* of them writes (not GET, HEAD): answered on the loop */
    _Atomic uint64_t loop_write_misses; /* and handed to the pool */
};

void ql__exec_init(struct ql__exec *x, const struct ql__exec_ops *ops,
                   const struct ql_http_env *env, struct ql_http_server *server,
                   const struct ql_http_route *routes, int nroutes);

/* h1 handed over a complete request (or a parse error): route it and start it. */
void ql__exec_request(struct ql__exec *x, struct ql_http_req *r);

/* Complete every request on the ready list (on the loop, outside any handler). */
void ql__exec_run_ready(struct ql__exec *x);

/* End r's stream, if it has one (the connection closes, the loop stops). */
void ql__exec_stream_abort(struct ql_http_req *r);

/* r's connection sent all the output that waited: its stream's on_drain, if it has one. */
void ql__exec_stream_drained(struct ql_http_req *r);

/* ---- the pool (pool.c) --------------------------------------------------------------------- */

struct ql__pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ql__task *head, *tail;
    int queued;
    int cap;
    int started; /* lock and cond exist: ql__pool_stop has work to do */
    int stopping;
    int nthreads;
    pthread_t *threads;
    struct ql_ports *ports;          /* one per thread */
    struct ql_db_session **sessions; /* owned: one per thread */
    int nsessions;
    atomic_int busy;
};

/*
 * Start n threads, each with its own database session from env->db and ports over it;
 * tasks wait in a queue of at most cap.
 */
int ql__pool_start(struct ql__pool *p, const struct ql_http_env *env, int n, int cap);
/* Queue t; QL_EUNAVAILABLE when the queue is full (the caller sheds the request). */
int ql__pool_submit(struct ql__pool *p, struct ql__task *t);
/*
 * Queue t first, whatever the queue holds: a task that others wait on (a group's leader,
 * loopgroup.c).  QL_EUNAVAILABLE only when the pool is stopping or has no threads.
 */
int ql__pool_submit_first(struct ql__pool *p, struct ql__task *t);
/* Let queued tasks finish, then join the threads and close their sessions. */
void ql__pool_stop(struct ql__pool *p);
/*
 * Hand a finished task to its owner loop (t->owner), which runs t->done there; a task
 * without an owner runs t->done on the pool thread that ran it.
 */
void ql__task_post_back(struct ql__task *t);

/* ---- metrics (metrics.c) ------------------------------------------------------------------- */

#define QL_METRIC_BUCKETS 14
#define QL_METRIC_STATUSES 24

/* One loop's counters; written only by that loop, read by any with relaxed loads. */
struct ql__metrics_cell {
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    _Atomic uint64_t buckets[QL_METRIC_BUCKETS];
};

struct ql__metrics {
    struct ql__metrics_cell *cells; /* [nroutes + 1][QL_METRIC_STATUSES] */
};

int ql__metrics_init(struct ql__metrics *m);
void ql__metrics_cleanup(struct ql__metrics *m);
void ql__metrics_observe(struct ql__metrics *m, int route, int status, int64_t ns);
/* Prometheus text of every loop's metrics plus the server gauges into b. */
void ql__metrics_render(struct ql_http_server *s, struct ql_buf *b);

/* ---- spans (span.c) -------------------------------------------------------------------------- */

/* r was answered after ns nanoseconds: its server span, when its trace is recorded. */
void ql__span_request(const struct ql_http_route *routes, struct ql_http_req *r, int64_t ns);

/* ---- live streams (stream.c) --------------------------------------------------------------- */

/* Notifications for one loop, queued by the notification port's thread. */
#define QL__INBOX_MAX 64
struct ql__inbox {
    char keys[QL__INBOX_MAX][72]; /* a team id, or an invalidation key of QL_NOTIFY_AUTH */
    int n;
    int overflow; /* more came than fit: treat every topic (or stream) as named */
    uint64_t seq; /* QL_NOTIFY_AUTH: the number of the newest revocation in it */
};

/* A revocation the loop took, kept for streams whose handler ran before it arrived. */
#define QL__HISTORY_MAX 32
struct ql__revocation {
    uint64_t seq;
    char key[72]; /* "": every stream */
};

struct ql__topic;

/* A loop's streams, by team. */
struct ql__hub {
    struct ql__topic *topics;
    int nstreams;
    int fetching;                 /* topics reading the log on the pool: the loop may not end yet */
    _Atomic uint64_t events;      /* changes sent (metrics.c reads it from another thread) */
    _Atomic uint64_t topic_bytes; /* what its topics' arenas hold between reads (metrics.c) */
    uv_timer_t retry;   /* reads again topics whose changes wait for an older transaction */
    int64_t retry_at;   /* when it is due; 0: not armed */
    uint64_t taken_seq; /* the newest revocation taken from the inbox */
    uint64_t nhistory;  /* revocations taken so far; the last QL__HISTORY_MAX are kept */
    struct ql__revocation history[QL__HISTORY_MAX];
};

struct ql__loop;
struct ql_http_server;

/* Whose stream it is, as revocations name it. */
struct ql__reader {
    struct ql_uuid team;
    int kind; /* QL_PRINCIPAL_* */
    struct ql_uuid user, credential;
    uint8_t digest[32]; /* QL_DIGEST_LEN */
    uint64_t auth_seq;  /* the newest revocation numbered before its handler authenticated */
};

/* inbox.c: subscribe the server to QL_NOTIFY_CHANGES and QL_NOTIFY_AUTH (before the loops run). */
int ql__streams_subscribe(struct ql_http_server *s);
void ql__streams_unsubscribe(struct ql_http_server *s);
/* On the loop: take both inboxes (emptying them); revocations go into the hub's history. */
void ql__inbox_take(struct ql__loop *l, struct ql__inbox *changes, struct ql__inbox *auth);
/* Does the principal-cache key name the reader's credential, user or team? */
int ql__revoked(const struct ql__reader *who, const char *key);
/* Was the reader revoked by what the loop took since its handler authenticated? */
int ql__revoked_since(const struct ql__hub *h, const struct ql__reader *who);

/* ---- export downloads (download.c) -------------------------------------------------------- */

struct ql__download;
struct ql_export;

/* A loop's downloads that wait for the pool. */
struct ql__downloads {
    struct ql__download *stalled; /* the pool was full: the sweep submits their reads again */
    int reading;                  /* reads on the pool: a stopping loop waits for them */
};

/*
 * Answer r (on the pool or the loop) with ready export e's document as a stream: head
 * (head_n bytes, the export's fields up to "data": in memory that lasts as long as r) and
 * then the document, read part by part as the client takes it, then the closing brace.
 */
int ql__download_begin(struct ql_http_req *r, const struct ql_export *e, const char *head,
                       size_t head_n);
/* The sweep: downloads whose read the full pool refused try again. */
void ql__downloads_sweep(struct ql__loop *l);

/* stream.c */
void ql__streams_init(struct ql__loop *l);
/* On the loop's wake-up: take the inbox, end revoked streams, read what changed. */
void ql__streams_wake(struct ql__loop *l);
/* On the loop's sweep: heartbeats, and a periodic read in case a notification was lost. */
void ql__streams_sweep(struct ql__loop *l);
/* The loop stops: no more notifications (streams end with their connections). */
void ql__streams_close(struct ql__loop *l);
void ql__streams_cleanup(struct ql__loop *l);

/* ---- loops and the server ------------------------------------------------------------------ */

struct ql__conn;

/* The loop's database session: see loopdb.c. */
enum ql__db_state { QL__DB_OFF, QL__DB_DOWN, QL__DB_CONNECTING, QL__DB_UP };

/* A loop's group-commit port (loopgroup.c): it submits, since a loop never sleeps. */
struct ql__loop_group {
    struct ql_group base;
    struct ql__loop *loop;
    struct ql_group *inner; /* the process's group (env->group); NULL: loops do not write */
};

struct ql__loop {
    struct ql__exec exec; /* first: the executor's ops find their loop from it */
    struct ql_http_server *server;
    int index;
    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;  /* pool completions and shutdown */
    uv_timer_t sweep; /* timeouts, date header, log flush */
    uv_check_t check; /* after each turn's I/O: the ready list, then the session's reads */
    uv_idle_t idle;   /* keeps the loop from sleeping while the ready list is not empty */
    pthread_mutex_t done_lock;
    struct ql__task *done_head, *done_tail;
    struct ql__conn *conns; /* doubly linked list of open connections */
    int nconns;
    atomic_int stop_flag;     /* set by the main thread on SIGTERM */
    int64_t stop_deadline_ms; /* 0: not stopping */
    struct ql_log_batch log;
    struct ql__metrics metrics;
    struct ql__h1_limits limits;
    char date[64]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    size_t date_len;
    int64_t date_sec;
    uint64_t rng[4]; /* xoshiro256** state for request and trace ids */
    /* the loop's database session (loopdb.c) */
    struct ql_db_session *db;
    enum ql__db_state db_state;
    int64_t db_retry_ms;
    uv_poll_t db_poll;
    int db_events; /* what db_poll watches (UV_READABLE, UV_WRITABLE); -1: closed */
    struct ql__task db_task;
    int db_rc;
    /* live streams (stream.c) and export downloads (download.c) */
    struct ql__hub hub;
    struct ql__downloads downloads;
    pthread_mutex_t inbox_lock;
    struct ql__inbox change_inbox, auth_inbox;
    int inbox_closed;
    struct ql__meter_rows meter_rows; /* API keys' requests answered, for the request log */
    struct ql__loop_group group;      /* writes group-committed from the loop; see loopgroup.c */
    char readbuf[65536];
};

struct ql_ratelimit;

#define QL__WRITTEN_SLOTS 4096

struct ql_http_server {
    const struct ql_http_env *env;
    struct ql_ratelimit *limiter; /* per-principal token buckets (QUILL_RATE_LIMIT) */
    struct ql__meter *meter;      /* API keys' quotas and request log (meter.h); NULL: off */
    int nloops;
    struct ql__loop *loops;
    struct ql__pool pool;
    struct ql__pool writes; /* for QL_ROUTE_GROUP routes; no threads: they use pool */
    int listen_port;
    atomic_int nconns;
    atomic_int nstreams;       /* live streams on every loop (QUILL_MAX_STREAMS) */
    int sub_changes, sub_auth; /* notification subscriptions of stream.c (0: none) */
    _Atomic uint64_t auth_seq; /* revocations numbered as they arrive (stream.c) */
    atomic_int auth_lost;      /* the notification port lost its connection since */
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint;
    int64_t started_ms;
    /* Read replicas (replica.c). */
    int replica;                                /* the pool's sessions have one */
    int read_after_write_ms;                    /* QUILL_READ_AFTER_WRITE_MS */
    _Atomic uint64_t reads_after_write;         /* reads sent to the primary: their caller wrote */
    _Atomic int64_t written[QL__WRITTEN_SLOTS]; /* per caller hash: its last write (ms) */
};

/* replica.c: route a pool request's reads (before), note a write and its LSN (after). */
void ql__replica_before(struct ql__exec *x, struct ql_http_req *r);
void ql__replica_after(struct ql__exec *x, struct ql_http_req *r);

/* loop.c */
int ql__loop_init(struct ql_http_server *s, struct ql__loop *l, int index, int fd, char *msg,
                  size_t cap);
void ql__loop_cleanup(struct ql__loop *l);
void *ql__loop_main(void *arg);
/* Monotonic milliseconds of the server's clock. */
int64_t ql__loop_now_ms(struct ql__loop *l);

/* conn.c */
void ql__conn_accept(struct ql__loop *l);
/* Close idle connections, end streams, and mark busy ones to close after their response. */
void ql__conn_drain_all(struct ql__loop *l, int force);
/* Close connections whose deadline passed (called every sweep). */
void ql__conn_sweep(struct ql__loop *l, int64_t now_ms);

/* loopgroup.c: group commit from the loops. */
/* Let the loops submit to env->group, led by the write pool's threads. */
void ql__loopgroup_start(struct ql_http_server *s);
/* l's group port for its ports, or NULL when the loops do not write (no queue, a replica). */
struct ql_group *ql__loopgroup_port(struct ql__loop *l);

/* loopdb.c: the loop's database session. */
void ql__loopdb_init(struct ql__loop *l);
/* 1 when reads may run on the loop now; otherwise 0, and a connection may be on its way. */
int ql__loopdb_ready(struct ql__loop *l);
/* After each turn: send the turn's reads. */
void ql__loopdb_turn(struct ql__loop *l);
/* 0 once nothing of the session keeps the loop alive (it is closed on the way). */
int ql__loopdb_stop(struct ql__loop *l);
void ql__loopdb_destroy(struct ql__loop *l);

#endif
