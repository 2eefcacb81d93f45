/*
 * http.h - quill-api's HTTP/1.1 server: libuv event loops (one per thread, each with its
 * own SO_REUSEPORT listener), llhttp parsing, a router with path parameters, and a bounded
 * pool of threads that run database work, each with its own ports (its own database
 * session).  The loops never block: handlers that touch the database run on the pool and
 * their responses are posted back to the loop that owns the connection.
 *
 * Lifetime: ql_http_server_create() -> ql_http_server_run() (returns after SIGTERM or
 * SIGINT once in-flight requests finished or the shutdown deadline passed) ->
 * ql_http_server_destroy().
 */
#ifndef QL_HTTP_H
#define QL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct ql_config;
struct ql_ports;
struct ql_clock;
struct ql_auth;
struct ql_logger;
struct ql_http_server;
struct ql_ratelimit;
struct ql_oidc;
struct ql_group_queue;

/*
 * The database sessions of the event loops (optional; see ql_pg_loop_* in pg.h for the
 * contract of each call).  Each loop opens one and answers the reads of QL_ROUTE_LOOP
 * routes on it, pipelined, without the pool; whatever such a session refuses with
 * QL_EWOULD_BLOCK runs again on the pool.
 */
struct ql_error;
struct ql_store;
struct ql_queue;
struct ql_http_loopdb {
    void *ud;
    int (*open)(void *ud, void **db);
    void (*destroy)(void *db);
    struct ql_store *(*store)(void *db);
    struct ql_queue *(*queue)(void *db);
    int (*connect)(void *db, struct ql_error *err); /* blocks: runs on a pool thread */
    int (*fd)(void *db);
    int (*flush)(void *db);
    int (*input)(void *db);
    void (*close)(void *db);
};

/* What the handlers may use besides their request; everything is borrowed. */
struct ql_http_env {
    const struct ql_config *cfg;
    struct ql_clock *clock;
    struct ql_auth *auth;                /* thread-safe */
    struct ql_logger *log;               /* thread-safe (unbuffered) */
    int64_t schema_version;              /* the migration version this build expects */
    const char *version_json;            /* the bill of materials */
    const char *openapi_json;            /* the OpenAPI document */
    const char *admin_html;              /* the /admin dashboard page */
    struct ql_ratelimit *limiter;        /* per-principal token buckets; NULL: no limit */
    struct ql_oidc *oidc;                /* OpenID Connect verifier; NULL: off */
    struct ql_group_queue *group;        /* group commit of the pool's ports; NULL: off */
    const struct ql_http_loopdb *loopdb; /* reads on the loops; NULL: off */
    /* Database errors seen so far by all sessions (for /metrics); may be NULL. */
    uint64_t (*db_errors)(void *ud);
    void *db_errors_ud;
};

/*
 * Build a server for env (borrowed; must outlive the server).  pool_ports holds one set of
 * ports per pool thread (borrowed): npool for the pool that runs most routes, then nwrite
 * for the write pool that runs the routes whose writes are group-committed (their threads
 * wait in the group while other batches commit, so they must not hold up reads; 0: those
 * routes run on the first pool).  Binds the listeners, so a bad address fails here with
 * QL_EIO and a message in msg.  On success *out owns the server.
 */
int ql_http_server_create(const struct ql_http_env *env, struct ql_ports *pool_ports, int npool,
                          int nwrite, struct ql_http_server **out, char *msg, size_t msgcap);

/* Serve until SIGTERM/SIGINT, then drain.  Returns 0 after a clean shutdown. */
int ql_http_server_run(struct ql_http_server *s);

void ql_http_server_destroy(struct ql_http_server *s);

/* Print the routing table ("GET /v1/me") to fd 1; used by tests and operators. */
void ql_http_print_routes(void);

#endif
