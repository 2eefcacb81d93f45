/*
 * ops.h - the operator's use cases over the job queue: listing jobs with their attempts
 * and errors, queue statistics, retrying and cancelling.  Only the operator principal
 * (QUILL_ADMIN_TOKEN) may call them; retries and cancels leave an audit row.
 */
#ifndef QL_OPS_H
#define QL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/jobs.h"
#include "queue/queue.h"

struct ql_ctx;

/* state/queue/kind may be NULL; cursor is the id of the last job of the previous page. */
int ql_ops_jobs(struct ql_ctx *cx, const char *state, const char *queue, const char *kind,
                const char *cursor, size_t cursor_n, int limit, struct ql_job **out, int *n,
                const char **next_cursor);
int ql_ops_stats(struct ql_ctx *cx, struct ql_queue_stat **out, int *n);
int ql_ops_retry(struct ql_ctx *cx, int64_t id);
int ql_ops_cancel(struct ql_ctx *cx, int64_t id);

/* Parse a job id ("123"); QL_EVALIDATION when it is not a positive integer. */
int ql_ops_job_id(struct ql_ctx *cx, const char *s, size_t n, int64_t *out);

#endif
