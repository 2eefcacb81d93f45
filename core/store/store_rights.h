/*
 * store_rights.h - the store's methods for data rights (core/rights): reading everything a
 * user wrote or owns for an export, keeping exports, and erasing an account.
 *
 * The table hangs off struct ql_store_ops as `rights`.  core/rights is its only caller and
 * reaches it through QL__RIGHTS, without wrappers, as core/webhook does its table.  Records are
 * filled with arena memory of cx, as everywhere in the store.  Lists are keyset pages: at most
 * limit rows after the position given (NULL: from the first), *more set when further rows exist.
 * Errors as in store.h.
 */
#ifndef QL_STORE_RIGHTS_H
#define QL_STORE_RIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "store/store.h"

struct ql_ctx;

enum ql_export_status { QL_EXPORT_PENDING = 1, QL_EXPORT_READY = 2, QL_EXPORT_FAILED = 3 };

/* An export of a user's data; its document is kept apart, in parts. */
struct ql_export {
    struct ql_uuid id;
    struct ql_uuid user_id;
    int status;        /* enum ql_export_status */
    const char *error; /* failed: why, for the user; NULL otherwise */
    int64_t bytes;     /* the document's length once built */
    int64_t created_ms;
    int64_t ready_ms; /* when it was built (ready or failed); 0: pending */
    int64_t expires_ms;
};

/* One part of an export's document, in order of part. */
struct ql_export_part {
    int part;
    const char *data;
    size_t n;
};

/* The account as an export shows it. */
struct ql_rights_account {
    struct ql_user user;
    const char *oidc_issuer; /* NULL: no OpenID Connect identity */
    const char *oidc_subject;
};

/* A membership of the user, in a live team or in a team deleted since. */
struct ql_rights_membership {
    struct ql_uuid team_id;
    const char *team_name;
    int role;
    int64_t joined_ms;
    int team_deleted;
};

struct ql_rights_session {
    struct ql_uuid id;
    int64_t created_ms;
    int64_t last_seen_ms;
    int64_t expires_ms;
};

/* An API key the user made (team_id set), revoked or not. */
struct ql_rights_key {
    struct ql_api_key key;
    int64_t revoked_ms; /* 0: live */
};

/* An audit row with its place: chain "team:<id>" or "account", and its sequence. */
struct ql_rights_audit {
    struct ql_audit_entry e; /* e.seq is the row's sequence in its chain */
    const char *chain;
    int has_team;
    struct ql_uuid team_id;
};

/* An entry erasure deleted: its team, its id, and whether it was live (not soft-deleted). */
struct ql_erased_entry {
    struct ql_uuid team_id;
    struct ql_uuid id;
    int was_live;
};

/* A stored idempotent response and its key, for erasure to look through. */
struct ql_idem_row {
    const char *scope;
    const char *key;
    struct ql_idem_record r;
};

struct ql_rights_ops {
    /* ---- what an export holds ---- */
    /* The user, unless erased; QL_ENOT_FOUND otherwise. */
    int (*account)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                   struct ql_rights_account *out);
    /* Every membership of the user (erased or not), by team id. */
    int (*memberships)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                       const struct ql_uuid *after, int limit, struct ql_rights_membership **out,
                       int *n, int *more);
    /*
     * Every entry the user wrote, in any team, soft-deleted ones too, by entry id.  A page
     * ends at QL_PAGE_CONTENT_MAX bytes of content as well as at limit, after the entry that
     * reaches it (*more set): at least one entry, however large.
     */
    int (*entries)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                   const struct ql_uuid *after, int limit, struct ql_entry **out, int *n,
                   int *more);
    /* The user's sessions, by session id. */
    int (*sessions)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    const struct ql_uuid *after, int limit, struct ql_rights_session **out, int *n,
                    int *more);
    /* The API keys the user made, in any team, revoked ones too, by key id. */
    int (*api_keys)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    const struct ql_uuid *after, int limit, struct ql_rights_key **out, int *n,
                    int *more);
    /*
     * Audit rows whose actor is actor or whose target id is target, in order of (chain,
     * seq), after (after_chain, after_seq) (after_chain NULL: from the first).  A scan of the
     * log by its key: the log has no index by actor (appends are on every write's path).
     */
    int (*audit)(struct ql_store *self, struct ql_ctx *cx, const char *actor, const char *target,
                 const char *after_chain, int64_t after_seq, int limit,
                 struct ql_rights_audit **out, int *n, int *more);

    /* ---- exports ---- */
    /*
     * The user's exports as a new request sees them: the pending one that has not expired
     * (*has_pending), how many have not expired at now_ms (*live) and when the first of
     * those expires.  Locks the user against another request until the transaction ends;
     * QL_ENOT_FOUND when the user is erased.
     */
    int (*export_state)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int64_t now_ms, struct ql_export *pending, int *has_pending, int *live,
                        int64_t *first_expiry_ms);
    /* Insert a pending export. */
    int (*export_insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e);
    int (*export_get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                      struct ql_export *out);
    /* Drop the parts written so far (a build starts again). */
    int (*export_reset)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id);
    int (*export_append)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                         int part, const char *data, size_t n);
    /*
     * A pending export becomes e->status (ready or failed) with e's error, bytes, ready and
     * expiry times; QL_ENOT_FOUND when it is gone or no longer pending.
     */
    int (*export_finish)(struct ql_store *self, struct ql_ctx *cx, const struct ql_export *e);
    /* Parts after part number after, in order, at most limit. */
    int (*export_parts)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                        int after, int limit, struct ql_export_part **out, int *n);
    /* Delete exports that expired before now_ms (their parts with them). */
    int (*exports_purge)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n);
    /* Delete every export of the user. */
    int (*exports_remove_user)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                               int64_t *n);

    /* ---- erasure ---- */
    /*
     * Mark the user erased at now_ms and replace what identifies them in the users row:
     * email and name, password hash, OpenID Connect identity.  *email gets the email it
     * had (arena).  QL_ENOT_FOUND when there is no such user or it is erased already.
     * Locks the row until the transaction ends.
     */
    int (*erase_user)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      int64_t now_ms, const char **email);
    /* Delete up to limit entries the user wrote (any team, any state); *out says which. */
    int (*erase_entries)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int limit, struct ql_erased_entry **out, int *n);
    /*
     * Look at up to limit webhook deliveries after *after (NULL: the first) by id and delete
     * those whose body holds p1 or p2.  *scanned and *deleted count them; *last gets the id
     * of the last one looked at (when *scanned > 0).
     */
    int (*scrub_deliveries)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *after,
                            int limit, const char *p1, const char *p2, struct ql_uuid *last,
                            int *scanned, int *deleted);
    /* Delete every idempotency record of scope. */
    int (*idem_remove_scope)(struct ql_store *self, struct ql_ctx *cx, const char *scope,
                             int64_t *n);
    /*
     * Idempotency records after (after_scope, after_key) (NULL: the first), in key order.
     * A page ends at QL_PAGE_CONTENT_MAX bytes of sealed responses as well as at limit,
     * after the record that reaches it: at least one record; *more when others follow.
     */
    int (*idem_page)(struct ql_store *self, struct ql_ctx *cx, const char *after_scope,
                     const char *after_key, int limit, struct ql_idem_row **out, int *n, int *more);
    int (*idem_remove)(struct ql_store *self, struct ql_ctx *cx, const char *scope,
                       const char *key);
};

/* The table of a store. */
#define QL__RIGHTS(s) ((s)->ops->rights)

#endif
