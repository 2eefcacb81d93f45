/*
 * store.c - the wrappers of the store port: every call the core makes to a store goes
 * through one of these, so arguments are checked in one place and optional methods get
 * their default here (see ql_store_entries_get_async).
 */
#include "store/store.h"

#include "ctx/ctx.h"
#include "err/err.h"

int ql_store_ping(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->ping(s, cx);
}

int ql_store_schema_version(struct ql_store *s, struct ql_ctx *cx, int64_t *out)
{
    return s->ops->schema_version(s, cx, out);
}

int ql_store_begin(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->begin(s, cx);
}

int ql_store_commit(struct ql_store *s, struct ql_ctx *cx)
{
    return s->ops->commit(s, cx);
}

void ql_store_rollback(struct ql_store *s, struct ql_ctx *cx)
{
    s->ops->rollback(s, cx);
}

int ql_store_users_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_user *u,
                          const char *oidc_issuer, const char *oidc_subject)
{
    return s->ops->users->insert(s, cx, u, oidc_issuer, oidc_subject);
}

int ql_store_users_by_email(struct ql_store *s, struct ql_ctx *cx, const char *email,
                            struct ql_user *out)
{
    return s->ops->users->by_email(s, cx, email, out);
}

int ql_store_users_by_id(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                         struct ql_user *out)
{
    return s->ops->users->by_id(s, cx, id, out);
}

int ql_store_users_by_oidc(struct ql_store *s, struct ql_ctx *cx, const char *issuer,
                           const char *subject, struct ql_user *out)
{
    return s->ops->users->by_oidc(s, cx, issuer, subject, out);
}

int ql_store_users_update_name(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                               const char *name, int64_t now_ms, struct ql_user *out)
{
    return s->ops->users->update_name(s, cx, id, name, now_ms, out);
}

int ql_store_users_set_password(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                                const char *hash, int64_t now_ms)
{
    return s->ops->users->set_password(s, cx, id, hash, now_ms);
}

int ql_store_users_profile(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                           struct ql_user *user, struct ql_team_role **teams, int *n)
{
    return s->ops->users->profile(s, cx, id, user, teams, n);
}

int ql_store_users_profile_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                                 struct ql_user *user, struct ql_team_role **teams, int *n,
                                 ql_done_fn done, void *arg)
{
    if (s->ops->users->profile_async)
        return s->ops->users->profile_async(s, cx, id, user, teams, n, done, arg);
    return ql_ctx_defer(cx, done, s->ops->users->profile(s, cx, id, user, teams, n), arg);
}

int ql_store_sessions_insert(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *session_id,
                             const struct ql_uuid *user_id, int64_t now_ms, int64_t expires_ms,
                             const char *user_agent, const char *client_ip)
{
    return s->ops->sessions->insert(s, cx, digest, session_id, user_id, now_ms, expires_ms,
                                    user_agent, client_ip);
}

int ql_store_sessions_remove(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN])
{
    return s->ops->sessions->remove(s, cx, digest);
}

int ql_store_sessions_remove_user(struct ql_store *s, struct ql_ctx *cx,
                                  const struct ql_uuid *user_id, const uint8_t *keep)
{
    return s->ops->sessions->remove_user(s, cx, user_id, keep);
}

int ql_store_sessions_touch(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms)
{
    return s->ops->sessions->touch(s, cx, digest, now_ms);
}

int ql_store_principals_load(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN], struct ql_principal *out)
{
    return s->ops->principals->load(s, cx, digest, out);
}

int ql_store_principals_load_user(struct ql_store *s, struct ql_ctx *cx,
                                  const struct ql_uuid *user_id, struct ql_principal *out)
{
    return s->ops->principals->load_user(s, cx, user_id, out);
}

int ql_store_teams_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_team *t,
                          const struct ql_uuid *owner)
{
    return s->ops->teams->insert(s, cx, t, owner);
}

int ql_store_teams_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                       struct ql_team *out)
{
    return s->ops->teams->get(s, cx, id, out);
}

int ql_store_teams_lock(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id)
{
    return s->ops->teams->lock(s, cx, id);
}

int ql_store_teams_update_name(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                               const char *name, int64_t now_ms, struct ql_team *out)
{
    return s->ops->teams->update_name(s, cx, id, name, now_ms, out);
}

int ql_store_teams_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                          int64_t now_ms)
{
    return s->ops->teams->remove(s, cx, id, now_ms);
}

int ql_store_members_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_uuid *after, int limit, struct ql_member **out, int *n,
                          int *more)
{
    return s->ops->members->list(s, cx, team, after, limit, out, n, more);
}

int ql_store_members_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *user, struct ql_member *out)
{
    return s->ops->members->get(s, cx, team, user, out);
}

int ql_store_members_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *user, int role, int64_t now_ms)
{
    return s->ops->members->insert(s, cx, team, user, role, now_ms);
}

int ql_store_members_set_role(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                              const struct ql_uuid *user, int role)
{
    return s->ops->members->set_role(s, cx, team, user, role);
}

int ql_store_members_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *user)
{
    return s->ops->members->remove(s, cx, team, user);
}

int ql_store_members_count_owners(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                  int *n)
{
    return s->ops->members->count_owners(s, cx, team, n);
}

int ql_store_api_keys_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_api_key *k,
                             const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *created_by)
{
    return s->ops->api_keys->insert(s, cx, k, digest, created_by);
}

int ql_store_api_keys_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                           int64_t after_ms, const struct ql_uuid *after_id, int limit,
                           struct ql_api_key **out, int *n, int *more)
{
    return s->ops->api_keys->list(s, cx, team, after_ms, after_id, limit, out, n, more);
}

int ql_store_api_keys_revoke(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             const struct ql_uuid *id, int64_t now_ms)
{
    return s->ops->api_keys->revoke(s, cx, team, id, now_ms);
}

int ql_store_api_keys_touch(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                            int64_t now_ms)
{
    return s->ops->api_keys->touch(s, cx, id, now_ms);
}

int ql_store_audit_append(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_audit_entry *e)
{
    return s->ops->audit->append(s, cx, team, e);
}

int ql_store_audit_append_many(struct ql_store *s, struct ql_ctx *cx,
                               const struct ql_uuid *const *teams, const struct ql_audit_entry *es,
                               int n)
{
    return s->ops->audit->append_many(s, cx, teams, es, n);
}

int ql_store_audit_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                        int64_t after_ms, const struct ql_uuid *after_id, int limit,
                        struct ql_audit_entry **out, int *n, int *more)
{
    return s->ops->audit->list(s, cx, team, after_ms, after_id, limit, out, n, more);
}

int ql_store_entries_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_entry *e)
{
    return s->ops->entries->insert(s, cx, e);
}

int ql_store_entries_insert_many(struct ql_store *s, struct ql_ctx *cx,
                                 const struct ql_entry *const *es, int n)
{
    return s->ops->entries->insert_many(s, cx, es, n);
}

int ql_store_entries_exist_many(struct ql_store *s, struct ql_ctx *cx,
                                const struct ql_entry *const *es, int n, int *found)
{
    for (int i = 0; i < n; i++)
        found[i] = 0;
    return n > 0 ? s->ops->entries->exist_many(s, cx, es, n, found) : QL_OK;
}

int ql_store_entries_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *id, struct ql_entry *out)
{
    return s->ops->entries->get(s, cx, team, id, out);
}

int ql_store_entries_get_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                               const struct ql_uuid *id, struct ql_entry *out, ql_done_fn done,
                               void *arg)
{
    if (s->ops->entries->get_async)
        return s->ops->entries->get_async(s, cx, team, id, out, done, arg);
    return ql_ctx_defer(cx, done, s->ops->entries->get(s, cx, team, id, out), arg);
}

int ql_store_entries_lock(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_uuid *id, struct ql_entry *out)
{
    return s->ops->entries->lock(s, cx, team, id, out);
}

int ql_store_entries_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more)
{
    return s->ops->entries->list(s, cx, team, q, out, n, more);
}

int ql_store_entries_list_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                const struct ql_entry_query *q, struct ql_entry **out, int *n,
                                int *more, ql_done_fn done, void *arg)
{
    if (s->ops->entries->list_async)
        return s->ops->entries->list_async(s, cx, team, q, out, n, more, done, arg);
    return ql_ctx_defer(cx, done, s->ops->entries->list(s, cx, team, q, out, n, more), arg);
}

int ql_store_entries_update(struct ql_store *s, struct ql_ctx *cx, const struct ql_entry *e)
{
    return s->ops->entries->update(s, cx, e);
}

int ql_store_entries_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *id, int64_t now_ms)
{
    return s->ops->entries->remove(s, cx, team, id, now_ms);
}

int ql_store_prompts_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_prompt *p)
{
    return s->ops->prompts->insert(s, cx, p);
}

int ql_store_prompts_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *id, struct ql_prompt *out)
{
    return s->ops->prompts->get(s, cx, team, id, out);
}

int ql_store_prompts_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const char *category, int64_t after_ms, const struct ql_uuid *after_id,
                          int limit, struct ql_prompt **out, int *n, int *more)
{
    return s->ops->prompts->list(s, cx, team, category, after_ms, after_id, limit, out, n, more);
}

int ql_store_prompts_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *id, int64_t now_ms)
{
    return s->ops->prompts->remove(s, cx, team, id, now_ms);
}

int ql_store_idem_get(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key,
                      int64_t now_ms, struct ql_idem_record *out)
{
    return s->ops->idem->get(s, cx, scope, key, now_ms, out);
}

int ql_store_idem_lock(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key)
{
    return s->ops->idem->lock(s, cx, scope, key);
}

int ql_store_idem_put(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key,
                      const struct ql_idem_record *r)
{
    return s->ops->idem->put(s, cx, scope, key, r);
}

int ql_store_maint_purge_idempotency(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                     int64_t *n)
{
    return s->ops->maint->purge_idempotency(s, cx, now_ms, n);
}

int ql_store_maint_purge_sessions(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                  int64_t idle_ms, int64_t *n)
{
    return s->ops->maint->purge_sessions(s, cx, now_ms, idle_ms, n);
}

int ql_store_maint_purge_throttles(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                   int64_t *n)
{
    return s->ops->maint->purge_throttles(s, cx, now_ms, n);
}

int ql_store_maint_purge_deleted(struct ql_store *s, struct ql_ctx *cx, int64_t before_ms,
                                 int64_t *n)
{
    return s->ops->maint->purge_deleted(s, cx, before_ms, n);
}

int ql_store_maint_daily_pick_all(struct ql_store *s, struct ql_ctx *cx, int64_t day_ms,
                                  int64_t now_ms, int64_t *n)
{
    return s->ops->maint->daily_pick_all(s, cx, day_ms, now_ms, n);
}

int ql_store_maint_daily_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             int64_t day_ms, int64_t now_ms, struct ql_prompt *out)
{
    return s->ops->maint->daily_get(s, cx, team, day_ms, now_ms, out);
}

int ql_store_maint_activity_add(struct ql_store *s, struct ql_ctx *cx,
                                const struct ql_activity *rows, int n)
{
    return n > 0 ? s->ops->maint->activity_add(s, cx, rows, n) : QL_OK;
}

int ql_store_maint_activity_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                struct ql_activity *out)
{
    return s->ops->maint->activity_get(s, cx, team, out);
}

int ql_store_changes_append(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            int event, const struct ql_uuid *id)
{
    return s->ops->changes->append(s, cx, team, event, id);
}

int ql_store_changes_append_many(struct ql_store *s, struct ql_ctx *cx,
                                 const struct ql_uuid *const *teams, const int *events,
                                 const struct ql_uuid *const *ids, const char *const *traceparents,
                                 int n)
{
    return n > 0 ? s->ops->changes->append_many(s, cx, teams, events, ids, traceparents, n) : QL_OK;
}

int ql_store_changes_page(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_change_pos *after, int limit, int keep,
                          struct ql_change_page *out)
{
    return s->ops->changes->page(s, cx, team, after, limit, keep, out);
}

int ql_store_changes_page_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                const struct ql_change_pos *after, int limit, int keep,
                                struct ql_change_page *out, ql_done_fn done, void *arg)
{
    if (s->ops->changes->page_async)
        return s->ops->changes->page_async(s, cx, team, after, limit, keep, out, done, arg);
    return ql_ctx_defer(cx, done, s->ops->changes->page(s, cx, team, after, limit, keep, out), arg);
}

int ql_store_changes_bounds(struct ql_store *s, struct ql_ctx *cx, struct ql_change_pos *start,
                            struct ql_change_pos *floor)
{
    return s->ops->changes->bounds(s, cx, start, floor);
}

int ql_store_changes_live(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          int kind, int64_t num, const struct ql_uuid *after, int limit,
                          struct ql_sync_item **out, int *n, int *more)
{
    return s->ops->changes->live(s, cx, team, kind, num, after, limit, out, n, more);
}

int ql_store_changes_consumer_lock(struct ql_store *s, struct ql_ctx *cx, const char *name,
                                   struct ql_change_pos *pos)
{
    return s->ops->changes->consumer_lock(s, cx, name, pos);
}

int ql_store_changes_consumer_read(struct ql_store *s, struct ql_ctx *cx,
                                   const struct ql_change_pos *after, int limit,
                                   struct ql_change **out, int *n)
{
    return s->ops->changes->consumer_read(s, cx, after, limit, out, n);
}

int ql_store_changes_consumer_advance(struct ql_store *s, struct ql_ctx *cx, const char *name,
                                      const struct ql_change_pos *from,
                                      const struct ql_change_pos *to)
{
    return s->ops->changes->consumer_advance(s, cx, name, from, to);
}

int ql_store_changes_compact(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                             int64_t before_ms)
{
    return s->ops->changes->compact(s, cx, now_ms, before_ms);
}

int ql_store_changes_compact_batch(struct ql_store *s, struct ql_ctx *cx, int limit, int64_t *n,
                                   int *more)
{
    return s->ops->changes->compact_batch(s, cx, limit, n, more);
}
