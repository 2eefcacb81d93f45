/*
 * internal.h - the types shared by the files of the HTTP adapter: requests, connections,
 * loops, the server, the router, the pool and the metrics.  Nothing here is public.
 */
#ifndef QL_HTTP_INTERNAL_H
#define QL_HTTP_INTERNAL_H

#include <llhttp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "http.h"
#include "fdlog/fdlog.h"
#include "tx/tx.h"

/* ---- methods, routes ----------------------------------------------------------------- */

enum {
    QL_HTTP_GET = 1 << 0,
    QL_HTTP_HEAD = 1 << 1,
    QL_HTTP_POST = 1 << 2,
    QL_HTTP_PUT = 1 << 3,
    QL_HTTP_PATCH = 1 << 4,
    QL_HTTP_DELETE = 1 << 5,
    QL_HTTP_OPTIONS = 1 << 6,
    QL_HTTP_OTHER = 1 << 7,
};

/* Route flags. */
enum {
    QL_ROUTE_POOL = 1 << 0,  /* the handler runs on the pool (database or slow crypto) */
    QL_ROUTE_BODY = 1 << 1,  /* takes a JSON body: other content types get 415 */
    QL_ROUTE_GROUP = 1 << 2, /* its writes are group-committed: runs on the write pool */
    QL_ROUTE_LOOP = 1 << 3,  /* tries the loop's own session first (loopdb.c), then the pool */
};

#define QL_HTTP_MAX_PARAMS 4
#define QL_HTTP_MAX_HEADERS 64

struct ql_http_req;
typedef void (*ql_http_handler)(struct ql_http_req *req);

struct ql_http_route {
    unsigned method;
    const char *tmpl; /* "/v1/teams/{teamId}" */
    ql_http_handler fn;
    unsigned flags;
};

/* The routing table (routes.c) and its size. */
extern const struct ql_http_route ql__http_routes[];
extern const int ql__http_nroutes;

struct ql_span {
    const char *p;
    size_t n;
};

/*
 * Match method and path.  Returns the route index and fills params, or -1 with *allow set
 * to the methods of a template that matched the path (0 when none did: 404).
 */
int ql__router_match(unsigned method, const char *path, size_t n, struct ql_span *params,
                     int *nparams, unsigned *allow);
/* "GET, HEAD, POST" for a method set. */
void ql__method_list(unsigned methods, struct ql_buf *b);
const char *ql__method_name(unsigned m);

/* ---- requests ----------------------------------------------------------------------- */

struct ql_http_header {
    struct ql_span name;
    struct ql_span value;
};

struct ql_http_req {
    struct ql_ctx cx; /* arena, ports (pool thread's), trace, error */
    const struct ql_http_env *env;
    struct ql_http_server *server;
    unsigned method;
    struct ql_span path;
    struct ql_span query;
    struct ql_span body;
    int nheaders;
    struct ql_http_header headers[QL_HTTP_MAX_HEADERS];
    int route; /* index into ql__http_routes, -1 when none */
    int nparams;
    struct ql_span params[QL_HTTP_MAX_PARAMS];
    int64_t start_ns;
    const char *peer; /* the peer's address (connection memory) */
    /* the response */
    int status;
    const char *content_type;  /* NULL: application/json */
    int no_store;              /* authenticated: Cache-Control: no-store */
    int close;                 /* close the connection after this response */
    struct ql_buf res_headers; /* extra header lines, each with its CRLF */
    struct ql_buf res_body;
    /* Idempotency-Key handling (idem.c) */
    struct {
        int active; /* a key was given and nothing is stored for it yet */
        int stored;
        char scope[80];
        char key[256];
        uint8_t fingerprint[32];
    } idem;
    struct ql_tx_hooks tx;
    /* Renders the success response; called before commit when the response must be stored. */
    void (*render)(struct ql_http_req *r, void *arg);
    void *render_arg;
    int rendered;
    size_t render_mark; /* res_headers length before rendering, to undo on rollback */
    /* On the loop (QL_ROUTE_LOOP): see ql__req_wait */
    int on_loop;    /* running on the loop with its session as the store */
    int in_handler; /* the loop is inside the handler */
    int waiting;    /* an asynchronous call will finish the response */
    int to_pool;    /* the loop's session refused: run the whole request again on the pool */
};

/*
 * For handlers that call a use case with a continuation: wait before the call, resume in
 * the continuation once the response (or r->to_pool) is set.  On the pool the
 * continuation runs inside the call; on the loop it may run later.
 */
void ql__req_wait(struct ql_http_req *r);
void ql__req_resume(struct ql_http_req *r);

/* Case-insensitive header lookup; NULL when absent.  The span is arena memory. */
const struct ql_span *ql__req_header(const struct ql_http_req *r, const char *name);

/* Response helpers for handlers. */
void ql__res_header(struct ql_http_req *r, const char *name, const char *value);
void ql__res_json(struct ql_http_req *r, int status); /* body already in r->res_body */
void ql__res_text(struct ql_http_req *r, int status, const char *ctype, const char *s, size_t n);
/* Problem details for r->cx.err (or for code with the default message when err is unset). */
void ql__res_problem(struct ql_http_req *r, int code);
/* 204 No Content when rc is QL_OK, else the problem for rc. */
void ql__res_done(struct ql_http_req *r, int rc);
/* Problem with an explicit status/title (405, 431 and friends). */
void ql__res_problem_status(struct ql_http_req *r, int status, const char *code,
                            const char *detail);

/* ---- request bodies, query and path parameters (body.c) ---------------------------------- */

struct cJSON;
struct ql_uuid;
struct ql_principal;

enum {
    QL__JSON_STRING,
    QL__JSON_STRING_OR_NULL,
    QL__JSON_INT,
    QL__JSON_BOOL,
    QL__JSON_ARRAY,
    QL__JSON_OBJECT
};

struct ql__field {
    const char *name;
    int type;
    int required;
};

/*
 * Parse the JSON body as an object with exactly these fields (unknown ones: 422).  On
 * success *out owns the document (cJSON_Delete it); on failure the problem is already
 * the response and -1 is returned.
 */
int ql__body_parse(struct ql_http_req *r, const struct ql__field *fields, int nfields,
                   struct cJSON **out);
/* A string member (borrowed from the document) or NULL; *n gets its length. */
const char *ql__json_str(const struct cJSON *obj, const char *name, size_t *n);
/* A decoded query parameter (arena) or NULL when absent. */
const char *ql__query(struct ql_http_req *r, const char *name, size_t *n);
/* ?limit= (1..200, default 50); -1 after answering 422. */
int ql__query_limit(struct ql_http_req *r, int *limit);
/* Path parameter index as a UUID; -1 after answering 422. */
int ql__param_uuid(struct ql_http_req *r, int index, const char *name, struct ql_uuid *out);

/* ---- authentication (auth.c) ------------------------------------------------------------- */

/*
 * Resolve the caller into *p (storage provided by the handler), check CSRF and the rate
 * limit, and mark the response no-store.  -1 after answering 401/403/429.
 */
int ql__authenticate(struct ql_http_req *r, struct ql_principal *p);
/*
 * ql__authenticate, then the path's UUIDs: {teamId} (param 0) into team unless team is NULL,
 * and the parameter named second (param 1) into id unless second is NULL.  -1 after answering.
 */
int ql__authenticate_team(struct ql_http_req *r, struct ql_principal *p, struct ql_uuid *team,
                          const char *second, struct ql_uuid *id);
/* The client address (behind trusted proxies) into out. */
void ql__client_ip(struct ql_http_req *r, char *out, size_t cap);
int ql__same_secret(const char *a, size_t an, const char *b, size_t bn);

/* ---- idempotency (idem.c) --------------------------------------------------------------- */

/*
 * For a POST with Idempotency-Key: replay a stored response (-1, answered), refuse a reused
 * key (-1, 422) or prepare to record this one (0) by hooking the use case's transaction.
 * Call after authentication (p may be NULL for anonymous routes).
 */
int ql__idem_begin(struct ql_http_req *r, const struct ql_principal *p);
/* After the handler: store a response that was not stored inside a transaction. */
void ql__idem_end(struct ql_http_req *r);
/* Set the success renderer (see render above); ql__res_rendered finishes the handler. */
void ql__set_render(struct ql_http_req *r, void (*fn)(struct ql_http_req *, void *), void *arg);
/* The problem for rc, else the success response unless it was rendered before COMMIT. */
void ql__res_rendered(struct ql_http_req *r, int rc);

/* ---- JSON output helpers (serialize.c) ------------------------------------------------- */

struct ql_jw;
struct ql_user;
struct ql_team;
struct ql_member;
struct ql_api_key;
struct ql_audit_entry;
void ql__jw_uuid(struct ql_jw *w, const struct ql_uuid *u);
void ql__jw_time(struct ql_jw *w, int64_t ms);
void ql__jw_time_or_null(struct ql_jw *w, int64_t ms); /* 0: null */
void ql__jw_user_fields(struct ql_jw *w, const struct ql_user *u);
void ql__jw_team(struct ql_jw *w, const struct ql_team *t);
void ql__jw_member(struct ql_jw *w, const struct ql_member *m);
void ql__jw_api_key_fields(struct ql_jw *w, const struct ql_api_key *k);
void ql__jw_audit(struct ql_jw *w, const struct ql_audit_entry *e);
/*
 * A page response {"items": [...], "nextCursor": ...}: begin answers the problem for rc and
 * returns -1, or opens the items on w and returns 0; end closes them and answers 200.
 */
int ql__res_page_begin(struct ql_http_req *r, int rc, struct ql_jw *w);
void ql__res_page_end(struct ql_http_req *r, struct ql_jw *w, const char *next_cursor);

/* ---- the pool ------------------------------------------------------------------------ */

struct ql__loop;
struct ql__task;
typedef void (*ql__task_fn)(struct ql__task *t, struct ql_ports *ports);
typedef void (*ql__task_done)(struct ql__task *t);

struct ql__task {
    struct ql__task *next;
    ql__task_fn run;    /* on a pool thread */
    ql__task_done done; /* back on the owning loop */
    struct ql__loop *owner;
};

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
/* Let queued tasks finish, then join the threads. */
void ql__pool_stop(struct ql__pool *p);

/* ---- metrics ------------------------------------------------------------------------- */

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
    atomic_int inflight;
    _Atomic uint64_t loop_reads;  /* requests answered with the loop's session */
    _Atomic uint64_t loop_misses; /* requests it handed to the pool */
};

int ql__metrics_init(struct ql__metrics *m);
void ql__metrics_cleanup(struct ql__metrics *m);
void ql__metrics_observe(struct ql__metrics *m, int route, int status, int64_t ns);
/* Prometheus text of every loop's metrics plus the server gauges into b. */
void ql__metrics_render(struct ql_http_server *s, struct ql_buf *b);

/* ---- connections, loops, the server ----------------------------------------------- */

struct ql__conn;

struct ql__loop {
    struct ql_http_server *server;
    int index;
    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;  /* pool completions and shutdown */
    uv_timer_t sweep; /* timeouts, date header, log flush */
    pthread_mutex_t done_lock;
    struct ql__task *done_head, *done_tail;
    struct ql__conn *conns; /* doubly linked list of open connections */
    int nconns;
    atomic_int stop_flag; /* set by the main thread on SIGTERM */
    int stopping;
    int64_t stop_deadline_ms;
    struct ql_fdlog log;
    struct ql__metrics metrics;
    char date[64]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    size_t date_len;
    int64_t date_sec;
    uint64_t rng[4]; /* xoshiro256** state for request and trace ids */
    /* the loop's database session (loopdb.c) */
    struct ql_db_session *db;
    int db_state;
    uint64_t db_retry_ms;
    uv_poll_t db_poll;
    int db_polling; /* db_poll is open (its close may still be pending) */
    int db_writing;
    uv_check_t db_check;
    int db_check_open;
    struct ql__task db_task;
    int db_rc;
    char readbuf[65536];
};

struct ql_http_server {
    const struct ql_http_env *env;
    int nloops;
    struct ql__loop *loops;
    struct ql__pool pool;
    struct ql__pool writes; /* for QL_ROUTE_GROUP routes; no threads: they use pool */
    int listen_port;
    atomic_int nconns;
    pthread_mutex_t log_lock;
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint;
    int64_t started_ms;
};

/* Accept-side entry points of conn.c. */
void ql__conn_accept(struct ql__loop *l);
/* Close idle connections and mark busy ones to close after their response. */
void ql__conn_drain_all(struct ql__loop *l, int force);
/* Close connections whose deadline passed (called every sweep). */
void ql__conn_sweep(struct ql__loop *l, uint64_t now_ms);
/* Run the completions posted to the loop by the pool. */
void ql__loop_run_done(struct ql__loop *l);

/* The loop's database session (loopdb.c). */
void ql__loopdb_init(struct ql__loop *l);
/* 1 when reads may run on the loop now; otherwise 0, and a connection may be on its way. */
int ql__loopdb_ready(struct ql__loop *l);
/* 0 once nothing of the session keeps the loop alive (it is closed on the way). */
int ql__loopdb_stop(struct ql__loop *l);
void ql__loopdb_destroy(struct ql__loop *l);

/* Random 64 bits from the loop's generator (not for secrets). */
uint64_t ql__loop_rand(struct ql__loop *l);

#endif
