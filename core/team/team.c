/*
 * team.c - the team, member and API key use cases.
 */
#include "team/team.h"

#include "account/account.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "store/store.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t now_ms(struct ql_ctx *cx)
{
    return ql_clock_now_ms(cx->ports.clock);
}

int ql_team_create(struct ql_ctx *cx, const char *name, size_t n, struct ql_team *out)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    rc = ql_valid_text(&cx->err, "name", name, n, 1, 100, 1);
    if (rc)
        return rc;
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a team id");
    out->name = ql_arena_strndup(cx->arena, name, n);
    if (out->name == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    out->created_ms = out->updated_ms = now_ms(cx);
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_teams_insert(st, cx, out, &cx->principal->user_id);
    if (rc == QL_ENOT_FOUND) /* erased since the request was authenticated: no team for it */
        rc = ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    if (rc == QL_OK)
        rc = ql_change(cx, &out->id, QL_EVENT_MEMBER_ADDED, &cx->principal->user_id);
    if (rc == QL_OK)
        rc = ql_audit(cx, &out->id, "team.create", "Team", &out->id, NULL);
    return ql_tx_end(cx, rc);
}

static int by_team_id(const void *a, const void *b)
{
    const struct ql_team_role *x = a, *y = b;
    return memcmp(x->team_id.b, y->team_id.b, sizeof(x->team_id.b));
}

/* A user's teams come whole with the profile (they are few), so pages are cut here. */
int ql_team_list_mine(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                      struct ql_team_role **out, int *n, const char **next_cursor)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    struct ql_uuid after;
    int64_t unused;
    if (cursor) {
        rc = ql_cursor_decode(&cx->err, QL_CURSOR_TEAMS, cursor, cursor_n, &unused, &after);
        if (rc)
            return rc;
    }
    struct ql_team_role *all;
    int total;
    rc = ql_store_users_profile(cx->ports.store, cx, &cx->principal->user_id, NULL, &all, &total);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    if (rc)
        return rc;
    if (total > 1)
        qsort(all, (size_t)total, sizeof(*all), by_team_id);
    int start = 0;
    while (cursor && start < total && memcmp(all[start].team_id.b, after.b, 16) <= 0)
        start++;
    int count = total - start < limit ? total - start : limit;
    *n = count;
    *out = total > 0 ? all + start : all;
    *next_cursor = NULL;
    if (count > 0 && start + count < total) {
        *next_cursor =
            ql_cursor_encode(cx->arena, QL_CURSOR_TEAMS, 0, &all[start + count - 1].team_id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

int ql_team_get(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_team *out)
{
    int rc = ql_authorize(cx, QL_ACT_TEAM_READ, team);
    if (rc)
        return rc;
    rc = ql_store_teams_get(cx->ports.store, cx, team, out);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "No such team.");
    return rc;
}

int ql_team_activity(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_activity *out)
{
    int rc = ql_authorize(cx, QL_ACT_TEAM_READ, team);
    return rc ? rc : ql_store_maint_activity_get(cx->ports.store, cx, team, out);
}

/*
 * Lock the team for a change the caller's role decides, and take that role as it is now: the
 * principal was read before the lock, and a change committed meanwhile (the caller removed or
 * demoted) must count.  On success cx->principal is *fresh, a copy with that one membership,
 * until the caller puts the old one back (before returning: fresh lives on its stack).
 */
static int lock_team(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_principal *fresh,
                     struct ql_membership *mine)
{
    struct ql_store *st = cx->ports.store;
    const struct ql_principal *p = cx->principal;
    int rc = ql_store_teams_lock(st, cx, team);
    if (rc || p->kind != QL_PRINCIPAL_USER)
        return rc;
    struct ql_member me;
    rc = ql_store_members_get(st, cx, team, &p->user_id, &me);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such team.");
    if (rc)
        return rc;
    *fresh = *p;
    mine->team_id = *team;
    mine->role = me.role;
    fresh->teams = mine;
    fresh->nteams = 1;
    cx->principal = fresh;
    return QL_OK;
}

int ql_team_lock_authorize(struct ql_ctx *cx, int action, const struct ql_uuid *team)
{
    const struct ql_principal *caller = cx->principal;
    struct ql_principal fresh;
    struct ql_membership mine;
    int rc = lock_team(cx, team, &fresh, &mine);
    if (rc == QL_OK)
        rc = ql_authorize(cx, action, team);
    cx->principal = caller;
    return rc;
}

int ql_team_rename(struct ql_ctx *cx, const struct ql_uuid *team, const char *name, size_t n,
                   struct ql_team *out)
{
    int rc = ql_authorize(cx, QL_ACT_TEAM_UPDATE, team);
    if (rc)
        return rc;
    rc = ql_valid_text(&cx->err, "name", name, n, 1, 100, 1);
    if (rc)
        return rc;
    char *copy = ql_arena_strndup(cx->arena, name, n);
    if (copy == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_TEAM_UPDATE, team);
    if (rc == QL_OK)
        rc = ql_store_teams_update_name(st, cx, team, copy, now_ms(cx), out);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "team.update", "Team", team, NULL);
    return ql_tx_end(cx, rc);
}

int ql_team_delete(struct ql_ctx *cx, const struct ql_uuid *team)
{
    int rc = ql_authorize(cx, QL_ACT_TEAM_DELETE, team);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_TEAM_DELETE, team);
    if (rc == QL_OK)
        rc = ql_store_teams_remove(st, cx, team, now_ms(cx));
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "team.delete", "Team", team, NULL);
    return ql_tx_end(cx, rc);
}

int ql_member_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                   size_t cursor_n, int limit, struct ql_member **out, int *n,
                   const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_MEMBER_LIST, team);
    if (rc)
        return rc;
    struct ql_uuid after;
    int64_t unused;
    if (cursor) {
        rc = ql_cursor_decode(&cx->err, QL_CURSOR_MEMBERS, cursor, cursor_n, &unused, &after);
        if (rc)
            return rc;
    }
    int more = 0;
    rc = ql_store_members_list(cx->ports.store, cx, team, cursor ? &after : NULL, limit, out, n,
                               &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_MEMBERS, 0, &(*out)[*n - 1].user_id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

static int parse_role(struct ql_ctx *cx, const char *role, size_t n, int *out)
{
    *out = ql_role_parse(role, n);
    if (*out == QL_ROLE_NONE)
        return ql_error_field(&cx->err, "role", "invalid_role",
                              "must be owner, admin, member or viewer");
    return QL_OK;
}

/* Grants and removals of the owner role need an owner; the rest an admin. */
static int authorize_role_change(struct ql_ctx *cx, const struct ql_uuid *team, int from, int to)
{
    int rc = ql_authorize(cx, QL_ACT_MEMBER_MANAGE, team);
    if (rc == QL_OK && (from == QL_ROLE_OWNER || to == QL_ROLE_OWNER))
        rc = ql_authorize(cx, QL_ACT_MEMBER_GRANT_OWNER, team);
    return rc;
}

int ql_member_add(struct ql_ctx *cx, const struct ql_uuid *team, const char *email, size_t email_n,
                  const char *role, size_t role_n, struct ql_member *out)
{
    int rc = ql_authorize(cx, QL_ACT_MEMBER_MANAGE, team);
    if (rc)
        return rc;
    const char *norm = NULL;
    int r = QL_ROLE_NONE;
    ql_valid_email(&cx->err, cx->arena, "email", email, email_n, &norm);
    parse_role(cx, role, role_n, &r);
    if (cx->err.code)
        return cx->err.code;
    rc = authorize_role_change(cx, team, QL_ROLE_NONE, r);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    rc = ql_store_users_by_email(st, cx, norm, &u);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No user has this email.");
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    const struct ql_principal *caller = cx->principal;
    struct ql_principal fresh;
    struct ql_membership mine;
    rc = lock_team(cx, team, &fresh, &mine);
    if (rc == QL_OK)
        rc = authorize_role_change(cx, team, QL_ROLE_NONE, r);
    if (rc == QL_OK) { /* an erasure committed since the user was read: none (erase.c) */
        rc = ql_store_members_insert(st, cx, team, &u.id, r, now_ms(cx));
        if (rc == QL_ECONFLICT)
            ql_error_set(&cx->err, rc, "This user is a member already.");
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No user has this email.");
    }
    if (rc == QL_OK)
        rc = ql_change(cx, team, QL_EVENT_MEMBER_ADDED, &u.id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "member.add", "User", &u.id, NULL);
    if (rc == QL_OK)
        rc = ql_store_members_get(st, cx, team, &u.id, out);
    cx->principal = caller;
    return ql_tx_end(cx, rc);
}

int ql_member_set_role(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *user,
                       const char *role, size_t role_n, struct ql_member *out)
{
    int rc = ql_authorize(cx, QL_ACT_MEMBER_MANAGE, team);
    if (rc)
        return rc;
    int r;
    rc = parse_role(cx, role, role_n, &r);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    const struct ql_principal *caller = cx->principal;
    struct ql_principal fresh;
    struct ql_membership mine;
    rc = lock_team(cx, team, &fresh, &mine);
    if (rc == QL_OK) {
        rc = ql_store_members_get(st, cx, team, user, out);
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such member.");
    }
    if (rc == QL_OK)
        rc = authorize_role_change(cx, team, out->role, r);
    if (rc == QL_OK && out->role == QL_ROLE_OWNER && r != QL_ROLE_OWNER) {
        int owners = 0;
        rc = ql_store_members_count_owners(st, cx, team, &owners);
        if (rc == QL_OK && owners <= 1)
            rc = ql_error_set(&cx->err, QL_ECONFLICT, "A team must keep at least one owner.");
    }
    if (rc == QL_OK && out->role != r) {
        rc = ql_store_members_set_role(st, cx, team, user, r);
        if (rc == QL_OK)
            rc = ql_change(cx, team, QL_EVENT_MEMBER_CHANGED, user);
        if (rc == QL_OK)
            rc = ql_audit(cx, team, "member.update", "User", user, NULL);
        out->role = r;
    }
    cx->principal = caller;
    return ql_tx_end(cx, rc);
}

int ql_member_remove(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *user)
{
    const struct ql_principal *p = cx->principal;
    int self = p && p->kind == QL_PRINCIPAL_USER && memcmp(p->user_id.b, user->b, 16) == 0;
    int rc = ql_authorize(cx, self ? QL_ACT_MEMBER_LEAVE : QL_ACT_MEMBER_MANAGE, team);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    struct ql_member m;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    const struct ql_principal *caller = cx->principal;
    struct ql_principal fresh;
    struct ql_membership mine;
    rc = lock_team(cx, team, &fresh, &mine);
    if (rc == QL_OK)
        rc = ql_authorize(cx, self ? QL_ACT_MEMBER_LEAVE : QL_ACT_MEMBER_MANAGE, team);
    if (rc == QL_OK) {
        rc = ql_store_members_get(st, cx, team, user, &m);
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such member.");
    }
    if (rc == QL_OK && m.role == QL_ROLE_OWNER) {
        if (!self)
            rc = ql_authorize(cx, QL_ACT_MEMBER_GRANT_OWNER, team);
        int owners = 0;
        if (rc == QL_OK)
            rc = ql_store_members_count_owners(st, cx, team, &owners);
        if (rc == QL_OK && owners <= 1)
            rc = ql_error_set(&cx->err, QL_ECONFLICT, "A team must keep at least one owner.");
    }
    if (rc == QL_OK)
        rc = ql_store_members_remove(st, cx, team, user);
    if (rc == QL_OK)
        rc = ql_change(cx, team, QL_EVENT_MEMBER_REMOVED, user);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "member.remove", "User", user, NULL);
    cx->principal = caller;
    return ql_tx_end(cx, rc);
}

int ql_api_key_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *name,
                      size_t name_n, const char *role, size_t role_n, const char *expires_at,
                      size_t expires_n, struct ql_new_api_key *out)
{
    int rc = ql_authorize(cx, QL_ACT_KEY_MANAGE, team);
    if (rc)
        return rc;
    struct ql_api_key *k = &out->key;
    memset(k, 0, sizeof(*k));
    int64_t now = now_ms(cx);
    ql_valid_text(&cx->err, "name", name, name_n, 1, 100, 1);
    k->role = ql_role_parse(role, role_n);
    if (k->role != QL_ROLE_MEMBER && k->role != QL_ROLE_VIEWER)
        ql_error_field(&cx->err, "role", "invalid_role", "must be member or viewer");
    if (expires_at) {
        if (ql_time_parse(expires_at, expires_n, &k->expires_ms) != QL_OK)
            ql_error_field(&cx->err, "expiresAt", "invalid_time", "must be an RFC 3339 time");
        else if (k->expires_ms <= now)
            ql_error_field(&cx->err, "expiresAt", "in_past", "must be in the future");
    }
    if (cx->err.code)
        return cx->err.code;
    uint8_t raw[32], digest[QL_DIGEST_LEN];
    rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
    if (rc == QL_OK)
        rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &k->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a key");
    char *secret = ql_arena_alloc(cx->arena, 3 + ql_b64_enc_len(32, 1) + 1);
    k->name = ql_arena_strndup(cx->arena, name, name_n);
    if (secret == NULL || k->name == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    memcpy(secret, "qk_", 3);
    ql_b64_encode(raw, sizeof(raw), secret + 3, 1);
    k->prefix = ql_arena_strndup(cx->arena, secret, 11);
    if (k->prefix == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    rc = ql_auth_token_digest(cx->ports.auth, secret, strlen(secret), digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest a key");
    k->team_id = *team;
    k->created_ms = now;
    out->secret = secret;
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_KEY_MANAGE, team);
    if (rc == QL_OK)
        rc = ql_store_api_keys_insert(st, cx, k, digest, &cx->principal->user_id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "api_key.create", "ApiKey", &k->id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_api_key_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                    size_t cursor_n, int limit, struct ql_api_key **out, int *n,
                    const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_KEY_MANAGE, team);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after;
    if (cursor) {
        rc = ql_cursor_decode(&cx->err, QL_CURSOR_API_KEYS, cursor, cursor_n, &after_ms, &after);
        if (rc)
            return rc;
    }
    int more = 0;
    rc = ql_store_api_keys_list(cx->ports.store, cx, team, after_ms, cursor ? &after : NULL, limit,
                                out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_api_key *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_API_KEYS, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

int ql_api_key_revoke(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id)
{
    int rc = ql_authorize(cx, QL_ACT_KEY_MANAGE, team);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_team_lock_authorize(cx, QL_ACT_KEY_MANAGE, team);
    if (rc == QL_OK) {
        rc = ql_store_api_keys_revoke(st, cx, team, id, now_ms(cx));
        if (rc == QL_ENOT_FOUND)
            ql_error_set(&cx->err, rc, "No such API key.");
    }
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "api_key.revoke", "ApiKey", id, NULL);
    return ql_tx_end(cx, rc);
}
