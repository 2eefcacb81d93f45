/*
 * jobs.h - the job model shared by quill-api (enqueue, the operator API) and quill-worker
 * (the engine): job records, the catalogue of kinds, retry backoff, and five-field cron
 * expressions.  Reactions to changes are not jobs: they read the change log
 * (core/changes/changes.h).
 *
 * Handlers are plain functions of a context and a job, written to be idempotent: the
 * engine runs each job at least once and may run it again after a crash.
 */
#ifndef QL_JOBS_H
#define QL_JOBS_H

#include <stddef.h>
#include <stdint.h>

struct ql_ctx;
struct ql_error;

/* A job as claimed or listed.  Strings are arena memory of the context that read it. */
struct ql_job {
    int64_t id;
    const char *queue;
    const char *kind;
    const char *payload; /* JSON text */
    const char *state;
    int priority;
    int attempts; /* including the one being run */
    int max_attempts;
    const char *unique_key;  /* NULL: none */
    const char *trace_id;    /* NULL: none */
    const char *traceparent; /* the W3C trace context it continues; NULL: none (claims only) */
    int claimed_ahead;       /* claimed ahead of the runners (claims only): see ql_queue_ops */
    const char *errors;      /* JSON array text of every failed attempt */
    const char *progress;    /* JSON text or NULL */
    const char *locked_by;
    int64_t run_at_ms;
    int64_t created_ms;
    int64_t locked_ms;
    int64_t finished_ms;
};

typedef int (*ql_job_fn)(struct ql_ctx *cx, const struct ql_job *job);

/* One kind of job the worker knows how to run. */
struct ql_job_kind {
    const char *kind;
    ql_job_fn fn;
    int timeout_ms;   /* per attempt */
    int max_attempts; /* default for jobs of this kind */
};

/* The kinds quill-worker runs (handlers.c); debug kinds only when debug is set. */
const struct ql_job_kind *ql_job_kind_find(const char *kind, int debug);
/* Every kind, for listing; *n gets the count. */
const struct ql_job_kind *ql_job_kinds(int debug, int *n);

/*
 * Delay before attempt `failed + 1` after `failed` failures: base_ms * 2^(failed-1),
 * capped at an hour, with +/-25 % jitter from rnd (any 64 random bits).
 */
int64_t ql_job_backoff_ms(int failed, int64_t base_ms, uint64_t rnd);

/* Report progress of the job this context runs (a JSON document, stored with the job). */
int ql_job_progress(struct ql_ctx *cx, const char *json);

/* ---- cron ---------------------------------------------------------------------------- */

/* A parsed five-field expression (minute hour day-of-month month day-of-week), UTC. */
struct ql_cron {
    uint64_t minutes; /* bit m: minute m matches */
    uint32_t hours;
    uint32_t mdays;  /* bits 1..31 */
    uint16_t months; /* bits 1..12 */
    uint8_t wdays;   /* bits 0..6, Sunday = 0 (7 is read as Sunday) */
    int mday_any;
    int wday_any;
};

/*
 * Parse "m h dom mon dow": numbers, "*", ranges "a-b", lists "a,b", steps "*\/n" and
 * "a-b/n".  QL_EVALIDATION with a message naming the bad field otherwise.  As in Vixie
 * cron, when both day fields are restricted a day matching either one matches.
 */
int ql_cron_parse(const char *expr, struct ql_cron *out, struct ql_error *err);

/* 1 when the minute starting at ms (UTC) matches. */
int ql_cron_matches(const struct ql_cron *c, int64_t ms);

/* The first matching minute strictly after after_ms, or -1 when none within 5 years. */
int64_t ql_cron_next(const struct ql_cron *c, int64_t after_ms);

/* A schedule declared in code: at every tick the leader enqueues kind once (unique key). */
struct ql_schedule {
    const char *name;
    const char *expr;
    const char *kind;
};

/* The schedules quill-worker runs (with debug set, also "debug-tick": noop every minute). */
const struct ql_schedule *ql_schedules(int debug, int *n);

#endif
