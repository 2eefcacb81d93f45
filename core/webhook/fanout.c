/*
 * fanout.c - the consumer of the change log that turns changes into webhook deliveries.
 *
 * One batch of changes: the teams among them that have events webhooks carry, their
 * enabled endpoints (one lookup), and for each change and each endpoint of its team that
 * wants its event, a delivery and its job.  The body of a change is made once, when the
 * first endpoint wants it, and every endpoint gets the same bytes: the thing as it is now
 * (an entry or member that is gone by then is named by its id).  All of it is written in
 * the transaction that advances the consumer (ql_consume), so a crash repeats nothing.
 */
#include "webhook/webhook.h"
#include "internal.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "queue/queue.h"
#include "rights/rights.h"
#include "trace/trace.h"
#include "usage/usage.h"
#include "uuid/uuid.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

/* The webhook event a change carries, or NULL. */
static const char *event_of(int event)
{
    switch (event) {
    case QL_EVENT_ENTRY_CREATED:
        return "journal_entry.created";
    case QL_EVENT_ENTRY_UPDATED:
        return "journal_entry.updated";
    case QL_EVENT_ENTRY_DELETED:
        return "journal_entry.deleted";
    case QL_EVENT_MEMBER_ADDED:
        return "member.added";
    case QL_EVENT_MEMBER_REMOVED:
        return "member.removed";
    case QL_EVENT_USAGE_ALERT:
        return "subscription.usage_alert";
    case QL_EVENT_EXPORT_READY:
        return "export.ready";
    default:
        return NULL;
    }
}

static int wants(const struct ql_webhook *w, const char *event)
{
    for (int i = 0; i < w->nevents; i++)
        if (strcmp(w->events[i], event) == 0)
            return 1;
    return 0;
}

/*
 * A usage alert's data: {teamId, plan, monthlyQuota, used, periodStart, periodEnd, percent,
 * threshold} of the period whose alert it is, with used as it is now (at least the 90 %
 * that raised it); {teamId} alone when the team is gone.
 */
static int write_usage_alert(struct ql_ctx *cx, const struct ql_change *c, struct ql_jw *w)
{
    struct ql_subscription s;
    int rc = ql_usage_alerted(cx, &c->team, &s);
    if (rc != QL_OK && rc != QL_ENOT_FOUND)
        return rc;
    ql_error_clear(&cx->err);
    ql_jw_obj(w);
    ql_jw_key(w, "teamId");
    ql_wire_uuid(w, &c->team);
    if (rc == QL_OK) {
        ql_wire_subscription_fields(w, &s);
        ql_jw_key(w, "percent");
        ql_jw_int(w, ql_usage_percent(&s));
        ql_jw_key(w, "threshold");
        ql_jw_int(w, QL_USAGE_ALERT_PERCENT);
    }
    ql_jw_obj_end(w);
    return QL_OK;
}

/* The data of a change: the thing as it is now, or its ids when it is gone. */
static int write_data(struct ql_ctx *cx, const struct ql_change *c, struct ql_jw *w)
{
    struct ql_store *st = cx->ports.store;
    int kind = ql_change_kind_of(c->event);
    if (c->event == QL_EVENT_USAGE_ALERT)
        return write_usage_alert(cx, c, w);
    if (c->event == QL_EVENT_EXPORT_READY)
        return ql_export_event_data(cx, c, w); /* a user's export: ids only, never the data */
    if (kind == QL_CHANGE_ENTRY && c->event != QL_EVENT_ENTRY_DELETED) {
        struct ql_entry e;
        int rc = ql_store_entries_get(st, cx, &c->team, &c->id, &e);
        if (rc == QL_OK) {
            ql_wire_entry(w, &e);
            return QL_OK;
        }
        if (rc != QL_ENOT_FOUND)
            return rc;
        ql_error_clear(&cx->err);
    }
    if (kind == QL_CHANGE_MEMBER && c->event != QL_EVENT_MEMBER_REMOVED) {
        struct ql_member m;
        int rc = ql_store_members_get(st, cx, &c->team, &c->id, &m);
        if (rc != QL_OK && rc != QL_ENOT_FOUND)
            return rc;
        ql_error_clear(&cx->err);
        ql_jw_obj(w);
        ql_jw_key(w, "teamId");
        ql_wire_uuid(w, &c->team);
        ql_jw_key(w, "member");
        if (rc == QL_OK)
            ql_wire_member(w, &m);
        else
            ql_jw_null(w);
        ql_jw_obj_end(w);
        return QL_OK;
    }
    ql_jw_obj(w);
    ql_jw_key(w, "teamId");
    ql_wire_uuid(w, &c->team);
    if (kind == QL_CHANGE_ENTRY) {
        ql_jw_key(w, "journalEntryId");
        ql_wire_uuid(w, &c->id);
    } else if (kind == QL_CHANGE_MEMBER) {
        ql_jw_key(w, "userId");
        ql_wire_uuid(w, &c->id);
    }
    ql_jw_obj_end(w);
    return QL_OK;
}

/* {"type": event, "timestamp": now, "data": ...}, the body every attempt sends. */
static int make_body(struct ql_ctx *cx, const struct ql_change *c, const char *event,
                     int64_t now_ms, const char **out)
{
    struct ql_buf b;
    ql_buf_init(&b, cx->arena);
    struct ql_jw w;
    ql_jw_init(&w, &b);
    ql_jw_obj(&w);
    ql_jw_key(&w, "type");
    ql_jw_str(&w, event);
    ql_jw_key(&w, "timestamp");
    ql_wire_time(&w, now_ms);
    ql_jw_key(&w, "data");
    int rc = write_data(cx, c, &w);
    ql_jw_obj_end(&w);
    if (rc)
        return rc;
    *out = ql_buf_cstr(&b);
    return *out ? QL_OK : ql_error_nomem(&cx->err);
}

/* The distinct teams of the changes webhooks carry, into teams (room for n). */
static int teams_of(const struct ql_change *changes, int n, struct ql_uuid *teams)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (event_of(changes[i].event) == NULL)
            continue;
        int seen = 0;
        for (int j = 0; j < k && !seen; j++)
            seen = memcmp(teams[j].b, changes[i].team.b, 16) == 0;
        if (!seen)
            teams[k++] = changes[i].team;
    }
    return k;
}

int ql_webhooks_consume(struct ql_ctx *cx, const struct ql_change *changes, int n)
{
    struct ql_uuid *teams = ql_arena_alloc(cx->arena, sizeof(*teams) * (size_t)(n ? n : 1));
    if (teams == NULL)
        return ql_error_nomem(&cx->err);
    int nteams = teams_of(changes, n, teams);
    if (nteams == 0)
        return QL_OK;
    struct ql_webhook *hooks;
    int nhooks;
    int rc = QL__HOOKS(cx)->subscribed(cx->ports.store, cx, teams, nteams, &hooks, &nhooks);
    if (rc || nhooks == 0)
        return rc;
    size_t cap = (size_t)n * (size_t)nhooks;
    struct ql_delivery *d = ql_arena_alloc(cx->arena, sizeof(*d) * cap);
    struct ql_uuid *ids = ql_arena_alloc(cx->arena, sizeof(*ids) * cap);
    const char **parents = ql_arena_alloc(cx->arena, sizeof(*parents) * cap);
    if (d == NULL || ids == NULL || parents == NULL)
        return ql_error_nomem(&cx->err);
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    int k = 0;
    for (int i = 0; rc == QL_OK && i < n; i++) {
        const struct ql_change *c = &changes[i];
        const char *event = event_of(c->event), *body = NULL;
        for (int h = 0; rc == QL_OK && event && h < nhooks; h++) {
            if (memcmp(hooks[h].team_id.b, c->team.b, 16) != 0 || !wants(&hooks[h], event))
                continue;
            if (body == NULL)
                rc = make_body(cx, c, event, now, &body);
            if (rc == QL_OK)
                rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &d[k].id);
            if (rc)
                break;
            d[k].webhook_id = hooks[h].id;
            d[k].team_id = c->team;
            d[k].event = event;
            d[k].body = body;
            d[k].created_ms = now;
            d[k].attempts = 0;
            ids[k] = d[k].id;
            parents[k] = c->traceparent; /* the delivery joins the trace of the write */
            k++;
        }
    }
    if (rc == QL_OK && k > 0)
        rc = QL__HOOKS(cx)->deliveries_add(cx->ports.store, cx, d, k);
    if (rc == QL_OK && k > 0)
        rc = ql__webhook_enqueue(cx, ids, parents, k);
    return rc;
}

int ql__webhook_enqueue(struct ql_ctx *cx, const struct ql_uuid *deliveries,
                        const char *const *parents, int n)
{
    const char *own = parents ? NULL : ql_trace_context(cx);
    struct ql_job_spec *specs = ql_arena_calloc(cx->arena, (size_t)n, sizeof(*specs));
    int64_t *ids = ql_arena_alloc(cx->arena, sizeof(*ids) * (size_t)n);
    if (specs == NULL || ids == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = 0; i < n; i++) {
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&deliveries[i], id);
        specs[i].kind = "webhook.deliver";
        specs[i].queue = "webhooks";
        specs[i].payload_json = ql_arena_sprintf(cx->arena, "{\"deliveryId\":\"%s\"}", id);
        specs[i].max_attempts = cx->cfg->webhook_nretries + 1;
        specs[i].traceparent = parents ? parents[i] : own;
        if (specs[i].payload_json == NULL)
            return ql_error_nomem(&cx->err);
    }
    return ql_queue_enqueue_batch(cx->ports.queue, cx, specs, n, ids);
}
