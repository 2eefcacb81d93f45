/*
 * quill-api - wiring only: read the configuration, build the adapters (the notification
 * port, the database port, crypto, group commit), hand them to the HTTP server and serve
 * until SIGTERM.
 *
 *   quill-api            serve (configuration from the environment; see .env.sample)
 *   quill-api --routes   print the routing table and exit
 *   quill-api --version  print the bill of materials and exit
 */
#include "build_info.h"

#include "sysclock/sysclock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "db/db.h"
#include "err/err.h"
#include "groupq/group_queue.h"
#include "http/http.h"
#include "http/ratelimit.h"
#include "fdlog/fdlog.h"
#include "oidc/oidc.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
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
    struct ql_config cfg;
    struct ql_config_errors errs;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ql_config_load(&cfg, env_get, NULL, QL_NEED_DATABASE | QL_NEED_SECRET, (int)ncpu, &errs)) {
        for (int i = 0; i < errs.n; i++)
            fprintf(stderr, "quill-api: %s\n", errs.msg[i]);
        return 2;
    }

    int rc = 1;
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    struct ql_fdlog log;
    ql_fdlog_init(&log, 1, cfg.log_level, ql_sysclock(), &log_lock);

    struct ql_auth *auth = NULL;
    struct ql_http_server *server = NULL;
    struct ql_pg_notify *notify = NULL;
    struct ql_pg_db *db = NULL;
    struct ql_ratelimit *limiter = NULL;
    struct ql_oidc *oidc = NULL;
    struct ql_group_queue *group = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ql_sodium_auth_create(cfg.secret, cfg.secret_len, 0, 0, (int)ncpu, &auth) != QL_OK) {
        fprintf(stderr, "quill-api: cannot initialise libsodium\n");
        goto out;
    }
    if (ql_pg_notify_create(cfg.database_url, &log.base, &notify) != QL_OK ||
        ql_ratelimit_create(cfg.rate_limit, &limiter) != QL_OK ||
        (cfg.group_commit > 0 &&
         ql_group_queue_create(cfg.group_commit, QL_GROUP_MAX_BATCH, &group) != QL_OK)) {
        fprintf(stderr, "quill-api: out of memory\n");
        goto out;
    }
    const struct ql_pg_db_config dbcfg = {.conninfo = cfg.database_url,
                                          .log = &log.base,
                                          .clock = ql_sysclock(),
                                          .notify = ql_pg_notify_port(notify),
                                          .cache_capacity = 65536};
    if (ql_pg_db_create(&dbcfg, &db) != QL_OK) {
        fprintf(stderr, "quill-api: out of memory\n");
        goto out;
    }
    if (cfg.oidc_issuer[0] && ql_oidc_create(cfg.oidc_issuer, cfg.oidc_audience, cfg.oidc_jwks_url,
                                             &log.base, &oidc) != QL_OK) {
        fprintf(stderr, "quill-api: cannot set up OpenID Connect\n");
        goto out;
    }
    /* Connect once up front so a wrong DATABASE_URL shows at start, not per request; the
     * server still starts when the database is down and /readyz reports it. */
    struct ql_db_session *probe = NULL;
    struct ql_error err;
    ql_error_clear(&err);
    if (ql_db_open(ql_pg_db_port(db), QL_DB_BLOCKING, 0, &probe) == QL_OK &&
        ql_db_connect(probe, &err) != QL_OK)
        ql_log(&log.base, QL_LOG_WARN, "database not reachable at start", "error", err.msg, NULL);
    ql_db_session_destroy(probe);

    struct ql_http_env env = {
        .cfg = &cfg,
        .db = ql_pg_db_port(db),
        .clock = ql_sysclock(),
        .auth = auth,
        .log = &log.base,
        .schema_version = ql_schema_version,
        .version_json = ql_version_json,
        .openapi_json = ql_openapi_json,
        .admin_html = ql_admin_html,
        .limiter = limiter,
        .oidc = oidc,
        .group = group ? ql_group_queue_port(group) : NULL,
    };
    char msg[512] = "";
    if (ql_http_server_create(&env, &server, msg, sizeof(msg)) != QL_OK) {
        fprintf(stderr, "quill-api: %s\n", msg[0] ? msg : "cannot start the server");
        goto out;
    }
    rc = ql_http_server_run(server) == QL_OK ? 0 : 1;
out:
    ql_http_server_destroy(server);
    ql_pg_db_destroy(db);
    ql_pg_notify_destroy(notify);
    ql_ratelimit_destroy(limiter);
    ql_group_queue_destroy(group);
    ql_oidc_destroy(oidc);
    curl_global_cleanup();
    ql_sodium_auth_destroy(auth);
    return rc;
}
