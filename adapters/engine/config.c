/*
 * config.c - quill-worker's settings from the environment (see struct ql_engine_config).
 */
#include "engine.h"

#include "config/config.h"

#include <string.h>

/* How many names a list of queues holds (separated by commas and spaces, as engine.c splits
 * it). */
static int queue_names(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        n += *p != ',' && *p != ' ' && (p == s || p[-1] == ',' || p[-1] == ' ');
    return n;
}

void ql_engine_config_read(struct ql_env *e, struct ql_engine_config *c)
{
    memset(c, 0, sizeof(*c));
    ql_env_int(e, "QUILL_WORKER_CONCURRENCY", &c->worker_concurrency, 10, 1, 1000);
    ql_env_hostport(e, "QUILL_WORKER_LISTEN", "127.0.0.1:9464", 1, c->worker_listen_host,
                    sizeof(c->worker_listen_host), &c->worker_listen_port);
    ql_env_str(e, "QUILL_JOB_QUEUES", c->job_queues, sizeof(c->job_queues), NULL, 0);
    int nq = queue_names(c->job_queues);
    if (c->job_queues[0] && (nq == 0 || nq > 32)) /* none would read as every queue */
        ql_env_problem(e, "QUILL_JOB_QUEUES: expected 1 to 32 queue names, got %d", nq);
    ql_env_int(e, "QUILL_JOB_BATCH", &c->job_batch, 100, 1, 1000);
    ql_env_int(e, "QUILL_JOB_POLL_MS", &c->job_poll_ms, 1000, 10, 600000);
    ql_env_int(e, "QUILL_JOB_HEARTBEAT_MS", &c->job_heartbeat_ms, 5000, 100, 600000);
    ql_env_int(e, "QUILL_JOB_RESCUE_AFTER_MS", &c->job_rescue_after_ms, 30000, 500, 86400000);
    int retention_h;
    ql_env_int(e, "QUILL_JOB_RETENTION_HOURS", &retention_h, 168, 0, 87600);
    c->job_retention_ms = (int64_t)retention_h * 3600000;
    ql_env_int(e, "QUILL_JOB_BACKOFF_BASE_MS", &c->job_backoff_base_ms, 1000, 1, 3600000);
    ql_env_bool(e, "QUILL_WORKER_DEBUG_JOBS", &c->worker_debug_jobs, 0);
    ql_env_int(e, "QUILL_SHUTDOWN_TIMEOUT_MS", &c->shutdown_timeout_ms, 10000, 0, 3600000);
    /* jobs may run long statements (purges): the longest job timeout by default */
    ql_env_int(e, "QUILL_WORKER_STATEMENT_TIMEOUT_MS", &c->statement_timeout_ms, 600000, 0,
               86400000);
    if (c->job_rescue_after_ms <= c->job_heartbeat_ms)
        ql_env_problem(e,
                       "QUILL_JOB_RESCUE_AFTER_MS: must be longer than QUILL_JOB_HEARTBEAT_MS (%d)",
                       c->job_heartbeat_ms);
}
