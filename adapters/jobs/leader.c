/*
 * leader.c - what only the leader does (cron ticks, the rescuer, retention), and the LISTEN
 * connection every worker keeps for wake-ups.
 */
#include "internal.h"

#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "postgres/pg.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enqueue every cron tick since the last check (deduplicated by unique key). */
static void cron(struct ql_engine *e, int64_t now)
{
    int n;
    const struct ql_schedule *s = ql_schedules(e->cfg->worker_debug_jobs, &n);
    int64_t from = e->cron_checked_ms;
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

void ql__eng_leader_duties(struct ql_engine *e)
{
    int64_t now = ql__eng_now_ms(e);
    struct ql_ctx cx;
    ql__eng_main_ctx(e, &cx);
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
    if (!e->leader || e->stopping)
        return;
    cron(e, now);
    if (now - e->last_rescue_ms >= RESCUE_EVERY_MS) {
        int n = 0;
        int rc = ql_queue_rescue(cx.ports.queue, &cx, now - e->cfg->job_rescue_after_ms, &n);
        ql__eng_db_state(e, rc, &cx);
        e->last_rescue_ms = now;
        if (n > 0) {
            char c[16];
            snprintf(c, sizeof(c), "%d", n);
            ql_log(e->log, QL_LOG_WARN, "rescued jobs of a lost worker", "count", c, NULL);
        }
    }
    if (now - e->last_purge_ms >= PURGE_EVERY_MS) {
        int n = 0;
        do {
            int rc = ql_queue_purge(cx.ports.queue, &cx, now - e->cfg->job_retention_ms, &n);
            ql__eng_db_state(e, rc, &cx);
            if (rc)
                break;
        } while (n >= 10000);
        e->last_purge_ms = now;
    }
}

/* ---- LISTEN ------------------------------------------------------------------------------- */

static void on_listen_readable(uv_poll_t *h, int status, int events);

void ql__eng_listen_close(struct ql_engine *e)
{
    if (e->listen_polling) {
        uv_poll_stop(&e->listen_poll);
        uv_close((uv_handle_t *)&e->listen_poll, NULL);
        e->listen_polling = 0;
    }
    if (e->listen)
        PQfinish(e->listen);
    e->listen = NULL;
}

void ql__eng_listen_open(struct ql_engine *e)
{
    int64_t now = ql__eng_now_ms(e);
    if (e->listen || now < e->listen_retry_ms || e->stopping)
        return;
    e->listen_retry_ms = now + 500;
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {e->cfg->database_url, "3", "quill-worker-listen", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    PGresult *r = PQexec(c, "LISTEN quill_jobs");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || PQsetnonblocking(c, 1) != 0 ||
        uv_poll_init(&e->loop, &e->listen_poll, PQsocket(c)) != 0) {
        PQfinish(c);
        return;
    }
    e->listen = c;
    e->listen_poll.data = e;
    e->listen_polling = 1;
    uv_poll_start(&e->listen_poll, UV_READABLE, on_listen_readable);
    ql__eng_claim_fresh(e); /* anything enqueued while nobody listened */
}

static void on_listen_readable(uv_poll_t *h, int status, int events)
{
    struct ql_engine *e = h->data;
    (void)events;
    if (status < 0 || PQconsumeInput(e->listen) == 0) {
        ql__eng_listen_close(e);
        return;
    }
    PGnotify *n;
    int any = 0;
    while ((n = PQnotifies(e->listen)) != NULL) {
        any = 1;
        e->notifications++;
        PQfreemem(n);
    }
    if (any)
        ql__eng_claim_fresh(e);
}
