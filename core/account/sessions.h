/*
 * sessions.h - the caller's own sessions: list them (which device, from where, when last
 * used, which one is this one), end one, or end every other one.  Ending a session is a
 * revocation like logout: it stops working on every instance at once (the store forgets
 * cached principals everywhere when the transaction commits).
 */
#ifndef QL_SESSIONS_H
#define QL_SESSIONS_H

#include <stddef.h>

struct ql_ctx;
struct ql_uuid;
struct ql_session_info;

/*
 * A page of the calling user's live sessions, newest first, into *out (arena); cursor
 * (NULL: the first page) is a next_cursor of an earlier page, *next_cursor NULL on the last.
 * QL_EFORBIDDEN for API keys; QL_EVALIDATION for a cursor of another list.
 */
int ql_sessions_list(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                     struct ql_session_info **out, int *n, const char **next_cursor);

/* 1 when s is the session the caller authenticated with. */
int ql_sessions_is_current(const struct ql_ctx *cx, const struct ql_session_info *s);

/* End one of the caller's sessions (this one too, if asked); QL_ENOT_FOUND when not theirs. */
int ql_sessions_revoke(struct ql_ctx *cx, const struct ql_uuid *id);

/* End every session of the caller but the one it uses (all of them for an OIDC token). */
int ql_sessions_revoke_others(struct ql_ctx *cx);

#endif
