/*
 * config.c - parsing and validating the environment.  Each variable has one reader that
 * either stores a value or appends a message naming the variable; reading continues after
 * a problem so an operator sees every mistake in one run.
 */
#include "config/config.h"

#include "b64/b64.h"
#include "err/err.h"
#include "log/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    ql_getenv_fn get;
    void *ud;
    struct ql_config_errors *errs;
};

static void problem(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct reader *r, const char *fmt, ...)
{
    if (r->errs->n >= QL_CONFIG_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errs->msg[r->errs->n++], sizeof(r->errs->msg[0]), fmt, ap);
    va_end(ap);
}

static const char *value(struct reader *r, const char *name)
{
    const char *v = r->get(r->ud, name);
    return v && *v ? v : NULL;
}

static void read_str(struct reader *r, const char *name, char *dst, size_t cap, const char *def,
                     int required)
{
    const char *v = value(r, name);
    if (v == NULL) {
        if (required)
            problem(r, "%s: required but not set", name);
        snprintf(dst, cap, "%s", def ? def : "");
        return;
    }
    if (strlen(v) >= cap) {
        problem(r, "%s: longer than %zu characters", name, cap - 1);
        dst[0] = '\0';
        return;
    }
    memcpy(dst, v, strlen(v) + 1);
}

static void read_int(struct reader *r, const char *name, int *dst, int def, int lo, int hi)
{
    const char *v = value(r, name);
    *dst = def;
    if (v == NULL)
        return;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end != '\0' || end == v || n < lo || n > hi) {
        problem(r, "%s: expected an integer from %d to %d, got '%.60s'", name, lo, hi, v);
        return;
    }
    *dst = (int)n;
}

static void read_bool(struct reader *r, const char *name, int *dst, int def)
{
    const char *v = value(r, name);
    *dst = def;
    if (v == NULL)
        return;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *dst = 1;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *dst = 0;
    else
        problem(r, "%s: expected 0 or 1, got '%.60s'", name, v);
}

static void read_listen(struct reader *r, struct ql_config *c)
{
    const char *name = "QUILL_LISTEN";
    const char *v = value(r, name);
    if (v == NULL)
        v = "127.0.0.1:8080";
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v) {
        problem(r, "%s: expected host:port, got '%.60s'", name, v);
        return;
    }
    const char *host = v;
    size_t hn = (size_t)(colon - v);
    if (host[0] == '[' && hn >= 2 && host[hn - 1] == ']') {
        host++;
        hn -= 2;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 0 || port > 65535 ||
        hn >= sizeof(c->listen_host)) {
        problem(r, "%s: expected host:port with a port from 0 to 65535, got '%.60s'", name, v);
        return;
    }
    memcpy(c->listen_host, host, hn);
    c->listen_host[hn] = '\0';
    c->listen_port = (int)port;
}

/* host:port into host/port; "off" or "" leaves host empty. */
static void read_hostport(struct reader *r, const char *name, const char *def, char *host,
                          size_t cap, int *port)
{
    const char *v = value(r, name);
    if (v == NULL)
        v = def;
    host[0] = '\0';
    *port = 0;
    if (strcmp(v, "off") == 0 || *v == '\0')
        return;
    const char *colon = strrchr(v, ':');
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    size_t hn = colon ? (size_t)(colon - v) : 0;
    if (colon == NULL || hn == 0 || hn >= cap || *end != '\0' || end == colon + 1 || p < 0 ||
        p > 65535) {
        problem(r, "%s: expected host:port or off, got '%.60s'", name, v);
        return;
    }
    memcpy(host, v, hn);
    host[hn] = '\0';
    *port = (int)p;
}

static void read_secret(struct reader *r, struct ql_config *c, int required)
{
    const char *name = "QUILL_SECRET";
    const char *v = value(r, name);
    c->secret_len = 0;
    if (v == NULL) {
        if (required)
            problem(r,
                    "%s: required but not set (base64 of at least 32 random bytes; "
                    "generate one with: head -c 32 /dev/urandom | base64)",
                    name);
        return;
    }
    size_t n;
    if (ql_b64_decode(v, strlen(v), c->secret, sizeof(c->secret), &n) != QL_OK) {
        problem(r, "%s: not valid base64 (or longer than 64 bytes)", name);
        return;
    }
    if (n < 32) {
        problem(r, "%s: decodes to %zu bytes; at least 32 are needed", name, n);
        return;
    }
    c->secret_len = n;
}

static void read_url(struct reader *r, struct ql_config *c)
{
    read_str(r, "QUILL_PUBLIC_URL", c->public_url, sizeof(c->public_url), "http://127.0.0.1:8080",
             0);
    if (strncmp(c->public_url, "https://", 8) == 0)
        c->public_https = 1;
    else if (strncmp(c->public_url, "http://", 7) == 0)
        c->public_https = 0;
    else
        problem(r, "QUILL_PUBLIC_URL: expected an http:// or https:// URL, got '%.60s'",
                c->public_url);
}

static void read_oidc(struct reader *r, struct ql_config *c)
{
    read_str(r, "QUILL_OIDC_ISSUER", c->oidc_issuer, sizeof(c->oidc_issuer), NULL, 0);
    read_str(r, "QUILL_OIDC_AUDIENCE", c->oidc_audience, sizeof(c->oidc_audience), NULL, 0);
    read_str(r, "QUILL_OIDC_JWKS_URL", c->oidc_jwks_url, sizeof(c->oidc_jwks_url), NULL, 0);
    int set = !!c->oidc_issuer[0] + !!c->oidc_audience[0] + !!c->oidc_jwks_url[0];
    if (set != 0 && set != 3)
        problem(r, "QUILL_OIDC_ISSUER, QUILL_OIDC_AUDIENCE, QUILL_OIDC_JWKS_URL: set all "
                   "three or none");
}

int ql_config_load(struct ql_config *c, ql_getenv_fn get, void *ud, int need, int ncpu,
                   struct ql_config_errors *errs)
{
    struct reader r = {get, ud, errs};
    memset(c, 0, sizeof(*c));
    errs->n = 0;
    read_str(&r, "DATABASE_URL", c->database_url, sizeof(c->database_url), NULL,
             need & QL_NEED_DATABASE);
    read_listen(&r, c);
    read_secret(&r, c, need & QL_NEED_SECRET);
    read_str(&r, "QUILL_ADMIN_TOKEN", c->admin_token, sizeof(c->admin_token), NULL, 0);
    if (c->admin_token[0] && strlen(c->admin_token) < 16)
        problem(&r, "QUILL_ADMIN_TOKEN: must be at least 16 characters");
    read_str(&r, "QUILL_METRICS_TOKEN", c->metrics_token, sizeof(c->metrics_token), NULL, 0);
    read_url(&r, c);

    char level[16];
    read_str(&r, "QUILL_LOG_LEVEL", level, sizeof(level), "info", 0);
    if (ql_log_level_parse(level, &c->log_level) != QL_OK)
        problem(&r, "QUILL_LOG_LEVEL: expected debug, info, warn or error, got '%s'", level);

    read_int(&r, "QUILL_THREADS", &c->threads, ncpu > 0 ? ncpu : 1, 1, 256);
    read_int(&r, "QUILL_DB_POOL", &c->db_pool, 8, 1, 1000);
    read_int(&r, "QUILL_WRITE_POOL", &c->write_pool, 48, 0, 1000);
    read_int(&r, "QUILL_GROUP_COMMIT", &c->group_commit, 2, 0, 1000);
    read_int(&r, "QUILL_LOOP_READS", &c->loop_reads, 1, 0, 1);
    read_int(&r, "QUILL_POOL_QUEUE", &c->pool_queue, 4096, 1, 1000000);
    read_int(&r, "QUILL_WORKER_CONCURRENCY", &c->worker_concurrency, 10, 1, 1000);
    read_oidc(&r, c);
    read_int(&r, "QUILL_AUTH_IP_LIMIT", &c->auth_ip_limit, 30, 1, 1000000);
    read_int(&r, "QUILL_RATE_LIMIT", &c->rate_limit, 50, 1, 1000000);
    char proxies[1024];
    read_str(&r, "QUILL_TRUSTED_PROXIES", proxies, sizeof(proxies), NULL, 0);
    if (ql_cidr_list_parse(proxies, &c->trusted_proxies) != QL_OK)
        problem(&r,
                "QUILL_TRUSTED_PROXIES: expected comma-separated addresses or CIDRs (at most "
                "%d), got '%.60s'",
                QL_CIDR_MAX, proxies);
    read_bool(&r, "QUILL_WEBHOOK_ALLOW_PRIVATE", &c->webhook_allow_private, 0);

    int max_body;
    read_int(&r, "QUILL_MAX_BODY", &max_body, 1 << 20, 1024, 64 << 20);
    c->max_body = (size_t)max_body;
    read_int(&r, "QUILL_MAX_CONNECTIONS", &c->max_connections, 10000, 1, 1000000);
    read_int(&r, "QUILL_HEADER_TIMEOUT_MS", &c->header_timeout_ms, 10000, 100, 3600000);
    read_int(&r, "QUILL_BODY_TIMEOUT_MS", &c->body_timeout_ms, 30000, 100, 3600000);
    read_int(&r, "QUILL_IDLE_TIMEOUT_MS", &c->idle_timeout_ms, 60000, 100, 3600000);
    read_int(&r, "QUILL_WRITE_TIMEOUT_MS", &c->write_timeout_ms, 30000, 100, 3600000);
    read_int(&r, "QUILL_SHUTDOWN_TIMEOUT_MS", &c->shutdown_timeout_ms, 10000, 0, 3600000);
    read_bool(&r, "QUILL_ACCESS_LOG", &c->access_log, 1);
    int ttl_h, idle_h;
    read_int(&r, "QUILL_SESSION_TTL_HOURS", &ttl_h, 720, 1, 87600);
    read_int(&r, "QUILL_SESSION_IDLE_HOURS", &idle_h, 168, 1, 87600);
    c->session_ttl_ms = (int64_t)ttl_h * 3600000;
    c->session_idle_ms = (int64_t)idle_h * 3600000;
    read_hostport(&r, "QUILL_WORKER_LISTEN", "127.0.0.1:9464", c->worker_listen_host,
                  sizeof(c->worker_listen_host), &c->worker_listen_port);
    read_str(&r, "QUILL_JOB_QUEUES", c->job_queues, sizeof(c->job_queues), NULL, 0);
    read_int(&r, "QUILL_JOB_BATCH", &c->job_batch, 100, 1, 1000);
    read_int(&r, "QUILL_JOB_POLL_MS", &c->job_poll_ms, 1000, 10, 600000);
    read_int(&r, "QUILL_JOB_HEARTBEAT_MS", &c->job_heartbeat_ms, 5000, 100, 600000);
    read_int(&r, "QUILL_JOB_RESCUE_AFTER_MS", &c->job_rescue_after_ms, 30000, 500, 86400000);
    int retention_h;
    read_int(&r, "QUILL_JOB_RETENTION_HOURS", &retention_h, 168, 0, 87600);
    c->job_retention_ms = (int64_t)retention_h * 3600000;
    read_int(&r, "QUILL_JOB_BACKOFF_BASE_MS", &c->job_backoff_base_ms, 1000, 1, 3600000);
    read_bool(&r, "QUILL_WORKER_DEBUG_JOBS", &c->worker_debug_jobs, 0);
    if (c->job_rescue_after_ms <= c->job_heartbeat_ms)
        problem(&r, "QUILL_JOB_RESCUE_AFTER_MS: must be longer than QUILL_JOB_HEARTBEAT_MS (%d)",
                c->job_heartbeat_ms);
    return errs->n ? QL_ECONFIG : QL_OK;
}
