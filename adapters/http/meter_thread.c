/*
 * meter_thread.c - the meter's thread (meter.h): the only part of metering that waits for the
 * database, on a session of its own, so neither the loops nor the request pool ever wait for
 * it and a busy pool never delays it.
 *
 * It sleeps until asked for a background reservation (served at once), until enough rows
 * wait for a flush, or until the next tick (QL__METER_TICK_MS), when it writes the rows the
 * loops handed over (ql_usage_record, QL__METER_FLUSH_ROWS per INSERT), gives back the units
 * of teams idle for QL_USAGE_IDLE_MS, and exchanges rate-limit counts with the other
 * instances.  Rows that could not be written stay for the next tick while the failure may
 * pass (a database away), up to QL__METER_MAX_ROWS.  Database failures are logged when they
 * start and when they end, not every tick.
 */
#include "internal.h"
#include "meter.h"
#include "ratelimit.h"

#include "clock/clock.h"
#include "err/err.h"
#include "log/log.h"
#include "store/store_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COUNTS_MAX 4096             /* rate counts published per tick at most */
#define OTHERS_HOLD_NS 3000000000LL /* counts go out this long after another instance was seen */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Note a database call's outcome; log when failures start and when they end. */
static void outcome(struct ql__meter *m, int rc, const char *what)
{
    if (rc && !m->failing)
        ql_log(m->env->log, QL_LOG_WARN, "metering cannot reach the database", "step", what,
               "error", m->cx.err.msg, NULL);
    else if (rc == QL_OK && m->failing)
        ql_log(m->env->log, QL_LOG_INFO, "metering reaches the database again", NULL);
    m->failing = rc != QL_OK;
    ql_error_clear(&m->cx.err);
}

/* A background reservation for team: a refill ahead of need, or a recheck. */
static void refill(struct ql__meter *m, const struct ql_uuid *team)
{
    int64_t now = ql_clock_now_ms(m->env->clock);
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, team, &base);
    pthread_mutex_lock(&s->lock);
    struct ql_usage_account *a = ql__meter_account(m, s, base, team, now);
    int64_t want = ql_usage_want(a, now), period = a->period_start, epoch = a->epoch;
    pthread_mutex_unlock(&s->lock);
    struct ql_usage_grant g;
    int rc = ql_usage_reserve(&m->cx, team, period, want, &g);
    outcome(m, rc, "reserve");
    pthread_mutex_lock(&s->lock);
    a = ql__meter_account(m, s, base, team, now);
    int64_t back = ql_usage_refilled(a, period, epoch, rc == QL_OK ? &g : NULL,
                                     ql_clock_now_ms(m->env->clock));
    ql__meter_landed(s); /* requests may wait for its answer (QL_USAGE_WAIT) */
    pthread_mutex_unlock(&s->lock);
    if (back > 0) /* the plan changed while it ran: the next request asks under the new one */
        ql__meter_give_back(m, team, period, back);
}

static void dropped_rows(struct ql__meter *m, int64_t n, const char *why)
{
    char s[24];
    snprintf(s, sizeof(s), "%lld", (long long)n);
    ql_log(m->env->log, QL_LOG_ERROR, "request log rows dropped", "rows", s, "why", why, NULL);
}

/* Take the rows the loops handed over, after the ones still waiting. */
static void take_rows(struct ql__meter *m)
{
    if (m->nrows == 0)
        return;
    int need = m->ntrows + m->nrows;
    if (need > m->captrows) {
        int cap = m->captrows ? m->captrows : 4096;
        while (cap < need)
            cap *= 2;
        struct ql_request_row *grown = realloc(m->trows, sizeof(*grown) * (size_t)cap);
        if (grown == NULL)
            return; /* they wait in the shared buffer */
        m->trows = grown;
        m->captrows = cap;
    }
    memcpy(m->trows + m->ntrows, m->rows, sizeof(*m->rows) * (size_t)m->nrows);
    m->ntrows = need;
    m->nrows = 0;
}

/*
 * Write the rows taken, QL__METER_FLUSH_ROWS per statement, each statement a numbered flush.
 * A flush that failed for now (its COMMIT may have landed and only the answer been lost) is
 * sent again at the next tick with its number and the same rows, so a flush that did land
 * is recognised by the store and not counted twice.
 */
void ql__meter_flush(struct ql__meter *m)
{
    int done = 0;
    while (done < m->ntrows) {
        int n = m->ntrows - done < QL__METER_FLUSH_ROWS ? m->ntrows - done : QL__METER_FLUSH_ROWS;
        if (m->pending > 0) /* at the front: done is 0 */
            n = m->pending;
        else
            m->flush_seq++;
        struct ql_usage_flush f = {m->instance, m->flush_seq};
        int rc = ql_usage_record(&m->cx, &f, m->trows + done, n);
        outcome(m, rc, "record");
        ql_arena_reset(&m->arena);
        m->pending = 0;
        if (rc == QL_EUNAVAILABLE || rc == QL_ERETRY) {
            m->pending = n;
            break; /* try again at the next tick */
        }
        if (rc)
            dropped_rows(m, n, "the database refused them");
        done += n;
    }
    if (done > 0) { /* trows is NULL until the first row arrives */
        memmove(m->trows, m->trows + done, sizeof(*m->trows) * (size_t)(m->ntrows - done));
        m->ntrows -= done;
    }
    if (m->ntrows > QL__METER_MAX_ROWS) { /* the database stays away: keep the newest */
        int drop = m->ntrows - QL__METER_MAX_ROWS;
        if (drop < m->pending) /* the flush that may have landed goes whole, or not at all */
            drop = m->pending;
        m->pending = 0;
        memmove(m->trows, m->trows + drop, sizeof(*m->trows) * (size_t)(m->ntrows - drop));
        m->ntrows -= drop;
        dropped_rows(m, drop, "the database stays away");
    }
}

/* Collect what accounts give back (idle ones, or all when force is set) and forget plans. */
static int surplus(struct ql__meter *m, struct ql_usage_return *out, int cap, int force, int forget)
{
    int64_t now = ql_clock_now_ms(m->env->clock);
    int n = 0;
    for (int i = 0; i < QL__METER_STRIPES; i++) {
        struct ql__meter_stripe *s = &m->stripes[i];
        pthread_mutex_lock(&s->lock);
        for (int j = 0; j < QL__METER_SLOTS; j++) {
            struct ql__meter_slot *c = &s->slots[j];
            if (!c->used)
                continue;
            if (forget)
                ql_usage_forget(&c->a);
            if (n == cap)
                continue; /* the next tick takes the rest */
            int64_t period, k = ql_usage_surplus(&c->a, now, force, &period);
            if (k > 0)
                out[n++] = (struct ql_usage_return){c->a.team, period, k};
            else if (now - c->a.last_take_ms > 60 * QL_USAGE_IDLE_MS &&
                     c->a.refilling == QL_USAGE_REFILL_NONE)
                c->used = 0; /* long quiet: the slot is free again */
        }
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

/*
 * Give back m->tback[0..ntback) in numbered give-backs (ql_usage_release with a mark of the
 * series m->back_series); what failed stays at the front for the next tick.  Like a flush,
 * one that failed for now (its COMMIT may have landed) is sent again first with its number
 * and the same rows, so one that did land is not applied twice; rows added since go in the
 * next number.
 */
void ql__meter_release(struct ql__meter *m)
{
    struct ql_usage_return *rows = m->tback;
    int n = m->ntback, done = 0;
    if (m->back_seq == 0 && n > 0 &&
        ql_uuid7_new(m->env->clock, m->env->auth, &m->back_series) != QL_OK)
        return; /* no randomness now: they wait, reserved, for the next tick */
    while (done < n) {
        int k = m->back_pending > 0 ? m->back_pending : n - done; /* pending: done is 0 */
        if (m->back_pending == 0)
            m->back_seq++;
        struct ql_usage_flush f = {m->back_series, m->back_seq};
        int rc = ql_usage_release(&m->cx, &f, rows + done, k);
        outcome(m, rc, "release");
        ql_arena_reset(&m->arena);
        m->back_pending = rc == QL_OK ? 0 : k;
        if (rc)
            break;
        done += k;
    }
    memmove(rows, rows + done, sizeof(*rows) * (size_t)(n - done));
    m->ntback = n - done;
}

/* The row an instance writes every tick to say it is there: the nil principal. */
static int is_presence(const struct ql_rate_count *c)
{
    static const uint8_t nil[16];
    return memcmp(c->principal.b, nil, sizeof(nil)) == 0;
}

/*
 * Publish this instance's rate counts and charge the buckets with the others'.
 *
 * Counts go out only while another instance is there.  Every tick writes one row that says
 * this one exists (the nil principal, no tokens); an instance that saw another's row within
 * OTHERS_HOLD_NS publishes its counts too.  Alone, it leaves its counts marked as changed,
 * so the first tick that publishes sends each bucket's last two seconds: a second instance
 * learns, within three ticks of its start (its row read, then the first's counts sent),
 * everything the first handed out in the seconds it reads.  Publishing for nobody cost
 * PostgreSQL an upsert per active principal and tick (about 20 ms a tick with 1,000
 * principals: docs/benchmarks.md, "Rate counts").
 */
void ql__meter_share_rates(struct ql__meter *m)
{
    if (m->limiter == NULL)
        return;
    if (m->counts == NULL && (m->counts = malloc(sizeof(*m->counts) * COUNTS_MAX)) == NULL)
        return;
    int64_t now_ns = ql_clock_mono_ns(m->env->clock);
    int64_t second = ql_clock_now_ms(m->env->clock) / 1000;
    int n = 0;
    if (m->others_until_ns > now_ns)
        n = ql_ratelimit_collect(m->limiter, m->counts, COUNTS_MAX - 1);
    m->counts[n++] = (struct ql_rate_count){.second = second}; /* here: the nil principal */
    struct ql_rate_count *others;
    int nothers;
    int rc = ql_store_usage_rates_share(m->cx.ports.store, &m->cx, &m->instance, m->counts, n,
                                        second - 2, &others, &nothers);
    outcome(m, rc, "rates");
    if (rc == QL_OK && nothers > 0)
        m->others_until_ns = now_ns + OTHERS_HOLD_NS;
    now_ns = ql_clock_mono_ns(m->env->clock); /* the buckets refill up to the answer */
    for (int i = 0; rc == QL_OK && i < nothers; i++)
        if (!is_presence(&others[i]))
            ql_ratelimit_charge(m->limiter, others[i].principal.b, others[i].second, others[i].n,
                                now_ns);
    ql_arena_reset(&m->arena);
}

void *ql__meter_main(void *arg)
{
    struct ql__meter *m = arg;
    int64_t next = mono_ms() + QL__METER_TICK_MS;
    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (!m->stopping && m->nrefills == 0 && !m->forget_all &&
               m->nrows < QL__METER_FLUSH_ROWS && mono_ms() < next) {
            struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000L};
            pthread_cond_timedwait(&m->wake, &m->lock, &ts);
        }
        int nteams = m->nrefills, stopping = m->stopping, forget = m->forget_all;
        memcpy(m->tteams, m->refills, sizeof(*m->tteams) * (size_t)nteams);
        m->nrefills = 0;
        m->forget_all = 0;
        take_rows(m);
        for (int i = 0; i < m->nreturns && m->ntback < QL__METER_RETURNS; i++)
            m->tback[m->ntback++] = m->returns[i];
        m->nreturns = 0;
        int64_t dropped = m->dropped;
        m->dropped = 0;
        pthread_mutex_unlock(&m->lock);

        for (int i = 0; i < nteams; i++)
            refill(m, &m->tteams[i]);
        int tick = stopping || mono_ms() >= next;
        if (tick || m->ntrows >= QL__METER_FLUSH_ROWS)
            ql__meter_flush(m);
        if (tick || forget) {
            m->ntback += surplus(m, m->tback + m->ntback, QL__METER_RETURNS - m->ntback,
                                 stopping || forget, forget);
            ql__meter_share_rates(m);
            next = mono_ms() + QL__METER_TICK_MS;
        }
        ql__meter_release(m);
        if (dropped)
            dropped_rows(m, dropped, "too many waited");
        pthread_mutex_lock(&m->lock);
        if (stopping && m->nrows == 0 && m->nreturns == 0)
            break;
    }
    pthread_mutex_unlock(&m->lock);
    if (m->ntrows > 0) /* the database stayed away to the end */
        dropped_rows(m, m->ntrows, "the database cannot be reached");
    return NULL;
}
