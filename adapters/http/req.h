/*
 * req.h - a request as handlers see it (internal to adapters/http): the request record,
 * the routing table's shape, and the helpers that read a request and write a response
 * (respond.c, body.c, auth.c, idem.c, serialize.c).
 *
 * A handler parses the transport shape, calls one use case and maps its result; it never
 * knows whether it runs on an event loop or on a pool thread (exec.c decides).
 */
#ifndef QL_HTTP_REQ_H
#define QL_HTTP_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "ctx/ctx.h"
#include "http.h"
#include "uuid/uuid.h"

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
    QL_ROUTE_READ = 1 << 4,  /* its reads tolerate lag: a read replica may answer (replica.c) */
};

#define QL_HTTP_MAX_PARAMS 4
#define QL_HTTP_MAX_HEADERS 64 /* QL__H1_MAX_HEADERS */

struct ql_http_req;
typedef void (*ql_http_handler)(struct ql_http_req *req);

struct ql_http_route {
    unsigned method;
    const char *tmpl; /* "/v1/teams/{teamId}" */
    ql_http_handler fn;
    unsigned flags;
};

/* quill-api's routing table (routes.c) and its size. */
extern const struct ql_http_route ql__http_routes[];
extern const int ql__http_nroutes;

struct ql_span {
    const char *p;
    size_t n;
};

/*
 * Match method and path against routes[0..nroutes).  Returns the route index and fills
 * params, or -1 with *allow set to the methods of a template that matched the path (0 when
 * none did: 404).
 */
int ql__router_match(const struct ql_http_route *routes, int nroutes, unsigned method,
                     const char *path, size_t n, struct ql_span *params, int *nparams,
                     unsigned *allow);
/* "GET, HEAD, POST" for a method set. */
void ql__method_list(unsigned methods, struct ql_buf *b);
const char *ql__method_name(unsigned m);

/* ---- requests ----------------------------------------------------------------------- */

struct ql_http_header {
    struct ql_span name;
    struct ql_span value;
};

/*
 * Where a request is on its way through the executor (exec.c).  Exactly one holds:
 *   IDLE     nothing in flight (between requests)
 *   LOOP     its handler runs on the loop, with the loop's ports
 *   WAIT     the handler returned; an asynchronous call will finish it, on the loop
 *   REFUSED  a loop port would have waited: the whole request goes to the pool
 *   POOL     queued for, or running on, a pool thread
 *   DONE     answered; its completion waits on the loop's ready list
 *   STREAM   its stream is open and stays open (events are written as they come)
 */
enum ql__req_state {
    QL__REQ_IDLE,
    QL__REQ_LOOP,
    QL__REQ_WAIT,
    QL__REQ_REFUSED,
    QL__REQ_POOL,
    QL__REQ_DONE,
    QL__REQ_STREAM,
};

struct ql__task;
struct ql__loop;
struct ql__exec;
struct cJSON;
typedef void (*ql__task_fn)(struct ql__task *t, struct ql_ports *ports);
typedef void (*ql__task_done)(struct ql__task *t);

/* Work for a pool thread: run there, then done back on the owning loop. */
struct ql__task {
    struct ql__task *next;
    ql__task_fn run;    /* on a pool thread */
    ql__task_done done; /* back on the owning loop */
    struct ql__loop *owner;
    /* Read replicas (replica.c): set by the loop before, read back after. */
    int replica;      /* lag-tolerant reads may go to the replica */
    int want_lsn;     /* a write: record the primary's WAL position after it */
    uint64_t min_lsn; /* the replica must have replayed this far (0: any) */
    uint64_t lsn;     /* the position recorded (0: none) */
};

struct ql__h1;
struct ql_http_req;

typedef void (*ql__stream_fn)(struct ql_http_req *r, void *ud);

/* Whether a request was made with an API key, and what its quota said (meter.c). */
enum ql__metered {
    QL__METER_NONE,    /* not an API key's request: nothing to meter or log */
    QL__METER_PENDING, /* an API key's, not admitted yet */
    QL__METER_BILLED,  /* it used a unit of its team's quota */
    QL__METER_REFUSED, /* refused (429) before it used one */
};

/*
 * What ql__authenticate decided about the caller, once per request: kept when the request
 * moves from the loop to the pool, so a token and a quota unit are taken once.
 */
struct ql__admission {
    int rated;                     /* the rate limit was applied; its answer: */
    int limit, remaining, reset_s; /* for the RateLimit-* headers */
    enum ql__metered metered;      /* an API key's request: logged at the end */
    struct ql_uuid team, key;      /* the key's team and the key */
    int64_t at_ms;                 /* wall-clock ms it was admitted: its unit's period */
};

struct ql_http_req {
    struct ql_ctx cx; /* arena, ports (the loop's or a pool thread's), trace, error */
    const struct ql_http_env *env;
    struct ql_http_server *server;
    enum ql__req_state state;
    int in_handler;             /* its handler is running on the loop (exec.c) */
    struct ql__h1 *conn;        /* the connection it came on */
    struct ql__exec *exec;      /* the executor of the loop that owns that connection */
    struct ql__task task;       /* its turn on the pool */
    struct ql_http_req *ready;  /* the loop's ready list (exec.c) */
    int streaming;              /* the handler began a stream (exec.c) */
    ql__stream_fn stream_open;  /* a stream's start, on the loop */
    ql__stream_fn stream_close; /* a stream's end */
    ql__stream_fn stream_drain; /* its output was all sent (NULL: not told) */
    void *stream_ud;
    struct cJSON *json; /* the parsed body (ql__body_parse), owned until the response */
    unsigned method;
    struct ql_span path;
    struct ql_span query;
    struct ql_span body;
    int nheaders;
    struct ql_http_header headers[QL_HTTP_MAX_HEADERS];
    int route; /* index into the executor's routes, -1 when none */
    int nparams;
    struct ql_span params[QL_HTTP_MAX_PARAMS];
    int64_t start_ns;
    const char *peer; /* the peer's address (connection memory) */
    struct ql__admission adm;
    /* the response */
    int status;
    const char *content_type;  /* NULL: application/json */
    int no_store;              /* authenticated: Cache-Control: no-store */
    int close;                 /* close the connection after this response */
    struct ql_buf res_headers; /* extra header lines, each with its CRLF */
    struct ql_buf res_body;
    struct ql_span body_ref; /* set: the body, in memory that outlives the server (static
                                assets), sent instead of res_body without a copy to the arena */
};

/* Empty the request for the next message, with its memory in arena (h1.c calls it). */
void ql__req_reset(struct ql_http_req *r, struct ql_arena *arena);

/*
 * Lift the limit of r's arena (r->cx.arena), which is set against hostile request bodies, so
 * that n bytes more than it holds now fit: for an answer that what is stored bounds, not
 * the client (a page of the largest entries).  It holds until the request is done: the
 * connection sets the usual limit again for the next (h1.c).
 */
void ql__req_room(struct ql_http_req *r, size_t n);

/*
 * A port on the loop would have waited (QL_EWOULD_BLOCK): 1 when that sends the whole
 * request to the pool (it runs on the loop), 0 when it does not (a pool thread's port).
 */
int ql__req_refuse(struct ql_http_req *r);

/* 1 while the handler runs on the loop with the loop's ports (QL_ROUTE_LOOP), else 0. */
int ql__req_on_loop(const struct ql_http_req *r);

/*
 * For handlers that call a use case with a continuation (see ql_done_fn): call wait
 * before the call; the continuation sets the response and calls resume.  A continuation
 * always runs later than the call that started it: on the loop when the answer comes, or
 * on a pool thread once the handler has returned.
 */
void ql__req_wait(struct ql_http_req *r);
void ql__req_resume(struct ql_http_req *r);

/*
 * Streaming responses.  A handler (on the loop or the pool) calls begin instead of
 * answering; once the handler is done, the loop sends the head of a chunked response with
 * r's status, content type and headers, keeps the request in flight and calls on_open.
 * From then on, on the loop only: write sends one chunk (-1: the client would have more
 * than QL__STREAM_OUT_MAX unread, end the stream); end finishes the body.  on_close runs once
 * when the stream ends for any reason.  Either callback may be NULL.
 */
#define QL__STREAM_OUT_MAX (64 * 1024)
int ql__req_stream_begin(struct ql_http_req *r, ql__stream_fn on_open, ql__stream_fn on_close,
                         void *ud);
int ql__req_stream_write(struct ql_http_req *r, const char *data, size_t n);
void ql__req_stream_end(struct ql_http_req *r);

/*
 * For a stream that writes as its client reads (a download) rather than as events come:
 * on_drain runs on the loop whenever output that waited for the client has all been sent,
 * and unsent says how much waits now (what the socket took at once never waited).  Such a
 * stream is not ended by a stopping server (it finishes, or the shutdown timeout closes
 * it), and its connection's write timeout runs while output waits.  Call after begin.
 */
void ql__req_stream_on_drain(struct ql_http_req *r, ql__stream_fn on_drain);
size_t ql__req_stream_unsent(const struct ql_http_req *r);

/* Case-insensitive header lookup; NULL when absent.  The span is arena memory. */
const struct ql_span *ql__req_header(const struct ql_http_req *r, const char *name);

/* The HTTP status of an error code (QL_ENOT_FOUND: 404); 500 for unknown codes. */
int ql__http_status(int code);

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
 * success *out is the document, which the request owns until its response is written
 * (strings borrowed from it stay valid for rendering); on failure the problem is already the
 * response, the code is in r->cx.err and -1 is returned.
 */
int ql__body_parse(struct ql_http_req *r, const struct ql__field *fields, int nfields,
                   struct cJSON **out);
/* Free what the request owns beyond its arena (the executor calls it once answered). */
void ql__req_release(struct ql_http_req *r);
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

/* ---- running the use case (idem.c) ------------------------------------------------------ */

/*
 * Run run(r, arg) as the handler's one use case and answer: render(r, arg) when it returns
 * 0, the problem for its code otherwise.  A POST with an Idempotency-Key runs under the
 * core's idempotency wrapper (core/idem/idem.h), scoped to p (NULL: the client's address):
 * a repeated request gets the recorded response with Idempotent-Replayed: true.  run may
 * parse the body (its failures are recorded like any outcome).
 */
void ql__run(struct ql_http_req *r, const struct ql_principal *p,
             int (*run)(struct ql_http_req *r, void *arg),
             void (*render)(struct ql_http_req *r, void *arg), void *arg);

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
struct ql_entry;
struct ql_prompt;
struct ql_sync_item;
void ql__jw_entry(struct ql_jw *w, const struct ql_entry *e);
void ql__jw_prompt(struct ql_jw *w, const struct ql_prompt *p);
/* {"type","operation","id","data"}: one change of a sync page or stream. */
void ql__jw_sync_item(struct ql_jw *w, const struct ql_sync_item *it);
/*
 * A page response {"items": [...], "nextCursor": ...}: begin answers the problem for rc and
 * returns -1, or opens the items on w and returns 0; end closes them and answers 200.
 */
int ql__res_page_begin(struct ql_http_req *r, int rc, struct ql_jw *w);
void ql__res_page_end(struct ql_http_req *r, struct ql_jw *w, const char *next_cursor);
/*
 * Before a page of at most limit entries is read (reads times: a sync delta reads its page
 * again when other kinds changed): room in r's arena for the page at its largest, each entry
 * of QL_ENTRY_MAX_CHARS characters, read and written (ql__req_room).
 */
void ql__req_page_room(struct ql_http_req *r, int limit, int reads);

#endif
