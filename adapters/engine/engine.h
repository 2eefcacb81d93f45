/*
 * engine.h - quill-worker's job engine: claims jobs from the PostgreSQL queue in batches,
 * runs them on a fixed set of runner threads, writes completions in batches, keeps
 * heartbeats, and - on the one worker that holds the leader lock - runs cron, the rescuer
 * of crashed workers' jobs and retention.
 *
 * Lifetime: ql_engine_create() -> ql_engine_run() (returns after SIGTERM/SIGINT: claiming
 * stops, running jobs get QUILL_SHUTDOWN_TIMEOUT_MS to finish, the rest go back to the
 * queue) -> ql_engine_destroy().
 */
#ifndef QL_ENGINE_H
#define QL_ENGINE_H

#include <stdint.h>

struct ql_config;
struct ql_env;
struct ql_logger;
struct ql_clock;
struct ql_auth;
struct ql_db;
struct ql_notify;
struct ql_outbound;
struct ql_mailer;
struct ql_tracer;
struct ql_engine;

/* quill-worker's settings (the variables named; .env.sample has them all with defaults). */
struct ql_engine_config {
    int worker_concurrency;       /* QUILL_WORKER_CONCURRENCY */
    char worker_listen_host[256]; /* QUILL_WORKER_LISTEN; "": no metrics endpoint */
    int worker_listen_port;
    char job_queues[512];     /* QUILL_JOB_QUEUES: comma-separated; "": every queue */
    int job_batch;            /* QUILL_JOB_BATCH */
    int job_poll_ms;          /* QUILL_JOB_POLL_MS */
    int job_heartbeat_ms;     /* QUILL_JOB_HEARTBEAT_MS */
    int job_rescue_after_ms;  /* QUILL_JOB_RESCUE_AFTER_MS */
    int64_t job_retention_ms; /* QUILL_JOB_RETENTION_HOURS */
    int job_backoff_base_ms;  /* QUILL_JOB_BACKOFF_BASE_MS */
    int worker_debug_jobs;    /* QUILL_WORKER_DEBUG_JOBS */
    int shutdown_timeout_ms;  /* QUILL_SHUTDOWN_TIMEOUT_MS */
    int statement_timeout_ms; /* QUILL_WORKER_STATEMENT_TIMEOUT_MS */
};

/* Read c from the environment; problems go to e. */
void ql_engine_config_read(struct ql_env *e, struct ql_engine_config *c);

/* What the engine runs on; every pointer is borrowed and must outlive the engine. */
struct ql_engine_ports {
    struct ql_db *db;         /* sessions: one per runner, the claimer's, the recorder's */
    struct ql_notify *notify; /* wake-ups on "quill_jobs"; NULL: poll only */
    struct ql_clock *clock;
    struct ql_auth *auth;
    struct ql_logger *log;
    struct ql_outbound *outbound; /* HTTP to the outside (webhook deliveries) */
    struct ql_mailer *mailer;     /* SMTP (mail.send); NULL: mails are held in the outbox */
    struct ql_tracer *tracer;     /* spans of jobs (core/trace/trace.h); NULL: tracing off */
};

/*
 * Build an engine with its settings (cfg) and the use cases' (core, for the jobs' contexts);
 * both are borrowed.  Its sessions are opened but nothing connects yet.  *out owns it; NULL
 * on failure (QL_E* returned).
 */
int ql_engine_create(const struct ql_engine_config *cfg, const struct ql_config *core,
                     const struct ql_engine_ports *ports, struct ql_engine **out);

/* Run until SIGTERM, SIGINT or ql_engine_stop; 0 after a clean shutdown. */
int ql_engine_run(struct ql_engine *e);

/* Ask the engine to stop as SIGTERM does.  Safe from any thread, before or during run. */
void ql_engine_stop(struct ql_engine *e);

void ql_engine_destroy(struct ql_engine *e);

#endif
