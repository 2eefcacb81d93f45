/*
 * quill-worker - wiring for the job engine: read the configuration, build the adapters,
 * run the engine until SIGTERM/SIGINT (see adapters/jobs/engine.h).
 *
 *   quill-worker            run (configuration from the environment; see .env.sample)
 *   quill-worker --kinds    list the job kinds this build runs
 *   quill-worker --version  print the bill of materials
 */
#include "build_info.h"

#include "sysclock/sysclock.h"
#include "config/config.h"
#include "err/err.h"
#include "engine/engine.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "fdlog/fdlog.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"
#include "curl/curl_out.h"
#include "smtp/smtp.h"
#include "otlp/otlp.h"
#include "trace/trace.h"

#include <curl/curl.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", ql_version_json);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--kinds") == 0) {
        int n;
        const struct ql_job_kind *k = ql_job_kinds(1, &n);
        for (int i = 0; i < n; i++)
            printf("%s\ttimeout %d ms\tmax attempts %d\n", k[i].kind, k[i].timeout_ms,
                   k[i].max_attempts);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: quill-worker [--kinds | --version]\n");
        return 2;
    }
    struct ql_config_common common;
    struct ql_config core;
    struct ql_engine_config cfg;
    struct ql_smtp_config smtp_cfg;
    struct ql_trace_config trace;
    struct ql_config_errors errs;
    struct ql_env env;
    ql_env_init(&env, env_get, NULL, &errs);
    /* the secret opens webhook signing secrets sealed by quill-api */
    ql_config_common_read(&env, QL_NEED_DATABASE | QL_NEED_SECRET, &common);
    ql_config_read(&env, &core);
    ql_engine_config_read(&env, &cfg);
    ql_smtp_config_read(&env, &smtp_cfg);
    ql_trace_config_read(&env, "quill-worker", &trace);
    snprintf(trace.version, sizeof(trace.version), "%s", ql_version);
    if (ql_env_status(&env)) {
        for (int i = 0; i < errs.n; i++)
            fprintf(stderr, "quill-worker: %s\n", errs.msg[i]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    struct ql_fdlog log;
    ql_fdlog_init(&log, 1, common.log_level, ql_sysclock(), &log_lock);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ql_curl_out *out = NULL;
    struct ql_smtp *smtp = NULL;
    struct ql_auth *auth = NULL;
    struct ql_pg_notify *notify = NULL;
    struct ql_pg_db *db = NULL;
    struct ql_engine *engine = NULL;
    struct ql_otlp *otlp = NULL;
    int rc = 1;
    if (ql_sodium_auth_create(common.secret, common.secret_len, 0, 0, 0, &auth) != QL_OK ||
        ql_pg_notify_create(common.database_direct_url, &log.base, &notify) != QL_OK ||
        ql_curl_out_create(core.webhook_allow_private, &out) != QL_OK ||
        (smtp_cfg.url[0] && ql_smtp_create(&smtp_cfg, &smtp) != QL_OK) ||
        (trace.enabled && ql_otlp_create(&trace, ql_sysclock(), &log.base, &otlp) != QL_OK))
        goto fail;
    explicit_bzero(&smtp_cfg, sizeof(smtp_cfg)); /* the sender keeps its own copy */
    ql_log(&log.base, QL_LOG_INFO,
           smtp ? "mail goes out through the SMTP server of QUILL_SMTP_URL"
                : "QUILL_SMTP_URL is not set: mail stays in the outbox (GET /v1/admin/mail)",
           NULL);
    /* Jobs read no credentials: no principal cache.  The engine holds session advisory
     * locks (the leader's) and long claims: never through a transaction pooler. */
    const struct ql_pg_db_config dbcfg = {.conninfo = common.database_direct_url,
                                          .log = &log.base,
                                          .clock = ql_sysclock(),
                                          .notify = ql_pg_notify_port(notify),
                                          .cache_capacity = 0,
                                          .statement_timeout_ms = cfg.statement_timeout_ms,
                                          .idle_tx_timeout_ms = common.idle_tx_timeout_ms};
    if (ql_pg_db_create(&dbcfg, &db) != QL_OK)
        goto fail;
    const struct ql_engine_ports ports = {.db = ql_pg_db_port(db),
                                          .notify = ql_pg_notify_port(notify),
                                          .clock = ql_sysclock(),
                                          .auth = auth,
                                          .log = &log.base,
                                          .outbound = ql_curl_out_port(out),
                                          .mailer = smtp ? ql_smtp_port(smtp) : NULL,
                                          .tracer = otlp ? ql_otlp_port(otlp) : NULL};
    if (ql_engine_create(&cfg, &core, &ports, &engine) != QL_OK)
        goto fail;
    rc = ql_engine_run(engine) == QL_OK ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "quill-worker: cannot start (out of memory?)\n");
out:
    ql_engine_destroy(engine);
    ql_otlp_destroy(otlp); /* after the engine: its last spans are exported */
    ql_pg_db_destroy(db);
    ql_pg_notify_destroy(notify);
    ql_sodium_auth_destroy(auth);
    ql_curl_out_destroy(out);
    ql_smtp_destroy(smtp);
    curl_global_cleanup();
    return rc;
}
