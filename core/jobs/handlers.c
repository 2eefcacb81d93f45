/*
 * handlers.c - the catalogue of job kinds and cron schedules, and the handlers themselves.  Every
 * handler is idempotent (a job may run again after a crash) and writes its audit row in the
 * transaction of its effect, as "Job:<kind>".
 */
#include "jobs/jobs.h"
#include "rights/rights.h"
#include "webhook/webhook.h"
#include "account/recovery.h"
#include "mail/mail.h"

#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_security.h"
#include "tx/tx.h"
#include "usage/usage.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_MS 86400000LL
#define SOFT_DELETE_KEEP_MS (30 * DAY_MS)

/* Run one housekeeping statement in a transaction with its audit row. */
static int housekeeping(struct ql_ctx *cx, const struct ql_job *job,
                        int (*work)(struct ql_ctx *cx, int64_t now, int64_t *n))
{
    char actor[96];
    snprintf(actor, sizeof(actor), "Job:%s", job->kind);
    int64_t n = 0;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = work(cx, ql_clock_now_ms(cx->ports.clock), &n);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, job->kind, "Job", NULL, actor);
    return ql_tx_end(cx, rc);
}

static int w_idempotency(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    return ql_store_maint_purge_idempotency(cx->ports.store, cx, now, n);
}

/* Sessions past their expiry, and the MFA challenges of logins that were never finished. */
static int w_sessions(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    int64_t idle = cx->cfg ? cx->cfg->session_idle_ms : 7 * DAY_MS, challenges = 0;
    int rc = ql_store_maint_purge_sessions(cx->ports.store, cx, now, idle, n);
    if (rc == QL_OK)
        rc = ql_store_challenge_purge(cx->ports.store, cx, now, &challenges);
    *n += challenges;
    return rc;
}

static int w_throttles(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    return ql_store_maint_purge_throttles(cx->ports.store, cx, now, n);
}

static int w_deleted(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    return ql_store_maint_purge_deleted(cx->ports.store, cx, now - SOFT_DELETE_KEEP_MS, n);
}

static int w_daily(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    return ql_store_maint_daily_pick_all(cx->ports.store, cx, now - now % DAY_MS, now, n);
}

static int h_purge_idempotency(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_idempotency);
}

static int h_purge_sessions(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_sessions);
}

static int h_purge_throttles(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_throttles);
}

static int h_purge_deleted(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_deleted);
}

static int h_daily_prompts(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_daily);
}

static int w_requests(struct ql_ctx *cx, int64_t now, int64_t *n)
{
    return ql_usage_purge(cx, now - QL_USAGE_LOG_KEEP_DAYS * DAY_MS, n);
}

static int h_purge_requests(struct ql_ctx *cx, const struct ql_job *job)
{
    return housekeeping(cx, job, w_requests);
}

int ql_job_progress(struct ql_ctx *cx, const char *json)
{
    if (cx->job == NULL || cx->ports.queue == NULL)
        return ql_error_set(&cx->err, QL_EINTERNAL, "progress outside a job");
    return ql_queue_progress(cx->ports.queue, cx, cx->worker_id, cx->job->id, json);
}

static int h_noop(struct ql_ctx *cx, const struct ql_job *job)
{
    (void)cx;
    (void)job;
    return QL_OK;
}

/* ---- debug kinds (QUILL_WORKER_DEBUG_JOBS=1): for fault tests and benchmarks ---------------- */

/*
 * Sleep payload.ms, in steps of at most 10 ms, giving up when the attempt's deadline passes.
 * A step counts for the time the clock says it took, and for at least its length: on a loaded
 * machine every nanosleep oversleeps, and 90 steps of "10 ms" then added up to well over
 * 900 ms (past the kind's 1 s deadline), while a manual clock that does not move must still
 * see the sleep end.
 */
static int h_debug_sleep(struct ql_ctx *cx, const struct ql_job *job)
{
    cJSON *doc = cJSON_Parse(job->payload);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(doc, "ms");
    int64_t left = cJSON_IsNumber(ms) ? (int64_t)ms->valuedouble : 100;
    cJSON_Delete(doc);
    if (cx->job && cx->ports.queue)
        ql_job_progress(cx, "{\"phase\":\"sleeping\"}");
    int64_t last = ql_clock_mono_ns(cx->ports.clock);
    while (left > 0) {
        if (cx->deadline_ns && last > cx->deadline_ns)
            return ql_error_set(&cx->err, QL_EUNAVAILABLE, "deadline exceeded");
        int64_t step = left < 10 ? left : 10;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        int64_t now = ql_clock_mono_ns(cx->ports.clock), took = (now - last) / 1000000;
        left -= took > step ? took : step;
        last = now;
    }
    return QL_OK;
}

static int h_debug_fail(struct ql_ctx *cx, const struct ql_job *job)
{
    return ql_error_set(&cx->err, QL_EINTERNAL, "deliberate failure of job %lld attempt %d",
                        (long long)job->id, job->attempts);
}

static const struct ql_job_kind kinds[] = {
    {"noop", h_noop, 5000, 3},
    /* in batches, each its own transaction; a run past its deadline stops between them */
    {"purge.changes", ql_changes_purge, 600000, 5},
    /* attempts: the retry schedule's (see ql__webhook_enqueue); the deadline is generous */
    {"webhook.deliver", ql_webhook_deliver, 330000, 8},
    /* mail: an attempt outlives the longest SMTP timeout (5 min); attempts span 9 hours */
    {QL_MAIL_SEND_KIND, ql_mail_send_job, 330000, QL_MAIL_SEND_ATTEMPTS},
    {QL_RESET_MAIL_KIND, ql_account_reset_mail, 60000, 10},
    {"purge.mail", ql_mail_purge_job, 300000, 5},
    {"prompts.daily_pick", h_daily_prompts, 60000, 10},
    {"purge.idempotency", h_purge_idempotency, 300000, 5},
    {"purge.sessions", h_purge_sessions, 300000, 5},
    {"purge.throttles", h_purge_throttles, 300000, 5},
    {"purge.deleted", h_purge_deleted, 600000, 5},
    {"purge.requests", h_purge_requests, 600000, 5},
    /* data rights: a build or an erasure that runs past its deadline stops between pages */
    {"export.build", ql_export_build, 1800000, 5},
    {"account.erase", ql_account_erase_run, 1800000, 25},
    {"purge.exports", ql_exports_purge, 300000, 5},
    {"purge.webhooks", ql_webhooks_purge, 300000, 5},
    /* debug kinds last: hidden unless asked for */
    {"debug.sleep", h_debug_sleep, 1000, 3},
    {"debug.fail", h_debug_fail, 1000, 3},
};
#define NKINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))
#define NDEBUG_KINDS 2

const struct ql_job_kind *ql_job_kinds(int debug, int *n)
{
    *n = debug ? NKINDS : NKINDS - NDEBUG_KINDS;
    return kinds;
}

const struct ql_job_kind *ql_job_kind_find(const char *kind, int debug)
{
    int n;
    const struct ql_job_kind *k = ql_job_kinds(debug, &n);
    for (int i = 0; i < n; i++)
        if (strcmp(k[i].kind, kind) == 0)
            return &k[i];
    return NULL;
}

static const struct ql_schedule schedules[] = {
    {"debug-tick", "* * * * *", "noop"}, /* first: hidden unless debug is set */
    {"daily-prompts", "0 0 * * *", "prompts.daily_pick"},
    {"purge-idempotency", "17 * * * *", "purge.idempotency"},
    {"purge-sessions", "23 * * * *", "purge.sessions"},
    {"purge-throttles", "*/5 * * * *", "purge.throttles"},
    {"purge-deleted", "41 3 * * *", "purge.deleted"},
    {"purge-changes", "31 * * * *", "purge.changes"},
    {"purge-mail", "47 4 * * *", "purge.mail"},
    {"purge-exports", "47 * * * *", "purge.exports"},
    {"purge-requests", "53 * * * *", "purge.requests"},
    {"purge-webhooks", "37 * * * *", "purge.webhooks"},
};

const struct ql_schedule *ql_schedules(int debug, int *n)
{
    *n = (int)(sizeof(schedules) / sizeof(schedules[0])) - (debug ? 0 : 1);
    return debug ? schedules : schedules + 1;
}
