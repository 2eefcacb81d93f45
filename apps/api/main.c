/*
 * quill-api - wiring only: read the configuration, build the adapters (one database
 * session per pool thread), hand them to the HTTP server and serve until SIGTERM.
 *
 *   quill-api            serve (configuration from the environment; see .env.sample)
 *   quill-api --routes   print the routing table and exit
 *   quill-api --version  print the bill of materials and exit
 */
#include "build_info.h"

#include "clock/sysclock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "group/group_queue.h"
#include "http/http.h"
#include "http/ratelimit.h"
#include "log/fdlog.h"
#include "oidc/oidc.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sessions {
    struct ql_pg **pg;
    int n;
};

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static uint64_t db_errors(void *ud)
{
    const struct sessions *s = ud;
    uint64_t n = 0;
    for (int i = 0; i < s->n; i++)
        n += ql_pg_error_count(s->pg[i]);
    return n;
}

/* The event loops' own sessions (see ql_http_loopdb and ql_pg_loop_* in pg.h). */
struct loop_sessions {
    const char *url;
    struct ql_logger *log;
    struct ql_pg_cache *cache;
};

static int ld_open(void *ud, void **db)
{
    const struct loop_sessions *l = ud;
    return ql_pg_loop_create(l->url, l->log, ql_sysclock(), l->cache, (struct ql_pg **)db);
}

static void ld_destroy(void *db)
{
    ql_pg_destroy(db);
}

static struct ql_store *ld_store(void *db)
{
    return ql_pg_store(db);
}

static struct ql_queue *ld_queue(void *db)
{
    return ql_pg_queue(db);
}

static int ld_connect(void *db, struct ql_error *err)
{
    return ql_pg_loop_connect(db, err);
}

static int ld_fd(void *db)
{
    return ql_pg_loop_fd(db);
}

static int ld_flush(void *db)
{
    return ql_pg_loop_flush(db);
}

static int ld_input(void *db)
{
    return ql_pg_loop_input(db);
}

static void ld_close(void *db)
{
    ql_pg_loop_close(db);
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
    ql_fdlog_init(&log, 1, cfg.log_level, ql_sysclock(), 0, &log_lock);

    struct ql_auth *auth = NULL;
    struct ql_http_server *server = NULL;
    struct ql_pg_cache *cache = NULL;
    struct ql_pg_waker *waker = NULL;
    struct ql_ratelimit *limiter = NULL;
    struct ql_oidc *oidc = NULL;
    struct ql_group_queue *group = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /*
     * Sessions 0..db_pool-1 serve the pool, the rest the write pool (see http.h).  Without
     * group commit nothing waits in a group, so grouped routes need no pool of their own.
     */
    int nwrite = cfg.group_commit > 0 ? cfg.write_pool : 0;
    int nsessions = cfg.db_pool + nwrite;
    struct sessions sessions = {calloc((size_t)nsessions, sizeof(struct ql_pg *)), 0};
    struct ql_ports *ports = calloc((size_t)nsessions, sizeof(*ports));
    if (sessions.pg == NULL || ports == NULL) {
        fprintf(stderr, "quill-api: out of memory\n");
        goto out;
    }
    if (ql_sodium_auth_create(cfg.secret, cfg.secret_len, 0, 0, (int)ncpu, &auth) != QL_OK) {
        fprintf(stderr, "quill-api: cannot initialise libsodium\n");
        goto out;
    }
    if (ql_pg_cache_create(cfg.database_url, &log.base, 65536, &cache) != QL_OK ||
        ql_pg_waker_create(cfg.database_url, &log.base, &waker) != QL_OK ||
        ql_ratelimit_create(cfg.rate_limit, &limiter) != QL_OK ||
        (cfg.group_commit > 0 &&
         ql_group_queue_create(cfg.group_commit, QL_GROUP_MAX_BATCH, &group) != QL_OK)) {
        fprintf(stderr, "quill-api: out of memory\n");
        goto out;
    }
    if (cfg.oidc_issuer[0] && ql_oidc_create(cfg.oidc_issuer, cfg.oidc_audience, cfg.oidc_jwks_url,
                                             &log.base, &oidc) != QL_OK) {
        fprintf(stderr, "quill-api: cannot set up OpenID Connect\n");
        goto out;
    }
    for (int i = 0; i < nsessions; i++) {
        if (ql_pg_create(cfg.database_url, &log.base, ql_sysclock(), cache, &sessions.pg[i]) !=
            QL_OK) {
            fprintf(stderr, "quill-api: out of memory\n");
            goto out;
        }
        sessions.n++;
        ql_pg_set_waker(sessions.pg[i], waker);
        ports[i] = (struct ql_ports){.store = ql_pg_store(sessions.pg[i]),
                                     .queue = ql_pg_queue(sessions.pg[i]),
                                     .clock = ql_sysclock(),
                                     .auth = auth,
                                     .log = &log.base,
                                     .group = group ? ql_group_queue_port(group) : NULL};
    }
    /* Connect one session up front so a wrong DATABASE_URL shows at start, not per request;
     * the server still starts when the database is down and /readyz reports it. */
    struct ql_error err;
    ql_error_clear(&err);
    if (ql_pg_connect(sessions.pg[0], &err) != QL_OK)
        ql_log(&log.base, QL_LOG_WARN, "database not reachable at start", "error", err.msg, NULL);

    struct loop_sessions loops = {cfg.database_url, &log.base, cache};
    const struct ql_http_loopdb loopdb = {&loops,     ld_open, ld_destroy, ld_store, ld_queue,
                                          ld_connect, ld_fd,   ld_flush,   ld_input, ld_close};
    struct ql_http_env env = {
        .cfg = &cfg,
        .clock = ql_sysclock(),
        .auth = auth,
        .log = &log.base,
        .schema_version = ql_schema_version,
        .version_json = ql_version_json,
        .openapi_json = ql_openapi_json,
        .admin_html = ql_admin_html,
        .limiter = limiter,
        .oidc = oidc,
        .group = group,
        .loopdb = cfg.loop_reads ? &loopdb : NULL,
        .db_errors = db_errors,
        .db_errors_ud = &sessions,
    };
    char msg[512] = "";
    if (ql_http_server_create(&env, ports, cfg.db_pool, nwrite, &server, msg, sizeof(msg)) !=
        QL_OK) {
        fprintf(stderr, "quill-api: %s\n", msg[0] ? msg : "cannot start the server");
        goto out;
    }
    rc = ql_http_server_run(server) == QL_OK ? 0 : 1;
out:
    ql_http_server_destroy(server);
    for (int i = 0; i < sessions.n; i++)
        ql_pg_destroy(sessions.pg[i]);
    free(sessions.pg);
    free(ports);
    ql_pg_waker_destroy(waker);
    ql_pg_cache_destroy(cache);
    ql_ratelimit_destroy(limiter);
    ql_group_queue_destroy(group);
    ql_oidc_destroy(oidc);
    curl_global_cleanup();
    ql_sodium_auth_destroy(auth);
    ql_fdlog_cleanup(&log);
    return rc;
}
