/*
 * ratelimit.h - the per-principal token bucket of quill-api: QUILL_RATE_LIMIT tokens a
 * second, a burst of twice that.  Buckets live in this process (each instance limits on
 * its own; a client spread over N instances may get up to N times the rate), in a fixed
 * table of striped slots, so memory stays bounded whatever the number of principals: a
 * full probe window recycles its least recently used bucket.
 */
#ifndef QL_RATELIMIT_H
#define QL_RATELIMIT_H

#include <stdint.h>

struct ql_ratelimit;

struct ql_rate_result {
    int allowed;
    int limit;     /* the burst size */
    int remaining; /* whole tokens left */
    int reset_s;   /* seconds until a token is available (0 when one is) */
};

/* rate: tokens per second (> 0).  On success *out owns the limiter. */
int ql_ratelimit_create(int rate, struct ql_ratelimit **out);
void ql_ratelimit_destroy(struct ql_ratelimit *rl);

/* Take one token for key (16 bytes) at monotonic time now_ns.  Thread-safe. */
void ql_ratelimit_take(struct ql_ratelimit *rl, const uint8_t key[16], int64_t now_ns,
                       struct ql_rate_result *out);

#endif
