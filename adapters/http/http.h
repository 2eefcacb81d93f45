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

#include "netaddr/netaddr.h"

struct ql_config;
struct ql_env;
struct ql_clock;
struct ql_auth;
struct ql_logger;
struct ql_http_server;
struct ql_idp;
struct ql_group;
struct ql_group_item;
struct ql_db;
struct ql_notify;
struct ql_tracer;

/* QUILL_CORS_ORIGINS: the exact origins whose browsers may call the API (cors.h). */
#define QL_CORS_MAX 32
#define QL_CORS_ORIGIN_MAX 256
struct ql_http_cors {
    int n;
    char origin[QL_CORS_MAX][QL_CORS_ORIGIN_MAX]; /* "https://app.example.com" */
};

/* quill-api's settings (the variables named; .env.sample has them all with defaults). */
struct ql_http_config {
    char listen_host[256]; /* QUILL_LISTEN */
    int listen_port;
    char admin_token[256];   /* QUILL_ADMIN_TOKEN; "": operator API off */
    char metrics_token[256]; /* QUILL_METRICS_TOKEN; "": /metrics open */
    char public_url[512];    /* QUILL_PUBLIC_URL */
    int public_https;        /* it is https: Secure cookies, HSTS */
    int threads;             /* QUILL_THREADS: event loops */
    int db_pool;             /* QUILL_DB_POOL */
    int write_pool;          /* QUILL_WRITE_POOL: threads of group-committed routes */
    int group_commit;        /* QUILL_GROUP_COMMIT: group transactions at once; 0: none */
    int loop_reads;          /* QUILL_LOOP_READS */
    int read_after_write_ms; /* QUILL_READ_AFTER_WRITE_MS: a caller's reads after its write
                                go to the primary for this long (with a read replica) */
    int pool_queue;          /* QUILL_POOL_QUEUE */
    int rate_limit;          /* QUILL_RATE_LIMIT: per principal a second */
    struct ql_cidr_list trusted_proxies; /* QUILL_TRUSTED_PROXIES */
    size_t max_body;                     /* QUILL_MAX_BODY */
    int max_connections;                 /* QUILL_MAX_CONNECTIONS */
    int header_timeout_ms;               /* QUILL_HEADER_TIMEOUT_MS */
    int body_timeout_ms;                 /* QUILL_BODY_TIMEOUT_MS */
    int idle_timeout_ms;                 /* QUILL_IDLE_TIMEOUT_MS */
    int write_timeout_ms;                /* QUILL_WRITE_TIMEOUT_MS */
    int shutdown_timeout_ms;             /* QUILL_SHUTDOWN_TIMEOUT_MS */
    int access_log;                      /* QUILL_ACCESS_LOG */
    int max_streams;                     /* QUILL_MAX_STREAMS: live sync streams */
    int sse_heartbeat_ms;                /* QUILL_SSE_HEARTBEAT_MS: comment on quiet streams */
    int sync_cache_mb;                   /* QUILL_SYNC_CACHE_MB: delta pages kept; 0: none */
    int statement_timeout_ms;            /* QUILL_STATEMENT_TIMEOUT_MS */
    struct ql_http_cors cors;            /* QUILL_CORS_ORIGINS; none: no CORS headers */
    int cors_max_age;                    /* QUILL_CORS_MAX_AGE: seconds a preflight is kept */
};

/* Read c from the environment (ncpu: the default of QUILL_THREADS); problems go to e. */
void ql_http_config_read(struct ql_env *e, int ncpu, struct ql_http_config *c);

/* A static file quill-api serves from memory (the /docs page and its renderer). */
struct ql_http_asset {
    const char *path; /* "/docs/swagger-ui.css"; NULL ends a table */
    const char *type; /* its Content-Type */
    const char *etag; /* a strong ETag, quotes included */
    const char *data;
    size_t len;
    const char *gz; /* the same bytes gzipped; NULL: none */
    size_t gz_len;
};

/* What the server runs on; everything is borrowed and must outlive the server. */
struct ql_http_env {
    const struct ql_http_config *cfg;
    const struct ql_config *core; /* the use cases' settings (their contexts' cfg) */
    struct ql_db *db;             /* sessions of the pools and of the loops */
    struct ql_clock *clock;
    struct ql_auth *auth;             /* thread-safe */
    struct ql_logger *log;            /* thread-safe (unbuffered) */
    int64_t schema_version;           /* the migration version this build expects */
    const char *version_json;         /* the bill of materials */
    const char *openapi_json;         /* the OpenAPI document */
    const char *admin_html;           /* the /admin dashboard page */
    const char *admin_csp;            /* its script-src and style-src (hashes) */
    const struct ql_http_asset *docs; /* GET /docs and /docs/{asset}; NULL: 404 */
    struct ql_idp *idp;               /* OpenID Connect verification; NULL: off */
    struct ql_group *group;           /* group commit for the write pool; NULL: off */
    int group_hosted;                 /* the server hosts group (ql_http_group_lead below) */
    struct ql_notify *notify;         /* wakes live streams; NULL: no live streams (503) */
    struct ql_tracer *tracer;         /* spans of requests and their work; NULL: tracing off */
};

/*
 * Build a server for env.  It opens its database sessions from env->db: cfg->db_pool for
 * the pool that runs most routes, cfg->write_pool more for the routes whose writes are
 * group-committed when env->group is set (their threads wait in the group while other
 * batches commit, so they must not hold up reads), and one per event loop for reads on the
 * loops when cfg->loop_reads is set.  Binds the listeners, so a bad address fails here
 * with QL_EIO and a message in msg.  On success *out owns the server.
 */
int ql_http_server_create(const struct ql_http_env *env, struct ql_http_server **out, char *msg,
                          size_t msgcap);

/*
 * With env->group_hosted, the event loops submit their group-committed writes to env->group
 * instead of handing each to a write pool thread, and the server runs what the group needs
 * for that: give these two, with the server, to the group's adapter before serving
 * (apps/api/main.c).  lead: have a write pool thread call ql_group_lead (0, or -1 when the
 * pool is stopping); done: hand a submitted item back to its loop.
 */
int ql_http_group_lead(void *server);
void ql_http_group_done(void *server, struct ql_group_item *item);

/* Serve until SIGTERM/SIGINT, then drain.  Returns 0 after a clean shutdown. */
int ql_http_server_run(struct ql_http_server *s);

void ql_http_server_destroy(struct ql_http_server *s);

/* Print the routing table ("GET /v1/me") to fd 1; used by tests and operators. */
void ql_http_print_routes(void);

#endif
