/*
 * ratelimit.h - the per-principal token bucket of quill-api: QUILL_RATE_LIMIT tokens a
 * second, a burst of twice that, held for the whole deployment.  Buckets live in this
 * process, in a fixed table of striped slots, so memory stays bounded whatever the number
 * of principals: a full probe window recycles its least recently used bucket.
 *
 * Across instances: each instance counts the tokens it hands out per principal and
 * wall-clock second, publishes the counts every ~200 ms, and reads the other instances'
 * counts back (meter_thread.c, through the store's rates_share); what they handed out is
 * taken from this instance's bucket of the principal too (ql_ratelimit_charge), which may go
 * into debt.  So every instance's bucket is drained by the whole deployment's traffic, no
 * database round trip is made per request, and the limit holds across instances up to what
 * the others let through since their last count reached this one (a publish interval on
 * each side, ~0.4 s of traffic).  With one instance nothing changes, and nothing is
 * published until another instance shows up (meter_thread.c).
 */
#ifndef QL_RATELIMIT_H
#define QL_RATELIMIT_H

#include <stdint.h>

struct ql_ratelimit;
struct ql_rate_count;

struct ql_rate_result {
    int allowed;
    int limit;     /* the burst size */
    int remaining; /* whole tokens left */
    int reset_s;   /* seconds until a token is available (0 when one is) */
};

/* rate: tokens per second (> 0).  On success *out owns the limiter. */
int ql_ratelimit_create(int rate, struct ql_ratelimit **out);
void ql_ratelimit_destroy(struct ql_ratelimit *rl);

/*
 * Take one token for key (16 bytes) at monotonic time now_ns; second is the wall-clock
 * second it counts in for the other instances.  Thread-safe.
 */
void ql_ratelimit_take(struct ql_ratelimit *rl, const uint8_t key[16], int64_t now_ns,
                       int64_t second, struct ql_rate_result *out);

/*
 * This instance's tokens per principal and second that changed since the last call: at most
 * cap of them into out (the rest wait for the next call).  Returns how many.
 */
int ql_ratelimit_collect(struct ql_ratelimit *rl, struct ql_rate_count *out, int cap);

/*
 * The other instances have handed out total tokens of key in second so far: take what is
 * new since the last charge of that second from key's bucket, at monotonic time now_ns.
 */
void ql_ratelimit_charge(struct ql_ratelimit *rl, const uint8_t key[16], int64_t second,
                         int64_t total, int64_t now_ns);

#endif
