/*
 * backoff.c - retry delays: exponential in the number of failures, capped, jittered so a
 * burst of failures does not retry in lockstep.
 */
#include "jobs/jobs.h"

#define CAP_MS (3600LL * 1000)

int64_t ql_job_backoff_ms(int failed, int64_t base_ms, uint64_t rnd)
{
    if (failed < 1)
        failed = 1;
    int64_t d = base_ms;
    for (int i = 1; i < failed && d < CAP_MS; i++)
        d *= 2;
    if (d > CAP_MS)
        d = CAP_MS;
    /* +/-25 %: a factor in [0.75, 1.25) */
    int64_t span = d / 2;
    int64_t jitter = span > 0 ? (int64_t)(rnd % (uint64_t)span) - span / 2 : 0;
    return d + jitter;
}
