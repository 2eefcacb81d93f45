/*
 * audit.h - the audit log: appending rows for state changes, listing a team's rows, and
 * the canonical form of a row that the hash chain covers.
 *
 * Rows are appended inside the transaction of the change they record, so a change and
 * its audit row commit or vanish together.  The store chains rows (see
 * migrations/0001_identity.up.sql); ql_audit_canonical is the same text in C, used by
 * `quill-admin audit-verify` to recompute every hash.
 */
#ifndef QL_AUDIT_H
#define QL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct ql_ctx;
struct ql_uuid;
struct ql_buf;
struct ql_audit_entry;
struct ql_principal;

/*
 * Append a row for the current principal (or actor, when not NULL: e.g. "Job:cron") to the
 * chain of team (NULL: the account chain).  target_id is a UUID or NULL.
 */
int ql_audit(struct ql_ctx *cx, const struct ql_uuid *team, const char *action,
             const char *target_type, const struct ql_uuid *target_id, const char *actor);

/*
 * The row ql_audit appends, without appending it: for writers that append many rows in one
 * statement.  who is the principal acting (ignored when actor is given); strings go in the
 * arena of cx.
 */
int ql_audit_row(struct ql_ctx *cx, const struct ql_principal *who, const char *action,
                 const char *target_type, const struct ql_uuid *target_id, const char *actor,
                 struct ql_audit_entry *out);

/* A team's audit rows, newest first, for admins.  cursor may be NULL. */
int ql_audit_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                  size_t cursor_n, int limit, struct ql_audit_entry **out, int *n,
                  const char **next_cursor);

/* The canonical text of a row, as the chain hashes it (see the migration). */
void ql_audit_canonical(struct ql_buf *b, const char *chain, int64_t seq, int64_t at_us,
                        const char *actor, const char *action, const char *target_type,
                        const char *target_id, const char *audit_id);

#endif
