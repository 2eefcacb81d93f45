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

struct ql_config;
struct ql_logger;
struct ql_clock;
struct ql_auth;
struct ql_db;
struct ql_notify;
struct ql_engine;

/* What the engine runs on; every pointer is borrowed and must outlive the engine. */
struct ql_engine_ports {
    struct ql_db *db;         /* sessions: one per runner, the claimer's, the recorder's */
    struct ql_notify *notify; /* wake-ups on "quill_jobs"; NULL: poll only */
    struct ql_clock *clock;
    struct ql_auth *auth;
    struct ql_logger *log;
};

/*
 * Build an engine; its sessions are opened but nothing connects yet.  *out owns it; NULL on
 * failure (QL_E* returned).
 */
int ql_engine_create(const struct ql_config *cfg, const struct ql_engine_ports *ports,
                     struct ql_engine **out);

/* Run until SIGTERM or SIGINT; 0 after a clean shutdown. */
int ql_engine_run(struct ql_engine *e);

void ql_engine_destroy(struct ql_engine *e);

#endif
