/*
 * export_build.c - the job "export.build": the JSON document of everything a user wrote or
 * owns, written page by page into the export's parts.
 *
 * The document is
 *   {"format": "quill.export/1", "exportId", "exportedAt", "account", "memberships",
 *    "journalEntries", "sessions", "apiKeys", "auditLog"}
 * with no token digest, password hash or secret anywhere.  Each section is read in keyset
 * pages (entries' bounded by bytes too, at QL_PAGE_CONTENT_MAX of content) through a
 * scratch arena that is emptied after every page, and the text goes into a buffer that
 * becomes a part (about PART_BYTES) whenever it is full, so the memory a build holds does
 * not grow with the user's data.  Nothing runs in one long transaction:
 * a long writing transaction would hold back every reader of the change log.  A build that
 * fails or is interrupted leaves parts behind that the next attempt drops first.  The
 * export becomes ready in one transaction with its audit row and an `export.ready` change
 * in the log of each live team the user administers (admin or owner): webhooks belong to
 * teams, and those are the teams whose endpoints the user may register.  A document past
 * QUILL_EXPORT_MAX_MB is not kept: the export fails, saying so.
 */
#include "rights/rights.h"
#include "internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "buf/buf.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "jobs/jobs.h"
#include "tx/tx.h"
#include "uuid/uuid.h"
#include "wire/wire.h"

#include <stdio.h>
#include <string.h>

#define PART_BYTES (256 * 1024)
#define PAGE 200
#define ENTRY_PAGE 50 /* and QL_PAGE_CONTENT_MAX of content: entries reach 100,000 chars */

struct builder {
    struct ql_ctx *cx;
    struct ql_export *e;
    struct ql__page page;
    struct ql_buf buf; /* heap: the part being written */
    struct ql_jw w;
    int part;
    int64_t bytes;
    int64_t max;
};

/* Write the buffer as the next part when it is full (or when last); QL_ETOO_LARGE past max. */
static int flush(struct builder *b, int last)
{
    if (b->buf.len == 0 || (!last && b->buf.len < PART_BYTES))
        return QL_OK;
    if (ql_buf_ok(&b->buf))
        return ql_error_nomem(&b->cx->err);
    b->bytes += (int64_t)b->buf.len;
    if (b->bytes > b->max)
        return ql_error_set(&b->cx->err, QL_ETOO_LARGE, "the export is larger than %lld MiB",
                            (long long)(b->max >> 20));
    struct ql_ctx *cx = b->cx;
    int rc =
        QL__RT(cx)->export_append(cx->ports.store, cx, &b->e->id, b->part, b->buf.data, b->buf.len);
    b->part++;
    b->buf.len = 0;
    return rc;
}

/* Between pages: drop the page's memory, stop when the attempt is out of time. */
static int next_page(struct builder *b)
{
    ql__page_next(&b->page);
    if (ql__rights_late(b->cx))
        return ql_error_set(&b->cx->err, QL_EUNAVAILABLE, "deadline exceeded; runs again");
    return QL_OK;
}

static void progress(struct builder *b, const char *section)
{
    struct ql_ctx *cx = b->cx;
    if (cx->job == NULL)
        return;
    char json[128];
    int64_t bytes = b->bytes + (int64_t)b->buf.len;
    snprintf(json, sizeof(json), "{\"section\":\"%s\",\"bytes\":%lld}", section, (long long)bytes);
    struct ql_error saved = cx->err;
    ql_job_progress(cx, json); /* best effort: the build does not depend on it */
    cx->err = saved;
}

static int account(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    struct ql_rights_account a;
    int rc = QL__RT(cx)->account(cx->ports.store, cx, user, &a);
    if (rc)
        return rc;
    struct ql_jw *w = &b->w;
    ql_jw_key(w, "account");
    ql_jw_obj(w);
    ql_jw_key(w, "userId");
    ql_wire_uuid(w, &a.user.id);
    ql_jw_key(w, "email");
    ql_jw_str(w, a.user.email);
    ql_jw_key(w, "displayName");
    ql_jw_str(w, a.user.display_name);
    ql_jw_key(w, "createdAt");
    ql_wire_time(w, a.user.created_ms);
    ql_jw_key(w, "updatedAt");
    ql_wire_time(w, a.user.updated_ms);
    ql_jw_key(w, "passwordSet");
    ql_jw_bool(w, a.user.password_hash != NULL);
    ql_jw_key(w, "oidc");
    if (a.oidc_issuer) {
        ql_jw_obj(w);
        ql_jw_key(w, "issuer");
        ql_jw_str(w, a.oidc_issuer);
        ql_jw_key(w, "subject");
        ql_jw_str(w, a.oidc_subject);
        ql_jw_obj_end(w);
    } else {
        ql_jw_null(w);
    }
    ql_jw_obj_end(w);
    return next_page(b);
}

static int memberships(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    struct ql_uuid after;
    int more = 1, has_after = 0, rc = QL_OK;
    ql_jw_key(&b->w, "memberships");
    ql_jw_arr(&b->w);
    while (rc == QL_OK && more) {
        struct ql_rights_membership *m;
        int n = 0;
        rc = QL__RT(cx)->memberships(cx->ports.store, cx, user, has_after ? &after : NULL, PAGE, &m,
                                     &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            if (m[i].team_deleted)
                continue; /* a deleted team is gone for its members too */
            ql_jw_obj(&b->w);
            ql_jw_key(&b->w, "teamId");
            ql_wire_uuid(&b->w, &m[i].team_id);
            ql_jw_key(&b->w, "name");
            ql_jw_str(&b->w, m[i].team_name);
            ql_jw_key(&b->w, "role");
            ql_jw_str(&b->w, ql_role_name(m[i].role));
            ql_jw_key(&b->w, "joinedAt");
            ql_wire_time(&b->w, m[i].joined_ms);
            ql_jw_obj_end(&b->w);
            rc = flush(b, 0);
        }
        if (rc == QL_OK && n > 0) {
            after = m[n - 1].team_id;
            has_after = 1;
        }
        if (rc == QL_OK)
            rc = next_page(b);
    }
    ql_jw_arr_end(&b->w);
    return rc;
}

static int entries(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    struct ql_uuid after;
    int more = 1, has_after = 0, rc = QL_OK;
    ql_jw_key(&b->w, "journalEntries");
    ql_jw_arr(&b->w);
    while (rc == QL_OK && more) {
        struct ql_entry *e;
        int n = 0;
        rc = QL__RT(cx)->entries(cx->ports.store, cx, user, has_after ? &after : NULL, ENTRY_PAGE,
                                 &e, &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            ql_wire_entry(&b->w, &e[i]);
            rc = flush(b, 0);
        }
        if (rc == QL_OK && n > 0) {
            after = e[n - 1].id;
            has_after = 1;
        }
        if (rc == QL_OK)
            rc = next_page(b);
    }
    ql_jw_arr_end(&b->w);
    return rc;
}

static int sessions(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    struct ql_uuid after;
    int more = 1, has_after = 0, rc = QL_OK;
    ql_jw_key(&b->w, "sessions");
    ql_jw_arr(&b->w);
    while (rc == QL_OK && more) {
        struct ql_rights_session *s;
        int n = 0;
        rc = QL__RT(cx)->sessions(cx->ports.store, cx, user, has_after ? &after : NULL, PAGE, &s,
                                  &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            ql_jw_obj(&b->w);
            ql_jw_key(&b->w, "sessionId");
            ql_wire_uuid(&b->w, &s[i].id);
            ql_jw_key(&b->w, "createdAt");
            ql_wire_time(&b->w, s[i].created_ms);
            ql_jw_key(&b->w, "lastUsedAt");
            ql_wire_time(&b->w, s[i].last_seen_ms);
            ql_jw_key(&b->w, "expiresAt");
            ql_wire_time(&b->w, s[i].expires_ms);
            ql_jw_obj_end(&b->w);
            rc = flush(b, 0);
        }
        if (rc == QL_OK && n > 0) {
            after = s[n - 1].id;
            has_after = 1;
        }
        if (rc == QL_OK)
            rc = next_page(b);
    }
    ql_jw_arr_end(&b->w);
    return rc;
}

static void write_key(struct ql_jw *w, const struct ql_rights_key *k)
{
    ql_jw_obj(w);
    ql_jw_key(w, "apiKeyId");
    ql_wire_uuid(w, &k->key.id);
    ql_jw_key(w, "teamId");
    ql_wire_uuid(w, &k->key.team_id);
    ql_jw_key(w, "name");
    ql_jw_str(w, k->key.name);
    ql_jw_key(w, "role");
    ql_jw_str(w, ql_role_name(k->key.role));
    ql_jw_key(w, "prefix");
    ql_jw_str(w, k->key.prefix);
    ql_jw_key(w, "createdAt");
    ql_wire_time(w, k->key.created_ms);
    ql_jw_key(w, "expiresAt");
    ql_wire_time_or_null(w, k->key.expires_ms);
    ql_jw_key(w, "lastUsedAt");
    ql_wire_time_or_null(w, k->key.last_used_ms);
    ql_jw_key(w, "revokedAt");
    ql_wire_time_or_null(w, k->revoked_ms);
    ql_jw_obj_end(w);
}

static int api_keys(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    struct ql_uuid after;
    int more = 1, has_after = 0, rc = QL_OK;
    ql_jw_key(&b->w, "apiKeys");
    ql_jw_arr(&b->w);
    while (rc == QL_OK && more) {
        struct ql_rights_key *k;
        int n = 0;
        rc = QL__RT(cx)->api_keys(cx->ports.store, cx, user, has_after ? &after : NULL, PAGE, &k,
                                  &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            write_key(&b->w, &k[i]);
            rc = flush(b, 0);
        }
        if (rc == QL_OK && n > 0) {
            after = k[n - 1].key.id;
            has_after = 1;
        }
        if (rc == QL_OK)
            rc = next_page(b);
    }
    ql_jw_arr_end(&b->w);
    return rc;
}

static void write_audit(struct ql_jw *w, const struct ql_rights_audit *a)
{
    ql_jw_obj(w);
    ql_jw_key(w, "auditId");
    ql_wire_uuid(w, &a->e.id);
    ql_jw_key(w, "at");
    ql_wire_time(w, a->e.at_ms);
    ql_jw_key(w, "teamId");
    if (a->has_team)
        ql_wire_uuid(w, &a->team_id);
    else
        ql_jw_null(w);
    ql_jw_key(w, "actor");
    ql_jw_str(w, a->e.actor);
    ql_jw_key(w, "action");
    ql_jw_str(w, a->e.action);
    ql_jw_key(w, "targetType");
    ql_jw_str(w, a->e.target_type);
    ql_jw_key(w, "targetId");
    ql_jw_str(w, a->e.target_id);
    ql_jw_obj_end(w);
}

/* The rows the user did (actor) and the rows about the user (target). */
static int audit(struct builder *b, const struct ql_uuid *user)
{
    struct ql_ctx *cx = b->cx;
    char id[QL_UUID_STR_LEN + 1], actor[48], chain[80] = "";
    ql_uuid_format(user, id);
    snprintf(actor, sizeof(actor), "User:%s", id);
    int64_t seq = 0;
    int more = 1, rc = QL_OK;
    ql_jw_key(&b->w, "auditLog");
    ql_jw_arr(&b->w);
    while (rc == QL_OK && more) {
        struct ql_rights_audit *a;
        int n = 0;
        rc = QL__RT(cx)->audit(cx->ports.store, cx, actor, id, chain[0] ? chain : NULL, seq, PAGE,
                               &a, &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            write_audit(&b->w, &a[i]);
            rc = flush(b, 0);
        }
        if (rc == QL_OK && n > 0) {
            snprintf(chain, sizeof(chain), "%s", a[n - 1].chain);
            seq = a[n - 1].e.seq;
        }
        if (rc == QL_OK)
            rc = next_page(b);
    }
    ql_jw_arr_end(&b->w);
    return rc;
}

/* The whole document, into parts. */
static int build(struct builder *b)
{
    struct ql_export *e = b->e;
    struct ql_jw *w = &b->w;
    ql_jw_obj(w);
    ql_jw_key(w, "format");
    ql_jw_str(w, "quill.export/1");
    ql_jw_key(w, "exportId");
    ql_wire_uuid(w, &e->id);
    ql_jw_key(w, "exportedAt");
    ql_wire_time(w, ql_clock_now_ms(b->cx->ports.clock));
    int rc = account(b, &e->user_id);
    progress(b, "memberships");
    if (rc == QL_OK)
        rc = memberships(b, &e->user_id);
    progress(b, "journalEntries");
    if (rc == QL_OK)
        rc = entries(b, &e->user_id);
    progress(b, "sessions");
    if (rc == QL_OK)
        rc = sessions(b, &e->user_id);
    if (rc == QL_OK)
        rc = api_keys(b, &e->user_id);
    progress(b, "auditLog");
    if (rc == QL_OK)
        rc = audit(b, &e->user_id);
    ql_jw_obj_end(w);
    if (rc == QL_OK)
        rc = flush(b, 1);
    return rc;
}

/* The export's `export.ready` change in each live team the user administers. */
static int announce(struct ql_ctx *cx, const struct ql_export *e)
{
    struct ql_uuid after;
    int more = 1, has_after = 0, rc = QL_OK;
    while (rc == QL_OK && more) {
        struct ql_rights_membership *m;
        int n = 0;
        rc = QL__RT(cx)->memberships(cx->ports.store, cx, &e->user_id, has_after ? &after : NULL,
                                     PAGE, &m, &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++)
            if (!m[i].team_deleted && m[i].role >= QL_ROLE_ADMIN)
                rc = ql_change(cx, &m[i].team_id, QL_EVENT_EXPORT_READY, &e->id);
        if (n > 0) {
            after = m[n - 1].team_id;
            has_after = 1;
        }
    }
    return rc;
}

/* Mark the export built (ready, or failed with why), with its audit row and its events. */
static int finish(struct ql_ctx *cx, struct ql_export *e, int status, const char *why,
                  int64_t bytes)
{
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    e->status = status;
    e->error = why;
    e->bytes = bytes;
    e->ready_ms = now;
    e->expires_ms = now + (cx->cfg ? cx->cfg->export_retention_ms : 72LL * 3600000);
    const char *actor = ql__rights_actor(cx, "export.build");
    if (actor == NULL)
        return ql_error_nomem(&cx->err);
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = QL__RT(cx)->export_finish(cx->ports.store, cx, e);
    if (rc == QL_OK && status == QL_EXPORT_READY)
        rc = announce(cx, e);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, status == QL_EXPORT_READY ? "export.ready" : "export.fail",
                      "Export", &e->id, actor);
    rc = ql_tx_end(cx, rc);
    if (rc == QL_ENOT_FOUND) { /* finished by an earlier attempt, or erased meanwhile */
        ql_error_clear(&cx->err);
        rc = QL_OK;
    }
    return rc;
}

int ql_export_build(struct ql_ctx *cx, const struct ql_job *job)
{
    struct ql_uuid id;
    int rc = ql__rights_job_uuid(cx, job, "exportId", &id);
    if (rc)
        return rc;
    struct ql_export e;
    rc = QL__RT(cx)->export_get(cx->ports.store, cx, &id, &e);
    if (rc == QL_ENOT_FOUND ||
        (rc == QL_OK &&
         (e.status != QL_EXPORT_PENDING || e.expires_ms <= ql_clock_now_ms(cx->ports.clock)))) {
        ql_error_clear(&cx->err);
        return QL_OK; /* gone (purged, erased), built already, or expired while it waited */
    }
    if (rc == QL_OK)
        rc = QL__RT(cx)->export_reset(cx->ports.store, cx, &id);
    if (rc)
        return rc;
    struct builder b = {.cx = cx, .e = &e};
    b.max = cx->cfg ? cx->cfg->export_max_bytes : 16LL << 20;
    ql_buf_init(&b.buf, NULL);
    ql_jw_init(&b.w, &b.buf);
    rc = ql__page_open(&b.page, cx);
    if (rc == QL_OK)
        rc = build(&b);
    struct ql_error err = cx->err;
    ql__page_close(&b.page);
    ql_buf_cleanup(&b.buf);
    cx->err = err;
    if (rc == QL_ENOT_FOUND) { /* the account was erased meanwhile: its erasure deletes this */
        ql_error_clear(&cx->err);
        return QL_OK;
    }
    if (rc == QL_ETOO_LARGE) {
        const char *kept = ql_arena_sprintf(cx->arena,
                                            "The export is larger than %lld MiB, the most this "
                                            "server keeps; ask its operator to raise "
                                            "QUILL_EXPORT_MAX_MB.",
                                            (long long)(b.max >> 20));
        ql_error_clear(&cx->err);
        rc = QL__RT(cx)->export_reset(cx->ports.store, cx, &id);
        if (rc == QL_OK && kept == NULL)
            rc = ql_error_nomem(&cx->err);
        return rc ? rc : finish(cx, &e, QL_EXPORT_FAILED, kept, 0);
    }
    return rc ? rc : finish(cx, &e, QL_EXPORT_READY, NULL, b.bytes);
}
