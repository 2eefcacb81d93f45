/*
 * entry.c - the journal entry use cases.  A write runs in one transaction with its audit
 * row (and, with the job engine, its event); reads are single statements.
 */
#include "entry/entry.h"

#include "audit/audit.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "policy/policy.h"
#include "queue/queue.h"
#include "store/store.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <stdio.h>
#include <string.h>

void ql_entry_etag(const struct ql_entry *e, char *out, size_t cap)
{
    snprintf(out, cap, "\"%d\"", e->version);
}

int ql_etag_matches(const char *h, size_t n, const char *etag, int weak_ok)
{
    size_t el = strlen(etag);
    size_t i = 0;
    while (i < n) {
        while (i < n && (h[i] == ' ' || h[i] == ','))
            i++;
        size_t start = i;
        while (i < n && h[i] != ',')
            i++;
        size_t end = i;
        while (end > start && h[end - 1] == ' ')
            end--;
        const char *t = h + start;
        size_t tn = end - start;
        if (tn == 1 && t[0] == '*')
            return 1;
        if (tn > 2 && t[0] == 'W' && t[1] == '/') {
            if (!weak_ok)
                continue;
            t += 2;
            tn -= 2;
        }
        if (tn == el && memcmp(t, etag, el) == 0)
            return 1;
    }
    return 0;
}

static int parse_uuid_field(struct ql_ctx *cx, const char *field, const char *s, size_t n,
                            struct ql_uuid *out)
{
    if (ql_uuid_parse(s, n, out) != QL_OK)
        return ql_error_field(&cx->err, field, "invalid_format", "must be a UUID");
    return QL_OK;
}

/* Check the prompt the entry refers to: it must exist and be global or the team's own. */
static int check_prompt(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id)
{
    struct ql_prompt p;
    int rc = ql_store_prompts_get(cx->ports.store, cx, team, id, &p);
    if (rc == QL_ENOT_FOUND) {
        ql_error_clear(&cx->err);
        return ql_error_field(&cx->err, "promptId", "not_found", "is not a prompt of this team");
    }
    return rc;
}

/* Emit a domain event in the open transaction, when a queue is wired in. */
static int emit(struct ql_ctx *cx, const char *event, const struct ql_entry *e)
{
    if (cx->ports.queue == NULL)
        return QL_OK;
    char id[QL_UUID_STR_LEN + 1], team[QL_UUID_STR_LEN + 1], payload[160];
    ql_uuid_format(&e->id, id);
    ql_uuid_format(&e->team_id, team);
    snprintf(payload, sizeof(payload), "{\"teamId\":\"%s\",\"journalEntryId\":\"%s\"}", team, id);
    return ql_queue_emit(cx->ports.queue, cx, event, payload);
}

int ql_entry_create(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_input *in,
                    struct ql_entry *out)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_CREATE, team);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    if (in->content == NULL)
        ql_error_field(&cx->err, "content", "required", "is required");
    else
        ql_valid_text(&cx->err, "content", in->content, in->content_n, 1, QL_ENTRY_MAX_CHARS, 0);
    if (in->prompt_given && in->prompt_id) {
        if (parse_uuid_field(cx, "promptId", in->prompt_id, in->prompt_id_n, &out->prompt) == 0)
            out->has_prompt = 1;
    }
    if (cx->err.code)
        return cx->err.code;
    if (out->has_prompt && (rc = check_prompt(cx, team, &out->prompt)) != QL_OK)
        return rc;
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &out->id);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for an entry id");
    const struct ql_principal *p = cx->principal;
    out->team_id = *team;
    if (p->kind == QL_PRINCIPAL_API_KEY) {
        out->has_author_key = 1;
        out->author_key = p->credential_id;
    } else {
        out->has_author_user = 1;
        out->author_user = p->user_id;
    }
    out->content = in->content;
    out->content_n = in->content_n;
    out->version = 1;
    /* The id's timestamp is the creation time, as in every UUIDv7 Quill makes. */
    out->created_ms = out->updated_ms = ql_uuid7_ms(&out->id);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_entries_insert(cx->ports.store, cx, out);
    /* The audit row goes last: appending locks the chain's head until COMMIT. */
    if (rc == QL_OK)
        rc = emit(cx, "journal_entry.created", out);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "journal_entry.create", "JournalEntry", &out->id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_entry_get(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                 const char *if_none_match, size_t inm_n, struct ql_entry *out)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_READ, team);
    if (rc)
        return rc;
    rc = ql_store_entries_get(cx->ports.store, cx, team, id, out);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such journal entry.");
    if (rc)
        return rc;
    char etag[24];
    ql_entry_etag(out, etag, sizeof(etag));
    if (if_none_match && ql_etag_matches(if_none_match, inm_n, etag, 1))
        return QL_ENOT_MODIFIED;
    return QL_OK;
}

int ql_entry_list(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_filter *f,
                  struct ql_entry **out, int *n, const char **next_cursor)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_READ, team);
    if (rc)
        return rc;
    struct ql_uuid author, prompt, after;
    struct ql_entry_query q = {.limit = f->limit};
    if (f->author && parse_uuid_field(cx, "authorUserId", f->author, f->author_n, &author) == 0)
        q.author = &author;
    if (f->prompt && parse_uuid_field(cx, "promptId", f->prompt, f->prompt_n, &prompt) == 0)
        q.prompt = &prompt;
    if (f->cursor && ql_cursor_decode(&cx->err, QL_CURSOR_ENTRIES, f->cursor, f->cursor_n,
                                      &q.after_ms, &after) == 0)
        q.after_id = &after;
    if (cx->err.code)
        return cx->err.code;
    int more = 0;
    rc = ql_store_entries_list(cx->ports.store, cx, team, &q, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_entry *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_ENTRIES, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    return QL_OK;
}

/*
 * Lock the entry and check the caller may change it: its author (a member, or the key
 * that wrote it) or an admin; and that If-Match, when given, names the current version.
 */
static int load_for_change(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                           const char *if_match, size_t im_n, struct ql_entry *e)
{
    int rc = ql_store_entries_lock(cx->ports.store, cx, team, id, e);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, rc, "No such journal entry.");
    if (rc)
        return rc;
    const struct ql_principal *p = cx->principal;
    int own = (p->kind == QL_PRINCIPAL_USER && e->has_author_user &&
               memcmp(e->author_user.b, p->user_id.b, 16) == 0) ||
              (p->kind == QL_PRINCIPAL_API_KEY && e->has_author_key &&
               memcmp(e->author_key.b, p->credential_id.b, 16) == 0);
    rc = ql_authorize(cx, own ? QL_ACT_ENTRY_EDIT_OWN : QL_ACT_ENTRY_EDIT_ANY, team);
    if (rc)
        return rc;
    char etag[24];
    ql_entry_etag(e, etag, sizeof(etag));
    if (if_match && !ql_etag_matches(if_match, im_n, etag, 0))
        return ql_error_set(&cx->err, QL_EPRECONDITION,
                            "The entry has changed since you read it (ETag %s).", etag);
    return QL_OK;
}

int ql_entry_update(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                    const struct ql_entry_input *in, const char *if_match, size_t im_n,
                    struct ql_entry *out)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_READ, team);
    if (rc)
        return rc;
    struct ql_uuid prompt;
    int clear_prompt = 0, set_prompt = 0;
    if (in->content == NULL && !in->prompt_given)
        ql_error_field(&cx->err, "body", "required", "must change content or promptId");
    if (in->content)
        ql_valid_text(&cx->err, "content", in->content, in->content_n, 1, QL_ENTRY_MAX_CHARS, 0);
    if (in->prompt_given && in->prompt_id == NULL)
        clear_prompt = 1;
    else if (in->prompt_given &&
             parse_uuid_field(cx, "promptId", in->prompt_id, in->prompt_id_n, &prompt) == 0)
        set_prompt = 1;
    if (cx->err.code)
        return cx->err.code;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = load_for_change(cx, team, id, if_match, im_n, out);
    if (rc == QL_OK && set_prompt)
        rc = check_prompt(cx, team, &prompt);
    if (rc == QL_OK) {
        if (in->content) {
            out->content = in->content;
            out->content_n = in->content_n;
        }
        if (set_prompt) {
            out->has_prompt = 1;
            out->prompt = prompt;
        } else if (clear_prompt) {
            out->has_prompt = 0;
        }
        out->version++;
        int64_t now = ql_clock_now_ms(cx->ports.clock);
        out->updated_ms = now > out->updated_ms ? now : out->updated_ms + 1;
        rc = ql_store_entries_update(cx->ports.store, cx, out);
    }
    if (rc == QL_OK)
        rc = emit(cx, "journal_entry.updated", out);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "journal_entry.update", "JournalEntry", id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_entry_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                    const char *if_match, size_t im_n)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_READ, team);
    if (rc)
        return rc;
    struct ql_entry e;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = load_for_change(cx, team, id, if_match, im_n, &e);
    if (rc == QL_OK)
        rc = ql_store_entries_remove(cx->ports.store, cx, team, id,
                                     ql_clock_now_ms(cx->ports.clock));
    if (rc == QL_OK)
        rc = emit(cx, "journal_entry.deleted", &e);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "journal_entry.delete", "JournalEntry", id, NULL);
    return ql_tx_end(cx, rc);
}
