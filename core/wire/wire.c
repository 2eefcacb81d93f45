/*
 * wire.c - the JSON shapes of wire.h.
 */
#include "wire/wire.h"

#include "clock/clock.h"
#include "usage/usage.h"
#include "uuid/uuid.h"

#include <string.h>

void ql_wire_uuid(struct ql_jw *w, const struct ql_uuid *u)
{
    char s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(u, s);
    ql_jw_plain(w, s, QL_UUID_STR_LEN);
}

void ql_wire_time(struct ql_jw *w, int64_t ms)
{
    char s[QL_TIME_LEN + 1];
    ql_time_format(ms, s);
    ql_jw_plain(w, s, QL_TIME_LEN);
}

void ql_wire_time_or_null(struct ql_jw *w, int64_t ms)
{
    if (ms)
        ql_wire_time(w, ms);
    else
        ql_jw_null(w);
}

static void uuid_or_null(struct ql_jw *w, int has, const struct ql_uuid *u)
{
    if (has)
        ql_wire_uuid(w, u);
    else
        ql_jw_null(w);
}

void ql_wire_entry(struct ql_jw *w, const struct ql_entry *e)
{
    ql_jw_obj(w);
    ql_jw_key(w, "journalEntryId");
    ql_wire_uuid(w, &e->id);
    ql_jw_key(w, "teamId");
    ql_wire_uuid(w, &e->team_id);
    ql_jw_key(w, "authorUserId");
    uuid_or_null(w, e->has_author_user, &e->author_user);
    ql_jw_key(w, "authorApiKeyId");
    uuid_or_null(w, e->has_author_key, &e->author_key);
    ql_jw_key(w, "promptId");
    uuid_or_null(w, e->has_prompt, &e->prompt);
    ql_jw_key(w, "content");
    ql_jw_strn(w, e->content, e->content_n);
    ql_jw_key(w, "createdAt");
    ql_wire_time(w, e->created_ms);
    ql_jw_key(w, "updatedAt");
    ql_wire_time(w, e->updated_ms);
    ql_jw_key(w, "deletedAt");
    ql_wire_time_or_null(w, e->deleted_ms);
    ql_jw_obj_end(w);
}

size_t ql_wire_entry_room(const struct ql_entry *e)
{
    return QL_WIRE_ENTRY_FIELDS + ql_buf_json_escaped_len(e->content, e->content_n);
}

/* The bytes the string s takes escaped (its quotes are counted with the fields). */
static size_t escaped(const char *s)
{
    return ql_buf_json_escaped_len(s, strlen(s));
}

size_t ql_wire_prompt_room(const struct ql_prompt *p)
{
    return QL_WIRE_PROMPT_FIELDS + escaped(p->text) + escaped(p->category);
}

size_t ql_wire_member_room(const struct ql_member *m)
{
    return QL_WIRE_MEMBER_FIELDS + escaped(m->email) + escaped(m->display_name);
}

void ql_wire_prompt(struct ql_jw *w, const struct ql_prompt *p)
{
    ql_jw_obj(w);
    ql_jw_key(w, "promptId");
    ql_wire_uuid(w, &p->id);
    ql_jw_key(w, "teamId");
    uuid_or_null(w, p->has_team, &p->team_id);
    ql_jw_key(w, "text");
    ql_jw_str(w, p->text);
    ql_jw_key(w, "category");
    ql_jw_str(w, p->category);
    ql_jw_key(w, "createdAt");
    ql_wire_time(w, p->created_ms);
    ql_jw_key(w, "updatedAt");
    ql_wire_time(w, p->updated_ms);
    ql_jw_key(w, "deletedAt");
    ql_wire_time_or_null(w, p->deleted_ms);
    ql_jw_obj_end(w);
}

void ql_wire_member(struct ql_jw *w, const struct ql_member *m)
{
    ql_jw_obj(w);
    ql_jw_key(w, "userId");
    ql_wire_uuid(w, &m->user_id);
    ql_jw_key(w, "email");
    ql_jw_str(w, m->email);
    ql_jw_key(w, "displayName");
    ql_jw_str(w, m->display_name);
    ql_jw_key(w, "role");
    ql_jw_str(w, ql_role_name(m->role));
    ql_jw_key(w, "joinedAt");
    ql_wire_time(w, m->joined_ms);
    ql_jw_obj_end(w);
}

void ql_wire_subscription_fields(struct ql_jw *w, const struct ql_subscription *s)
{
    ql_jw_key(w, "plan");
    ql_jw_str(w, s->plan);
    ql_jw_key(w, "monthlyQuota");
    ql_jw_int(w, s->monthly_quota);
    ql_jw_key(w, "used");
    ql_jw_int(w, s->used);
    ql_jw_key(w, "periodStart");
    ql_wire_time(w, s->period_start_ms);
    ql_jw_key(w, "periodEnd");
    ql_wire_time(w, s->period_end_ms);
}
