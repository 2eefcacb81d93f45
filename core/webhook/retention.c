/*
 * retention.c - the job "purge.webhooks": finished deliveries (succeeded, or failed for
 * good) go with their attempts once QUILL_WEBHOOK_RETENTION_HOURS have passed since they
 * were made and since their last attempt.  Pending ones stay.  The job deletes in batches,
 * each its own short transaction, and stops at its deadline: the next run goes on.
 */
#include "webhook/webhook.h"
#include "internal.h"

#include "audit/audit.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "tx/tx.h"

#include <stdio.h>

#define PURGE_BATCH 500
#define DEFAULT_KEEP_MS (720LL * 3600000)

static int late(struct ql_ctx *cx)
{
    return cx->deadline_ns && ql_clock_mono_ns(cx->ports.clock) > cx->deadline_ns;
}

int ql_webhooks_purge(struct ql_ctx *cx, const struct ql_job *job)
{
    char actor[96];
    snprintf(actor, sizeof(actor), "Job:%s", job->kind);
    int64_t keep = cx->cfg ? cx->cfg->webhook_retention_ms : DEFAULT_KEEP_MS;
    int64_t before = ql_clock_now_ms(cx->ports.clock) - keep, n = PURGE_BATCH;
    int rc = QL_OK;
    while (rc == QL_OK && n == PURGE_BATCH) {
        if ((rc = ql_tx_begin(cx)) != QL_OK)
            break;
        rc = QL__HOOKS(cx)->purge(cx->ports.store, cx, before, PURGE_BATCH, &n);
        if (rc == QL_OK && (n < PURGE_BATCH || late(cx))) { /* the last batch of this run */
            n = 0;
            rc = ql_audit(cx, NULL, job->kind, "Job", NULL, actor);
        }
        rc = ql_tx_end(cx, rc);
    }
    return rc;
}
