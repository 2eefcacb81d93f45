/*
 * config.c - quill-api's settings from the environment (see struct ql_http_config).
 */
#include "http.h"

#include "config/config.h"
#include "cors.h"

#include <string.h>

static void read_public_url(struct ql_env *e, struct ql_http_config *c)
{
    ql_env_str(e, "QUILL_PUBLIC_URL", c->public_url, sizeof(c->public_url), "http://127.0.0.1:8080",
               0);
    if (strncmp(c->public_url, "https://", 8) == 0)
        c->public_https = 1;
    else if (strncmp(c->public_url, "http://", 7) != 0)
        ql_env_problem(e, "QUILL_PUBLIC_URL: expected an http:// or https:// URL, got '%.60s'",
                       c->public_url);
}

void ql_http_config_read(struct ql_env *e, int ncpu, struct ql_http_config *c)
{
    memset(c, 0, sizeof(*c));
    ql_env_hostport(e, "QUILL_LISTEN", "127.0.0.1:8080", 0, c->listen_host, sizeof(c->listen_host),
                    &c->listen_port);
    ql_env_str(e, "QUILL_ADMIN_TOKEN", c->admin_token, sizeof(c->admin_token), NULL, 0);
    if (c->admin_token[0] && strlen(c->admin_token) < 16)
        ql_env_problem(e, "QUILL_ADMIN_TOKEN: must be at least 16 characters");
    ql_env_str(e, "QUILL_METRICS_TOKEN", c->metrics_token, sizeof(c->metrics_token), NULL, 0);
    read_public_url(e, c);
    ql_env_int(e, "QUILL_THREADS", &c->threads, ncpu > 0 ? ncpu : 1, 1, 256);
    ql_env_int(e, "QUILL_DB_POOL", &c->db_pool, 8, 1, 1000);
    ql_env_int(e, "QUILL_WRITE_POOL", &c->write_pool, 48, 0, 1000);
    ql_env_int(e, "QUILL_GROUP_COMMIT", &c->group_commit, 1, 0, 1000);
    ql_env_int(e, "QUILL_LOOP_READS", &c->loop_reads, 1, 0, 1);
    ql_env_int(e, "QUILL_READ_AFTER_WRITE_MS", &c->read_after_write_ms, 5000, 0, 3600000);
    ql_env_int(e, "QUILL_POOL_QUEUE", &c->pool_queue, 4096, 1, 1000000);
    ql_env_int(e, "QUILL_RATE_LIMIT", &c->rate_limit, 50, 1, 1000000);
    const char *proxies = ql_env_value(e, "QUILL_TRUSTED_PROXIES");
    if (ql_cidr_list_parse(proxies ? proxies : "", &c->trusted_proxies) != 0)
        ql_env_problem(e,
                       "QUILL_TRUSTED_PROXIES: expected comma-separated addresses or CIDRs (at "
                       "most %d), got '%.60s'",
                       QL_CIDR_MAX, proxies);
    int max_body;
    ql_env_int(e, "QUILL_MAX_BODY", &max_body, 1 << 20, 1024, 64 << 20);
    c->max_body = (size_t)max_body;
    ql_env_int(e, "QUILL_MAX_CONNECTIONS", &c->max_connections, 10000, 1, 1000000);
    ql_env_int(e, "QUILL_HEADER_TIMEOUT_MS", &c->header_timeout_ms, 10000, 100, 3600000);
    ql_env_int(e, "QUILL_BODY_TIMEOUT_MS", &c->body_timeout_ms, 30000, 100, 3600000);
    ql_env_int(e, "QUILL_IDLE_TIMEOUT_MS", &c->idle_timeout_ms, 60000, 100, 3600000);
    ql_env_int(e, "QUILL_WRITE_TIMEOUT_MS", &c->write_timeout_ms, 30000, 100, 3600000);
    ql_env_int(e, "QUILL_SHUTDOWN_TIMEOUT_MS", &c->shutdown_timeout_ms, 10000, 0, 3600000);
    ql_env_bool(e, "QUILL_ACCESS_LOG", &c->access_log, 1);
    ql_env_int(e, "QUILL_MAX_STREAMS", &c->max_streams, 10000, 0, 1000000);
    ql_env_int(e, "QUILL_SSE_HEARTBEAT_MS", &c->sse_heartbeat_ms, 15000, 1000, 3600000);
    ql_env_int(e, "QUILL_SYNC_CACHE_MB", &c->sync_cache_mb, 64, 0, 65536);
    ql_env_int(e, "QUILL_STATEMENT_TIMEOUT_MS", &c->statement_timeout_ms, 5000, 0, 3600000);
    char why[200];
    if (ql__cors_parse(ql_env_value(e, "QUILL_CORS_ORIGINS"), &c->cors, why, sizeof(why)) != 0)
        ql_env_problem(e,
                       "QUILL_CORS_ORIGINS: expected comma-separated exact origins such as "
                       "'https://app.example.com': %s",
                       why);
    ql_env_int(e, "QUILL_CORS_MAX_AGE", &c->cors_max_age, 600, 0, 86400);
}
