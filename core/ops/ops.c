/*
 * ops.c - operator use cases.
 */
#include "ops/ops.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "policy/policy.h"
#include "tx/tx.h"

#include <stdio.h>
#include <string.h>

int ql_ops_job_id(struct ql_ctx *cx, const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    int ok = n > 0 && n <= 18;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (s[i] - '0');
    }
    if (!ok || v <= 0)
        return ql_error_field(&cx->err, "jobId", "invalid_format", "must be a job id");
    *out = v;
    return QL_OK;
}

static int known_state(const char *s)
{
    for (int i = 0; i < QL_QUEUE_STATES; i++)
        if (strcmp(s, ql_job_states[i]) == 0)
            return 1;
    return 0;
}

int ql_ops_jobs(struct ql_ctx *cx, const char *state, const char *queue, const char *kind,
                const char *cursor, size_t cursor_n, int limit, struct ql_job **out, int *n,
                const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc)
        return rc;
    struct ql_job_filter f = {.state = state, .queue = queue, .kind = kind, .limit = limit};
    if (state && !known_state(state))
        ql_error_field(&cx->err, "state", "invalid_state",
                       "must be available, running, failed, succeeded, discarded or cancelled");
    if (cursor && ql_ops_job_id(cx, cursor, cursor_n, &f.before_id) != QL_OK) {
        ql_error_clear(&cx->err);
        ql_error_field(&cx->err, "cursor", "invalid_cursor", "is not a cursor this list issued");
    }
    if (cx->err.code)
        return cx->err.code;
    int more = 0;
    rc = ql_queue_list(cx->ports.queue, cx, &f, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        *next_cursor = ql_arena_sprintf(cx->arena, "%lld", (long long)(*out)[*n - 1].id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

int ql_ops_stats(struct ql_ctx *cx, struct ql_queue_stat **out, int *n)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    return rc ? rc : ql_queue_stats(cx->ports.queue, cx, out, n);
}

static int change(struct ql_ctx *cx, int64_t id, int retry)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = retry ? ql_queue_retry(cx->ports.queue, cx, id) : ql_queue_cancel(cx->ports.queue, cx, id);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such job.");
    if (rc == QL_OK) {
        char action[32];
        snprintf(action, sizeof(action), "job.%s", retry ? "retry" : "cancel");
        rc = ql_audit(cx, NULL, action, "Job", NULL, NULL);
    }
    return ql_tx_end(cx, rc);
}

int ql_ops_retry(struct ql_ctx *cx, int64_t id)
{
    return change(cx, id, 1);
}

int ql_ops_cancel(struct ql_ctx *cx, int64_t id)
{
    return change(cx, id, 0);
}
