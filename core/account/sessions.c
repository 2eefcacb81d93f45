/*
 * sessions.c - the sessions list and its revocations (sessions.h).  Each revocation runs in
 * one transaction with its audit row on the account chain.
 *
 * What the list shows costs the hot path nothing: the user agent and address are written
 * once, with the session, at login; "last used" is the idle-expiry timestamp that
 * ql_account_resolve already refreshes at most once a minute per session (and the principal
 * cache carries it, so the other requests of that minute do not even read it).
 */
#include "account/sessions.h"

#include "account/account.h"
#include "audit/audit.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "model/model.h"
#include "store/store.h"
#include "store/store_security.h"
#include "tx/tx.h"

#include <string.h>

int ql_sessions_list(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                     struct ql_session_info **out, int *n, const char **next_cursor)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    int64_t after_ms = 0;
    struct ql_uuid after;
    if (cursor) {
        rc = ql_cursor_decode(&cx->err, QL_CURSOR_SESSIONS, cursor, cursor_n, &after_ms, &after);
        if (rc)
            return rc;
    }
    int64_t idle = cx->cfg ? cx->cfg->session_idle_ms : 7LL * 86400000;
    int more = 0;
    rc = ql_store_sessions_list(cx->ports.store, cx, &cx->principal->user_id,
                                ql_clock_now_ms(cx->ports.clock), idle, after_ms,
                                cursor ? &after : NULL, limit, out, n, &more);
    if (rc)
        return rc;
    *next_cursor = NULL;
    if (more && *n > 0) {
        const struct ql_session_info *last = &(*out)[*n - 1];
        *next_cursor = ql_cursor_encode(cx->arena, QL_CURSOR_SESSIONS, last->created_ms, &last->id);
        if (*next_cursor == NULL)
            return ql_error_nomem(&cx->err);
    }
    return QL_OK;
}

int ql_sessions_is_current(const struct ql_ctx *cx, const struct ql_session_info *s)
{
    const struct ql_principal *p = cx->principal;
    return p && p->kind == QL_PRINCIPAL_USER && p->via != QL_VIA_OIDC &&
           memcmp(p->credential_id.b, s->id.b, sizeof(s->id.b)) == 0;
}

int ql_sessions_revoke(struct ql_ctx *cx, const struct ql_uuid *id)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_sessions_revoke(cx->ports.store, cx, &cx->principal->user_id, id);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, rc, "You have no such session.");
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "session.revoke", "Session", id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_sessions_revoke_others(struct ql_ctx *cx)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    const struct ql_principal *p = cx->principal;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_sessions_remove_user(cx->ports.store, cx, &p->user_id,
                                       p->via == QL_VIA_OIDC ? NULL : p->digest);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "session.revoke_others", "User", &p->user_id, NULL);
    return ql_tx_end(cx, rc);
}
