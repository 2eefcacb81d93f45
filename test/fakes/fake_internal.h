/*
 * fake_internal.h - shared between the files of the fake store only (fakes.c and the
 * repositories in fake_identity.c, fake_teams.c and fake_journal.c).
 */
#ifndef QL_FAKE_INTERNAL_H
#define QL_FAKE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "arena/arena.h"
#include "fakes.h"
#include "store/store_security.h"
#include "store/store_webhooks.h"

struct ql_ctx;

static inline struct fake_store *fake__store(struct ql_store *s)
{
    return (struct fake_store *)s;
}

/*
 * The door of every store call: QL_EUNAVAILABLE while the store is down, the injected
 * failure when this is the fail_call'th call, else QL_OK.
 */
int fake__enter(struct fake_store *s, struct ql_ctx *cx);

/* A copy of str in the store's own arena (NULL stays NULL). */
static inline const char *fake__keep(struct fake_store *s, const char *str)
{
    return str ? ql_arena_strdup(&s->mem, str) : NULL;
}

static inline int fake__same(const struct ql_uuid *a, const struct ql_uuid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* Keyset positions (time, id) compared as PostgreSQL compares row values: <0, 0 or >0. */
static inline int fake__cmp_pos(int64_t a_ms, const struct ql_uuid *a, int64_t b_ms,
                                const struct ql_uuid *b)
{
    return a_ms < b_ms ? -1 : a_ms > b_ms ? 1 : memcmp(a->b, b->b, 16);
}

/* The user with this id or this email (either may be NULL), or NULL. */
struct fake_user *fake__user_by(struct fake_store *s, const struct ql_uuid *id, const char *email);

/* 1 when the user has a confirmed TOTP enrolment (fake_security.c). */
int fake__mfa_on(struct fake_store *s, const struct ql_uuid *user);

/* 1 when the team exists and is not soft-deleted. */
int fake__team_live(struct fake_store *s, const struct ql_uuid *id);

/* The repositories, one table each. */
extern const struct ql_users_ops fake__users_ops;
extern const struct ql_sessions_ops fake__sessions_ops;
extern const struct ql_principals_ops fake__principals_ops;
extern const struct ql_throttle_ops fake__throttle_ops;
extern const struct ql_teams_ops fake__teams_ops;
extern const struct ql_members_ops fake__members_ops;
extern const struct ql_api_keys_ops fake__keys_ops;
extern const struct ql_audit_ops fake__audit_ops;
extern const struct ql_entries_ops fake__entries_ops;
extern const struct ql_prompts_ops fake__prompts_ops;
extern const struct ql_idem_ops fake__idem_ops;
extern const struct ql_changes_ops fake__changes_ops;
extern const struct ql_webhooks_ops fake__webhooks_ops;
extern const struct ql_security_ops fake__security_ops;
extern const struct ql_mail_repo_ops fake__mail_ops;
extern const struct ql_flags_ops fake__flags_ops;
extern const struct ql_maint_ops fake__maint_ops; /* the activity counts only */
extern const struct ql_usage_ops fake__usage_ops; /* fake_usage.c */
extern const struct ql_rights_ops fake__rights_ops;

/* The erasure methods of fake__rights_ops (fake_erase.c); see store_rights.h. */
int fake__e_user(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                 int64_t now_ms, const char **email);
int fake__e_entries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user, int limit,
                    struct ql_erased_entry **out, int *n);
int fake__e_deliveries(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *after,
                       int limit, const char *p1, const char *p2, struct ql_uuid *last,
                       int *scanned, int *deleted);
int fake__e_idem_scope(struct ql_store *self, struct ql_ctx *cx, const char *scope, int64_t *n);
int fake__e_idem_page(struct ql_store *self, struct ql_ctx *cx, const char *after_scope,
                      const char *after_key, int limit, struct ql_idem_row **out, int *n,
                      int *more);
int fake__e_idem_remove(struct ql_store *self, struct ql_ctx *cx, const char *scope,
                        const char *key);

#endif
