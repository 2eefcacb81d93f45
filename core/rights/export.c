/*
 * export.c - exports as the user sees them: asking for one, reading it back, the data of
 * its webhook event, and their expiry; plus the helpers core/rights shares.  Building the
 * document is export_build.c.
 */
#include "rights/rights.h"
#include "internal.h"

#include "account/account.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "buf/buf.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "queue/queue.h"
#include "trace/trace.h"
#include "tx/tx.h"
#include "uuid/uuid.h"
#include "wire/wire.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parts read at once when serving a document: a few MiB at most (parts are ~256 KiB). */
#define SERVE_PARTS 8

/* ---- shared helpers ------------------------------------------------------------------------ */

int ql__rights_job_uuid(struct ql_ctx *cx, const struct ql_job *job, const char *name,
                        struct ql_uuid *out)
{
    cJSON *doc = cJSON_Parse(job->payload ? job->payload : "");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, name);
    int rc = cJSON_IsString(id) && id->valuestring &&
                     ql_uuid_parse(id->valuestring, strlen(id->valuestring), out) == QL_OK
                 ? QL_OK
                 : ql_error_set(&cx->err, QL_EVALIDATION, "payload has no %s", name);
    cJSON_Delete(doc);
    return rc;
}

int ql__page_open(struct ql__page *p, struct ql_ctx *cx)
{
    p->cx = cx;
    p->saved = cx->arena;
    p->arena = malloc(sizeof(*p->arena));
    if (p->arena == NULL)
        return ql_error_nomem(&cx->err);
    ql_arena_init(p->arena, 65536, 0);
    cx->arena = p->arena;
    return QL_OK;
}

void ql__page_next(struct ql__page *p)
{
    ql_arena_reset(p->arena);
}

void ql__page_close(struct ql__page *p)
{
    if (p->arena == NULL)
        return;
    p->cx->arena = p->saved;
    ql_arena_cleanup(p->arena);
    free(p->arena);
    p->arena = NULL;
}

int ql__rights_late(struct ql_ctx *cx)
{
    return cx->deadline_ns && ql_clock_mono_ns(cx->ports.clock) > cx->deadline_ns;
}

const char *ql__rights_actor(struct ql_ctx *cx, const char *kind)
{
    const char *k = cx->job && cx->job->kind ? cx->job->kind : kind;
    return ql_arena_sprintf(cx->arena, "Job:%s", k);
}

const char *ql_export_status_name(int status)
{
    switch (status) {
    case QL_EXPORT_READY:
        return "ready";
    case QL_EXPORT_FAILED:
        return "failed";
    default:
        return "pending";
    }
}

/* ---- asking for one ------------------------------------------------------------------------ */

static int64_t retention_ms(struct ql_ctx *cx)
{
    return cx->cfg ? cx->cfg->export_retention_ms : 72LL * 3600000;
}

/*
 * The pending export of the user, or a new one with its job: *created says which.  The
 * store's look locks the user, so two requests at once make one export.
 */
static int open_export(struct ql_ctx *cx, const struct ql_uuid *user, struct ql_export *out,
                       int *created)
{
    struct ql_store *st = cx->ports.store;
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    int pending = 0, live = 0;
    int64_t first_expiry = 0;
    int rc = QL__RT(cx)->export_state(st, cx, user, now, out, &pending, &live, &first_expiry);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    if (rc || pending)
        return rc;
    if (live >= QL_EXPORTS_LIVE_MAX) {
        cx->err.retry_after_ms = first_expiry > now ? first_expiry - now : 1000;
        cx->err.rate_limit = QL_EXPORTS_LIVE_MAX;
        return ql_error_set(&cx->err, QL_ERATE_LIMITED,
                            "You have %d exports already; the oldest expires first.",
                            QL_EXPORTS_LIVE_MAX);
    }
    memset(out, 0, sizeof(*out));
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for an export id");
    out->user_id = *user;
    out->status = QL_EXPORT_PENDING;
    out->created_ms = now;
    out->expires_ms = now + retention_ms(cx);
    rc = QL__RT(cx)->export_insert(st, cx, out);
    if (rc)
        return rc;
    char id[QL_UUID_STR_LEN + 1], payload[64], key[64];
    ql_uuid_format(&out->id, id);
    snprintf(payload, sizeof(payload), "{\"exportId\":\"%s\"}", id);
    snprintf(key, sizeof(key), "export:%s", id);
    struct ql_job_spec spec = {.kind = "export.build",
                               .queue = "rights",
                               .payload_json = payload,
                               .unique_key = key,
                               .max_attempts = 5,
                               .traceparent = ql_trace_context(cx)};
    int64_t job_id;
    rc = ql_queue_enqueue(cx->ports.queue, cx, &spec, &job_id);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "export.request", "Export", &out->id, NULL);
    if (rc == QL_OK)
        *created = 1;
    return rc;
}

int ql_export_request(struct ql_ctx *cx, struct ql_export *out, int *created)
{
    *created = 0;
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = open_export(cx, &cx->principal->user_id, out, created);
    return ql_tx_end(cx, rc);
}

/* ---- reading it back ----------------------------------------------------------------------- */

/* The document's parts in order, SERVE_PARTS at a time through a scratch arena. */
static int read_parts(struct ql_ctx *cx, const struct ql_uuid *id, ql_export_sink sink, void *ud)
{
    struct ql__page page;
    int rc = ql__page_open(&page, cx);
    int after = -1, n = SERVE_PARTS;
    while (rc == QL_OK && n == SERVE_PARTS) {
        struct ql_export_part *parts;
        rc = QL__RT(cx)->export_parts(cx->ports.store, cx, id, after, SERVE_PARTS, &parts, &n);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            if (sink(ud, parts[i].data, parts[i].n) != 0)
                rc = ql_error_nomem(&cx->err);
            after = parts[i].part;
        }
        ql__page_next(&page);
    }
    struct ql_error err = cx->err;
    ql__page_close(&page);
    cx->err = err;
    return rc;
}

int ql_export_get(struct ql_ctx *cx, const struct ql_uuid *id, struct ql_export *out,
                  ql_export_sink sink, void *ud)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    rc = QL__RT(cx)->export_get(cx->ports.store, cx, id, out);
    if (rc == QL_OK && memcmp(out->user_id.b, cx->principal->user_id.b, 16) != 0)
        rc = QL_ENOT_FOUND; /* someone else's: as if it did not exist */
    if (rc == QL_OK && out->expires_ms <= ql_clock_now_ms(cx->ports.clock))
        rc = QL_ENOT_FOUND; /* expired, not purged yet */
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such export.");
    if (rc || out->status != QL_EXPORT_READY || sink == NULL)
        return rc;
    return read_parts(cx, id, sink, ud);
}

int ql_export_piece(struct ql_ctx *cx, const struct ql_export *e, int *part, const char **data,
                    size_t *n)
{
    struct ql_export_part *parts;
    int k = 0;
    *data = NULL;
    *n = 0;
    if (e->status != QL_EXPORT_READY)
        return ql_error_set(&cx->err, QL_EINTERNAL, "the export is not ready");
    int rc = QL__RT(cx)->export_parts(cx->ports.store, cx, &e->id, *part, 1, &parts, &k);
    if (rc == QL_OK && k == 1) {
        *part = parts[0].part;
        *data = parts[0].data;
        *n = parts[0].n;
    }
    return rc;
}

/* ---- its webhook event --------------------------------------------------------------------- */

int ql_export_event_data(struct ql_ctx *cx, const struct ql_change *c, struct ql_jw *w)
{
    struct ql_export e;
    int rc = QL__RT(cx)->export_get(cx->ports.store, cx, &c->id, &e);
    if (rc != QL_OK && rc != QL_ENOT_FOUND)
        return rc;
    ql_error_clear(&cx->err);
    ql_jw_obj(w);
    ql_jw_key(w, "teamId");
    ql_wire_uuid(w, &c->team);
    ql_jw_key(w, "exportId");
    ql_wire_uuid(w, &c->id);
    if (rc == QL_OK) {
        ql_jw_key(w, "userId");
        ql_wire_uuid(w, &e.user_id);
        ql_jw_key(w, "status");
        ql_jw_str(w, ql_export_status_name(e.status));
        ql_jw_key(w, "expiresAt");
        ql_wire_time(w, e.expires_ms);
    }
    ql_jw_obj_end(w);
    return QL_OK;
}

/* ---- expiry -------------------------------------------------------------------------------- */

int ql_exports_purge(struct ql_ctx *cx, const struct ql_job *job)
{
    (void)job;
    int64_t n = 0;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = QL__RT(cx)->exports_purge(cx->ports.store, cx, ql_clock_now_ms(cx->ports.clock), &n);
    const char *actor = ql__rights_actor(cx, "purge.exports");
    if (rc == QL_OK && actor == NULL)
        rc = ql_error_nomem(&cx->err);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "purge.exports", "Job", NULL, actor);
    return ql_tx_end(cx, rc);
}
