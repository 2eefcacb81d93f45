/*
 * wire.h - the JSON shapes of the contract that more than the HTTP responses carry (an
 * entry, a prompt, a member, ids and times), written with the streaming writer of
 * core/buf: the API's responses and webhook payloads show a thing the same way.
 */
#ifndef QL_WIRE_H
#define QL_WIRE_H

#include <stdint.h>

#include "buf/buf.h"
#include "model/model.h"

/* An id as "0190c1d0-...", a time as RFC 3339 with milliseconds and Z (0: null). */
void ql_wire_uuid(struct ql_jw *w, const struct ql_uuid *u);
void ql_wire_time(struct ql_jw *w, int64_t ms);
void ql_wire_time_or_null(struct ql_jw *w, int64_t ms);

/* {journalEntryId, teamId, authorUserId, authorApiKeyId, promptId, content, createdAt, ...} */
void ql_wire_entry(struct ql_jw *w, const struct ql_entry *e);
/*
 * The bytes to reserve for ql_wire_entry(e), with the comma before it in a list, so that a
 * page of entries is written into one allocation that never grows: the fields beside the
 * content take at most QL_WIRE_ENTRY_FIELDS, the content what it takes escaped (a scan
 * of it, cheap beside the copy).  The rooms of prompts and members alike.
 */
#define QL_WIRE_ENTRY_FIELDS 400
size_t ql_wire_entry_room(const struct ql_entry *e);
/* {promptId, teamId, text, category, createdAt, updatedAt, deletedAt} */
void ql_wire_prompt(struct ql_jw *w, const struct ql_prompt *p);
#define QL_WIRE_PROMPT_FIELDS 300
size_t ql_wire_prompt_room(const struct ql_prompt *p);
/* {userId, email, displayName, role, joinedAt} */
void ql_wire_member(struct ql_jw *w, const struct ql_member *m);
#define QL_WIRE_MEMBER_FIELDS 200
size_t ql_wire_member_room(const struct ql_member *m);

/*
 * The fields (inside an object the caller opens) of a team's subscription:
 * plan, monthlyQuota, used, periodStart, periodEnd.
 */
struct ql_subscription;
void ql_wire_subscription_fields(struct ql_jw *w, const struct ql_subscription *s);

#endif
