/*
 * config.h - configuration from environment variables: the reader every binary uses, the
 * settings every binary shares, and the settings of the core's use cases.
 *
 * Each binary reads what it needs: these parts, plus the settings of the adapters it runs
 * (struct ql_http_config of adapters/http, struct ql_engine_config of adapters/engine),
 * all through one reader.  Each problem becomes one line naming the variable
 * ("QUILL_DB_POOL: expected an integer from 1 to 1000, got 'x'"), reading goes on so an
 * operator sees every mistake in one run, and the binary prints them all and exits with
 * status 2.  Values are copied, so nothing refers back to the environment.
 */
#ifndef QL_CONFIG_H
#define QL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define QL_CONFIG_MAX_ERRORS 24

struct ql_config_errors {
    int n;
    char msg[QL_CONFIG_MAX_ERRORS][240];
};

/* Looks a variable up; returns NULL when it is unset.  The result is borrowed. */
typedef const char *(*ql_getenv_fn)(void *ud, const char *name);

struct ql_env {
    ql_getenv_fn get;
    void *ud;
    struct ql_config_errors *errs;
};

/* Start reading with get; errs collects the problems (emptied here). */
void ql_env_init(struct ql_env *e, ql_getenv_fn get, void *ud, struct ql_config_errors *errs);
/* 0 when nothing was wrong so far, else QL_ECONFIG. */
int ql_env_status(const struct ql_env *e);
/*
 * Record a problem of the caller's own (a rule between variables).  A problem whose
 * "NAME:" prefix was reported already is dropped: one line per variable.
 */
void ql_env_problem(struct ql_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A variable's value, or NULL when it is unset or empty. */
const char *ql_env_value(struct ql_env *e, const char *name);
/* A string into dst (cap bytes): def when unset; required: unset is a problem. */
void ql_env_str(struct ql_env *e, const char *name, char *dst, size_t cap, const char *def,
                int required);
/* An integer from lo to hi, def when unset. */
void ql_env_int(struct ql_env *e, const char *name, int *dst, int def, int lo, int hi);
/* 0 or 1 (also "false", "true"), def when unset. */
void ql_env_bool(struct ql_env *e, const char *name, int *dst, int def);
/*
 * host:port (an IPv6 host in brackets) into host (cap bytes) and port, def when unset.
 * With allow_off, "off" leaves host empty.
 */
void ql_env_hostport(struct ql_env *e, const char *name, const char *def, int allow_off, char *host,
                     size_t cap, int *port);

/* QUILL_DB_POOLER: none, or PgBouncer in transaction mode (no named prepared statements,
 * no session settings). */
enum { QL_POOLER_NONE = 0, QL_POOLER_PGBOUNCER = 1 };

/* What every binary reads.  need: which of these must be set. */
enum {
    QL_NEED_DATABASE = 1 << 0,
    QL_NEED_SECRET = 1 << 1,
};

struct ql_config_common {
    char database_url[1024]; /* DATABASE_URL */
    /* DATABASE_DIRECT_URL: a connection to PostgreSQL itself, never through a pooler, for
     * what needs a session of its own (LISTEN, session advisory locks); default DATABASE_URL */
    char database_direct_url[1024];
    int db_pooler; /* QUILL_DB_POOLER: QL_POOLER_* (what DATABASE_URL goes through) */
    /* DATABASE_READ_URL: a streaming replica for reads that tolerate lag; "" for none */
    char database_read_url[1024];
    int log_level;      /* QUILL_LOG_LEVEL */
    uint8_t secret[64]; /* QUILL_SECRET, decoded; secret_len 0 when unset */
    size_t secret_len;
    int idle_tx_timeout_ms; /* QUILL_IDLE_IN_TRANSACTION_TIMEOUT_MS */
};

void ql_config_common_read(struct ql_env *e, int need, struct ql_config_common *c);

#define QL_WEBHOOK_RETRIES_MAX 16

/* What the core's use cases read (struct ql_ctx's cfg). */
struct ql_config {
    int auth_ip_limit;           /* QUILL_AUTH_IP_LIMIT: signups and logins per address a minute */
    int64_t session_ttl_ms;      /* QUILL_SESSION_TTL_HOURS: absolute session lifetime */
    int64_t session_idle_ms;     /* QUILL_SESSION_IDLE_HOURS: unused this long, a session expires */
    int64_t change_retention_ms; /* QUILL_CHANGE_RETENTION_HOURS: how long the change log keeps */
    int64_t free_quota; /* QUILL_FREE_MONTHLY_QUOTA: API-key requests a month, plan "free" */
    /* webhooks */
    int webhook_allow_private; /* QUILL_WEBHOOK_ALLOW_PRIVATE: loopback/private targets, http */
    int webhook_timeout_ms;    /* QUILL_WEBHOOK_TIMEOUT_MS: one attempt, connecting included */
    int webhook_disable_after; /* QUILL_WEBHOOK_DISABLE_AFTER: failed attempts in a row */
    int webhook_nretries;      /* QUILL_WEBHOOK_RETRY_SCHEDULE: the delays between attempts */
    int64_t webhook_retry_ms[QL_WEBHOOK_RETRIES_MAX];
    int64_t webhook_retention_ms; /* QUILL_WEBHOOK_RETENTION_HOURS: finished deliveries kept */
    /* mail (core/account/recovery.h) */
    char app_url[512];    /* QUILL_APP_URL (else QUILL_PUBLIC_URL): links in mails, no "/" at end */
    int64_t reset_ttl_ms; /* QUILL_PASSWORD_RESET_TTL_MINUTES: a reset link's lifetime */
    int64_t verify_ttl_ms; /* QUILL_EMAIL_VERIFY_TTL_HOURS: a verification link's lifetime */
    int mail_ip_limit;     /* QUILL_MAIL_IP_LIMIT: mail requests per client address a minute */
    /* data exports */
    int64_t export_max_bytes;    /* QUILL_EXPORT_MAX_MB: the largest document kept */
    int64_t export_retention_ms; /* QUILL_EXPORT_RETENTION_HOURS: how long one is kept */
};

void ql_config_read(struct ql_env *e, struct ql_config *c);

#endif
