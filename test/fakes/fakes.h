/*
 * fakes.h - in-memory implementations of every port, for unit tests of the core.
 *
 * They behave like the real adapters where the core can tell (a store keeps what it is
 * given, transactions roll back) and are deterministic where the real ones are not (the
 * clock is manual, "random" bytes count up).  Each fake can be told to fail its Nth call
 * so tests can walk error paths.
 */
#ifndef QL_FAKES_H
#define QL_FAKES_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "log/log.h"
#include "queue/queue.h"
#include "store/store.h"

/* A manual clock: time moves only when the test moves it. */
struct fake_clock {
    struct ql_clock base;
    int64_t now_ms;
    int64_t mono_ns;
};
void fake_clock_init(struct fake_clock *c, int64_t now_ms);
void fake_clock_advance(struct fake_clock *c, int64_t ms);

/* Deterministic crypto: random bytes count up; password "hash" is "fake$" + password. */
struct fake_auth {
    struct ql_auth base;
    uint8_t counter;
    int fail_random; /* >0: the Nth random() call from now fails */
};
void fake_auth_init(struct fake_auth *a);

/* A logger that keeps every line in memory. */
struct fake_log {
    struct ql_logger base;
    struct ql_buf lines; /* lines separated by '\n' */
    int count;
};
void fake_log_init(struct fake_log *l, struct ql_clock *clock);
void fake_log_cleanup(struct fake_log *l);

/* The store: session state plus whatever repositories the core asks for. */
struct fake_store {
    struct ql_store base;
    int64_t schema_version;
    int in_tx;
    int commits;
    int rollbacks;
    int down;      /* 1: every call answers QL_EUNAVAILABLE */
    int fail_call; /* >0: the Nth call from now fails with fail_code */
    int fail_code;
};
void fake_store_init(struct fake_store *s);

/* The queue: jobs enqueued are kept in an array; emits are recorded as jobs of kind "event:<name>".
 */
#define FAKE_QUEUE_MAX 64
struct fake_job {
    char kind[64];
    char queue[32];
    char payload[512];
    char unique_key[128];
    int64_t run_at_ms;
    int priority;
    int in_tx;
};
struct fake_queue {
    struct ql_queue base;
    struct fake_store *store; /* the transaction it joins */
    int n;
    struct fake_job jobs[FAKE_QUEUE_MAX];
};
void fake_queue_init(struct fake_queue *q, struct fake_store *store);

#endif
