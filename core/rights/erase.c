/*
 * erase.c - DELETE /v1/me: the part of an erasure that happens at once, in one transaction.
 *
 * The user re-authenticates (erase_reauth: the password, and a code while MFA is on, once
 * the last-owner rule is seen to hold without locks, so that a refusal spends no code).
 * Then, under the lock of every live team the user belongs to (taken in team order; every
 * other writer takes one team) and of the users row, the last-owner rule is checked (and
 * started over when a member add that held the row made one more: erase_in_tx): a team
 * must keep an owner, so a user who is the only owner of a live team is refused (409,
 * naming the teams) and nothing changes.  Otherwise memberships are removed here rather
 * than in the job, because the check is only true while these locks are held.  In the same
 * transaction every session ends (the store invalidates the principal caches of every
 * instance through a NOTIFY that commits with it), the TOTP enrolment and recovery codes
 * go, the login failures of the email go, so do the user's mails and mailed tokens and
 * what mail's limits and jobs kept of the email (ql_mail_forget), and the users row loses
 * email, name, password hash and OpenID Connect identity and is marked erased: from the
 * commit on, nothing can sign in as the user or find them by email, and no response or
 * webhook body made later can show their name.  The job "account.erase" (erase_run.c) does
 * the rest.
 */
#include "rights/rights.h"
#include "internal.h"

#include "account/account.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "err/err.h"
#include "mail/mail.h"
#include "mfa/mfa.h"
#include "queue/queue.h"
#include "store/store_security.h"
#include "trace/trace.h"
#include "tx/tx.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>

#define MEMBERSHIP_PAGE 200

/*
 * Re-authentication before the account goes: the password of a user who has one and, while
 * MFA is on, a TOTP or recovery code (ql_mfa_reauthenticate, which counts mismatches toward
 * the login lockout: QL_LOGIN_MAX_FAILURES in QL_LOGIN_WINDOW_MS lock it, for this and for
 * login alike).  A user without a password signs in only through the identity provider,
 * whose fresh token is the proof.
 */
static int erase_reauth(struct ql_ctx *cx, const struct ql_user *u,
                        const struct ql_erase_request *in)
{
    if (u->password_hash == NULL)
        return cx->principal->via == QL_VIA_OIDC
                   ? QL_OK
                   : ql_error_set(&cx->err, QL_EFORBIDDEN,
                                  "This account cannot be re-authenticated.");
    return ql_mfa_reauthenticate(cx, in->password, in->password_n, in->code,
                                 in->code ? in->code_n : 0);
}

/* Every membership of the user (teams of any state), in team order, into *out (arena). */
static int all_memberships(struct ql_ctx *cx, const struct ql_uuid *user,
                           struct ql_rights_membership **out, int *n)
{
    *out = NULL;
    *n = 0;
    int more = 1, rc = QL_OK;
    while (rc == QL_OK && more) {
        struct ql_rights_membership *page;
        int k = 0;
        rc = QL__RT(cx)->memberships(cx->ports.store, cx, user, *n ? &(*out)[*n - 1].team_id : NULL,
                                     MEMBERSHIP_PAGE, &page, &k, &more);
        if (rc || k == 0)
            break;
        struct ql_rights_membership *all =
            ql_arena_alloc(cx->arena, sizeof(*all) * (size_t)(*n + k));
        if (all == NULL)
            return ql_error_nomem(&cx->err);
        if (*n)
            memcpy(all, *out, sizeof(*all) * (size_t)*n);
        memcpy(all + *n, page, sizeof(*all) * (size_t)k);
        *out = all;
        *n += k;
    }
    return rc;
}

/* Append s to out (cap bytes, NUL-terminated) without splitting a UTF-8 character. */
static void put_utf8(char *out, size_t cap, const char *s)
{
    size_t used = strlen(out), n = strlen(s);
    if (used + 1 >= cap)
        return;
    if (n > cap - 1 - used) {
        n = cap - 1 - used;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] continues a character: cut before the character starts */
    }
    memcpy(out + used, s, n);
    out[used + n] = '\0';
}

/*
 * Lock the live teams of m (in their order) and refuse while the user is the only owner of
 * one: QL_ECONFLICT naming them (in detail, and one field error per team: its id, and its
 * name as the message).  The user's role in each is read again under its lock: m was read
 * before, and a promotion to owner committed meanwhile (after which the other owner may
 * have left) must count.
 */
static int check_owners(struct ql_ctx *cx, const struct ql_uuid *user,
                        const struct ql_rights_membership *m, int n)
{
    struct ql_store *st = cx->ports.store;
    char names[144] = "";
    int last = 0, rc = QL_OK;
    struct ql_error fields;
    ql_error_clear(&fields);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        if (m[i].team_deleted)
            continue;
        rc = ql_store_teams_lock(st, cx, &m[i].team_id);
        if (rc == QL_ENOT_FOUND) { /* deleted since the list was read */
            ql_error_clear(&cx->err);
            rc = QL_OK;
            continue;
        }
        struct ql_member me = {.role = QL_ROLE_NONE};
        if (rc == QL_OK)
            rc = ql_store_members_get(st, cx, &m[i].team_id, user, &me);
        if (rc == QL_ENOT_FOUND) { /* left the team since the list was read */
            ql_error_clear(&cx->err);
            rc = QL_OK;
        }
        int owners = 2;
        if (rc == QL_OK && me.role == QL_ROLE_OWNER)
            rc = ql_store_members_count_owners(st, cx, &m[i].team_id, &owners);
        if (rc || owners > 1)
            continue;
        char id[QL_UUID_STR_LEN + 1], name[sizeof(fields.fields[0].message)] = "";
        ql_uuid_format(&m[i].team_id, id);
        put_utf8(name, sizeof(name), m[i].team_name);
        ql_error_field(&fields, id, "last_owner", "%s", name);
        put_utf8(names, sizeof(names), last ? ", " : "");
        put_utf8(names, sizeof(names), m[i].team_name);
        last++;
    }
    if (rc || last == 0)
        return rc;
    ql_error_set(&cx->err, QL_ECONFLICT,
                 "You are the last owner of %d team%s (%s): make someone else an owner, or "
                 "delete the team, first.",
                 last, last == 1 ? "" : "s", names);
    cx->err.nfields = fields.nfields;
    memcpy(cx->err.fields, fields.fields, sizeof(fields.fields));
    return QL_ECONFLICT;
}

/*
 * Remove the memberships m (the user's): each goes with a change and an audit row in its
 * team's chain when the team is live.  Used by the request and again by the job (a safety
 * net: erase_in_tx leaves none).
 */
int ql__erase_memberships(struct ql_ctx *cx, const struct ql_uuid *user,
                          const struct ql_rights_membership *m, int n, const char *actor)
{
    struct ql_store *st = cx->ports.store;
    int rc = QL_OK;
    for (int i = 0; rc == QL_OK && i < n; i++) {
        rc = ql_store_members_remove(st, cx, &m[i].team_id, user);
        if (rc == QL_OK && !m[i].team_deleted)
            rc = ql_change(cx, &m[i].team_id, QL_EVENT_MEMBER_REMOVED, user);
        if (rc == QL_OK && !m[i].team_deleted)
            rc = ql_audit(cx, &m[i].team_id, "member.erase", "User", user, actor);
    }
    return rc;
}

/* The job that erases the rest, unique per user. */
static int enqueue_job(struct ql_ctx *cx, const struct ql_uuid *user)
{
    char id[QL_UUID_STR_LEN + 1], payload[64], key[64];
    ql_uuid_format(user, id);
    snprintf(payload, sizeof(payload), "{\"userId\":\"%s\"}", id);
    snprintf(key, sizeof(key), "account.erase:%s", id);
    struct ql_job_spec spec = {.kind = "account.erase",
                               .queue = "rights",
                               .payload_json = payload,
                               .unique_key = key,
                               .max_attempts = 25,
                               .traceparent = ql_trace_context(cx)};
    int64_t job_id;
    return ql_queue_enqueue(cx->ports.queue, cx, &spec, &job_id);
}

/* Whether every membership of now (k, in team order) is one of m (n, in team order). */
static int known(const struct ql_rights_membership *m, int n,
                 const struct ql_rights_membership *now, int k)
{
    int i = 0;
    for (int j = 0; j < k; j++) {
        while (i < n && memcmp(m[i].team_id.b, now[j].team_id.b, 16) < 0)
            i++;
        if (i == n || memcmp(m[i].team_id.b, now[j].team_id.b, 16) != 0)
            return 0;
    }
    return 1;
}

/*
 * The erasure's transaction.  Teams first, then the users row: a member being added holds
 * its team's lock and then a share lock on the users row (ql_store_members_insert, which
 * refuses an erased user), so taking the row first and the teams after could wait on each
 * other.  Such an add that locked the row before this transaction did commits before
 * erase_user gets the row, in a team this transaction did not lock nor check: the
 * memberships are read again once the row is held (no add can commit one after that),
 * and when one is new, nothing is done and *again is set, for the caller to start over
 * (the team is then locked and checked with the others).
 */
static int erase_in_tx(struct ql_ctx *cx, const struct ql_uuid *user, int *again)
{
    struct ql_store *st = cx->ports.store;
    struct ql_rights_membership *m = NULL, *now = NULL;
    int n = 0, k = 0;
    const char *email = NULL;
    int rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = all_memberships(cx, user, &m, &n);
    if (rc == QL_OK)
        rc = check_owners(cx, user, m, n);
    if (rc == QL_OK)
        rc = QL__RT(cx)->erase_user(st, cx, user, ql_clock_now_ms(cx->ports.clock), &email);
    if (rc == QL_ENOT_FOUND)
        rc = ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    if (rc == QL_OK)
        rc = all_memberships(cx, user, &now, &k);
    if (rc == QL_OK && !known(m, n, now, k)) {
        *again = 1;
        rc = ql_error_set(&cx->err, QL_ECONFLICT, "a membership was added meanwhile");
    }
    if (rc == QL_OK)
        rc = ql__erase_memberships(cx, user, m, n, NULL);
    if (rc == QL_OK)
        rc = ql_store_sessions_remove_user(st, cx, user, NULL);
    if (rc == QL_OK) { /* the second factor goes with the password: TOTP and recovery codes */
        rc = ql_store_totp_remove(st, cx, user);
        if (rc == QL_ENOT_FOUND) {
            ql_error_clear(&cx->err);
            rc = QL_OK;
        }
    }
    if (rc == QL_OK)
        rc = ql_account_forget_failures(cx, email);
    if (rc == QL_OK)
        rc = ql_mail_forget(cx, user, email);
    if (rc == QL_OK)
        rc = enqueue_job(cx, user);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "user.erase", "User", user, NULL);
    return ql_tx_end(cx, rc);
}

int ql_account_erase(struct ql_ctx *cx, const struct ql_erase_request *in)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    const struct ql_uuid *user = &cx->principal->user_id;
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    rc = ql_store_users_by_id(st, cx, user, &u);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    /*
     * With MFA on, the last-owner rule once without the locks first (it holds only under
     * them, below): a refused erasure must not cost the user the code it re-authenticated
     * with, which re-authentication spends.
     */
    struct ql_rights_membership *m = NULL;
    int n = 0;
    if (rc == QL_OK && u.mfa_enabled)
        rc = all_memberships(cx, user, &m, &n);
    if (rc == QL_OK && u.mfa_enabled)
        rc = check_owners(cx, user, m, n);
    if (rc == QL_OK)
        rc = erase_reauth(cx, &u, in); /* before the transaction: argon2id is slow */
    if (rc)
        return rc;
    for (int tries = 1;; tries++) {
        int again = 0;
        rc = erase_in_tx(cx, user, &again);
        if (rc == QL_OK || !again)
            return rc;
        ql_error_clear(&cx->err);
        if (tries == 3)
            return ql_error_set(
                &cx->err, QL_EUNAVAILABLE,
                "Your teams changed while the account was being erased: try again.");
    }
}
