/*
 * deliver.c - one attempt of one webhook delivery (the job "webhook.deliver").
 *
 * The attempt signs the delivery's fixed body with its endpoint's secret (the message id
 * is "msg_" and the delivery's id, the same on every attempt), posts it through the
 * outbound port, and records what happened.  A 2xx answer ends the delivery: a job that
 * finds it succeeded sends nothing (the older job beside a redelivery, or a job run again
 * because its worker died before recording it done).  Anything else fails the attempt,
 * and the job is tried again after the schedule's next delay (QUILL_WEBHOOK_RETRY_SCHEDULE,
 * +/-10 % jitter so that many failed deliveries do not return at one instant); after the
 * last, the delivery has failed.  A target the outbound port refuses (an address that is
 * not public) is not tried again.  An endpoint whose attempts fail
 * QUILL_WEBHOOK_DISABLE_AFTER times in a row is disabled, with an audit row: the fan-out
 * skips it from then on.
 */
#include "webhook/webhook.h"
#include "internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "log/log.h"
#include "outbound/outbound.h"
#include "trace/trace.h"
#include "tx/tx.h"
#include "uuid/uuid.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

/* The delivery a job's payload names. */
static int job_delivery(struct ql_ctx *cx, const struct ql_job *job, struct ql_uuid *out)
{
    cJSON *doc = cJSON_Parse(job->payload ? job->payload : "");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "deliveryId");
    int rc = cJSON_IsString(id) && id->valuestring &&
                     ql_uuid_parse(id->valuestring, strlen(id->valuestring), out) == QL_OK
                 ? QL_OK
                 : ql_error_set(&cx->err, QL_EVALIDATION, "payload has no deliveryId");
    cJSON_Delete(doc);
    return rc;
}

/* The delay before the next attempt after failed attempt number attempt (1 = the first). */
static int64_t next_delay(struct ql_ctx *cx, int attempt)
{
    const struct ql_config *cfg = cx->cfg;
    int i = attempt - 1 < cfg->webhook_nretries ? attempt - 1 : cfg->webhook_nretries - 1;
    int64_t base = i >= 0 ? cfg->webhook_retry_ms[i] : 1000;
    uint32_t r = 0;
    ql_auth_random(cx->ports.auth, &r, sizeof(r));
    int64_t spread = base / 10;
    return base - spread + (spread ? (int64_t)(r % (uint32_t)(2 * spread + 1)) : 0);
}

/* The delivery's client span: what was posted where, and what came back. */
static void span_end(struct ql_ctx *cx, struct ql_trace_span *sp, const struct ql_webhook *w,
                     const struct ql_delivery *d, int rc, const struct ql_out_response *res)
{
    if (!sp->on)
        return;
    char id[QL_UUID_STR_LEN + 1];
    ql_span_cstr(sp, "http.request.method", "POST");
    ql_span_url(sp, "url.full", w->url);
    ql_uuid_format(&w->id, id);
    ql_span_cstr(sp, "quill.webhook.id", id);
    ql_uuid_format(&d->id, id);
    ql_span_cstr(sp, "quill.delivery.id", id);
    if (res->status)
        ql_span_int(sp, "http.response.status_code", res->status);
    if (rc != QL_OK || res->status >= 400) {
        char code[16];
        snprintf(code, sizeof(code), "%d", res->status);
        const char *why = rc != QL_OK ? ql_err_name(rc) : code;
        ql_span_cstr(sp, "error.type", why);
        ql_span_error(sp, why);
    }
    ql_span_end(cx, sp);
}

/*
 * Post the body, signed; *ok when a 2xx came, *refused when the target may never be
 * reached (a private address, a URL that cannot be read): trying again would not help.
 * res tells the rest.  The post is a client span of the job's trace, and carries the trace
 * on in a traceparent header naming that span (or the job's context when it is not
 * recorded), so the receiver's work can join the trace.
 */
static int post(struct ql_ctx *cx, const struct ql_delivery *d, const struct ql_webhook *w,
                const char *secret, struct ql_out_response *res, int *ok, int *refused)
{
    char id[QL_UUID_STR_LEN + 5];
    memcpy(id, "msg_", 4);
    ql_uuid_format(&d->id, id + 4);
    int64_t ts = ql_clock_now_ms(cx->ports.clock) / 1000;
    char sig[QL_WEBHOOK_SIGNATURE_LEN];
    size_t body_n = strlen(d->body);
    int rc = ql_webhook_sign(cx, secret, id, ts, d->body, body_n, sig);
    if (rc)
        return rc;
    char h_id[64], h_ts[48], h_sig[80], h_tp[QL_TRACEPARENT_LEN + 16];
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    struct ql_trace_span sp;
    ql_span_begin(cx, &sp, QL_SPAN_CLIENT, "POST");
    char tp[QL_TRACEPARENT_LEN + 1];
    int traced = ql_traceparent_format(cx, sp.on ? sp.span_id : NULL, tp) == 0;
    snprintf(h_tp, sizeof(h_tp), "traceparent: %s", tp);
    struct ql_out_request req = {
        .url = w->url,
        .headers = {"Content-Type: application/json", h_id, h_ts, h_sig, traced ? h_tp : NULL},
        .body = d->body,
        .body_n = body_n,
        .connect_timeout_ms = cx->cfg->webhook_timeout_ms,
        .timeout_ms = cx->cfg->webhook_timeout_ms};
    rc = ql_outbound_post(cx->ports.outbound, &req, res);
    *ok = rc == QL_OK && res->status >= 200 && res->status < 300;
    *refused = rc == QL_EFORBIDDEN || rc == QL_EVALIDATION;
    span_end(cx, &sp, w, d, rc, res);
    return QL_OK; /* a failed exchange is a failed attempt, not a failed job step */
}

/* Too many failures in a row: disable the endpoint, and say so in the team's audit log. */
static int disable(struct ql_ctx *cx, const struct ql_webhook *w)
{
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = QL__HOOKS(cx)->disable(cx->ports.store, cx, &w->id, ql_clock_now_ms(cx->ports.clock));
    int done_before = rc == QL_ENOT_FOUND; /* a delivery that failed at once disabled it */
    if (rc == QL_OK)
        rc = ql_audit(cx, &w->team_id, "webhook.disable", "Webhook", &w->id, "Job:webhook.deliver");
    if (done_before) {
        ql_error_clear(&cx->err);
        rc = QL_OK;
    }
    rc = ql_tx_end(cx, rc);
    if (rc == QL_OK && !done_before) {
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&w->id, id);
        ql_log(cx->ports.log, QL_LOG_WARN, "webhook endpoint disabled after failures in a row",
               "webhook_id", id, NULL);
    }
    return rc;
}

int ql_webhook_deliver(struct ql_ctx *cx, const struct ql_job *job)
{
    struct ql_uuid did;
    int rc = job_delivery(cx, job, &did);
    if (rc)
        return rc;
    struct ql_delivery d;
    struct ql_webhook w;
    int deleted;
    uint8_t *box;
    size_t box_n;
    rc = QL__HOOKS(cx)->target(cx->ports.store, cx, &did, &d, &w, &deleted, &box, &box_n);
    if (rc == QL_ENOT_FOUND) {
        ql_error_clear(&cx->err);
        return QL_OK; /* its endpoint was deleted with its team: nothing to send */
    }
    if (rc)
        return rc;
    if (d.succeeded)
        return QL_OK; /* delivered by another job (a redelivery, or this one before a crash) */
    struct ql_delivery_attempt a = {.delivery_id = d.id,
                                    .webhook_id = w.id,
                                    .attempt = d.attempts + 1,
                                    .at_ms = ql_clock_now_ms(cx->ports.clock)};
    struct ql_out_response res;
    memset(&res, 0, sizeof(res));
    int ok = 0, refused = 0;
    if (deleted || w.disabled_ms) {
        a.error = deleted ? "the endpoint was deleted" : "the endpoint is disabled";
    } else if (box_n <= QL_SEAL_OVERHEAD || box_n - QL_SEAL_OVERHEAD >= QL_WEBHOOK_SECRET_LEN) {
        return ql_error_set(&cx->err, QL_EINTERNAL, "a sealed webhook secret of a bad size");
    } else {
        char secret[QL_WEBHOOK_SECRET_LEN] = {0};
        rc = ql_auth_open(cx->ports.auth, box, box_n, secret);
        if (rc == QL_OK)
            rc = post(cx, &d, &w, secret, &res, &ok, &refused);
        if (rc)
            return rc;
        a.ok = ok;
        a.response_status = res.status;
        a.duration_ms = (int)res.duration_ms;
        if (!ok)
            a.error = res.status ? ql_arena_sprintf(cx->arena, "HTTP %d", res.status)
                                 : ql_arena_strdup(cx->arena, res.error);
    }
    int stop = deleted || w.disabled_ms || refused;
    int final = ok || stop || job->attempts >= job->max_attempts;
    int failures = 0;
    rc = QL__HOOKS(cx)->attempt_add(cx->ports.store, cx, &a, final, &failures);
    if (rc)
        return rc;
    if (failures >= cx->cfg->webhook_disable_after && !ok && !deleted && !w.disabled_ms &&
        (rc = disable(cx, &w)) != QL_OK)
        return rc;
    if (ok || stop)
        return QL_OK; /* done: delivered, refused for good, or nowhere to go */
    cx->err.retry_after_ms = next_delay(cx, job->attempts);
    return ql_error_set(&cx->err, QL_EUNAVAILABLE, "delivery attempt %d failed: %s", a.attempt,
                        a.error ? a.error : "no answer");
}
