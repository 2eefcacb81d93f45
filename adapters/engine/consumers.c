/*
 * consumers.c - the thread that runs the change log's consumers (core/changes/changes.h):
 * each reads the log in batches from its stored position and advances it in the
 * transaction of its effects, so several workers may run it side by side (the position's
 * row lock lets one in at a time) and a crash repeats nothing.
 *
 * The thread runs every consumer until none has a full batch waiting, then sleeps until a
 * change is announced (QL_NOTIFY_CHANGES) or CONSUME_POLL_MS pass.  It waits at least
 * CONSUME_GAP_MS between passes that found little, so a busy log is read in batches rather
 * than one transaction per announcement.
 */
#include "internal.h"

#include "changes/changes.h"
#include "ctx/ctx.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"
#include "notify/notify.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONSUME_BATCH 1000
#define CONSUME_POLL_MS 1000
#define CONSUME_GAP_MS 20
#define CONSUME_RETRY_MS 1000 /* after a failure */

static void on_changes(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_engine *e = ud;
    (void)payload;
    if (ev == QL_NOTIFY_LOST)
        return; /* polling covers the gap */
    pthread_mutex_lock(&e->cons_lock);
    e->cons_notified = 1;
    pthread_cond_signal(&e->cons_cond);
    pthread_mutex_unlock(&e->cons_lock);
}

/*
 * Sleep ms, or until notified when wake is set (and the gap has passed); 1: stop.  Only a
 * nap that wakes on notifications consumes one: a change announced during the gap or a
 * pass must still cut the next long nap short, or it waits for the poll.
 */
static int nap(struct ql_engine *e, int ms, int wake)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->cons_lock);
    while (!e->cons_stop && !(wake && e->cons_notified))
        if (pthread_cond_timedwait(&e->cons_cond, &e->cons_lock, &until) != 0)
            break;
    if (wake)
        e->cons_notified = 0;
    int stop = e->cons_stop;
    pthread_mutex_unlock(&e->cons_lock);
    return stop;
}

/* One pass over every consumer: how many changes were applied, or -1 after a failure. */
static int pass(struct ql_engine *e, int *full)
{
    int n;
    const struct ql_consumer *cs = ql_consumers(&n);
    int total = 0;
    *full = 0;
    for (int i = 0; i < n; i++) {
        struct ql_ctx cx;
        memset(&cx, 0, sizeof(cx));
        cx.arena = &e->cons_arena;
        cx.cfg = e->core;
        cx.ports.store = ql_db_store(e->cons_db);
        cx.ports.queue = ql_db_queue(e->cons_db);
        cx.ports.auth = e->auth;
        cx.ports.clock = e->clock;
        cx.ports.log = e->log;
        int got = 0;
        int rc = ql_consume(&cx, cs[i].name, CONSUME_BATCH, cs[i].fn, &got);
        ql_arena_reset(&e->cons_arena);
        if (rc) {
            if (!e->cons_failing)
                ql_log(e->log, QL_LOG_WARN, "a change consumer failed; it retries", "consumer",
                       cs[i].name, "error", cx.err.msg, NULL);
            e->cons_failing = 1;
            return -1;
        }
        atomic_fetch_add_explicit(&e->consumed, (uint64_t)got, memory_order_relaxed);
        total += got;
        *full |= got == CONSUME_BATCH;
    }
    if (e->cons_failing)
        ql_log(e->log, QL_LOG_INFO, "change consumers running again", NULL);
    e->cons_failing = 0;
    return total;
}

static void *consumer_main(void *arg)
{
    struct ql_engine *e = arg;
    for (;;) {
        int full;
        int got = pass(e, &full);
        int stop;
        if (got < 0)
            stop = nap(e, CONSUME_RETRY_MS, 0);
        else if (full)
            stop = nap(e, 0, 0); /* more waits: go on at once, unless stopping */
        else
            stop = nap(e, CONSUME_GAP_MS, 0) || nap(e, CONSUME_POLL_MS, 1);
        if (stop)
            break;
    }
    return NULL;
}

int ql__eng_consumers_start(struct ql_engine *e)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cons_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&e->cons_lock, NULL);
    ql_arena_init(&e->cons_arena, 65536, 0);
    e->cons_started = 1;
    if (e->notify &&
        ql_notify_subscribe(e->notify, QL_NOTIFY_CHANGES, on_changes, e, &e->cons_sub) != QL_OK)
        ql_log(e->log, QL_LOG_WARN, "change consumers cannot subscribe to wake-ups; they poll",
               NULL);
    if (pthread_create(&e->cons_thread, NULL, consumer_main, e) != 0) {
        ql_log(e->log, QL_LOG_ERROR, "cannot start the change consumers' thread", NULL);
        return QL_ENOMEM;
    }
    e->cons_running = 1;
    return QL_OK;
}

void ql__eng_consumers_stop(struct ql_engine *e)
{
    if (!e->cons_started)
        return;
    if (e->notify && e->cons_sub)
        ql_notify_unsubscribe(e->notify, e->cons_sub);
    e->cons_sub = 0;
    pthread_mutex_lock(&e->cons_lock);
    e->cons_stop = 1;
    pthread_cond_signal(&e->cons_cond);
    pthread_mutex_unlock(&e->cons_lock);
    if (e->cons_running)
        pthread_join(e->cons_thread, NULL);
    e->cons_running = 0;
    e->cons_started = 0;
    ql_arena_cleanup(&e->cons_arena);
    pthread_cond_destroy(&e->cons_cond);
    pthread_mutex_destroy(&e->cons_lock);
}
