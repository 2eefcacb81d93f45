/*
 * meter.c - the process's accounts of metered teams, the admission of API keys' requests,
 * plan changes heard from other instances, and the rows of the request log on their way
 * from the loops to the meter's thread (meter.h; the thread is meter_thread.c).
 *
 * The admission is ql_usage_admit (core/usage/usage.h) with the account's stripe locked
 * around each step and never across a database call: take a unit; when none is held, make
 * the reservation with the caller's own session (a pool thread's) and take again.  Between
 * the two steps another thread may spend the new units first, or the account's slot may be
 * recycled for another team; either way the answer is still right (the units are spent by
 * someone of this process, or given back), only not always this caller's.  When the core
 * says the meter thread's reservation decides (QL_USAGE_WAIT), the request waits on the
 * stripe's condition variable (the lock released) until a reservation of the stripe lands,
 * and takes again.
 */
#include "internal.h"
#include "meter.h"

#include "clock/clock.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"
#include "notify/notify.h"
#include "uuid/uuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ql__meter_stripe *ql__meter_stripe(struct ql__meter *m, const struct ql_uuid *team,
                                          uint32_t *base)
{
    uint64_t h = ql_uuid_hash(team);
    *base = (uint32_t)(h >> 32) % QL__METER_SLOTS;
    return &m->stripes[h % QL__METER_STRIPES];
}

struct ql_usage_account *ql__meter_account(struct ql__meter *m, struct ql__meter_stripe *s,
                                           uint32_t base, const struct ql_uuid *team,
                                           int64_t now_ms)
{
    struct ql__meter_slot *free_slot = NULL, *oldest = NULL;
    for (int k = 0; k < QL__METER_PROBE; k++) {
        struct ql__meter_slot *c = &s->slots[(base + (uint32_t)k) % QL__METER_SLOTS];
        if (!c->used) {
            if (free_slot == NULL)
                free_slot = c;
            continue;
        }
        if (memcmp(c->a.team.b, team->b, 16) == 0)
            return &c->a;
        if (oldest == NULL || c->a.last_take_ms < oldest->a.last_take_ms)
            oldest = c;
    }
    struct ql__meter_slot *slot = free_slot ? free_slot : oldest;
    if (slot->used) { /* recycled: what it held goes back */
        int64_t period, n = ql_usage_surplus(&slot->a, now_ms, 1, &period);
        if (n > 0)
            ql__meter_give_back(m, &slot->a.team, period, n);
    }
    slot->used = 1;
    ql_usage_account_init(&slot->a, team, now_ms);
    slot->a.last_take_ms = now_ms;
    return &slot->a;
}

void ql__meter_landed(struct ql__meter_stripe *s)
{
    s->landings++;
    pthread_cond_broadcast(&s->landed);
}

void ql__meter_give_back(struct ql__meter *m, const struct ql_uuid *team, int64_t period_ms,
                         int64_t n)
{
    pthread_mutex_lock(&m->lock);
    if (m->nreturns < QL__METER_RETURNS) /* else they stay reserved: never more than the quota */
        m->returns[m->nreturns++] = (struct ql_usage_return){*team, period_ms, n};
    pthread_mutex_unlock(&m->lock);
}

/* Queue a background reservation for team; when the queue is full, let a later take ask. */
static void ask_refill(struct ql__meter *m, const struct ql_uuid *team)
{
    pthread_mutex_lock(&m->lock);
    int queued = m->nrefills < QL__METER_REFILLS && m->running && !m->stopping;
    if (queued) {
        m->refills[m->nrefills++] = *team;
        pthread_cond_signal(&m->wake);
    }
    pthread_mutex_unlock(&m->lock);
    if (queued)
        return;
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, team, &base);
    pthread_mutex_lock(&s->lock);
    ql__meter_account(m, s, base, team, ql_clock_now_ms(m->env->clock))->refilling =
        QL_USAGE_REFILL_NONE;
    ql__meter_landed(s);
    pthread_mutex_unlock(&s->lock);
}

/*
 * One step of the admission under the stripe's lock: the reservation g (NULL: none), asked
 * for when the account was as *snap says, lands, then a unit is taken.  *snap gets the
 * account as it is after (for a refusal or a reservation), *want what a reservation should
 * ask for, *seen the stripe's landings (for wait_landing).
 */
static enum ql_usage_verdict step(struct ql__meter *m, const struct ql_uuid *team, int64_t now,
                                  int may_wait, const struct ql_usage_grant *g,
                                  struct ql_usage_account *snap, int64_t *want, uint64_t *seen)
{
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, team, &base);
    pthread_mutex_lock(&s->lock);
    struct ql_usage_account *a = ql__meter_account(m, s, base, team, now);
    int64_t period = 0, back = 0;
    if (g) {
        period = snap->period_start;
        back = ql_usage_granted(a, period, snap->epoch, g, now);
    }
    int refill = 0;
    enum ql_usage_verdict v = ql_usage_take(a, now, may_wait, &refill);
    *want = v == QL_USAGE_RESERVE ? ql_usage_want(a, now) : 0;
    *snap = *a;
    *seen = s->landings;
    pthread_mutex_unlock(&s->lock);
    if (back > 0)
        ql__meter_give_back(m, team, period, back);
    if (refill)
        ask_refill(m, team);
    return v;
}

/*
 * Wait until a background reservation of team's stripe lands after the step that saw seen, or
 * until *until (CLOCK_MONOTONIC; set to QL__METER_LANDING_MS from now when it is zero).  1 when
 * one landed, 0 when none did in time.
 */
static int wait_landing(struct ql__meter *m, const struct ql_uuid *team, uint64_t seen,
                        struct timespec *until)
{
    if (until->tv_sec == 0 && until->tv_nsec == 0) {
        clock_gettime(CLOCK_MONOTONIC, until);
        until->tv_sec += QL__METER_LANDING_MS / 1000;
        until->tv_nsec += (long)(QL__METER_LANDING_MS % 1000) * 1000000L;
        if (until->tv_nsec >= 1000000000L) {
            until->tv_sec++;
            until->tv_nsec -= 1000000000L;
        }
    }
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, team, &base);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    while (s->landings == seen && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->landed, &s->lock, until);
    int landed = s->landings != seen;
    pthread_mutex_unlock(&s->lock);
    return landed;
}

/* Taken: the request counts in the period its unit came from. */
static int taken(const struct ql_usage_account *snap, int64_t *now_ms)
{
    if (*now_ms < snap->period_start)
        *now_ms = snap->period_start;
    return QL_OK;
}

int ql__meter_admit(struct ql__meter *m, struct ql_ctx *cx, const struct ql_uuid *team,
                    int64_t *now_ms, int may_wait)
{
    int64_t want, now = *now_ms;
    uint64_t seen;
    struct ql_usage_account snap;
    enum ql_usage_verdict v = step(m, team, now, may_wait, NULL, &snap, &want, &seen);
    if (v == QL_USAGE_TAKEN)
        return taken(&snap, now_ms);
    if (v == QL_USAGE_EXHAUSTED)
        return ql_usage_refuse(cx, &snap, now);
    if (!may_wait)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "a reservation must wait");
    /*
     * Reserve, and again when the plan changed meanwhile (the grant went back, stale); wait
     * when the thread's reservation decides (it may have taken the last units), until it lands
     * or QL__METER_LANDING_MS pass (then refused, as when it says none are left).  A wakeup
     * for another account of the stripe takes again and waits on to the same deadline; after a
     * reservation of the request's own (which may itself have waited for the period's row)
     * the deadline starts anew.
     */
    struct timespec until = {0, 0};
    int tries = 0;
    for (;;) {
        if (v == QL_USAGE_WAIT) {
            if (!wait_landing(m, team, seen, &until))
                break;
            v = step(m, team, now, 1, NULL, &snap, &want, &seen);
        } else if (v == QL_USAGE_RESERVE && tries++ < 3) {
            struct ql_usage_grant g;
            int rc = ql_usage_reserve(cx, team, snap.period_start, want, &g);
            if (rc)
                return rc;
            until = (struct timespec){0, 0};
            v = step(m, team, now, 1, &g, &snap, &want, &seen);
        } else {
            break;
        }
    }
    return v == QL_USAGE_TAKEN ? taken(&snap, now_ms) : ql_usage_refuse(cx, &snap, now);
}

void ql__meter_row(const struct ql__admission *a, int64_t now_ms, struct ql_request_row *row)
{
    row->team = a->team;
    row->key = a->key;
    row->billed = a->metered == QL__METER_BILLED;
    row->at_ms = row->billed ? a->at_ms : now_ms;
}

/* ---- plan changes (the notification port's thread) ---------------------------------------------
 */

static void on_usage(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql__meter *m = ud;
    struct ql_uuid team;
    /* listening (again), a change may have gone unheard; "*": posts merged, any team */
    if (ev == QL_NOTIFY_LISTENING || (ev == QL_NOTIFY_MESSAGE && strcmp(payload, "*") == 0)) {
        pthread_mutex_lock(&m->lock);
        m->forget_all = 1;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        return;
    }
    if (ev != QL_NOTIFY_MESSAGE || ql_uuid_parse(payload, strlen(payload), &team) != QL_OK)
        return;
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
    int64_t now = ql_clock_now_ms(m->env->clock), period = 0, n = 0;
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < QL__METER_PROBE; k++) {
        struct ql__meter_slot *c = &s->slots[(base + (uint32_t)k) % QL__METER_SLOTS];
        if (c->used && memcmp(c->a.team.b, team.b, 16) == 0) {
            n = ql_usage_surplus(&c->a, now, 1, &period);
            ql_usage_forget(&c->a);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (n > 0)
        ql__meter_give_back(m, &team, period, n);
}

/* ---- the request log's rows -------------------------------------------------------------------
 */

void ql__meter_log(struct ql__meter *m, struct ql__meter_rows *b, const struct ql_request_row *row,
                   int64_t now_ms)
{
    if (b->n == 0)
        b->since_ms = now_ms;
    b->rows[b->n++] = *row;
    if (b->n == QL__METER_LOOP_ROWS)
        ql__meter_handover(m, b, now_ms, 1);
}

void ql__meter_handover(struct ql__meter *m, struct ql__meter_rows *b, int64_t now_ms, int force)
{
    if (b->n == 0 ||
        (!force && now_ms - b->since_ms < QL__METER_HANDOVER_MS && b->n < QL__METER_LOOP_ROWS / 2))
        return;
    pthread_mutex_lock(&m->lock);
    if (m->nrows + b->n > m->caprows && m->caprows < QL__METER_MAX_ROWS) {
        int cap = m->caprows ? m->caprows : 4096;
        while (cap < m->nrows + b->n && cap < QL__METER_MAX_ROWS)
            cap *= 2;
        struct ql_request_row *grown = realloc(m->rows, sizeof(*grown) * (size_t)cap);
        if (grown) {
            m->rows = grown;
            m->caprows = cap;
        }
    }
    int fit = m->caprows - m->nrows < b->n ? m->caprows - m->nrows : b->n;
    memcpy(m->rows + m->nrows, b->rows, sizeof(*b->rows) * (size_t)fit);
    m->nrows += fit;
    m->dropped += b->n - fit;
    if (m->nrows >= QL__METER_FLUSH_ROWS)
        pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    b->n = 0;
}

/* ---- lifetime ----------------------------------------------------------------------------------
 */

void ql__meter_sync_init(struct ql__meter *m)
{
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &ca);
    for (int i = 0; i < QL__METER_STRIPES; i++) {
        pthread_mutex_init(&m->stripes[i].lock, NULL);
        pthread_cond_init(&m->stripes[i].landed, &ca);
    }
    pthread_condattr_destroy(&ca);
}

void ql__meter_sync_cleanup(struct ql__meter *m)
{
    for (int i = 0; i < QL__METER_STRIPES; i++) {
        pthread_mutex_destroy(&m->stripes[i].lock);
        pthread_cond_destroy(&m->stripes[i].landed);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
}

int ql__meter_create(const struct ql_http_env *env, struct ql_ratelimit *limiter,
                     struct ql__meter **out)
{
    *out = NULL;
    struct ql__meter *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return QL_ENOMEM;
    m->env = env;
    m->limiter = limiter;
    ql__meter_sync_init(m);
    ql_arena_init(&m->arena, 0, 0);
    int rc = ql_uuid7_new(env->clock, env->auth, &m->instance);
    if (rc == QL_OK)
        rc = ql_db_open(env->db, QL_DB_BLOCKING, 0, &m->session);
    if (rc) {
        ql__meter_destroy(m);
        return rc;
    }
    m->cx.arena = &m->arena;
    m->cx.cfg = env->core;
    m->cx.ports = (struct ql_ports){
        .store = ql_db_store(m->session), .clock = env->clock, .auth = env->auth, .log = env->log};
    memcpy(m->cx.trace_id, "00000000000000000000000000meter0", 33);
    *out = m;
    return QL_OK;
}

int ql__meter_start(struct ql__meter *m)
{
    m->running = 1;
    if (pthread_create(&m->thread, NULL, ql__meter_main, m) != 0) {
        m->running = 0;
        return QL_ENOMEM;
    }
    if (m->env->notify &&
        ql_notify_subscribe(m->env->notify, QL_NOTIFY_USAGE, on_usage, m, &m->sub) != QL_OK)
        ql_log(m->env->log, QL_LOG_WARN,
               "cannot hear of plan changes: a new quota applies once meters go idle", NULL);
    return QL_OK;
}

void ql__meter_stop(struct ql__meter *m)
{
    if (m == NULL || !m->running)
        return;
    if (m->sub)
        ql_notify_unsubscribe(m->env->notify, m->sub);
    m->sub = 0;
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    m->running = 0;
}

void ql__meter_destroy(struct ql__meter *m)
{
    if (m == NULL)
        return;
    ql__meter_stop(m);
    ql_db_session_destroy(m->session);
    ql_arena_cleanup(&m->arena);
    ql__meter_sync_cleanup(m);
    free(m->rows);
    free(m->trows);
    free(m->counts);
    free(m);
}
