/*
 * meter.h - the metering of API keys in one quill-api process (internal to the HTTP adapter).
 *
 * The meter keeps the process's accounts of the teams whose keys call it (the units of their
 * quotas reserved and not spent yet: struct ql_usage_account of core/usage/usage.h) in a
 * fixed table under striped locks, admits each API key's request by spending one unit there
 * (ql__meter_admit: no database call while units are held), and keeps the request log's rows
 * until they are written.  One thread of its own, with its own database session, does
 * everything that waits (meter_thread.c):
 *   - reservations asked for ahead of need (half a block left) or a recheck of a team that
 *     was refused, as soon as they are asked for;
 *   - every QL__METER_TICK_MS: one multi-row INSERT of the rows the loops handed over (with
 *     the used counts and the alert: ql_usage_record), units of teams idle for
 *     QL_USAGE_IDLE_MS given back in one statement, and the exchange of rate-limit counts with
 *     the other instances (ratelimit.h);
 *   - at shutdown, after the loops stopped: the last rows, and every unit still held.
 * A reservation a request needs at once (none held) is made by the request itself on a pool
 * thread; on an event loop the request goes to the pool instead (QL_EWOULD_BLOCK).  When that
 * reservation finds nothing left while the thread's reservation for the team is on its way
 * (which may have taken the last units), the request waits for it to land, up to
 * QL__METER_LANDING_MS, before it is refused (QL_USAGE_WAIT).
 *
 * Every instance subscribes to QL_NOTIFY_USAGE: when an operator changes a team's plan the
 * meter gives back what it holds of the team and asks again at the next request, so a lower
 * quota holds at once (and a higher one is used at once).
 */
#ifndef QL_HTTP_METER_H
#define QL_HTTP_METER_H

#include <pthread.h>
#include <stdint.h>

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "usage/usage.h"

struct ql_ctx;
struct ql_http_env;
struct ql_ratelimit;
struct ql__meter;

#define QL__METER_TICK_MS 200   /* flushes, idle returns and rate-count exchanges */
#define QL__METER_LOOP_ROWS 512 /* rows a loop keeps before it hands them over */

/*
 * The meter of a server that meters with env's ports and shares limiter's counts (may be
 * NULL: nothing shared).  Nothing runs until ql__meter_start.  *out owns the meter.
 */
int ql__meter_create(const struct ql_http_env *env, struct ql_ratelimit *limiter,
                     struct ql__meter **out);
/* Start the thread and subscribe to QL_NOTIFY_USAGE. */
int ql__meter_start(struct ql__meter *m);
/*
 * Once no request runs any more: write what is buffered, give back every unit held, stop
 * the thread.  Does nothing when the meter is not running.
 */
void ql__meter_stop(struct ql__meter *m);
void ql__meter_destroy(struct ql__meter *m); /* stops it first; NULL does nothing */
/* The locks and condition variables of m (zeroed memory), and their end: for create and
 * destroy, and for tests that build a meter without its database session. */
void ql__meter_sync_init(struct ql__meter *m);
void ql__meter_sync_cleanup(struct ql__meter *m);

/*
 * Spend one unit of team's quota for a request at *now_ms (wall clock); on QL_OK *now_ms is
 * the time its unit counts at, the start of the period the unit came from when that is later
 * (another request took the account into a new month first).  QL_OK: go on.  QL_EQUOTA:
 * refuse, with cx->err holding the time to the period's end and the quota.  QL_EWOULD_BLOCK (only
 * when may_wait is 0): no unit is held and a reservation must wait; run the request again where it
 * may.  Other codes: the reservation failed.  Thread-safe.
 */
int ql__meter_admit(struct ql__meter *m, struct ql_ctx *cx, const struct ql_uuid *team,
                    int64_t *now_ms, int may_wait);

/*
 * The rest of the request-log row of a request admitted as a says (ql__admission, req.h),
 * answered at now_ms: its team, key, whether it was billed, and its time, which is when it
 * was admitted for a billed one (so it counts in the period its unit came from, even when
 * it ends after the month turned), else now_ms.
 */
struct ql__admission;
void ql__meter_row(const struct ql__admission *a, int64_t now_ms, struct ql_request_row *row);

/* A loop's rows of the request log, handed to the meter in batches (owned by the loop). */
struct ql__meter_rows {
    int n;
    int64_t since_ms; /* monotonic ms of the oldest row */
    struct ql_request_row rows[QL__METER_LOOP_ROWS];
};

/* Add a row (strings must be static); a full buffer is handed over at once. */
void ql__meter_log(struct ql__meter *m, struct ql__meter_rows *b, const struct ql_request_row *row,
                   int64_t now_ms);
/*
 * Hand the rows over: all of them when force is set, else once the oldest waited
 * QL__METER_HANDOVER_MS or half the buffer is used (a loop calls this after every turn).
 */
#define QL__METER_HANDOVER_MS 50
void ql__meter_handover(struct ql__meter *m, struct ql__meter_rows *b, int64_t now_ms, int force);

/* ---- the meter's own state (meter.c and meter_thread.c) ---------------------------------------
 */

#define QL__METER_STRIPES 64
#define QL__METER_SLOTS 64           /* accounts per stripe: 4,096 teams at once per process */
#define QL__METER_PROBE 8            /* slots an account may be in */
#define QL__METER_REFILLS 1024       /* background reservations waiting at most */
#define QL__METER_RETURNS 4096       /* units of so many periods waiting to go back at most */
#define QL__METER_FLUSH_ROWS 8192    /* rows per INSERT; this many waiting: flush at once */
#define QL__METER_MAX_ROWS (1 << 20) /* rows waiting at most (a database away): then dropped */
#define QL__METER_LANDING_MS 500     /* a request waits this long for a background reservation */

struct ql__meter_slot {
    int used;
    struct ql_usage_account a;
};

struct ql__meter_stripe {
    pthread_mutex_t lock;
    pthread_cond_t landed; /* a background reservation of one of its accounts ended */
    uint64_t landings;     /* how many have (under lock) */
    struct ql__meter_slot slots[QL__METER_SLOTS];
};

struct ql_rate_count;
struct ql_db_session;

struct ql__meter {
    const struct ql_http_env *env;
    struct ql_ratelimit *limiter;
    struct ql_uuid instance; /* this process, as the shared rate counts name it */
    struct ql__meter_stripe stripes[QL__METER_STRIPES];
    /* under lock: what the loops, the pool and the notification thread hand the thread */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int running, stopping;
    int forget_all; /* the notification connection came back: a plan change may be missed */
    struct ql_request_row *rows;
    int nrows, caprows;
    int64_t dropped;
    int nrefills;
    struct ql_uuid refills[QL__METER_REFILLS];
    int nreturns;
    struct ql_usage_return returns[QL__METER_RETURNS];
    int sub; /* the QL_NOTIFY_USAGE subscription (0: none) */
    pthread_t thread;
    /* the thread's own */
    struct ql_db_session *session;
    struct ql_arena arena;
    struct ql_ctx cx;
    struct ql_request_row *trows; /* taken over, not written yet */
    int ntrows, captrows;
    int64_t flush_seq; /* the number of the last flush sent (struct ql_usage_flush) */
    int pending;       /* >0: trows[0..pending) are flush flush_seq, sent again as they were */
    struct ql_rate_count *counts;
    int64_t others_until_ns; /* monotonic: until then counts are published (another is there) */
    int failing;             /* the last database call failed (logged once) */
    struct ql_uuid tteams[QL__METER_REFILLS];
    int ntback;
    struct ql_usage_return tback[QL__METER_RETURNS];
    struct ql_uuid back_series; /* the give-backs' numbered series (made at the first) */
    int64_t back_seq;           /* the number of the last give-back sent (0: none yet) */
    int back_pending;           /* >0: tback[0..back_pending) are give-back back_seq */
};

/* meter.c: the account of team under its stripe's lock (made, or recycled, when absent). */
struct ql__meter_stripe *ql__meter_stripe(struct ql__meter *m, const struct ql_uuid *team,
                                          uint32_t *base);
struct ql_usage_account *ql__meter_account(struct ql__meter *m, struct ql__meter_stripe *s,
                                           uint32_t base, const struct ql_uuid *team,
                                           int64_t now_ms);
/*
 * meter.c: a background reservation of an account of s ended (landed, or was never made): wake
 * the requests waiting for it.  The caller holds s->lock.
 */
void ql__meter_landed(struct ql__meter_stripe *s);
/* meter.c: units to give back later (the caller holds no lock); dropped when too many wait. */
void ql__meter_give_back(struct ql__meter *m, const struct ql_uuid *team, int64_t period_ms,
                         int64_t n);
/* meter_thread.c */
void *ql__meter_main(void *arg);
/* meter_thread.c: write the rows taken (trows), as the thread does every tick. */
void ql__meter_flush(struct ql__meter *m);
/* meter_thread.c: give back the units collected (tback), as the thread does every tick. */
void ql__meter_release(struct ql__meter *m);
/* meter_thread.c: exchange rate counts with the other instances, as the thread does every
 * tick. */
void ql__meter_share_rates(struct ql__meter *m);

#endif
