/*
 * store.h - the store port: transactions and the repositories of Quill's aggregates.
 *
 * One store object is one database session: a pool thread of quill-api or a job slot of
 * quill-worker owns one and nobody else touches it.  Methods block.  Statements run inside
 * the transaction opened by begin() when one is open, else each on its own.
 * Records handed out are filled with arena memory of cx.  Lists return at most `limit`
 * items in *out (arena), *more set when further items exist; "after" arguments are keyset
 * positions taken from the last item of a page.  Errors: QL_ENOT_FOUND when a row asked
 * for does not exist; QL_EUNAVAILABLE when the database cannot be reached (the adapter
 * reconnects later); QL_ERETRY on a serialization failure or deadlock; QL_ECONFLICT on a
 * unique violation not named below; QL_EINTERNAL otherwise (details in cx->err.msg).
 *
 * Cached credentials: an adapter may cache what principal_load returns; every method that
 * changes a credential or a membership (session_delete, sessions_delete_user, member_*,
 * team_delete, api_key_revoke) invalidates those caches on every instance at commit.
 */
#ifndef QL_STORE_H
#define QL_STORE_H

#include <stdint.h>

#include "auth/auth.h"
#include "ctx/ctx.h"

struct ql_store;
struct ql_uuid;
struct ql_user;
struct ql_team;
struct ql_team_role;
struct ql_member;
struct ql_api_key;
struct ql_audit_entry;
struct ql_principal;
struct ql_entry;
struct ql_prompt;
struct ql_idem_record;
struct ql_change_pos;
struct ql_change;
struct ql_sync_item;
struct ql_change_page;
struct ql_activity;
struct ql_usage_ops;
struct ql_webhook;
struct ql_delivery;
struct ql_delivery_attempt;
struct ql_security_ops;
struct ql_throttle_ops;  /* store_security.h */
struct ql_mail_repo_ops; /* mail/mail_store.h */
struct ql_flags_ops;
struct ql_rights_ops;
struct ql_webhooks_ops; /* store_webhooks.h */

struct ql_users_ops {
    /* QL_EEMAIL_TAKEN when the email is in use. */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_user *u,
                  const char *oidc_issuer, const char *oidc_subject);
    int (*by_email)(struct ql_store *self, struct ql_ctx *cx, const char *email,
                    struct ql_user *out);
    int (*by_id)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_user *out);
    int (*by_oidc)(struct ql_store *self, struct ql_ctx *cx, const char *issuer,
                   const char *subject, struct ql_user *out);
    int (*update_name)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                       const char *name, int64_t now_ms, struct ql_user *out);
    int (*set_password)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                        const char *hash, int64_t now_ms);
    /*
     * The user and every live team it belongs to, by name, in one round trip.  user may be
     * NULL when only the teams are wanted.
     */
    int (*profile)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                   struct ql_user *user, struct ql_team_role **teams, int *n);
    /*
     * profile, answered as entries' get_async answers: later through done, or an error now
     * (QL_EWOULD_BLOCK) and done never runs.  NULL: the wrapper runs profile and defers.
     */
    int (*profile_async)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                         struct ql_user *user, struct ql_team_role **teams, int *n, ql_done_fn done,
                         void *arg);
};

struct ql_sessions_ops {
    /* user_agent and client_ip (either NULL: unknown) are what the sessions list shows. */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                  const struct ql_uuid *session_id, const struct ql_uuid *user_id, int64_t now_ms,
                  int64_t expires_ms, const char *user_agent, const char *client_ip);
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN]);
    /* Delete every session of the user but the one with digest keep (NULL: all). */
    int (*remove_user)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user_id,
                       const uint8_t *keep);
    int (*touch)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                 int64_t now_ms);
};

struct ql_principals_ops {
    /*
     * The session or API key whose token has this digest, with the user's memberships
     * (sessions) or the key's team and role.  QL_ENOT_FOUND when there is none.  Expiry
     * is the caller's to check.
     */
    int (*load)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                struct ql_principal *out);
    /* The memberships of a user (for principals that are not stored credentials: OIDC). */
    int (*load_user)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user_id,
                     struct ql_principal *out);
};

struct ql_teams_ops {
    /* Insert the team and make owner its first owner; QL_ENOT_FOUND (nothing) if erased. */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_team *t,
                  const struct ql_uuid *owner);
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
               struct ql_team *out);
    /* Like get, and lock the team row until the transaction ends. */
    int (*lock)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id);
    int (*update_name)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                       const char *name, int64_t now_ms, struct ql_team *out);
    /* Soft delete: the team disappears for everyone at once. */
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                  int64_t now_ms);
};

struct ql_members_ops {
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                const struct ql_uuid *after, int limit, struct ql_member **out, int *n, int *more);
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
               const struct ql_uuid *user, struct ql_member *out);
    /*
     * QL_ECONFLICT when the user is a member already, QL_ENOT_FOUND when erased (or unknown):
     * it holds the users row (key share) to the end, as an erasure's update waits for.
     */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *user, int role, int64_t now_ms);
    int (*set_role)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *user, int role);
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *user);
    int (*count_owners)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        int *n);
};

struct ql_api_keys_ops {
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_api_key *k,
                  const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *created_by);
    /* Live (unrevoked) keys of a team, newest first. */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                int64_t after_ms, const struct ql_uuid *after_id, int limit,
                struct ql_api_key **out, int *n, int *more);
    int (*revoke)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, int64_t now_ms);
    int (*touch)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 int64_t now_ms);
};

struct ql_audit_ops {
    /* Append to the chain of team (NULL: the account chain) in the open transaction. */
    int (*append)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_audit_entry *e);
    /*
     * Append es[i] to the chain of teams[i] for every i, in this order, in the open
     * transaction.  Callers order the rows by chain so that batches lock chain heads in
     * one order and never deadlock each other.
     */
    int (*append_many)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *const *teams,
                       const struct ql_audit_entry *es, int n);
    /* A team's entries, newest first; after_ms carries the seq of the page's last row. */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                int64_t after_ms, const struct ql_uuid *after_id, int limit,
                struct ql_audit_entry **out, int *n, int *more);
};

/* The most entry content (bytes) a page of entries or sync items carries: it ends after the
 * entry that reaches it (*more set), so holds at least one; tombstones do not count
 * (stmts_pages.h). */
#define QL_PAGE_CONTENT_MAX 1048576

/* Filters and position of an entry page; NULL pointers mean "no filter" / "first page". */
struct ql_entry_query {
    const struct ql_uuid *author;
    const struct ql_uuid *prompt;
    int64_t after_ms;
    const struct ql_uuid *after_id;
    int limit;
};

struct ql_entries_ops {
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e);
    /* Insert es[0..n) in one statement. */
    int (*insert_many)(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                       int n);
    /* found[i] = 1 when es[i] (its team and id) is stored, live or deleted; one statement. */
    int (*exist_many)(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es,
                      int n, int *found);
    /* A live entry of the team; QL_ENOT_FOUND otherwise. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
               const struct ql_uuid *id, struct ql_entry *out);
    /* Like get, and lock the row until the transaction ends. */
    int (*lock)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                const struct ql_uuid *id, struct ql_entry *out);
    /* Newest first; at most q->limit and QL_PAGE_CONTENT_MAX (*more when others follow). */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more);
    /* Write content, prompt, version, updated_ms of e (a locked entry). */
    int (*update)(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *e);
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, int64_t now_ms);
    /*
     * get, answered in a continuation (ql_done_fn): 0 when done will run with get's result
     * (QL_EWOULD_BLOCK: the read failed there; rerun where waiting is allowed), or an error now
     * (QL_EWOULD_BLOCK: the session cannot take it) and done never runs.  *out lives until
     * done runs.  NULL: the wrapper runs get and defers its answer on cx.
     */
    int (*get_async)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     const struct ql_uuid *id, struct ql_entry *out, ql_done_fn done, void *arg);
    /* list, answered as get_async answers (*out, *n, *more live until done); NULL: list. */
    int (*list_async)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more,
                      ql_done_fn done, void *arg);
};

struct ql_prompts_ops {
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_prompt *p);
    /* A live prompt the team may use: global or its own.  QL_ENOT_FOUND otherwise. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
               const struct ql_uuid *id, struct ql_prompt *out);
    /* Global and team prompts, oldest first, optionally of one category (NULL: all). */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                const char *category, int64_t after_ms, const struct ql_uuid *after_id, int limit,
                struct ql_prompt **out, int *n, int *more);
    /* Soft-delete one of the team's own prompts. */
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, int64_t now_ms);
};

struct ql_idem_ops {
    /* The unexpired record of (scope, key); QL_ENOT_FOUND when there is none. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
               int64_t now_ms, struct ql_idem_record *out);
    /*
     * Take the transaction-scoped lock of (scope, key); QL_EIDEM_IN_PROGRESS when another
     * transaction holds it.
     */
    int (*lock)(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key);
    /*
     * Store a record, replacing an expired one.  A live one is kept as it is (the request
     * it records ran first) and the call still answers 0.
     */
    int (*put)(struct ql_store *self, struct ql_ctx *cx, const char *scope, const char *key,
               const struct ql_idem_record *r);
};

/* Housekeeping and the data that jobs maintain. */
struct ql_maint_ops {
    int (*purge_idempotency)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n);
    /* Sessions past their absolute expiry or idle for idle_ms. */
    int (*purge_sessions)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t idle_ms,
                          int64_t *n);
    /* Login failures and rate counters too old to matter. */
    int (*purge_throttles)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n);
    /* Entries, prompts and teams soft-deleted before before_ms. */
    int (*purge_deleted)(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int64_t *n);
    /* Pick today's prompt (day_ms: 00:00 UTC) for every live team without one. */
    int (*daily_pick_all)(struct ql_store *self, struct ql_ctx *cx, int64_t day_ms, int64_t now_ms,
                          int64_t *n);
    /* Today's prompt of a team, picking it the same way when there is none yet. */
    int (*daily_get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     int64_t day_ms, int64_t now_ms, struct ql_prompt *out);
    /* Add rows[i]'s counts to team rows[i].team's activity, for every i (teams gone: skipped). */
    int (*activity_add)(struct ql_store *self, struct ql_ctx *cx, const struct ql_activity *rows,
                        int n);
    /* A team's activity counts (all zero when nothing was counted yet). */
    int (*activity_get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                        struct ql_activity *out);
};

/* The change log (core/changes/changes.h). */
struct ql_changes_ops {
    /*
     * Record a change of team in the open transaction: it commits with it.  It carries cx's
     * trace context while tracing is on (ql_trace_context_of(cx, cx), core/trace/trace.h).
     */
    int (*append)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int event,
                  const struct ql_uuid *id);
    /*
     * append of teams[i], events[i], ids[i] for every i, in one statement; change i carries
     * the trace context traceparents[i] (NULL: none), or cx's as append when traceparents is
     * NULL.
     */
    int (*append_many)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *const *teams,
                       const int *events, const struct ql_uuid *const *ids,
                       const char *const *traceparents, int n);
    /*
     * What changed in team after *after, oldest first, at most limit items and
     * QL_PAGE_CONTENT_MAX (more when others follow): per change or per thing at its last
     * change (PostgreSQL), each in its current state, or a tombstone when gone.  Only changes
     * of transactions older than every one running (out->start); held is 1 when committed ones
     * after the page wait for such a transaction.  Nothing when *after lies below out->floor
     * (what followed may be gone); start and floor are read in the page's own snapshot.
     * keep: 1 when the page may well be asked for again (a client's delta page), so the
     * store may keep it to answer faster; 0 for a read nobody repeats (a live stream's).
     */
    int (*page)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                const struct ql_change_pos *after, int limit, int keep, struct ql_change_page *out);
    /*
     * Where a snapshot taken now continues (*start: every change before it is in the
     * tables), and the oldest position the log still keeps (*floor).
     */
    int (*bounds)(struct ql_store *self, struct ql_ctx *cx, struct ql_change_pos *start,
                  struct ql_change_pos *floor);
    /*
     * The live things of kind in team, in keyset order after (num, after) (NULL: from the
     * first): entries newest first by (created_ms, id), prompts (the team's and the global
     * ones) and members by id.  At most limit and QL_PAGE_CONTENT_MAX; *more when others follow.
     */
    int (*live)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int kind,
                int64_t num, const struct ql_uuid *after, int limit, struct ql_sync_item **out,
                int *n, int *more);
    /*
     * Hold consumer name for the open transaction and read its position; QL_ENOT_FOUND when
     * another transaction holds it (or there is no such consumer).
     */
    int (*consumer_lock)(struct ql_store *self, struct ql_ctx *cx, const char *name,
                         struct ql_change_pos *pos);
    /* The changes of every team after *after, oldest first, at most limit. */
    int (*consumer_read)(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_change_pos *after, int limit, struct ql_change **out,
                         int *n);
    /* Move name's position from *from (what consumer_lock read) to *to; QL_ECONFLICT when
     * it moved meanwhile (another run applied these changes: the caller rolls back). */
    int (*consumer_advance)(struct ql_store *self, struct ql_ctx *cx, const char *name,
                            const struct ql_change_pos *from, const struct ql_change_pos *to);
    /* Retention: note the log's end at now_ms and raise the floor to the latest note older
     * than before_ms that every consumer has passed; what lies below it has expired. */
    int (*compact)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t before_ms);
    /* Delete at most limit changes below the floor, and at most limit sync tombstones; *n
     * gets how many changes, *more whether any may be left (either limit was reached). */
    int (*compact_batch)(struct ql_store *self, struct ql_ctx *cx, int limit, int64_t *n,
                         int *more);
    /* page, answered as entries' get_async answers (*out lives until done); NULL: page. */
    int (*page_async)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                      const struct ql_change_pos *after, int limit, int keep,
                      struct ql_change_page *out, ql_done_fn done, void *arg);
};

struct ql_store_ops {
    /* Round trip to the database. */
    int (*ping)(struct ql_store *self, struct ql_ctx *cx);
    /* Highest applied migration version, 0 when none. */
    int (*schema_version)(struct ql_store *self, struct ql_ctx *cx, int64_t *out);
    int (*begin)(struct ql_store *self, struct ql_ctx *cx);
    int (*commit)(struct ql_store *self, struct ql_ctx *cx);
    /* Never fails from the caller's point of view: a lost connection is reset later. */
    void (*rollback)(struct ql_store *self, struct ql_ctx *cx);
    const struct ql_users_ops *users;
    const struct ql_sessions_ops *sessions;
    const struct ql_principals_ops *principals;
    const struct ql_teams_ops *teams;
    const struct ql_members_ops *members;
    const struct ql_api_keys_ops *api_keys;
    const struct ql_audit_ops *audit;
    const struct ql_throttle_ops *throttle; /* failed logins, rate counters: store_security.h */
    const struct ql_entries_ops *entries;
    const struct ql_prompts_ops *prompts;
    const struct ql_idem_ops *idem;
    const struct ql_maint_ops *maint;
    const struct ql_changes_ops *changes;
    const struct ql_usage_ops *usage; /* core/store/store_usage.h */
    const struct ql_webhooks_ops *webhooks;
    const struct ql_security_ops *security; /* store_security.h */
    const struct ql_mail_repo_ops *mail;    /* the outbox and mailed tokens (mail/mail_store.h) */
    const struct ql_flags_ops *flags;       /* feature flags (core/flag/flag.h) */
    const struct ql_rights_ops *rights;     /* store_rights.h */
};

struct ql_store {
    const struct ql_store_ops *ops;
};

/*
 * The wrappers the core calls the store through (store.c): the one place for the checks
 * every call shares.  Each does what the method of the same name above documents.
 */
int ql_store_ping(struct ql_store *s, struct ql_ctx *cx);
int ql_store_schema_version(struct ql_store *s, struct ql_ctx *cx, int64_t *out);
int ql_store_begin(struct ql_store *s, struct ql_ctx *cx);
int ql_store_commit(struct ql_store *s, struct ql_ctx *cx);
void ql_store_rollback(struct ql_store *s, struct ql_ctx *cx);
int ql_store_users_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_user *u,
                          const char *oidc_issuer, const char *oidc_subject);
int ql_store_users_by_email(struct ql_store *s, struct ql_ctx *cx, const char *email,
                            struct ql_user *out);
int ql_store_users_by_id(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                         struct ql_user *out);
int ql_store_users_by_oidc(struct ql_store *s, struct ql_ctx *cx, const char *issuer,
                           const char *subject, struct ql_user *out);
int ql_store_users_update_name(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                               const char *name, int64_t now_ms, struct ql_user *out);
int ql_store_users_set_password(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                                const char *hash, int64_t now_ms);
int ql_store_users_profile(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                           struct ql_user *user, struct ql_team_role **teams, int *n);
int ql_store_users_profile_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                                 struct ql_user *user, struct ql_team_role **teams, int *n,
                                 ql_done_fn done, void *arg);
int ql_store_sessions_insert(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *session_id,
                             const struct ql_uuid *user_id, int64_t now_ms, int64_t expires_ms,
                             const char *user_agent, const char *client_ip);
int ql_store_sessions_remove(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN]);
int ql_store_sessions_remove_user(struct ql_store *s, struct ql_ctx *cx,
                                  const struct ql_uuid *user_id, const uint8_t *keep);
int ql_store_sessions_touch(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms);
int ql_store_principals_load(struct ql_store *s, struct ql_ctx *cx,
                             const uint8_t digest[QL_DIGEST_LEN], struct ql_principal *out);
int ql_store_principals_load_user(struct ql_store *s, struct ql_ctx *cx,
                                  const struct ql_uuid *user_id, struct ql_principal *out);
int ql_store_teams_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_team *t,
                          const struct ql_uuid *owner);
int ql_store_teams_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                       struct ql_team *out);
int ql_store_teams_lock(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id);
int ql_store_teams_update_name(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                               const char *name, int64_t now_ms, struct ql_team *out);
int ql_store_teams_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                          int64_t now_ms);
int ql_store_members_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_uuid *after, int limit, struct ql_member **out, int *n,
                          int *more);
int ql_store_members_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *user, struct ql_member *out);
int ql_store_members_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *user, int role, int64_t now_ms);
int ql_store_members_set_role(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                              const struct ql_uuid *user, int role);
int ql_store_members_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *user);
int ql_store_members_count_owners(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                  int *n);
int ql_store_api_keys_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_api_key *k,
                             const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *created_by);
int ql_store_api_keys_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                           int64_t after_ms, const struct ql_uuid *after_id, int limit,
                           struct ql_api_key **out, int *n, int *more);
int ql_store_api_keys_revoke(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             const struct ql_uuid *id, int64_t now_ms);
int ql_store_api_keys_touch(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                            int64_t now_ms);
int ql_store_audit_append(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_audit_entry *e);
int ql_store_audit_append_many(struct ql_store *s, struct ql_ctx *cx,
                               const struct ql_uuid *const *teams, const struct ql_audit_entry *es,
                               int n);
int ql_store_audit_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                        int64_t after_ms, const struct ql_uuid *after_id, int limit,
                        struct ql_audit_entry **out, int *n, int *more);
int ql_store_entries_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_entry *e);
int ql_store_entries_insert_many(struct ql_store *s, struct ql_ctx *cx,
                                 const struct ql_entry *const *es, int n);
int ql_store_entries_exist_many(struct ql_store *s, struct ql_ctx *cx,
                                const struct ql_entry *const *es, int n, int *found);
int ql_store_entries_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *id, struct ql_entry *out);
int ql_store_entries_get_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                               const struct ql_uuid *id, struct ql_entry *out, ql_done_fn done,
                               void *arg);
int ql_store_entries_lock(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_uuid *id, struct ql_entry *out);
int ql_store_entries_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_entry_query *q, struct ql_entry **out, int *n, int *more);
int ql_store_entries_list_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                const struct ql_entry_query *q, struct ql_entry **out, int *n,
                                int *more, ql_done_fn done, void *arg);
int ql_store_entries_update(struct ql_store *s, struct ql_ctx *cx, const struct ql_entry *e);
int ql_store_entries_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *id, int64_t now_ms);
int ql_store_prompts_insert(struct ql_store *s, struct ql_ctx *cx, const struct ql_prompt *p);
int ql_store_prompts_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *id, struct ql_prompt *out);
int ql_store_prompts_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const char *category, int64_t after_ms, const struct ql_uuid *after_id,
                          int limit, struct ql_prompt **out, int *n, int *more);
int ql_store_prompts_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            const struct ql_uuid *id, int64_t now_ms);
int ql_store_idem_get(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key,
                      int64_t now_ms, struct ql_idem_record *out);
int ql_store_idem_lock(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key);
int ql_store_idem_put(struct ql_store *s, struct ql_ctx *cx, const char *scope, const char *key,
                      const struct ql_idem_record *r);
int ql_store_maint_purge_idempotency(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                     int64_t *n);
int ql_store_maint_purge_sessions(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                  int64_t idle_ms, int64_t *n);
int ql_store_maint_purge_throttles(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                                   int64_t *n);
int ql_store_maint_purge_deleted(struct ql_store *s, struct ql_ctx *cx, int64_t before_ms,
                                 int64_t *n);
int ql_store_maint_daily_pick_all(struct ql_store *s, struct ql_ctx *cx, int64_t day_ms,
                                  int64_t now_ms, int64_t *n);
int ql_store_maint_daily_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             int64_t day_ms, int64_t now_ms, struct ql_prompt *out);
int ql_store_maint_activity_add(struct ql_store *s, struct ql_ctx *cx,
                                const struct ql_activity *rows, int n);
int ql_store_maint_activity_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                struct ql_activity *out);
int ql_store_changes_append(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            int event, const struct ql_uuid *id);
int ql_store_changes_append_many(struct ql_store *s, struct ql_ctx *cx,
                                 const struct ql_uuid *const *teams, const int *events,
                                 const struct ql_uuid *const *ids, const char *const *traceparents,
                                 int n);
int ql_store_changes_page(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_change_pos *after, int limit, int keep,
                          struct ql_change_page *out);
int ql_store_changes_page_async(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                                const struct ql_change_pos *after, int limit, int keep,
                                struct ql_change_page *out, ql_done_fn done, void *arg);
int ql_store_changes_bounds(struct ql_store *s, struct ql_ctx *cx, struct ql_change_pos *start,
                            struct ql_change_pos *floor);
int ql_store_changes_live(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                          int kind, int64_t num, const struct ql_uuid *after, int limit,
                          struct ql_sync_item **out, int *n, int *more);
int ql_store_changes_consumer_lock(struct ql_store *s, struct ql_ctx *cx, const char *name,
                                   struct ql_change_pos *pos);
int ql_store_changes_consumer_read(struct ql_store *s, struct ql_ctx *cx,
                                   const struct ql_change_pos *after, int limit,
                                   struct ql_change **out, int *n);
int ql_store_changes_consumer_advance(struct ql_store *s, struct ql_ctx *cx, const char *name,
                                      const struct ql_change_pos *from,
                                      const struct ql_change_pos *to);
int ql_store_changes_compact(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms,
                             int64_t before_ms);
int ql_store_changes_compact_batch(struct ql_store *s, struct ql_ctx *cx, int limit, int64_t *n,
                                   int *more);

#endif
