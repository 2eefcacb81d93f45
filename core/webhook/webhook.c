/*
 * webhook.c - a team's webhook endpoints (register, list, delete), their attempts,
 * redelivery, and the Standard Webhooks signature.  The fan-out is in fanout.c, one
 * attempt of a delivery in deliver.c.
 */
#include "webhook/webhook.h"
#include "internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "b64/b64.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "policy/policy.h"
#include "store/store.h"
#include "team/team.h"
#include "tx/tx.h"
#include "uuid/uuid.h"
#include "validate/validate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const ql_webhook_events[] = {
    "journal_entry.created", "journal_entry.updated",    "journal_entry.deleted", "member.added",
    "member.removed",        "subscription.usage_alert", "export.ready",          NULL,
};

/*
 * A URL an endpoint may have: http(s)://host[:port][/path], no user name, no spaces or
 * control characters.  Where it really points is checked at each delivery (the outbound
 * adapter resolves the host and refuses private addresses).
 */
static int valid_url(struct ql_ctx *cx, const char *url, size_t n)
{
    if (ql_valid_text(&cx->err, "url", url, n, 1, 2000, 1))
        return QL_EVALIDATION;
    int https = n > 8 && strncasecmp(url, "https://", 8) == 0;
    int http = n > 7 && strncasecmp(url, "http://", 7) == 0;
    if (!https && !(http && cx->cfg->webhook_allow_private))
        return ql_error_field(&cx->err, "url", "invalid_url", "must be an https:// URL");
    const char *host = url + (https ? 8 : 7), *end = url + n;
    const char *stop = host;
    while (stop < end && *stop != '/' && *stop != '?' && *stop != '#')
        stop++;
    if (stop == host || memchr(host, '@', (size_t)(stop - host)))
        return ql_error_field(&cx->err, "url", "invalid_url", "must name a host, without a user");
    for (const char *p = url; p < end; p++)
        if (*p == ' ' || *p == '\\' || (unsigned char)*p < 0x21)
            return ql_error_field(&cx->err, "url", "invalid_url", "must not contain spaces");
    return QL_OK;
}

static int valid_events(struct ql_ctx *cx, const char *const *events, int n)
{
    if (n < 1 || n > QL_WEBHOOK_EVENTS_MAX)
        return ql_error_field(&cx->err, "events", "out_of_range", "must name 1 to %d events",
                              QL_WEBHOOK_EVENTS_MAX);
    for (int i = 0; i < n; i++) {
        int known = 0;
        for (int k = 0; ql_webhook_events[k] && !known; k++)
            known = strcmp(events[i], ql_webhook_events[k]) == 0;
        if (!known)
            return ql_error_field(&cx->err, "events", "invalid_event", "has an unknown event");
        for (int j = 0; j < i; j++)
            if (strcmp(events[i], events[j]) == 0)
                return ql_error_field(&cx->err, "events", "duplicate", "names an event twice");
    }
    return QL_OK;
}

/* QL_ECONFLICT when team has QL_WEBHOOKS_MAX endpoints; under the team's lock. */
static int below_cap(struct ql_ctx *cx, const struct ql_uuid *team)
{
    int64_t n = 0;
    int rc = QL__HOOKS(cx)->count(cx->ports.store, cx, team, &n);
    if (rc == QL_OK && n >= QL_WEBHOOKS_MAX)
        rc = ql_error_set(&cx->err, QL_ECONFLICT,
                          "A team has at most %d webhooks; delete one before adding another.",
                          QL_WEBHOOKS_MAX);
    return rc;
}

int ql_webhook_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *url, size_t n,
                      const char *const *events, int nevents, const char *description,
                      size_t description_n, struct ql_webhook *out,
                      char secret[QL_WEBHOOK_SECRET_LEN])
{
    int rc = ql_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc)
        return rc;
    valid_url(cx, url, n);
    valid_events(cx, events, nevents);
    if (description)
        ql_valid_text(&cx->err, "description", description, description_n, 0, 500, 0);
    if (cx->err.code)
        return cx->err.code;
    memset(out, 0, sizeof(*out));
    uint8_t raw[32];
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc == QL_OK)
        rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a webhook");
    memcpy(secret, "whsec_", 6);
    ql_b64_encode(raw, sizeof(raw), secret + 6, 0);
    size_t slen = strlen(secret);
    uint8_t *box = ql_arena_alloc(cx->arena, slen + QL_SEAL_OVERHEAD);
    out->team_id = *team;
    out->url = ql_arena_strndup(cx->arena, url, n);
    out->description = ql_arena_strndup(cx->arena, description ? description : "",
                                        description ? description_n : 0);
    if (box == NULL || out->url == NULL || out->description == NULL)
        return ql_error_nomem(&cx->err);
    out->nevents = nevents;
    for (int i = 0; i < nevents; i++)
        out->events[i] = events[i];
    out->created_ms = ql_uuid7_ms(&out->id);
    rc = ql_auth_seal(cx->ports.auth, secret, slen, box);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot seal the webhook secret");
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc == QL_OK)
        rc = below_cap(cx, team);
    if (rc == QL_OK)
        rc = QL__HOOKS(cx)->insert(cx->ports.store, cx, out, box, slen + QL_SEAL_OVERHEAD);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "webhook.create", "Webhook", &out->id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_webhook_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                    size_t cursor_n, int limit, struct ql_webhook **out, int *n,
                    const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after;
    if (cursor &&
        (rc = ql_cursor_decode(&cx->err, QL_CURSOR_WEBHOOKS, cursor, cursor_n, &after_ms, &after)))
        return rc;
    int more = 0;
    rc = QL__HOOKS(cx)->list(cx->ports.store, cx, team, after_ms, cursor ? &after : NULL, limit,
                             out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_webhook *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_WEBHOOKS, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_nomem(&cx->err);
    }
    return QL_OK;
}

int ql_webhook_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id)
{
    int rc = ql_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc == QL_OK) {
        rc = QL__HOOKS(cx)->remove(cx->ports.store, cx, team, id, ql_clock_now_ms(cx->ports.clock));
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such webhook.");
    }
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "webhook.delete", "Webhook", id, NULL);
    return ql_tx_end(cx, rc);
}

/* An attempts cursor: the time and the attempt as its two numbers, the delivery as the id. */
int ql_webhook_attempts(struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_uuid *webhook, const char *cursor, size_t cursor_n,
                        int limit, struct ql_delivery_attempt **out, int *n,
                        const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc)
        return rc;
    struct ql_delivery_attempt after = {0};
    int64_t attempt = 0;
    if (cursor && (rc = ql_cursor_decode2(&cx->err, QL_CURSOR_DELIVERIES, cursor, cursor_n,
                                          &after.at_ms, &attempt, &after.delivery_id)))
        return rc;
    after.attempt = (int)attempt; /* 0..INT32_MAX: ql_cursor_decode2 checked it */
    struct ql_webhook w;
    rc = QL__HOOKS(cx)->get(cx->ports.store, cx, team, webhook, &w);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such webhook.");
    int more = 0;
    if (rc == QL_OK)
        rc = QL__HOOKS(cx)->attempts(cx->ports.store, cx, team, webhook, cursor ? &after : NULL,
                                     limit, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_delivery_attempt *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode2(cx->arena, QL_CURSOR_DELIVERIES, last->at_ms,
                                         last->attempt, &last->delivery_id);
        if (*next_cursor == NULL)
            return ql_error_nomem(&cx->err);
    }
    return QL_OK;
}

int ql_webhook_redeliver(struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *webhook, const struct ql_uuid *delivery)
{
    int op = cx->principal && cx->principal->kind == QL_PRINCIPAL_OPERATOR;
    int rc =
        op ? ql_authorize(cx, QL_ACT_OPERATE, NULL) : ql_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    /* an admin removed or demoted while this waited for the team sends nothing again */
    if (!op)
        rc = ql_team_lock_authorize(cx, QL_ACT_WEBHOOK_MANAGE, team);
    if (rc == QL_OK)
        rc = QL__HOOKS(cx)->reopen(cx->ports.store, cx, team, webhook, delivery);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such delivery of this webhook.");
    if (rc == QL_OK)
        rc = ql__webhook_enqueue(cx, delivery, NULL, 1);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "webhook.redeliver", "WebhookDelivery", delivery, NULL);
    return ql_tx_end(cx, rc);
}

int ql_webhook_failures(struct ql_ctx *cx, int limit, struct ql_delivery_attempt **out, int *n)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    return rc ? rc : QL__HOOKS(cx)->failures(cx->ports.store, cx, limit, out, n);
}

int ql_webhook_sign(struct ql_ctx *cx, const char *secret, const char *id, int64_t timestamp,
                    const char *body, size_t body_n, char out[QL_WEBHOOK_SIGNATURE_LEN])
{
    uint8_t key[64];
    size_t keylen;
    if (strncmp(secret, "whsec_", 6) != 0 ||
        ql_b64_decode(secret + 6, strlen(secret + 6), key, sizeof(key), &keylen) != QL_OK)
        return ql_error_set(&cx->err, QL_EINTERNAL, "a webhook secret that cannot be read");
    struct ql_buf msg;
    ql_buf_init(&msg, cx->arena);
    ql_buf_printf(&msg, "%s.%lld.", id, (long long)timestamp);
    ql_buf_append(&msg, body, body_n);
    if (ql_buf_ok(&msg))
        return ql_error_nomem(&cx->err);
    uint8_t mac[QL_DIGEST_LEN];
    int rc = ql_auth_hmac_sha256(cx->ports.auth, key, keylen, msg.data, msg.len, mac);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot sign a webhook");
    memcpy(out, "v1,", 3);
    ql_b64_encode(mac, sizeof(mac), out + 3, 0);
    return QL_OK;
}
