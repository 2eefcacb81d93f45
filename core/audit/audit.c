/*
 * audit.c - audit rows for the use cases, and the canonical row text of the hash chain.
 */
#include "audit/audit.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "model/model.h"
#include "policy/policy.h"
#include "store/store.h"
#include "uuid/uuid.h"

int ql_audit_row(struct ql_ctx *cx, const struct ql_principal *who, const char *action,
                 const char *target_type, const struct ql_uuid *target_id, const char *actor,
                 struct ql_audit_entry *out)
{
    int rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for an audit id");
    char *target = ql_arena_alloc(cx->arena, QL_UUID_STR_LEN + 1);
    if (target == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    target[0] = 0;
    if (target_id)
        ql_uuid_format(target_id, target);
    if (actor == NULL) {
        char who_s[64];
        ql_principal_actor(who, who_s, sizeof(who_s));
        actor = ql_arena_strdup(cx->arena, who_s);
        if (actor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    out->seq = 0;
    out->at_ms = ql_clock_now_ms(cx->ports.clock);
    out->actor = actor;
    out->action = action;
    out->target_type = target_type;
    out->target_id = target;
    return QL_OK;
}

int ql_audit(struct ql_ctx *cx, const struct ql_uuid *team, const char *action,
             const char *target_type, const struct ql_uuid *target_id, const char *actor)
{
    struct ql_audit_entry e;
    int rc = ql_audit_row(cx, cx->principal, action, target_type, target_id, actor, &e);
    if (rc)
        return rc;
    return ql_store_audit_append(cx->ports.store, cx, team, &e);
}

int ql_audit_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                  size_t cursor_n, int limit, struct ql_audit_entry **out, int *n,
                  const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_AUDIT_READ, team);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after_id;
    int has_after = cursor != NULL;
    if (has_after) {
        rc = ql_cursor_decode(&cx->err, QL_CURSOR_AUDIT, cursor, cursor_n, &after_ms, &after_id);
        if (rc)
            return rc;
    }
    int more = 0;
    rc = ql_store_audit_list(cx->ports.store, cx, team, after_ms, has_after ? &after_id : NULL,
                             limit, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_audit_entry *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_AUDIT, last->seq, &last->id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

void ql_audit_canonical(struct ql_buf *b, const char *chain, int64_t seq, int64_t at_us,
                        const char *actor, const char *action, const char *target_type,
                        const char *target_id, const char *audit_id)
{
    ql_buf_puts(b, chain);
    ql_buf_putc(b, '\n');
    ql_buf_i64(b, seq);
    ql_buf_putc(b, '\n');
    ql_buf_i64(b, at_us);
    ql_buf_putc(b, '\n');
    ql_buf_puts(b, actor);
    ql_buf_putc(b, '\n');
    ql_buf_puts(b, action);
    ql_buf_putc(b, '\n');
    ql_buf_puts(b, target_type);
    ql_buf_putc(b, '\n');
    ql_buf_puts(b, target_id);
    ql_buf_putc(b, '\n');
    ql_buf_puts(b, audit_id);
}
