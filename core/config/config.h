/*
 * config.h - Quill's configuration, read from environment variables.
 *
 * Every binary calls ql_config_load with the variables it needs marked required.  Each
 * problem becomes one line naming the variable ("QUILL_DB_POOL: expected an integer from
 * 1 to 1000, got 'x'"); the caller prints them all and exits with status 2.  Values are
 * copied into the struct, so nothing refers back to the environment.
 */
#ifndef QL_CONFIG_H
#define QL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr/netaddr.h"

#define QL_CONFIG_MAX_ERRORS 24

/* Which variables a binary insists on. */
enum {
    QL_NEED_DATABASE = 1 << 0,
    QL_NEED_SECRET = 1 << 1,
};

struct ql_config {
    char database_url[1024];
    char listen_host[256];
    int listen_port;
    uint8_t secret[64];
    size_t secret_len;
    char admin_token[256];   /* "" when unset: operator API off */
    char metrics_token[256]; /* "" when unset: /metrics open */
    char public_url[512];
    int public_https;
    int log_level;
    int threads;
    int db_pool;
    int write_pool;   /* threads (sessions) for group-committed routes; 0: they use db_pool */
    int group_commit; /* group transactions in flight at once; 0: every write alone */
    int loop_reads;   /* 1: loops answer entry reads on their own sessions; 0: on the pool */
    int pool_queue;
    int worker_concurrency;
    char oidc_issuer[512];
    char oidc_audience[512];
    char oidc_jwks_url[512];
    int auth_ip_limit;
    int rate_limit;
    struct ql_cidr_list trusted_proxies;
    int webhook_allow_private;
    size_t max_body;
    int max_connections;
    int header_timeout_ms;
    int body_timeout_ms;
    int idle_timeout_ms;
    int write_timeout_ms;
    int shutdown_timeout_ms;
    int access_log;
    int64_t session_ttl_ms;  /* absolute session lifetime */
    int64_t session_idle_ms; /* a session unused this long expires */
    /* quill-worker */
    char worker_listen_host[256]; /* "" : no metrics endpoint */
    int worker_listen_port;
    char job_queues[512]; /* comma-separated; "" : every queue */
    int job_batch;
    int job_poll_ms;
    int job_heartbeat_ms;
    int job_rescue_after_ms;
    int64_t job_retention_ms;
    int job_backoff_base_ms;
    int worker_debug_jobs;
};

struct ql_config_errors {
    int n;
    char msg[QL_CONFIG_MAX_ERRORS][240];
};

/* Looks a variable up; returns NULL when it is unset.  The result is borrowed. */
typedef const char *(*ql_getenv_fn)(void *ud, const char *name);

/*
 * Fill cfg from the environment.  ncpu is the default for QUILL_THREADS.  Returns 0, or
 * QL_ECONFIG with every problem described in errs.
 */
int ql_config_load(struct ql_config *cfg, ql_getenv_fn get, void *ud, int need, int ncpu,
                   struct ql_config_errors *errs);

#endif
