/*
 * entry.c - the journal entry use cases.  A write runs in one transaction with its audit
 * row and its change (the change log); reads are single statements.  New entries
 * without an idempotency key are group-committed when the ports offer it: entries created
 * at the same moment share one transaction and one INSERT per table.
 */
#include "entry/entry.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "group/group.h"
#include "policy/policy.h"
#include "store/store.h"
#include "trace/trace.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <stdio.h>
#include <stdlib.h>
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
        while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == ','))
            i++;
        size_t start = i;
        while (i < n && h[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (h[end - 1] == ' ' || h[end - 1] == '\t'))
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

static int by_team(const void *a, const void *b)
{
    const struct ql_entry *x = (*(struct ql_group_item *const *)a)->arg;
    const struct ql_entry *y = (*(struct ql_group_item *const *)b)->arg;
    return memcmp(x->team_id.b, y->team_id.b, sizeof(x->team_id.b));
}

/* What a group of creations writes, in arrays of cx's arena, items sorted by team. */
static int created_rows(struct ql_ctx *cx, struct ql_group_item **items, int n,
                        const struct ql_entry **es, const struct ql_uuid **teams,
                        const struct ql_uuid **ids, int *events, const char **traces,
                        struct ql_audit_entry *audit)
{
    for (int i = 0; i < n; i++) {
        const struct ql_entry *e = items[i]->arg;
        es[i] = e;
        teams[i] = &e->team_id;
        ids[i] = &e->id;
        events[i] = QL_EVENT_ENTRY_CREATED;
        traces[i] =
            ql_trace_context_of(cx, items[i]->cx); /* each change joins its request's trace */
        int rc = ql_audit_row(cx, items[i]->cx->principal, "journal_entry.create", "JournalEntry",
                              &e->id, NULL, &audit[i]);
        if (rc)
            return rc;
    }
    return QL_OK;
}

/*
 * The connection failed while a group's transaction ran, perhaps after its COMMIT was sent,
 * so whether it committed is unknown.  Ask (on a new connection, in one statement) which of
 * its entries are stored: those committed (201 for their callers); the others did not and are
 * written again alone.  When that cannot be told either, each caller answers 503: writing
 * again could meet the entry already there (a 409 for a write that succeeded).
 */
static void settle(struct ql_ctx *cx, struct ql_group_item **items, int n,
                   const struct ql_entry **es)
{
    int *found = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*found));
    ql_error_clear(&cx->err);
    int rc = found ? ql_store_entries_exist_many(cx->ports.store, cx, es, n, found)
                   : ql_error_nomem(&cx->err);
    for (int i = 0; i < n; i++)
        items[i]->rc = rc ? QL_EUNAVAILABLE : found[i] ? QL_OK : QL_ERETRY;
}

/*
 * A write of a creation whose COMMIT lost its answer met a row with its id (rc,
 * QL_ECONFLICT): a new connection asked whether that COMMIT landed, and asked before the
 * server had finished it (it said "not stored"); the write then waited for the COMMIT and met
 * the row.  So it goes for a group (settle, then the lone write) and for a lone creation
 * (landed).  The id was made for this request alone (a UUIDv7 with 74 random bits), so a
 * stored entry of the team with that id, this author and this content is this request's own:
 * QL_OK with *out the stored row (arena), as a lone creation answers.  Anything else (no
 * such entry, another one) keeps rc and its error.
 */
static int stored_as_own(struct ql_ctx *cx, struct ql_entry *out, int rc)
{
    struct ql_error conflict = cx->err;
    struct ql_entry e;
    ql_error_clear(&cx->err);
    if (ql_store_entries_get(cx->ports.store, cx, &out->team_id, &out->id, &e) == QL_OK &&
        e.has_author_user == out->has_author_user && e.has_author_key == out->has_author_key &&
        memcmp(e.author_user.b, out->author_user.b, sizeof(e.author_user.b)) == 0 &&
        memcmp(e.author_key.b, out->author_key.b, sizeof(e.author_key.b)) == 0 &&
        e.content_n == out->content_n && memcmp(e.content, out->content, e.content_n) == 0) {
        *out = e;
        return QL_OK;
    }
    cx->err = conflict;
    return rc;
}

/*
 * Would writing e again meet a stored row with its id?  The insert waits for a transaction
 * still writing that id (a COMMIT the server has not finished) and conflicts once it has
 * committed.  Nothing is written: the transaction is rolled back, and runs without the
 * context's hooks.  The get after the insert waits for the insert's answer (a store may send
 * an insert in a transaction without waiting for it).
 */
static int meets_itself(struct ql_ctx *cx, const struct ql_entry *e)
{
    struct ql_store *st = cx->ports.store;
    int rc = ql_store_begin(st, cx);
    if (rc)
        return 0;
    struct ql_entry back;
    rc = ql_store_entries_insert(st, cx, e);
    if (rc == QL_OK)
        rc = ql_store_entries_get(st, cx, &e->team_id, &e->id, &back);
    ql_store_rollback(st, cx);
    ql_error_clear(&cx->err);
    return rc == QL_ECONFLICT;
}

/*
 * A lone creation whose COMMIT lost its answer (rc, QL_EUNAVAILABLE): QL_OK when its entry is
 * stored after all (and with it its hooks' writes: an idempotency record), else rc.  The
 * check on a new connection may come before the server finished that COMMIT: "not stored"
 * is then asked again in a way that waits for it (meets_itself), and a row met is the
 * request's own (stored_as_own): QL_OK with *out the stored row.
 */
static int landed(struct ql_ctx *cx, struct ql_entry *out, int rc)
{
    struct ql_error lost = cx->err;
    const struct ql_entry *e = out;
    int found = 0;
    ql_error_clear(&cx->err);
    if (ql_store_entries_exist_many(cx->ports.store, cx, &e, 1, &found) == QL_OK)
        found = found || (meets_itself(cx, out) && stored_as_own(cx, out, QL_ECONFLICT) == QL_OK);
    if (found) {
        ql_error_clear(&cx->err);
        if (cx->tx)
            cx->tx->committed = 1;
        return QL_OK;
    }
    cx->err = lost;
    return rc;
}

/*
 * The group write of ql_entry_create: the same rows as a lone creation, one statement per
 * table for the whole group.  Audit rows go in team order, so that concurrent groups lock
 * the chain heads they append to in one order and cannot deadlock each other.
 */
static void write_created(struct ql_ctx *cx, struct ql_group_item **items, int n)
{
    qsort(items, (size_t)n, sizeof(*items), by_team);
    const struct ql_entry **es = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*es));
    const struct ql_uuid **teams = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*teams));
    const struct ql_uuid **ids = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*ids));
    int *events = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*events));
    const char **traces = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*traces));
    struct ql_audit_entry *audit = ql_arena_alloc(cx->arena, (size_t)n * sizeof(*audit));
    int rc = es && teams && ids && events && traces && audit ? QL_OK : ql_error_nomem(&cx->err);
    if (rc == QL_OK)
        rc = created_rows(cx, items, n, es, teams, ids, events, traces, audit);
    if (rc == QL_OK)
        rc = ql_tx_begin(cx);
    if (rc == QL_OK) {
        rc = ql_store_entries_insert_many(cx->ports.store, cx, es, n);
        if (rc == QL_OK)
            rc = ql_store_changes_append_many(cx->ports.store, cx, teams, events, ids, traces, n);
        if (rc == QL_OK)
            rc = ql_store_audit_append_many(cx->ports.store, cx, teams, audit, n);
        rc = ql_tx_end(cx, rc);
        if (rc == QL_EUNAVAILABLE) {
            settle(cx, items, n, es);
            return;
        }
    }
    for (int i = 0; i < n; i++)
        items[i]->rc = rc == QL_OK ? QL_OK : QL_ERETRY;
}

/* What a creation checks and makes before anything is written: *out, ready to write. */
static int prepare(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_input *in,
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
    return QL_OK;
}

/* When a group did not write an entry and nobody can tell whether it committed. */
static int lost_in_group(struct ql_ctx *cx)
{
    return ql_error_set(&cx->err, QL_EUNAVAILABLE,
                        "The database connection was lost; the entry may have been "
                        "written: list the journal before writing it again.");
}

int ql_entry_create(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_input *in,
                    struct ql_entry *out)
{
    int rc = prepare(cx, team, in, out);
    if (rc)
        return rc;
    /*
     * Hooks (an idempotency record) belong to this request's own transaction, so only a
     * creation without them joins a group.  A group that did not commit leaves nothing
     * behind; the entry is then written alone below, where its own error (if any) shows.
     * The key is the team: its audit chain's head is what the write locks.  QL_EUNAVAILABLE:
     * the group may have committed and nobody could tell (settle), so it is not written again.
     * A lone write that meets this id after a group did write it (stored_as_own).
     */
    int grouped = 0;
    if (cx->ports.group && cx->tx == NULL) {
        struct ql_group_item item = {.cx = cx, .arg = out, .key = ql_uuid_hash(team)};
        rc = ql_group_join(cx->ports.group, cx, &item, write_created);
        if (rc == QL_OK)
            return QL_OK;
        if (rc == QL_EUNAVAILABLE)
            return lost_in_group(cx);
        ql_error_clear(&cx->err);
        grouped = 1;
    }
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_entries_insert(cx->ports.store, cx, out);
    /* The audit row goes last: appending locks the chain's head until COMMIT. */
    if (rc == QL_OK)
        rc = ql_change(cx, team, QL_EVENT_ENTRY_CREATED, &out->id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "journal_entry.create", "JournalEntry", &out->id, NULL);
    rc = ql_tx_end(cx, rc);
    if (rc == QL_ECONFLICT && grouped)
        return stored_as_own(cx, out, rc);
    return rc == QL_EUNAVAILABLE ? landed(cx, out, rc) : rc;
}

struct create_state {
    struct ql_group_item item;
    ql_done_fn done;
    void *arg;
};

/*
 * A submitted creation is done.  A group that did not commit wrote nothing: the entry is
 * then written where a session may wait (QL_EWOULD_BLOCK), as ql_entry_create writes it.
 */
static void created(struct ql_ctx *cx, int rc, void *arg)
{
    struct create_state *c = arg;
    if (rc == QL_EUNAVAILABLE)
        rc = lost_in_group(cx);
    else if (rc != QL_OK)
        rc = ql_error_set(&cx->err, QL_EWOULD_BLOCK, "the group did not commit");
    c->done(cx, rc, c->arg);
}

int ql_entry_create_async(struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_entry_input *in, struct ql_entry *out, ql_done_fn done,
                          void *arg)
{
    /* Hooks (an idempotency record) need the request's own transaction: not here. */
    if (cx->ports.group == NULL || cx->tx)
        return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "not group-committed");
    int rc = prepare(cx, team, in, out);
    if (rc)
        return rc;
    struct create_state *c = ql_arena_alloc(cx->arena, sizeof(*c));
    if (c == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *c = (struct create_state){{.cx = cx, .arg = out, .key = ql_uuid_hash(team)}, done, arg};
    return ql_group_submit(cx->ports.group, cx, &c->item, write_created, created, c);
}

struct get_state {
    const char *inm;
    size_t inm_n;
    struct ql_entry *out;
    ql_done_fn done;
    void *arg;
};

static void got(struct ql_ctx *cx, int rc, void *arg)
{
    struct get_state *g = arg;
    if (rc == QL_ENOT_FOUND) {
        rc = ql_error_set(&cx->err, rc, "No such journal entry.");
    } else if (rc == QL_OK && g->inm) {
        char etag[24];
        ql_entry_etag(g->out, etag, sizeof(etag));
        if (ql_etag_matches(g->inm, g->inm_n, etag, 1))
            rc = QL_ENOT_MODIFIED;
    }
    g->done(cx, rc, g->arg);
}

int ql_entry_get_async(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                       const char *if_none_match, size_t inm_n, struct ql_entry *out,
                       ql_done_fn done, void *arg)
{
    int rc = ql_authorize(cx, QL_ACT_ENTRY_READ, team);
    if (rc)
        return rc;
    struct get_state *g = ql_arena_alloc(cx->arena, sizeof(*g));
    if (g == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *g = (struct get_state){if_none_match, inm_n, out, done, arg};
    return ql_store_entries_get_async(cx->ports.store, cx, team, id, out, got, g);
}

int ql_entry_get(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                 const char *if_none_match, size_t inm_n, struct ql_entry *out)
{
    int rc = QL_EWOULD_BLOCK; /* stays so only if the store answers later, which it must not */
    return ql_ctx_wait(
        cx, ql_entry_get_async(cx, team, id, if_none_match, inm_n, out, ql_ctx_wait_done, &rc),
        &rc);
}

struct list_state {
    struct ql_entry_page *out;
    ql_done_fn done;
    void *arg;
};

static void listed(struct ql_ctx *cx, int rc, void *arg)
{
    struct list_state *l = arg;
    struct ql_entry_page *pg = l->out;
    pg->next = NULL;
    if (rc == QL_OK && pg->more && pg->n > 0) {
        const struct ql_entry *last = &pg->items[pg->n - 1];
        pg->next = ql_cursor_encode(cx->arena, QL_CURSOR_ENTRIES, last->created_ms, &last->id);
        if (pg->next == NULL)
            rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    }
    l->done(cx, rc, l->arg);
}

int ql_entry_list_async(struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_entry_filter *f, struct ql_entry_page *out, ql_done_fn done,
                        void *arg)
{
    memset(out, 0, sizeof(*out));
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
    struct list_state *l = ql_arena_alloc(cx->arena, sizeof(*l));
    if (l == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *l = (struct list_state){out, done, arg};
    return ql_store_entries_list_async(cx->ports.store, cx, team, &q, &out->items, &out->n,
                                       &out->more, listed, l);
}

int ql_entry_list(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_filter *f,
                  struct ql_entry_page *out)
{
    int rc = QL_EWOULD_BLOCK; /* stays so only if the store answers later, which it must not */
    return ql_ctx_wait(cx, ql_entry_list_async(cx, team, f, out, ql_ctx_wait_done, &rc), &rc);
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
        rc = ql_change(cx, team, QL_EVENT_ENTRY_UPDATED, &out->id);
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
        rc = ql_change(cx, team, QL_EVENT_ENTRY_DELETED, &e.id);
    if (rc == QL_OK)
        rc = ql_audit(cx, team, "journal_entry.delete", "JournalEntry", id, NULL);
    return ql_tx_end(cx, rc);
}
