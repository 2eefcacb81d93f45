/*
 * fanout.c - the consumer of the change log that turns changes into webhook deliveries.
 *
 * One batch of changes: the teams among them that have events webhooks carry, their
 * enabled endpoints (one lookup), and for each change and each endpoint of its team that
 * wants its event, a delivery and its job.  The body of a change is made once, when the
 * first endpoint wants it, and every endpoint gets the same bytes: the thing as it is now
 * (an entry or member that is gone by then is named by its id).  All of it is written in
 * the transaction that advances the consumer (ql_consume), so a crash repeats nothing, in
 * statements of at most about 1 MiB of bodies (FLUSH_BYTES), so the memory a batch holds
 * does not grow with its count of large entries.
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

/*
 * The fan-out writes its deliveries every FLUSH_BYTES of bodies (one entry of 100,000
 * characters makes a body of 100 KB to 600 KB) or FLUSH_MAX deliveries, all in the batch's
 * one transaction; a batch of small changes is still one statement.  The bytes are those
 * the statement carries: a copy of the body for each delivery, so a change that goes to
 * twenty endpoints counts twenty times.
 */
#define FLUSH_BYTES QL_PAGE_CONTENT_MAX
#define FLUSH_MAX 1000

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

/*
 * The deliveries made so far and not yet written: their bodies (and the reads that made
 * them) live in a scratch arena that each write empties, so a batch of large entries never
 * holds more than about FLUSH_BYTES of bodies, whatever its count of changes.
 */
struct pending {
    struct ql_delivery *d;
    struct ql_uuid *ids;
    const char **parents;
    int k, cap;
    size_t bytes; /* of the bodies of d[0..k), each delivery's copy (the statement's) */
    struct ql_arena scratch;
};

/* Write the pending deliveries and their jobs (in the caller's transaction), then forget them. */
static int flush(struct ql_ctx *cx, struct pending *p)
{
    int rc = QL_OK;
    if (p->k > 0)
        rc = QL__HOOKS(cx)->deliveries_add(cx->ports.store, cx, p->d, p->k);
    if (rc == QL_OK && p->k > 0)
        rc = ql__webhook_enqueue(cx, p->ids, p->parents, p->k);
    p->k = 0;
    p->bytes = 0;
    ql_arena_reset(&p->scratch);
    return rc;
}

/* Room for want more deliveries in outer (the batch's arena): written first when full. */
static int room(struct ql_ctx *cx, struct ql_arena *outer, struct pending *p, int want)
{
    int rc = QL_OK;
    if (p->k > 0 && (p->k + want > p->cap || p->bytes >= FLUSH_BYTES))
        rc = flush(cx, p);
    if (rc == QL_OK && want > p->cap) { /* a team with more endpoints than FLUSH_MAX */
        p->d = ql_arena_alloc(outer, sizeof(*p->d) * (size_t)want);
        p->ids = ql_arena_alloc(outer, sizeof(*p->ids) * (size_t)want);
        p->parents = ql_arena_alloc(outer, sizeof(*p->parents) * (size_t)want);
        p->cap = want;
        if (p->d == NULL || p->ids == NULL || p->parents == NULL)
            rc = ql_error_nomem(&cx->err);
    }
    return rc;
}

/* The endpoints of hooks[0..nhooks) that want event of team. */
static int wanting(const struct ql_webhook *hooks, int nhooks, const struct ql_uuid *team,
                   const char *event)
{
    int n = 0;
    for (int h = 0; h < nhooks; h++)
        n += memcmp(hooks[h].team_id.b, team->b, 16) == 0 && wants(&hooks[h], event);
    return n;
}

/* The deliveries of change c to the endpoints that want it, into p (one body for all). */
static int fan(struct ql_ctx *cx, struct pending *p, const struct ql_change *c, const char *event,
               const struct ql_webhook *hooks, int nhooks, int64_t now)
{
    const char *body = NULL;
    size_t body_n = 0;
    int rc = QL_OK;
    for (int h = 0; rc == QL_OK && h < nhooks; h++) {
        if (memcmp(hooks[h].team_id.b, c->team.b, 16) != 0 || !wants(&hooks[h], event))
            continue;
        if (body == NULL && (rc = make_body(cx, c, event, now, &body)) == QL_OK)
            body_n = strlen(body);
        p->bytes += body_n; /* each delivery's row carries the body */
        struct ql_delivery *d = &p->d[p->k];
        if (rc == QL_OK)
            rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &d->id);
        if (rc)
            break;
        d->webhook_id = hooks[h].id;
        d->team_id = c->team;
        d->event = event;
        d->body = body;
        d->created_ms = now;
        d->attempts = 0;
        p->ids[p->k] = d->id;
        p->parents[p->k] = c->traceparent; /* the delivery joins the trace of the write */
        p->k++;
    }
    return rc;
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
    struct ql_arena *outer = cx->arena; /* the changes and endpoints live there */
    struct pending p = {.cap = (int64_t)n * nhooks < FLUSH_MAX ? n * nhooks : FLUSH_MAX};
    p.d = ql_arena_alloc(outer, sizeof(*p.d) * (size_t)p.cap);
    p.ids = ql_arena_alloc(outer, sizeof(*p.ids) * (size_t)p.cap);
    p.parents = ql_arena_alloc(outer, sizeof(*p.parents) * (size_t)p.cap);
    if (p.d == NULL || p.ids == NULL || p.parents == NULL)
        return ql_error_nomem(&cx->err);
    ql_arena_init(&p.scratch, 65536, 0);
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        const char *event = event_of(changes[i].event);
        int want = event ? wanting(hooks, nhooks, &changes[i].team, event) : 0;
        if (want == 0)
            continue;
        cx->arena = &p.scratch;
        rc = room(cx, outer, &p, want);
        if (rc == QL_OK)
            rc = fan(cx, &p, &changes[i], event, hooks, nhooks, now);
        cx->arena = outer;
    }
    cx->arena = &p.scratch;
    if (rc == QL_OK)
        rc = flush(cx, &p);
    cx->arena = outer;
    ql_arena_cleanup(&p.scratch);
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
