/*
 * internal.h - shared by the files of quill-worker's engine only:
 *   engine.c   lifecycle, the main loop, its timers and signals, shutdown
 *   runs.c     claiming, runner threads, the recorder, deadlines and heartbeats
 *   leader.c   leader duties (cron, rescue, retention) and the LISTEN connection
 *   metrics.c  per-kind statistics and the /metrics endpoint
 *   consumers.c  the thread that runs the change log's consumers
 * Everything here is owned by the main thread unless a field says otherwise.
 */
#ifndef QL_ENGINE_INTERNAL_H
#define QL_ENGINE_INTERNAL_H

#include "engine.h"

#include "arena/arena.h"
#include "clock/clock.h"
#include "jobs/jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

struct ql_ctx;
struct ql_config;
struct ql_engine_config;
struct ql_logger;
struct ql_auth;
struct ql_db;
struct ql_db_session;
struct ql_notify;

#define TICK_MS 250
#define GRACE_MS 500 /* after a deadline, before a run is abandoned */
#define RESCUE_EVERY_MS 2000
#define PURGE_EVERY_MS 60000
#define CRON_LOOKBACK_MS (5 * 60000)
#define MAX_RUNNERS 256
#define MAX_KINDS 32
#define NBUCKETS 14
/* Claim ahead of the runners only while the average attempt takes less than this. */
#define PREFETCH_BELOW_MS 50.0

struct run {
    struct run *next_todo;   /* runner queue */
    struct run *next_done;   /* completion list */
    struct run *prev, *next; /* every run in flight (main thread) */
    struct ql_arena arena;
    struct ql_job job;
    const struct ql_job_kind *kind;
    int64_t started_ns;  /* when a runner took it; 0 before (under lock) */
    int64_t deadline_ns; /* set with started_ns */
    int64_t finished_ns; /* when the handler returned; 0 before (under lock) */
    int abandoned;       /* main thread: recorded as timed out */
    int unrecorded;      /* recorder: its success could not be written */
    int expired;         /* main thread: to be recorded as timed out */
    int rc;
    int64_t retry_after_ms; /* the handler's own delay before the next attempt; 0: backoff */
    char error[320];
};

struct runner {
    struct ql_engine *e;
    pthread_t thread;
    struct ql_db_session *db;
    int index;
};

struct kind_stats {
    char kind[48];
    uint64_t succeeded, failed, discarded;
    uint64_t buckets[NBUCKETS];
    double sum_s;
    uint64_t count;
};

struct ql_engine {
    const struct ql_engine_config *cfg;
    const struct ql_config *core; /* the jobs' contexts' cfg */
    struct ql_logger *log;
    struct ql_clock *clock;
    struct ql_auth *auth;
    struct ql_db *dbs;
    struct ql_notify *notify;
    struct ql_outbound *outbound; /* webhooks' HTTP; NULL: none */
    struct ql_mailer *mailer;     /* mail.send's SMTP; NULL: none */
    struct ql_tracer *tracer;     /* spans of jobs; NULL: tracing off */
    int sub;                      /* the subscription to the jobs channel; 0: none */
    atomic_int notified;          /* set by the notification port's thread */
    atomic_int stop_requested;    /* ql_engine_stop, from any thread */
    char worker_id[128];
    const char *queues[33]; /* NULL-terminated; queues[0] == NULL: every queue */
    char queue_names[512];

    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    uv_timer_t tick, poll;
    uv_async_t wake;
    uv_tcp_t metrics;
    int metrics_open;

    struct ql_db_session *db; /* the main thread's session */
    struct ql_arena arena;

    pthread_mutex_t lock;
    pthread_cond_t cond;               /* runners wait here for todo */
    pthread_cond_t rec_cond;           /* the recorder waits here for done */
    struct run *todo_head, *todo_tail; /* claimed, waiting for a runner */
    struct run *done_head;             /* finished, waiting for the recorder */
    struct run *recorded_head;         /* recorded, waiting for the main thread */
    int runners_stop;
    pthread_t recorder;
    struct ql_db_session *rec_db; /* the recorder's session */

    struct run *runs; /* in flight (main thread only) */
    int in_flight;    /* runs not yet returned by a runner, abandoned ones included */

    int nrunners;
    struct runner runners[MAX_RUNNERS];

    int stopping;
    int64_t stop_deadline_ms;
    int leader;
    int ready;
    int db_ok;
    int64_t cron_checked_ms;
    int64_t last_heartbeat_ms, last_rescue_ms, last_purge_ms, last_lead_ms;
    uint64_t rng;
    double avg_run_ms; /* moving average of attempt durations */
    int dry;           /* the last claim found fewer jobs than it asked for */
    int dry_ahead;     /* ... fewer to claim ahead: claim only for idle runners till woken */

    int nkinds;
    struct kind_stats kinds[MAX_KINDS];
    uint64_t claims;
    atomic_uint_fast64_t notifications;

    /* the change consumers' thread (consumers.c) */
    struct ql_db_session *cons_db; /* its session */
    pthread_t cons_thread;
    pthread_mutex_t cons_lock;
    pthread_cond_t cons_cond; /* on CLOCK_MONOTONIC */
    int cons_notified;        /* under cons_lock */
    int cons_stop;            /* under cons_lock */
    int cons_started, cons_running, cons_failing;
    int cons_sub;               /* the subscription to QL_NOTIFY_CHANGES; 0: none */
    struct ql_arena cons_arena; /* the thread's */
    _Atomic uint64_t consumed;  /* changes applied by this worker */
};

static inline int64_t ql__eng_now_ms(struct ql_engine *e)
{
    return ql_clock_now_ms(e->clock);
}

static inline int64_t ql__eng_mono_ns(struct ql_engine *e)
{
    return ql_clock_mono_ns(e->clock);
}

/* engine.c */
uint64_t ql__eng_rand(struct ql_engine *e);
/* A context for the main thread's own calls: its arena is reset by every tick. */
void ql__eng_main_ctx(struct ql_engine *e, struct ql_ctx *cx);
/* Log transitions of database reachability (and readiness), not every failed call. */
void ql__eng_db_state(struct ql_engine *e, int rc, const struct ql_ctx *cx);

/* runs.c */
void *ql__eng_runner_main(void *arg);   /* a runner thread (arg: struct runner) */
void *ql__eng_recorder_main(void *arg); /* the recorder thread (arg: the engine) */
void ql__eng_collect(struct ql_engine *e);
void ql__eng_claim(struct ql_engine *e);
void ql__eng_claim_fresh(struct ql_engine *e);
void ql__eng_unlink_run(struct ql_engine *e, struct run *r);
void ql__eng_check_deadlines(struct ql_engine *e);
void ql__eng_heartbeat(struct ql_engine *e);

/* leader.c */
void ql__eng_leader_duties(struct ql_engine *e);
/* Subscribe to the jobs channel: a notification wakes the loop to claim. */
int ql__eng_listen_start(struct ql_engine *e);
void ql__eng_listen_stop(struct ql_engine *e);

/* consumers.c: start the thread (after the loop exists), stop and join it. */
int ql__eng_consumers_start(struct ql_engine *e);
void ql__eng_consumers_stop(struct ql_engine *e);

/* metrics.c */
void ql__eng_observe(struct ql_engine *e, const struct run *r, const char *outcome, int64_t end_ns);
/* Listen on QUILL_WORKER_LISTEN (unless "off"); addr gets the bound host:port. */
int ql__eng_metrics_open(struct ql_engine *e, char *addr, size_t cap);

#endif
