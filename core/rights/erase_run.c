/*
 * erase_run.c - the job "account.erase": what is left of an account after DELETE /v1/me.
 *
 * In order, each step idempotent, so a job that stops anywhere (a crash, its deadline)
 * runs again from the start and finishes the work:
 *   1. the entries the user wrote, in every team and whatever their state, are deleted in
 *      pages, each page one transaction with a `journal_entry.erase` audit row per entry
 *      and, for entries that were live, a delete in the change log: sync and streams show
 *      tombstones, and webhooks send `journal_entry.deleted`;
 *   2. any membership left is removed like the others (none: the request reads them again
 *      once it holds the users row, and adding a member refuses an erased user; kept for
 *      requests of an older build), and any session a login that waited on the users row
 *      added (unusable, but it is a row);
 *   3. the user's exports go;
 *   4. stored webhook bodies that show the user go: a member or user object with the
 *      user's id ("userId":"<id>","email": is how every such object starts) or an entry
 *      the user wrote ("authorUserId":"<id>");
 *   5. the user's idempotency records go, and so does any other stored response that shows
 *      the user the same way (signup and login answers are kept under the client address,
 *      a member added by an admin under the admin): they are sealed, so each is opened.
 * Audit rows are not touched: they name the user by id only (User:<id>), the users row that
 * id leads to holds nothing personal any more, and the chain of hashes over the rows, which
 * `quill-admin audit-verify` checks, stays intact.  The job refuses a user who is not erased.
 */
#include "rights/rights.h"
#include "internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "err/err.h"
#include "idem/idem.h"
#include "jobs/jobs.h"
#include "tx/tx.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_PAGE 200
#define SCAN_PAGE 500

/* What the job looks for in stored bodies. */
struct marks {
    char person[64]; /* "userId":"<id>","email": */
    char author[64]; /* "authorUserId":"<id>" */
};

static int has(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

static int by_team(const void *a, const void *b)
{
    const struct ql_erased_entry *x = a, *y = b;
    return memcmp(x->team_id.b, y->team_id.b, 16);
}

/* One page of entries: deleted, with their tombstones and audit rows; *n of them. */
static int entries_page(struct ql_ctx *cx, const struct ql_uuid *user, const char *actor, int *n)
{
    struct ql_store *st = cx->ports.store;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    struct ql_erased_entry *e = NULL;
    rc = QL__RT(cx)->erase_entries(st, cx, user, ENTRY_PAGE, &e, n);
    const struct ql_uuid **teams = NULL, **lteams = NULL, **ids = NULL;
    struct ql_audit_entry *rows = NULL;
    int *events = NULL;
    if (rc == QL_OK && *n > 0) {
        /* audit rows in chain order, so that pages lock chain heads in one order */
        qsort(e, (size_t)*n, sizeof(*e), by_team);
        size_t k = (size_t)*n;
        teams = ql_arena_alloc(cx->arena, sizeof(*teams) * k);
        lteams = ql_arena_alloc(cx->arena, sizeof(*lteams) * k);
        ids = ql_arena_alloc(cx->arena, sizeof(*ids) * k);
        rows = ql_arena_alloc(cx->arena, sizeof(*rows) * k);
        events = ql_arena_alloc(cx->arena, sizeof(*events) * k);
        if (!teams || !lteams || !ids || !rows || !events)
            rc = ql_error_nomem(&cx->err);
    }
    int live = 0;
    for (int i = 0; rc == QL_OK && i < *n; i++) {
        teams[i] = &e[i].team_id;
        rc = ql_audit_row(cx, NULL, "journal_entry.erase", "JournalEntry", &e[i].id, actor,
                          &rows[i]);
        if (e[i].was_live) { /* a soft-deleted one had its tombstone when it was deleted */
            lteams[live] = &e[i].team_id;
            ids[live] = &e[i].id;
            events[live] = QL_EVENT_ENTRY_DELETED;
            live++;
        }
    }
    if (rc == QL_OK && *n > 0)
        rc = ql_store_audit_append_many(st, cx, teams, rows, *n);
    if (rc == QL_OK)
        rc = ql_store_changes_append_many(st, cx, lteams, events, ids, NULL, live);
    return ql_tx_end(cx, rc);
}

/* Step 1: every entry, a page at a time through a scratch arena. */
static int erase_entries(struct ql_ctx *cx, const struct ql_uuid *user, const char *actor)
{
    struct ql__page page;
    int rc = ql__page_open(&page, cx);
    int n = ENTRY_PAGE;
    while (rc == QL_OK && n == ENTRY_PAGE) {
        rc = entries_page(cx, user, actor, &n);
        ql__page_next(&page);
        if (rc == QL_OK && ql__rights_late(cx))
            rc = ql_error_set(&cx->err, QL_EUNAVAILABLE, "deadline exceeded; runs again");
    }
    struct ql_error err = cx->err;
    ql__page_close(&page);
    cx->err = err;
    return rc;
}

/* Step 2: memberships that appeared while the request ran. */
static int leftover_memberships(struct ql_ctx *cx, const struct ql_uuid *user, const char *actor)
{
    int more = 1, rc = QL_OK;
    while (rc == QL_OK && more) {
        struct ql_rights_membership *m;
        int n = 0;
        rc = QL__RT(cx)->memberships(cx->ports.store, cx, user, NULL, ENTRY_PAGE, &m, &n, &more);
        if (rc || n == 0)
            break;
        rc = ql_tx_begin(cx);
        if (rc == QL_OK)
            rc = ql_tx_end(cx, ql__erase_memberships(cx, user, m, n, actor));
    }
    return rc;
}

/* Step 4: webhook bodies, a page of deliveries at a time. */
static int scrub_deliveries(struct ql_ctx *cx, const struct marks *mk)
{
    struct ql_uuid after;
    int has_after = 0, scanned = SCAN_PAGE, rc = QL_OK;
    while (rc == QL_OK && scanned == SCAN_PAGE) {
        int deleted = 0;
        struct ql_uuid last;
        rc = QL__RT(cx)->scrub_deliveries(cx->ports.store, cx, has_after ? &after : NULL, SCAN_PAGE,
                                          mk->person, mk->author, &last, &scanned, &deleted);
        if (rc == QL_OK && scanned > 0) {
            after = last;
            has_after = 1;
        }
        if (rc == QL_OK && ql__rights_late(cx))
            rc = ql_error_set(&cx->err, QL_EUNAVAILABLE, "deadline exceeded; runs again");
    }
    return rc;
}

/* Step 5: idempotency records, opened a page at a time through a scratch arena. */
static int scrub_idem(struct ql_ctx *cx, const struct ql_uuid *user, const struct marks *mk)
{
    char scope[80], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(user, id);
    snprintf(scope, sizeof(scope), "user:%s", id);
    int64_t gone = 0;
    int rc = QL__RT(cx)->idem_remove_scope(cx->ports.store, cx, scope, &gone);
    struct ql__page page = {0};
    if (rc == QL_OK)
        rc = ql__page_open(&page, cx);
    char after_scope[96] = "", after_key[260] = "";
    int n = 0, more = 1;
    while (rc == QL_OK && more) { /* a page may end at its bytes before SCAN_PAGE records */
        struct ql_idem_row *rows;
        rc = QL__RT(cx)->idem_page(cx->ports.store, cx, after_scope[0] ? after_scope : NULL,
                                   after_key, SCAN_PAGE, &rows, &n, &more);
        for (int i = 0; rc == QL_OK && i < n; i++) {
            const char *headers, *body;
            size_t hn, bn;
            if (ql_idem_unpack(cx, &rows[i].r, &headers, &hn, &body, &bn) != QL_OK) {
                ql_error_clear(&cx->err); /* sealed under another secret: nothing to read */
                continue;
            }
            if (has(body, bn, mk->person) || has(body, bn, mk->author))
                rc = QL__RT(cx)->idem_remove(cx->ports.store, cx, rows[i].scope, rows[i].key);
        }
        if (rc == QL_OK && n > 0) {
            snprintf(after_scope, sizeof(after_scope), "%s", rows[n - 1].scope);
            snprintf(after_key, sizeof(after_key), "%s", rows[n - 1].key);
        }
        ql__page_next(&page);
        if (rc == QL_OK && ql__rights_late(cx))
            rc = ql_error_set(&cx->err, QL_EUNAVAILABLE, "deadline exceeded; runs again");
    }
    struct ql_error err = cx->err;
    ql__page_close(&page);
    cx->err = err;
    return rc;
}

int ql_account_erase_run(struct ql_ctx *cx, const struct ql_job *job)
{
    struct ql_uuid user;
    int rc = ql__rights_job_uuid(cx, job, "userId", &user);
    if (rc)
        return rc;
    struct ql_rights_account live;
    rc = QL__RT(cx)->account(cx->ports.store, cx, &user, &live);
    if (rc == QL_OK)
        return ql_error_set(&cx->err, QL_ECONFLICT, "the account is not erased: nothing done");
    if (rc != QL_ENOT_FOUND)
        return rc;
    ql_error_clear(&cx->err);
    const char *actor = ql__rights_actor(cx, "account.erase");
    if (actor == NULL)
        return ql_error_nomem(&cx->err);
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&user, id);
    struct marks mk;
    snprintf(mk.person, sizeof(mk.person), "\"userId\":\"%s\",\"email\":", id);
    snprintf(mk.author, sizeof(mk.author), "\"authorUserId\":\"%s\"", id);
    rc = erase_entries(cx, &user, actor);
    if (rc == QL_OK)
        rc = leftover_memberships(cx, &user, actor);
    if (rc == QL_OK) /* a login that waited on the users row may have added one since */
        rc = ql_store_sessions_remove_user(cx->ports.store, cx, &user, NULL);
    int64_t gone = 0;
    if (rc == QL_OK)
        rc = QL__RT(cx)->exports_remove_user(cx->ports.store, cx, &user, &gone);
    if (rc == QL_OK)
        rc = scrub_deliveries(cx, &mk);
    if (rc == QL_OK)
        rc = scrub_idem(cx, &user, &mk);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc == QL_OK)
        rc = ql_tx_end(cx, ql_audit(cx, NULL, "user.erased", "User", &user, actor));
    return rc;
}
