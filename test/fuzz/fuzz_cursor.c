/*
 * libFuzzer target: everything that decodes a cursor a client sends back.  base64 (either
 * alphabet, padded or not: core/b64), the keyset cursors of the list endpoints
 * (core/cursor, with one number or two), the sync cursors (ql_sync_cursor_parse), and the use cases
 * that take them: delta sync and live-stream starts (core/changes), the entry, prompt, audit,
 * member, API key and team lists, over the fake ports, each followed page by page to its end.
 *
 * The first byte chooses what is fed, the second a kind or a page size; the rest is the
 * text.  The target aborts when a decoder accepts what it cannot encode back (a decoded
 * value re-encoded must decode to the same value), when a use case answers a cursor with
 * anything but a page, a validation error or an expired cursor, when a page is larger than
 * asked, or when following next cursors does not end.
 */
#include "account/account.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "b64/b64.h"
#include "changes/changes.h"
#include "config/config.h"
#include "cursor/cursor.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "prompt/prompt.h"
#include "team/team.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGES_MAX 200 /* more than the world has items: following cursors must end sooner */

struct world {
    struct fake_clock clock;
    struct fake_auth auth;
    struct fake_log log;
    struct fake_store store;
    struct ql_config cfg;
    struct ql_principal owner;
    struct ql_membership teams[1];
    struct ql_uuid team;
};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cursor: %s\n", what);
        abort();
    }
}

static void context(struct world *w, struct ql_ctx *cx, struct ql_arena *a)
{
    memset(cx, 0, sizeof(*cx));
    cx->arena = a;
    cx->cfg = &w->cfg;
    cx->ports = (struct ql_ports){.store = &w->store.base,
                                  .clock = &w->clock.base,
                                  .auth = &w->auth.base,
                                  .log = &w->log.base};
    cx->principal = &w->owner;
}

/* A team with a few of everything that is listed, and a change log to sync. */
static void build(struct world *w)
{
    fake_clock_init(&w->clock, 1767225600000LL);
    fake_auth_init(&w->auth);
    fake_log_init(&w->log, &w->clock.base);
    w->log.base.level = QL_LOG_ERROR + 1; /* quiet */
    fake_store_init(&w->store);
    w->cfg = (struct ql_config){1000, 86400000, 86400000, 86400000};
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_ctx cx;
    context(w, &cx, &a);
    cx.principal = NULL;
    static const char pw[] = "correct horse battery";
    const char *emails[] = {"owner@example.com", "a@example.com", "b@example.com"};
    const char *token = NULL;
    for (int i = 0; i < 3; i++) {
        struct ql_credentials c = {emails[i], strlen(emails[i]), pw, sizeof(pw) - 1, "U", 1, NULL};
        struct ql_auth_result res;
        check(ql_account_signup(&cx, &c, &res) == QL_OK, "cannot sign up");
        if (i == 0)
            token = ql_arena_strdup(&a, res.session.token);
        fake_clock_advance(&w->clock, 1000);
    }
    if (token == NULL) {
        check(0, "no token");
        return;
    }
    check(ql_account_resolve(&cx, token, strlen(token), QL_VIA_BEARER, &w->owner) == QL_OK,
          "cannot resolve the owner");
    cx.principal = &w->owner;
    struct ql_team t;
    check(ql_team_create(&cx, "T", 1, &t) == QL_OK, "cannot create the team");
    w->team = t.id;
    check(ql_account_resolve(&cx, token, strlen(token), QL_VIA_BEARER, &w->owner) == QL_OK,
          "cannot resolve the owner");
    w->teams[0] = w->owner.teams[0]; /* out of the arena, which goes below */
    w->owner.teams = w->teams;
    w->owner.nteams = 1;
    for (int i = 1; i < 3; i++) {
        struct ql_member m;
        check(ql_member_add(&cx, &t.id, emails[i], strlen(emails[i]), "member", 6, &m) == QL_OK,
              "cannot add a member");
    }
    for (int i = 0; i < 7; i++) {
        struct ql_entry_input in = {.content = "entry", .content_n = 5};
        struct ql_entry e;
        check(ql_entry_create(&cx, &t.id, &in, &e) == QL_OK, "cannot create an entry");
        if (i == 3)
            check(ql_entry_delete(&cx, &t.id, &e.id, NULL, 0) == QL_OK, "cannot delete");
        struct ql_prompt p;
        if (i < 4)
            check(ql_prompt_create(&cx, &t.id, "Why?", 4, "c", 1, &p) == QL_OK,
                  "cannot create a prompt");
        struct ql_new_api_key k;
        if (i < 3)
            check(ql_api_key_create(&cx, &t.id, "k", 1, "viewer", 6, NULL, 0, &k) == QL_OK,
                  "cannot create a key");
        fake_clock_advance(&w->clock, 1000);
    }
    ql_arena_cleanup(&a);
}

/* ---- decoders ------------------------------------------------------------------------------ */

static void fuzz_b64(const char *s, size_t n)
{
    uint8_t out[512], again[512];
    size_t len, len2;
    if (n > 600 || ql_b64_decode(s, n, out, sizeof(out), &len) != QL_OK)
        return;
    size_t chars = n;
    while (chars > 0 && s[chars - 1] == '=')
        chars--;
    check(len == chars * 6 / 8, "a decoded length that is not what the text holds");
    for (int url = 0; url <= 1; url++) {
        char text[1024];
        size_t tn = ql_b64_encode(out, len, text, url);
        check(tn == ql_b64_enc_len(len, url) && text[tn] == '\0', "an encoded length that lies");
        check(ql_b64_decode(text, tn, again, sizeof(again), &len2) == QL_OK && len2 == len &&
                  memcmp(again, out, len) == 0,
              "base64 that does not decode to what was encoded");
    }
}

static void fuzz_keyset(int kind, const char *s, size_t n)
{
    struct ql_error err;
    ql_error_clear(&err);
    int64_t num, num2;
    struct ql_uuid id, id2;
    int rc = ql_cursor_decode(&err, kind, s, n, &num, &id);
    check(rc == QL_OK || (rc == QL_EVALIDATION && err.nfields == 1),
          "a keyset cursor refused without its field error");
    if (rc != QL_OK)
        return;
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    const char *text = ql_cursor_encode(&a, kind, num, &id);
    check(text != NULL, "cannot encode a cursor");
    check(ql_cursor_decode(&err, kind, text, strlen(text), &num2, &id2) == QL_OK && num2 == num &&
              memcmp(id.b, id2.b, 16) == 0,
          "a keyset cursor that does not survive encoding");
    ql_arena_cleanup(&a);
}

/* The same for the two-number cursors (and the one-number ones they take from before). */
static void fuzz_keyset2(int kind, const char *s, size_t n)
{
    struct ql_error err;
    ql_error_clear(&err);
    int64_t ms, k, ms2, k2;
    struct ql_uuid id, id2;
    int rc = ql_cursor_decode2(&err, kind, s, n, &ms, &k, &id);
    check(rc == QL_OK || (rc == QL_EVALIDATION && err.nfields == 1),
          "a two-number cursor refused without its field error");
    if (rc != QL_OK)
        return;
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    const char *text = ql_cursor_encode2(&a, kind, ms, k, &id);
    check(text != NULL, "cannot encode a cursor");
    check(ql_cursor_decode2(&err, kind, text, strlen(text), &ms2, &k2, &id2) == QL_OK &&
              ms2 == ms && k2 == k && memcmp(id.b, id2.b, 16) == 0,
          "a two-number cursor that does not survive encoding");
    ql_arena_cleanup(&a);
}

static void fuzz_sync_cursor(struct world *w, const char *s, size_t n)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_ctx cx;
    context(w, &cx, &a);
    struct ql_change_pos pos, pos2;
    int rc = ql_sync_cursor_parse(&cx, s, n, &pos);
    check(rc == QL_OK || rc == QL_EVALIDATION, "a sync cursor refused with an odd code");
    if (rc == QL_OK) {
        char text[QL_SYNC_CURSOR_MAX];
        ql_sync_cursor(&pos, text);
        check(strlen(text) < QL_SYNC_CURSOR_MAX, "a sync cursor too long for its buffer");
        check(ql_sync_cursor_parse(&cx, text, strlen(text), &pos2) == QL_OK &&
                  ql_change_pos_cmp(&pos, &pos2) == 0,
              "a sync cursor that does not survive encoding");
    }
    ql_arena_cleanup(&a);
}

/* ---- use cases ----------------------------------------------------------------------------- */

static int refused(int rc)
{
    return rc == QL_EVALIDATION || rc == QL_ECURSOR_EXPIRED;
}

/* Sync from since, following cursors until a delta page says nothing more waits. */
static void fuzz_sync(struct world *w, int limit, const char *since, size_t n)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    char cursor[QL_SYNC_CURSOR_MAX];
    int pages = 0;
    for (;;) {
        struct ql_ctx cx;
        context(w, &cx, &a);
        struct ql_sync_page page;
        int rc = ql_sync(&cx, &w->team, since, n, limit, &page);
        check(rc == QL_OK || (pages == 0 && refused(rc)), "sync answered a cursor oddly");
        if (rc)
            break;
        check(page.n >= 0 && page.n <= limit, "a sync page larger than asked");
        check(strlen(page.cursor) > 0 && strlen(page.cursor) < QL_SYNC_CURSOR_MAX,
              "a sync page without a cursor");
        check(++pages < PAGES_MAX, "sync pages that do not end");
        if (!page.more && page.n == 0)
            break;
        memcpy(cursor, page.cursor, sizeof(cursor));
        since = cursor;
        n = strlen(cursor);
        ql_arena_reset(&a);
    }
    struct ql_ctx cx;
    context(w, &cx, &a);
    struct ql_change_pos pos;
    int rc = ql_sync_stream_start(&cx, &w->team, since, n, "since", &pos);
    check(rc == QL_OK || refused(rc), "a stream start answered a cursor oddly");
    ql_arena_cleanup(&a);
}

/* One list use case: a page of it after cursor (NULL: the first). */
typedef int (*list_fn)(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                       int *count, const char **next);

static int list_entries(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                        int *count, const char **next)
{
    struct ql_entry_filter f = {.cursor = cursor, .cursor_n = n, .limit = limit};
    struct ql_entry_page pg;
    int rc = ql_entry_list(cx, &w->team, &f, &pg);
    *count = pg.n;
    *next = pg.next;
    return rc;
}

static int list_prompts(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                        int *count, const char **next)
{
    struct ql_prompt *items;
    return ql_prompt_list(cx, &w->team, NULL, 0, cursor, n, limit, &items, count, next);
}

static int list_audit(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                      int *count, const char **next)
{
    struct ql_audit_entry *items;
    return ql_audit_list(cx, &w->team, cursor, n, limit, &items, count, next);
}

static int list_members(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                        int *count, const char **next)
{
    struct ql_member *items;
    return ql_member_list(cx, &w->team, cursor, n, limit, &items, count, next);
}

static int list_keys(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                     int *count, const char **next)
{
    struct ql_api_key *items;
    return ql_api_key_list(cx, &w->team, cursor, n, limit, &items, count, next);
}

static int list_teams(struct world *w, struct ql_ctx *cx, const char *cursor, size_t n, int limit,
                      int *count, const char **next)
{
    (void)w;
    struct ql_team_role *items;
    return ql_team_list_mine(cx, cursor, n, limit, &items, count, next);
}

static void fuzz_list(struct world *w, list_fn fn, int limit, const char *cursor, size_t n)
{
    struct ql_arena a, keep;
    ql_arena_init(&a, 0, 0);
    ql_arena_init(&keep, 0, 0);
    for (int pages = 0;; pages++) {
        struct ql_ctx cx;
        context(w, &cx, &a);
        int count = -1;
        const char *next = NULL;
        int rc = fn(w, &cx, cursor, n, limit, &count, &next);
        check(rc == QL_OK || (pages == 0 && rc == QL_EVALIDATION && cx.err.nfields == 1),
              "a list answered a cursor oddly");
        if (rc)
            break;
        check(count >= 0 && count <= limit, "a page larger than asked");
        check(pages < PAGES_MAX, "pages that do not end");
        if (next == NULL)
            break;
        check(count > 0, "a next cursor after an empty page");
        cursor = ql_arena_strdup(&keep, next);
        n = strlen(cursor);
        ql_arena_reset(&a);
    }
    ql_arena_cleanup(&keep);
    ql_arena_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct world w;
    static int ready;
    static const list_fn lists[] = {list_entries, list_prompts, list_audit,
                                    list_members, list_keys,    list_teams};
    if (!ready) {
        build(&w);
        ready = 1;
    }
    if (size < 2 || size > 4096)
        return 0;
    /* the text in a buffer of its own size, so reading past it is caught */
    size_t n = size - 2;
    char *s = malloc(n ? n : 1);
    check(s != NULL, "out of memory");
    memcpy(s, data + 2, n);
    int limit = 1 + data[1] % 4;
    switch (data[0] % 5) {
    case 0:
        fuzz_b64(s, n);
        break;
    case 1:
        fuzz_keyset(data[1] % 10, s, n);
        fuzz_keyset2(QL_CURSOR_DELIVERIES, s, n);
        break;
    case 2:
        fuzz_sync_cursor(&w, s, n);
        break;
    case 3:
        fuzz_sync(&w, limit, data[1] & 0x80 ? NULL : s, n);
        break;
    default:
        fuzz_list(&w, lists[data[1] / 4 % 6], limit, data[1] & 0x80 ? NULL : s, n);
        break;
    }
    free(s);
    return 0;
}
