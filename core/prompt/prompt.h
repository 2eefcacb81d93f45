/*
 * prompt.h - writing prompts: global ones shipped by a migration, and a team's own,
 * created and soft-deleted by its admins.  Listing merges both.
 */
#ifndef QL_PROMPT_H
#define QL_PROMPT_H

#include <stddef.h>

#include "model/model.h"

struct ql_ctx;

int ql_prompt_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *category,
                   size_t category_n, const char *cursor, size_t cursor_n, int limit,
                   struct ql_prompt **out, int *n, const char **next_cursor);
int ql_prompt_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *text, size_t text_n,
                     const char *category, size_t category_n, struct ql_prompt *out);
/* QL_EFORBIDDEN for a global prompt; QL_ENOT_FOUND for none of the team's. */
int ql_prompt_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id);

/* Today's prompt (UTC day) of the team: the daily pick, made now if the job has not yet. */
int ql_prompt_daily(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_prompt *out);

#endif
