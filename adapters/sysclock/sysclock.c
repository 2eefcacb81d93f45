/*
 * sysclock.c - the real clock.  Stateless, so a single const-initialised object is shared
 * by every thread (it is not mutable global state).
 */
#include "sysclock.h"

#include <time.h>

static int64_t now_ms(struct ql_clock *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(struct ql_clock *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const struct ql_clock_ops ops = {.now_ms = now_ms, .mono_ns = mono_ns};
static struct ql_clock sys = {.ops = &ops};

struct ql_clock *ql_sysclock(void)
{
    return &sys;
}
