/*
 * leader.c - what only the leader does (cron ticks, the rescuer, retention), and the LISTEN
 * connection every worker keeps for wake-ups.
 */
#include "internal.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "notify/notify.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Enqueue every cron tick since the last check (deduplicated by unique key), but none older
 * than the lookback a new leader has: a leader back after a long pause (its process was
 * suspended, its clock stepped forward) sends no burst of the ticks it missed.
 */
static void cron(struct ql_engine *e, int64_t now)
{
    int n;
    const struct ql_schedule *s = ql_schedules(e->cfg->worker_debug_jobs, &n);
    int64_t from = e->cron_checked_ms;
    if (from < now - CRON_LOOKBACK_MS)
        from = now - CRON_LOOKBACK_MS;
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
    for (int i = 0; i < n; i++) {
        struct ql_cron c;
        if (ql_cron_parse(s[i].expr, &c, &cx.err) != QL_OK)
            continue;
        for (int64_t t = ql_cron_next(&c, from); t > 0 && t <= now; t = ql_cron_next(&c, t)) {
            char key[128];
            snprintf(key, sizeof(key), "cron:%s:%lld", s[i].name, (long long)t);
            const struct ql_job_kind *k = ql_job_kind_find(s[i].kind, 0);
            struct ql_job_spec spec = {.kind = s[i].kind,
                                       .queue = "cron",
                                       .run_at_ms = t,
                                       .unique_key = key,
                                       .max_attempts = k ? k->max_attempts : 5};
            int64_t id;
            int rc = ql_queue_enqueue(cx.ports.queue, &cx, &spec, &id);
            ql__eng_db_state(e, rc, &cx);
            if (rc)
                return; /* try the same ticks again next time */
        }
    }
    e->cron_checked_ms = now;
}

/*
 * A stopping worker never takes the lead, but a stopping leader keeps its duties: its session
 * holds the lock until the process exits, up to QUILL_SHUTDOWN_TIMEOUT_MS later, and no other
 * worker can run cron or rescue jobs meanwhile.
 */
void ql__eng_leader_duties(struct ql_engine *e)
{
    int64_t now = ql__eng_now_ms(e);
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
    if (e->stopping && !e->leader)
        return;
    if (now - e->last_lead_ms >= 1000 || !e->leader) {
        int was = e->leader;
        int rc = ql_queue_lead(cx.ports.queue, &cx, &e->leader);
        ql__eng_db_state(e, rc, &cx);
        e->last_lead_ms = now;
        if (e->leader && !was) {
            ql_log(e->log, QL_LOG_INFO, "quill-worker is the leader", "worker", e->worker_id, NULL);
            e->cron_checked_ms = now - CRON_LOOKBACK_MS; /* ticks a previous leader missed */
        }
    }
    if (!e->leader)
        return;
    cron(e, now);
    if (now - e->last_rescue_ms >= RESCUE_EVERY_MS) {
        int n = 0;
        int rc = ql_queue_rescue(cx.ports.queue, &cx, e->cfg->job_rescue_after_ms, &n);
        ql__eng_db_state(e, rc, &cx);
        e->last_rescue_ms = now;
        if (n > 0) {
            char c[16];
            snprintf(c, sizeof(c), "%d", n);
            ql_log(e->log, QL_LOG_WARN, "rescued jobs of a lost worker", "count", c, NULL);
        }
    }
    if (now - e->last_purge_ms >= PURGE_EVERY_MS) {
        /* a cron tick's job outlives the lookback of a new leader, which skips it by its key */
        int64_t keep = e->cfg->job_retention_ms > CRON_LOOKBACK_MS ? e->cfg->job_retention_ms
                                                                   : CRON_LOOKBACK_MS;
        int n = 0;
        do {
            int rc = ql_queue_purge(cx.ports.queue, &cx, now - keep, &n);
            ql__eng_db_state(e, rc, &cx);
            if (rc)
                break;
        } while (n >= 10000);
        e->last_purge_ms = now;
    }
}

/* ---- wake-ups ------------------------------------------------------------------------------ */

/*
 * On the notification port's thread: jobs were committed (a message), or nothing was
 * heard for a while (listening again): either way the loop should claim now.
 */
static void on_jobs(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_engine *e = ud;
    (void)payload;
    if (ev == QL_NOTIFY_LOST)
        return; /* polling covers the gap */
    if (ev == QL_NOTIFY_MESSAGE)
        atomic_fetch_add_explicit(&e->notifications, 1, memory_order_relaxed);
    atomic_store(&e->notified, 1);
    uv_async_send(&e->wake);
}

int ql__eng_listen_start(struct ql_engine *e)
{
    if (e->notify == NULL)
        return QL_OK; /* polling only */
    return ql_notify_subscribe(e->notify, QL_NOTIFY_JOBS, on_jobs, e, &e->sub);
}

void ql__eng_listen_stop(struct ql_engine *e)
{
    if (e->notify && e->sub)
        ql_notify_unsubscribe(e->notify, e->sub);
    e->sub = 0;
}
