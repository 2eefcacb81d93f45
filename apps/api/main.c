/*
 * quill-api - wiring only: read the configuration, build the adapters (the notification
 * port, the database port, crypto, group commit, OpenID Connect, tracing), hand them to the HTTP
 * server and serve until SIGTERM.
 *
 *   quill-api            serve (configuration from the environment; see .env.sample)
 *   quill-api --routes   print the routing table and exit
 *   quill-api --version  print the bill of materials and exit
 */
#include "build_info.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "db/db.h"
#include "err/err.h"
#include "fdlog/fdlog.h"
#include "groupq/group_queue.h"
#include "http/http.h"
#include "log/log.h"
#include "oidc/oidc.h"
#include "otlp/otlp.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"
#include "sysclock/sysclock.h"
#include "trace/trace.h"

#include <curl/curl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The /docs page and its renderer (apps/api/docs, embedded by tools/embed_assets.py). */
extern const struct ql_http_asset ql_docs_assets[];

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* Everything quill-api reads from its environment. */
struct settings {
    struct ql_config_common common;
    struct ql_config core;
    struct ql_http_config http;
    struct ql_trace_config trace; /* OTEL_*: spans over OTLP/HTTP */
    char oidc_issuer[512];        /* QUILL_OIDC_ISSUER, _AUDIENCE, _JWKS_URL: all or none */
    char oidc_audience[512];
    char oidc_jwks_url[512];
};

static int read_settings(struct settings *s, int ncpu, struct ql_config_errors *errs)
{
    struct ql_env e;
    ql_env_init(&e, env_get, NULL, errs);
    ql_config_common_read(&e, QL_NEED_DATABASE | QL_NEED_SECRET, &s->common);
    ql_config_read(&e, &s->core);
    ql_http_config_read(&e, ncpu, &s->http);
    ql_trace_config_read(&e, "quill-api", &s->trace);
    snprintf(s->trace.version, sizeof(s->trace.version), "%s", ql_version);
    ql_env_str(&e, "QUILL_OIDC_ISSUER", s->oidc_issuer, sizeof(s->oidc_issuer), NULL, 0);
    ql_env_str(&e, "QUILL_OIDC_AUDIENCE", s->oidc_audience, sizeof(s->oidc_audience), NULL, 0);
    ql_env_str(&e, "QUILL_OIDC_JWKS_URL", s->oidc_jwks_url, sizeof(s->oidc_jwks_url), NULL, 0);
    int set = !!s->oidc_issuer[0] + !!s->oidc_audience[0] + !!s->oidc_jwks_url[0];
    if (set != 0 && set != 3)
        ql_env_problem(&e, "QUILL_OIDC_ISSUER, QUILL_OIDC_AUDIENCE, QUILL_OIDC_JWKS_URL: set "
                           "all three or none");
    return ql_env_status(&e);
}

/* Connect once up front so a wrong DATABASE_URL shows at start, not per request; the
 * server still starts when the database is down and /readyz reports it. */
static void probe_database(struct ql_db *db, struct ql_logger *log)
{
    struct ql_db_session *probe = NULL;
    struct ql_error err;
    ql_error_clear(&err);
    if (ql_db_open(db, QL_DB_BLOCKING, 0, &probe) == QL_OK && ql_db_connect(probe, &err) != QL_OK)
        ql_log(log, QL_LOG_WARN, "database not reachable at start", "error", err.msg, NULL);
    ql_db_session_destroy(probe);
}

/*
 * Keep freed memory in malloc's free lists up to 8 MiB a heap, instead of giving it back to
 * the kernel after every large answer.  glibc hands a heap's free top back once it passes
 * 128 KiB and serves blocks over 128 KiB with mmap(2), so the buffer of a delta page (tens of
 * KiB, in an arena chunk of its own) came from fresh pages on every request: their page
 * faults were a fifth of quill-api's CPU on kept delta pages (docs/benchmarks.md, "Pages
 * from fresh memory").  An operator's MALLOC_TRIM_THRESHOLD_ or MALLOC_MMAP_THRESHOLD_ wins.
 */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
        mallopt(M_TRIM_THRESHOLD, 8 << 20);
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
        mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
        ql_http_print_routes();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", ql_version_json);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: quill-api [--routes | --version]\n");
        return 2;
    }
    keep_freed_memory();
    static struct settings cfg;
    struct ql_config_errors errs;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (read_settings(&cfg, (int)ncpu, &errs)) {
        for (int i = 0; i < errs.n; i++)
            fprintf(stderr, "quill-api: %s\n", errs.msg[i]);
        return 2;
    }

    int rc = 1;
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    struct ql_fdlog log;
    ql_fdlog_init(&log, 1, cfg.common.log_level, ql_sysclock(), &log_lock);
    struct ql_auth *auth = NULL;
    struct ql_http_server *server = NULL;
    struct ql_pg_notify *notify = NULL;
    struct ql_pg_db *db = NULL, *readdb = NULL;
    struct ql_oidc *oidc = NULL;
    struct ql_group_queue *group = NULL;
    struct ql_otlp *otlp = NULL;
    const char *fail = "out of memory";
    char msg[512] = "";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ql_sodium_auth_create(cfg.common.secret, cfg.common.secret_len, 0, 0, (int)ncpu, &auth) !=
        QL_OK) {
        fail = "cannot initialise libsodium";
        goto out;
    }
    /* Through a transaction pooler, LISTEN and the event loops' sessions (one per loop:
     * their pipelined reads span transactions, see ql_pg_db_config.pooler) take the
     * direct connection; QUILL_LOOP_READS=0 sends those reads to the pool instead. */
    if (ql_pg_notify_create(cfg.common.database_direct_url, &log.base, &notify) != QL_OK ||
        (cfg.http.group_commit > 0 &&
         ql_group_queue_create(cfg.http.group_commit, QL_GROUP_MAX_BATCH, &group) != QL_OK))
        goto out;
    /* The read replica's sessions: no cache (principals are read on the primary), no
     * wake-ups (they write nothing). */
    const struct ql_pg_db_config readcfg = {.conninfo = cfg.common.database_read_url,
                                            .log = &log.base,
                                            .clock = ql_sysclock(),
                                            .statement_timeout_ms = cfg.http.statement_timeout_ms,
                                            .idle_tx_timeout_ms = cfg.common.idle_tx_timeout_ms,
                                            .pooler = cfg.common.db_pooler};
    if (cfg.common.database_read_url[0] && ql_pg_db_create(&readcfg, &readdb) != QL_OK)
        goto out;
    const struct ql_pg_db_config dbcfg = {.conninfo = cfg.common.database_url,
                                          .log = &log.base,
                                          .clock = ql_sysclock(),
                                          .notify = ql_pg_notify_port(notify),
                                          .cache_capacity = 65536,
                                          .sync_cache_bytes = (size_t)cfg.http.sync_cache_mb << 20,
                                          .statement_timeout_ms = cfg.http.statement_timeout_ms,
                                          .idle_tx_timeout_ms = cfg.common.idle_tx_timeout_ms,
                                          .pooler = cfg.common.db_pooler,
                                          .loop_conninfo = cfg.common.database_direct_url,
                                          .replica = readdb};
    /* before the server: its streams count on the principal cache hearing revocations first */
    if (ql_pg_db_create(&dbcfg, &db) != QL_OK)
        goto out;
    if (cfg.oidc_issuer[0] && ql_oidc_create(cfg.oidc_issuer, cfg.oidc_audience, cfg.oidc_jwks_url,
                                             &log.base, ql_sysclock(), &oidc) != QL_OK) {
        fail = "cannot set up OpenID Connect";
        goto out;
    }
    if (cfg.trace.enabled && ql_otlp_create(&cfg.trace, ql_sysclock(), &log.base, &otlp) != QL_OK) {
        fail = "cannot start the trace exporter";
        goto out;
    }
    probe_database(ql_pg_db_port(db), &log.base);
    const struct ql_http_env env = {
        .cfg = &cfg.http,
        .core = &cfg.core,
        .db = ql_pg_db_port(db),
        .clock = ql_sysclock(),
        .auth = auth,
        .log = &log.base,
        .schema_version = ql_schema_version,
        .version_json = ql_version_json,
        .openapi_json = ql_openapi_json,
        .admin_html = ql_admin_html,
        .admin_csp = ql_admin_html_csp,
        .docs = ql_docs_assets,
        .idp = oidc ? ql_oidc_port(oidc) : NULL,
        .group = group ? ql_group_queue_port(group) : NULL,
        .group_hosted = group != NULL,
        .notify = ql_pg_notify_port(notify),
        .tracer = otlp ? ql_otlp_port(otlp) : NULL,
    };
    if (ql_http_server_create(&env, &server, msg, sizeof(msg)) != QL_OK) {
        fail = msg[0] ? msg : "cannot start the server";
        goto out;
    }
    if (group)
        ql_group_queue_async(
            group, &(struct ql_group_async){ql_http_group_lead, ql_http_group_done, server});
    rc = ql_http_server_run(server) == QL_OK ? 0 : 1;
    fail = NULL;
out:
    if (rc && fail)
        fprintf(stderr, "quill-api: %s\n", fail);
    ql_http_server_destroy(server);
    ql_otlp_destroy(otlp); /* after the server: its last spans are exported */
    ql_pg_db_destroy(db);
    ql_pg_db_destroy(readdb);
    ql_pg_notify_destroy(notify);
    ql_group_queue_destroy(group);
    ql_oidc_destroy(oidc);
    curl_global_cleanup();
    ql_sodium_auth_destroy(auth);
    return rc;
}
