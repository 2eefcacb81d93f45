/*
 * prompt.c - the prompt use cases.
 */
#include "prompt/prompt.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "policy/policy.h"
#include "store/store.h"
#include "team/team.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <string.h>

int ql_prompt_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *category,
                   size_t category_n, const char *cursor, size_t cursor_n, int limit,
                   struct ql_prompt **out, int *n, const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_PROMPT_READ, team);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after;
    if (cursor &&
        (rc = ql_cursor_decode(&cx->err, QL_CURSOR_PROMPTS, cursor, cursor_n, &after_ms, &after)))
        return rc;
    const char *cat = NULL;
    if (category) {
        rc = ql_valid_text(&cx->err, "category", category, category_n, 1, 50, 1);
        if (rc)
            return rc;
        cat = ql_arena_strndup(cx->arena, category, category_n);
        if (cat == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    int more = 0;
    rc = ql_store_prompts_list(cx->ports.store, cx, team, cat, after_ms, cursor ? &after : NULL,
                               limit, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_prompt *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_PROMPTS, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

int ql_prompt_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *text, size_t text_n,
                     const char *category, size_t category_n, struct ql_prompt *out)
{
    int rc = ql_authorize(cx, QL_ACT_PROMPT_MANAGE, team);
    if (rc)
        return rc;
    ql_valid_text(&cx->err, "text", text, text_n, 1, 1000, 0);
    ql_valid_text(&cx->err, "category", category, category_n, 1, 50, 1);
    if (cx->err.code)
        return cx->err.code;
    memset(out, 0, sizeof(*out));
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a prompt id");
    out->has_team = 1;
    out->team_id = *team;
    out->text = ql_arena_strndup(cx->arena, text, text_n);
    out->category = ql_arena_strndup(cx->arena, category, category_n);
    if (out->text == NULL || out->category == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    out->created_ms = out->updated_ms = ql_uuid7_ms(&out->id);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_PROMPT_MANAGE, team);
    if (rc == QL_OK)
        rc = ql_store_prompts_insert(cx->ports.store, cx, out);
    if (rc == QL_OK)
        rc = ql_change(cx, team, QL_EVENT_PROMPT_CREATED, &out->id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "prompt.create", "Prompt", &out->id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_prompt_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id)
{
    int rc = ql_authorize(cx, QL_ACT_PROMPT_MANAGE, team);
    if (rc)
        return rc;
    struct ql_prompt p;
    rc = ql_store_prompts_get(cx->ports.store, cx, team, id, &p);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such prompt.");
    if (rc)
        return rc;
    if (!p.has_team)
        return ql_error_set(&cx->err, QL_EFORBIDDEN, "Global prompts cannot be deleted.");
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_PROMPT_MANAGE, team);
    if (rc == QL_OK) {
        rc = ql_store_prompts_remove(cx->ports.store, cx, team, id,
                                     ql_clock_now_ms(cx->ports.clock));
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such prompt.");
    }
    if (rc == QL_OK)
        rc = ql_change(cx, team, QL_EVENT_PROMPT_DELETED, id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "prompt.delete", "Prompt", id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_prompt_daily(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_prompt *out)
{
    int rc = ql_authorize(cx, QL_ACT_PROMPT_READ, team);
    if (rc)
        return rc;
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    rc = ql_store_maint_daily_get(cx->ports.store, cx, team, now - now % 86400000, now, out);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "The team has no prompts to pick from.");
    return rc;
}
