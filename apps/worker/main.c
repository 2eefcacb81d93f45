/*
 * quill-worker - wiring for the background worker.  It connects to PostgreSQL, logs that
 * it is ready and runs until SIGTERM/SIGINT, keeping its database session alive (and
 * reconnecting after an outage).  The job engine plugs into this loop.
 */
#include "build_info.h"

#include "clock/sysclock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/fdlog.h"
#include "postgres/pg.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

struct worker {
    struct ql_config cfg;
    struct ql_fdlog log;
    struct ql_pg *pg;
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick;
    int ready;
};

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

/* Check the session every tick; log transitions between reachable and unreachable. */
static void on_tick(uv_timer_t *t)
{
    struct worker *w = t->data;
    struct ql_ctx cx = {0};
    cx.ports.log = &w->log.base;
    int rc = ql_store_ping(ql_pg_store(w->pg), &cx);
    if (rc == QL_OK && !w->ready) {
        w->ready = 1;
        ql_log(&w->log.base, QL_LOG_INFO, "quill-worker ready", NULL);
    } else if (rc != QL_OK && w->ready) {
        w->ready = 0;
        ql_log(&w->log.base, QL_LOG_WARN, "quill-worker lost the database", "error", cx.err.msg,
               NULL);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct worker *w = h->data;
    ql_log(&w->log.base, QL_LOG_INFO, "quill-worker stopping", "signal",
           signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", ql_version_json);
        return 0;
    }
    static struct worker w;
    struct ql_config_errors errs;
    if (ql_config_load(&w.cfg, env_get, NULL, QL_NEED_DATABASE, 1, &errs)) {
        for (int i = 0; i < errs.n; i++)
            fprintf(stderr, "quill-worker: %s\n", errs.msg[i]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    ql_fdlog_init(&w.log, 1, w.cfg.log_level, ql_sysclock(), 0, &log_lock);
    if (ql_pg_create(w.cfg.database_url, &w.log.base, ql_sysclock(), NULL, &w.pg) != QL_OK) {
        fprintf(stderr, "quill-worker: out of memory\n");
        return 1;
    }
    uv_loop_init(&w.loop);
    uv_signal_init(&w.loop, &w.sigterm);
    uv_signal_init(&w.loop, &w.sigint);
    w.sigterm.data = w.sigint.data = &w;
    uv_signal_start(&w.sigterm, on_signal, SIGTERM);
    uv_signal_start(&w.sigint, on_signal, SIGINT);
    uv_timer_init(&w.loop, &w.tick);
    w.tick.data = &w;
    uv_timer_start(&w.tick, on_tick, 0, 2000);
    ql_log(&w.log.base, QL_LOG_INFO, "quill-worker starting", NULL);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
    ql_pg_destroy(w.pg);
    ql_log(&w.log.base, QL_LOG_INFO, "quill-worker stopped", NULL);
    ql_fdlog_cleanup(&w.log);
    return 0;
}
