/*
 * retention.c - the job "purge.webhooks", hourly.
 *
 * First it ends failed the pending deliveries that no job will attempt any more: the worker
 * of a last attempt died (the rescuer then discards the job, its attempts spent, and nobody
 * recorded the attempt), or an operator cancelled the job.  Each gets a failed attempt that
 * says so, in the deliveries list and among the operators' failures, where it may be
 * redelivered; it is not counted against its endpoint.
 *
 * Then finished deliveries (succeeded, or failed for good) go with their attempts once
 * QUILL_WEBHOOK_RETENTION_HOURS have passed since they were made and since their last
 * attempt.  Pending ones stay.
 *
 * Both work in batches, each its own short transaction, and stop at the job's deadline:
 * the next run goes on.  One audit row a run goes with the last batch.
 */
#include "webhook/webhook.h"
#include "internal.h"

#include "audit/audit.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "tx/tx.h"

#include <stdio.h>

#define BATCH 500
#define DEFAULT_KEEP_MS (720LL * 3600000)
#define ORPHAN_ERROR "the worker stopped during the attempt (or its job was cancelled)"

static int late(struct ql_ctx *cx)
{
    return cx->deadline_ns && ql_clock_mono_ns(cx->ports.clock) > cx->deadline_ns;
}

int ql_webhooks_purge(struct ql_ctx *cx, const struct ql_job *job)
{
    char actor[96];
    snprintf(actor, sizeof(actor), "Job:%s", job->kind);
    int64_t keep = cx->cfg ? cx->cfg->webhook_retention_ms : DEFAULT_KEEP_MS;
    int64_t now = ql_clock_now_ms(cx->ports.clock), n = 0, ended = 0;
    int purging = 0, more = 1, rc = QL_OK;
    while (rc == QL_OK && more) {
        if ((rc = ql_tx_begin(cx)) != QL_OK)
            return rc;
        if (purging)
            rc = QL__HOOKS(cx)->purge(cx->ports.store, cx, now - keep, BATCH, &n);
        else
            rc = QL__HOOKS(cx)->fail_orphans(cx->ports.store, cx, now, ORPHAN_ERROR, BATCH, &n);
        more = rc == QL_OK && !late(cx) && (n == BATCH || !purging);
        if (rc == QL_OK && !more) /* the last batch of this run */
            rc = ql_audit(cx, NULL, job->kind, "Job", NULL, actor);
        rc = ql_tx_end(cx, rc);
        if (rc == QL_OK && !purging)
            ended += n;
        purging = purging || n < BATCH;
    }
    if (ended > 0) {
        char c[24];
        snprintf(c, sizeof(c), "%lld", (long long)ended);
        ql_log(cx->ports.log, QL_LOG_WARN,
               "webhook deliveries ended failed: their job will not run again", "count", c, NULL);
    }
    return rc;
}
