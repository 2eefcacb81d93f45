/*
 * team.h - teams, their members and their API keys.
 *
 * Every use case authorizes through the policy first, so a caller who is not a member of
 * the team gets QL_ENOT_FOUND before anything else is looked at.  A team always keeps at
 * least one owner: changes that would leave none fail with QL_ECONFLICT.  Membership
 * changes lock the team row, so two concurrent changes cannot both remove the last owner, and
 * decide again under that lock with the caller's role as it is then, so a caller removed or
 * demoted while its request waited cannot change the team's members.  Renaming or deleting
 * the team and making or revoking an API key do the same (ql_team_lock_authorize), so an
 * owner demoted meanwhile cannot delete it, nor a removed admin mint a key that outlives
 * their access.
 */
#ifndef QL_TEAM_H
#define QL_TEAM_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct ql_ctx;

/* Create a team; the caller (a user) becomes its owner. */
int ql_team_create(struct ql_ctx *cx, const char *name, size_t n, struct ql_team *out);
/* A page of the caller's teams with its role in each, by team id; cursor may be NULL. */
int ql_team_list_mine(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                      struct ql_team_role **out, int *n, const char **next_cursor);
int ql_team_get(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_team *out);

/*
 * What the activity consumer counted for the team from the change log (it trails the log
 * by the worker's pace).  Viewers and up.
 */
int ql_team_activity(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_activity *out);
int ql_team_rename(struct ql_ctx *cx, const struct ql_uuid *team, const char *name, size_t n,
                   struct ql_team *out);
int ql_team_delete(struct ql_ctx *cx, const struct ql_uuid *team);

/*
 * Inside a transaction: lock the team and authorize action with the caller's role in it as
 * it is now, not as it was when the request's principal was read (a removal or demotion may
 * have committed since; QL_ENOT_FOUND when the caller is no longer a member).  For use cases
 * of other modules whose team-scoped writes must not outlive the caller's role.
 */
int ql_team_lock_authorize(struct ql_ctx *cx, int action, const struct ql_uuid *team);

int ql_member_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                   size_t cursor_n, int limit, struct ql_member **out, int *n,
                   const char **next_cursor);
/*
 * Add the user with this email; QL_ENOT_FOUND when there is no such user, or when they were
 * erased after they were found (the store refuses an erased user under its row lock).
 */
int ql_member_add(struct ql_ctx *cx, const struct ql_uuid *team, const char *email, size_t email_n,
                  const char *role, size_t role_n, struct ql_member *out);
int ql_member_set_role(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *user,
                       const char *role, size_t role_n, struct ql_member *out);
int ql_member_remove(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *user);

struct ql_new_api_key {
    struct ql_api_key key;
    const char *secret; /* "qk_..." shown once (arena) */
};

/* expires_at: RFC 3339 text (borrowed) or NULL. */
int ql_api_key_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *name,
                      size_t name_n, const char *role, size_t role_n, const char *expires_at,
                      size_t expires_n, struct ql_new_api_key *out);
int ql_api_key_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                    size_t cursor_n, int limit, struct ql_api_key **out, int *n,
                    const char **next_cursor);
int ql_api_key_revoke(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id);

#endif
