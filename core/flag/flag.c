/*
 * flag.c - feature flags (see flag.h): their evaluation for a team, the use cases of the
 * operator and of team members, and the store wrappers.
 */
#include "flag/flag.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "policy/policy.h"
#include "store/store.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <string.h>

/* ---- evaluation ----------------------------------------------------------------------------- */

int ql_flag_bucket(const char *key, const struct ql_uuid *team)
{
    /* FNV-1a (32 bits) over "<key>:<team id as text>": stable, documented, cheap. */
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(team, id);
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ (uint8_t)':') * 16777619u;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return (int)(h % 100u);
}

int ql_flag_value(const struct ql_flag_state *s, const struct ql_uuid *team)
{
    if (s->override != QL_FLAG_NO_OVERRIDE)
        return s->override != 0;
    return s->enabled || ql_flag_bucket(s->key, team) < s->rollout_percent;
}

int ql_flag_valid_key(struct ql_ctx *cx, const char *key, size_t n)
{
    int ok = key && n >= 1 && n <= QL_FLAG_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = key[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '-' || c == '_' || c == '.'));
    }
    if (!ok)
        return ql_error_field(&cx->err, "flagKey", "invalid_format",
                              "must be 1 to %d characters: lowercase letters, digits, '-', '_' "
                              "and '.', starting with a letter or digit",
                              QL_FLAG_KEY_MAX);
    return QL_OK;
}

/* ---- use cases ------------------------------------------------------------------------------ */

int ql_flags_for_team(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_flag_value **out,
                      int *n)
{
    *out = NULL;
    *n = 0;
    int rc = ql_authorize(cx, QL_ACT_TEAM_READ, team);
    if (rc)
        return rc;
    struct ql_flag_state *st;
    int ns;
    rc = ql_store_flags_for_team(cx->ports.store, cx, team, &st, &ns);
    if (rc)
        return rc;
    struct ql_flag_value *v = ns ? ql_arena_alloc(cx->arena, sizeof(*v) * (size_t)ns) : NULL;
    if (ns && v == NULL)
        return ql_error_nomem(&cx->err);
    for (int i = 0; i < ns; i++)
        v[i] = (struct ql_flag_value){st[i].key, ql_flag_value(&st[i], team)};
    *out = v;
    *n = ns;
    return QL_OK;
}

static int64_t now_ms(struct ql_ctx *cx)
{
    return ql_clock_now_ms(cx->ports.clock);
}

int ql_flags_put(struct ql_ctx *cx, const char *key, const char *description, int enabled,
                 int rollout_percent, struct ql_flag *out, int *created)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc)
        return rc;
    ql_flag_valid_key(cx, key, key ? strlen(key) : 0);
    if (description == NULL)
        description = "";
    ql_valid_text(&cx->err, "description", description, strlen(description), 0, QL_FLAG_DESC_MAX,
                  1);
    if (rollout_percent < 0 || rollout_percent > 100)
        ql_error_field(&cx->err, "rolloutPercent", "out_of_range", "must be from 0 to 100");
    if (cx->err.code)
        return cx->err.code;
    struct ql_flag f = {.key = key,
                        .description = description,
                        .enabled = enabled != 0,
                        .rollout_percent = rollout_percent};
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &f.id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a flag id");
    f.created_ms = f.updated_ms = now_ms(cx);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_flags_put(cx->ports.store, cx, &f, created, out);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, *created ? "flag.create" : "flag.update", "FeatureFlag", &out->id,
                      NULL);
    return ql_tx_end(cx, rc);
}

int ql_flags_get(struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc == QL_OK)
        rc = ql_flag_valid_key(cx, key, strlen(key));
    if (rc == QL_OK)
        rc = ql_store_flags_get(cx->ports.store, cx, key, out);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such flag.");
    return rc;
}

int ql_flags_list(struct ql_ctx *cx, const char *cursor, int limit, struct ql_flag **out, int *n,
                  const char **next_cursor)
{
    *next_cursor = NULL;
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc)
        return rc;
    if (cursor && ql_flag_valid_key(cx, cursor, strlen(cursor)) != QL_OK) {
        ql_error_clear(&cx->err);
        return ql_error_field(&cx->err, "cursor", "invalid_cursor",
                              "is not a cursor this list issued");
    }
    int more = 0;
    rc = ql_store_flags_list(cx->ports.store, cx, cursor, limit, out, n, &more);
    if (rc == QL_OK && more && *n > 0)
        *next_cursor = (*out)[*n - 1].key;
    return rc;
}

int ql_flags_delete(struct ql_ctx *cx, const char *key)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc == QL_OK)
        rc = ql_flag_valid_key(cx, key, strlen(key));
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    struct ql_flag gone;
    rc = ql_store_flags_remove(cx->ports.store, cx, key, &gone);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such flag.");
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "flag.delete", "FeatureFlag", &gone.id, NULL);
    return ql_tx_end(cx, rc);
}

/* The flag's id for the audit row of a change to one of its overrides. */
static int flag_id(struct ql_ctx *cx, const char *key, struct ql_uuid *out)
{
    struct ql_flag f;
    int rc = ql_store_flags_get(cx->ports.store, cx, key, &f);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such flag.");
    if (rc == QL_OK)
        *out = f.id;
    return rc;
}

int ql_flags_team_put(struct ql_ctx *cx, const char *key, const struct ql_uuid *team, int enabled,
                      struct ql_flag_team *out, int *created)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc == QL_OK)
        rc = ql_flag_valid_key(cx, key, strlen(key));
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    struct ql_uuid id;
    rc = flag_id(cx, key, &id);
    if (rc == QL_OK) {
        rc = ql_store_flags_team_put(cx->ports.store, cx, key, team, enabled != 0, now_ms(cx),
                                     created, out);
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such team.");
    }
    if (rc == QL_OK)
        rc = ql_audit(cx, team, *created ? "flag.team_set" : "flag.team_update", "FeatureFlag", &id,
                      NULL);
    return ql_tx_end(cx, rc);
}

int ql_flags_team_delete(struct ql_ctx *cx, const char *key, const struct ql_uuid *team)
{
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc == QL_OK)
        rc = ql_flag_valid_key(cx, key, strlen(key));
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    struct ql_uuid id;
    rc = flag_id(cx, key, &id);
    if (rc == QL_OK) {
        rc = ql_store_flags_team_remove(cx->ports.store, cx, key, team);
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "The team has no override of this flag.");
    }
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "flag.team_clear", "FeatureFlag", &id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_flags_team_list(struct ql_ctx *cx, const char *key, const char *cursor, size_t cursor_n,
                       int limit, struct ql_flag_team **out, int *n, const char **next_cursor)
{
    *next_cursor = NULL;
    int rc = ql_authorize(cx, QL_ACT_OPERATE, NULL);
    if (rc == QL_OK)
        rc = ql_flag_valid_key(cx, key, strlen(key));
    if (rc)
        return rc;
    struct ql_uuid after;
    if (cursor && ql_uuid_parse(cursor, cursor_n, &after) != QL_OK)
        return ql_error_field(&cx->err, "cursor", "invalid_cursor",
                              "is not a cursor this list issued");
    struct ql_uuid id;
    rc = flag_id(cx, key, &id);
    int more = 0;
    if (rc == QL_OK)
        rc = ql_store_flags_team_list(cx->ports.store, cx, key, cursor ? &after : NULL, limit, out,
                                      n, &more);
    if (rc == QL_OK && more && *n > 0) {
        char *s = ql_arena_alloc(cx->arena, QL_UUID_STR_LEN + 1);
        if (s == NULL)
            return ql_error_nomem(&cx->err);
        ql_uuid_format(&(*out)[*n - 1].team_id, s);
        *next_cursor = s;
    }
    return rc;
}

/* ---- the store wrappers --------------------------------------------------------------------- */

static int no_key(struct ql_ctx *cx, const char *key)
{
    return key == NULL ? ql_error_set(&cx->err, QL_EINTERNAL, "flag key missing") : QL_OK;
}

int ql_store_flags_put(struct ql_store *s, struct ql_ctx *cx, const struct ql_flag *f, int *created,
                       struct ql_flag *out)
{
    int rc = no_key(cx, f->key);
    return rc ? rc : s->ops->flags->put(s, cx, f, created, out);
}

int ql_store_flags_get(struct ql_store *s, struct ql_ctx *cx, const char *key, struct ql_flag *out)
{
    int rc = no_key(cx, key);
    return rc ? rc : s->ops->flags->get(s, cx, key, out);
}

int ql_store_flags_list(struct ql_store *s, struct ql_ctx *cx, const char *after_key, int limit,
                        struct ql_flag **out, int *n, int *more)
{
    *out = NULL;
    *n = *more = 0;
    if (limit < 1)
        return ql_error_set(&cx->err, QL_EINTERNAL, "limit below 1");
    return s->ops->flags->list(s, cx, after_key, limit, out, n, more);
}

int ql_store_flags_remove(struct ql_store *s, struct ql_ctx *cx, const char *key,
                          struct ql_flag *out)
{
    int rc = no_key(cx, key);
    return rc ? rc : s->ops->flags->remove(s, cx, key, out);
}

int ql_store_flags_team_put(struct ql_store *s, struct ql_ctx *cx, const char *key,
                            const struct ql_uuid *team, int enabled, int64_t now_ms, int *created,
                            struct ql_flag_team *out)
{
    int rc = no_key(cx, key);
    return rc ? rc : s->ops->flags->team_put(s, cx, key, team, enabled, now_ms, created, out);
}

int ql_store_flags_team_list(struct ql_store *s, struct ql_ctx *cx, const char *key,
                             const struct ql_uuid *after, int limit, struct ql_flag_team **out,
                             int *n, int *more)
{
    *out = NULL;
    *n = *more = 0;
    int rc = no_key(cx, key);
    if (rc == QL_OK && limit < 1)
        rc = ql_error_set(&cx->err, QL_EINTERNAL, "limit below 1");
    return rc ? rc : s->ops->flags->team_list(s, cx, key, after, limit, out, n, more);
}

int ql_store_flags_team_remove(struct ql_store *s, struct ql_ctx *cx, const char *key,
                               const struct ql_uuid *team)
{
    int rc = no_key(cx, key);
    return rc ? rc : s->ops->flags->team_remove(s, cx, key, team);
}

int ql_store_flags_for_team(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            struct ql_flag_state **out, int *n)
{
    *out = NULL;
    *n = 0;
    return s->ops->flags->for_team(s, cx, team, out, n);
}
