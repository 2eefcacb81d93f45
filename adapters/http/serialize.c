/*
 * serialize.c - the JSON shapes of the contract (User, JournalEntry, prompt, Team, member,
 * API key, audit row, sync change, list envelope), written straight into the response
 * buffer with the streaming writer.
 */
#include "internal.h"

#include "changes/changes.h"
#include "clock/clock.h"
#include "entry/entry.h"
#include "model/model.h"
#include "uuid/uuid.h"
#include "wire/wire.h"

void ql__jw_uuid(struct ql_jw *w, const struct ql_uuid *u)
{
    ql_wire_uuid(w, u);
}

void ql__jw_time(struct ql_jw *w, int64_t ms)
{
    ql_wire_time(w, ms);
}

void ql__jw_time_or_null(struct ql_jw *w, int64_t ms)
{
    ql_wire_time_or_null(w, ms);
}

void ql__jw_user_fields(struct ql_jw *w, const struct ql_user *u)
{
    ql_jw_key(w, "userId");
    ql__jw_uuid(w, &u->id);
    ql_jw_key(w, "email");
    ql_jw_str(w, u->email);
    ql_jw_key(w, "displayName");
    ql_jw_str(w, u->display_name);
    ql_jw_key(w, "mfaEnabled");
    ql_jw_bool(w, u->mfa_enabled);
    ql_jw_key(w, "emailVerified");
    ql_jw_bool(w, u->email_verified_ms != 0);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, u->created_ms);
    ql_jw_key(w, "updatedAt");
    ql__jw_time(w, u->updated_ms);
}

void ql__jw_entry(struct ql_jw *w, const struct ql_entry *e)
{
    ql_wire_entry(w, e);
}

void ql__jw_prompt(struct ql_jw *w, const struct ql_prompt *p)
{
    ql_wire_prompt(w, p);
}

void ql__jw_team(struct ql_jw *w, const struct ql_team *t)
{
    ql_jw_obj(w);
    ql_jw_key(w, "teamId");
    ql__jw_uuid(w, &t->id);
    ql_jw_key(w, "name");
    ql_jw_str(w, t->name);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, t->created_ms);
    ql_jw_key(w, "updatedAt");
    ql__jw_time(w, t->updated_ms);
    ql_jw_obj_end(w);
}

void ql__jw_member(struct ql_jw *w, const struct ql_member *m)
{
    ql_wire_member(w, m);
}

void ql__jw_api_key_fields(struct ql_jw *w, const struct ql_api_key *k)
{
    ql_jw_key(w, "apiKeyId");
    ql__jw_uuid(w, &k->id);
    ql_jw_key(w, "name");
    ql_jw_str(w, k->name);
    ql_jw_key(w, "role");
    ql_jw_str(w, ql_role_name(k->role));
    ql_jw_key(w, "prefix");
    ql_jw_str(w, k->prefix);
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, k->created_ms);
    ql_jw_key(w, "expiresAt");
    ql__jw_time_or_null(w, k->expires_ms);
    ql_jw_key(w, "lastUsedAt");
    ql__jw_time_or_null(w, k->last_used_ms);
}

void ql__jw_audit(struct ql_jw *w, const struct ql_audit_entry *e)
{
    ql_jw_obj(w);
    ql_jw_key(w, "auditId");
    ql__jw_uuid(w, &e->id);
    ql_jw_key(w, "at");
    ql__jw_time(w, e->at_ms);
    ql_jw_key(w, "actor");
    ql_jw_str(w, e->actor);
    ql_jw_key(w, "action");
    ql_jw_str(w, e->action);
    ql_jw_key(w, "targetType");
    ql_jw_str(w, e->target_type);
    ql_jw_key(w, "targetId");
    ql_jw_str(w, e->target_id);
    ql_jw_obj_end(w);
}

int ql__res_page_begin(struct ql_http_req *r, int rc, struct ql_jw *w)
{
    if (rc) {
        ql__res_problem(r, rc);
        return -1;
    }
    ql_jw_init(w, &r->res_body);
    ql_jw_obj(w);
    ql_jw_key(w, "items");
    ql_jw_arr(w);
    return 0;
}

void ql__res_page_end(struct ql_http_req *r, struct ql_jw *w, const char *next_cursor)
{
    ql_jw_arr_end(w);
    ql_jw_key(w, "nextCursor");
    ql_jw_str_or_null(w, next_cursor);
    ql_jw_obj_end(w);
    ql__res_json(r, 200);
}

/*
 * The most one entry of a page takes in the request's arena.  Read: 4 bytes (UTF-8) for
 * each of its QL_ENTRY_MAX_CHARS characters, its record and its share of small blocks.
 * Written: its fields, a sync change's type, operation and id around it, and 6 bytes a
 * character (\u00XX is the longest escape; content that passed validation takes at most 4,
 * but a page shows what the table holds).  A page's response is reserved exactly (see
 * ql_wire_entry_room), so it never takes a block it outgrew.  A sync page's prompts and
 * members take less than an entry each.
 */
#define ENTRY_READ_MAX ((size_t)QL_ENTRY_MAX_CHARS * 4 + 4096)
#define ENTRY_WRITTEN_MAX ((size_t)QL_WIRE_ENTRY_FIELDS + 100 + (size_t)QL_ENTRY_MAX_CHARS * 6)

void ql__req_page_room(struct ql_http_req *r, int limit, int reads)
{
    size_t each = (size_t)reads * ENTRY_READ_MAX + ENTRY_WRITTEN_MAX;
    ql__req_room(r, (size_t)limit * each + (64 << 10));
}

void ql__jw_sync_item(struct ql_jw *w, const struct ql_sync_item *it)
{
    static const char *const types[] = {"", "journalEntry", "prompt", "member"};
    static const size_t type_n[] = {0, 12, 6, 6};
    int k = it->kind >= 1 && it->kind <= 3 ? it->kind : 0;
    ql_jw_obj(w);
    ql_jw_key(w, "type");
    ql_jw_plain(w, types[k], type_n[k]);
    ql_jw_key(w, "operation");
    ql_jw_plain(w, it->deleted ? "delete" : "upsert", 6);
    ql_jw_key(w, "id");
    ql__jw_uuid(w, &it->id);
    ql_jw_key(w, "data");
    if (it->entry)
        ql__jw_entry(w, it->entry);
    else if (it->prompt)
        ql__jw_prompt(w, it->prompt);
    else if (it->member)
        ql__jw_member(w, it->member);
    else
        ql_jw_null(w);
    ql_jw_obj_end(w);
}
