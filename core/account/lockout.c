/*
 * lockout.c - the per-account limit on guessing: QL_LOGIN_MAX_FAILURES wrong passwords or
 * codes within QL_LOGIN_WINDOW_MS lock an email, whichever use case checked them (login,
 * its second step, re-authentication, password change); and the per-key limits it is built
 * on, which the mail limits (core/account/recovery.c) use too.
 *
 * An attempt is counted before what it limits happens, never after: with a count taken
 * first and the attempt recorded once its secret is checked (or its mail queued), any number
 * of concurrent requests would all read the same count and all go on.  So
 * ql__limit_attempt writes the attempt's row (one statement, committed on its own) and only
 * then counts the key's rows (a second statement, whose snapshot sees every row committed
 * before it began).  Of the attempts that go on, the j-th to write its row counts at least
 * j rows, so at most the limit's max go on per window.  One that is refused deletes one row
 * of its key and time (its own or one just like it), so one row stays per attempt that went
 * on.  Under contention an attempt may count the rows of others about to be refused, so
 * fewer attempts than the limit may go on, never more.  For logins, a right secret takes its
 * row back (ql__account_attempt_passed); a wrong one leaves it, and the row is the failure.
 *
 * Failed logins share their table with other per-key limits (core/account/recovery.c's
 * "mail:reset:<email>" and "mail:verify:<userId>"): every key written here starts with
 * "login:", built by failure_key alone, so no email a client sends (a malformed one is
 * counted too) can name another limit's rows, and no login clears them.
 */
#include "account/account.h"
#include "account/internal.h"

#include "arena/arena.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store_security.h"

/* The key of email's failed logins (arena); NULL when out of memory. */
static const char *failure_key(struct ql_ctx *cx, const char *email)
{
    return ql_arena_sprintf(cx->arena, "login:%s", email);
}

int ql__limit_attempt(struct ql_ctx *cx, const struct ql__limit *lim, const char *key,
                      struct ql__attempt *out)
{
    struct ql_store *st = cx->ports.store;
    struct ql_error *e = &cx->err;
    int64_t now = ql_clock_now_ms(cx->ports.clock), oldest = 0;
    out->key = key;
    out->at_ms = now;
    int count = 0;
    int rc = ql_store_throttle_record_failure(st, cx, key, now);
    if (rc == QL_OK)
        rc = ql_store_throttle_failures(st, cx, key, now - lim->window_ms, &count, &oldest);
    if (rc || count <= lim->max)
        return rc; /* a failed count leaves the row: an error errs on the strict side */
    rc = ql_store_throttle_forget_failure(st, cx, key, now);
    if (rc)
        return rc;
    e->retry_after_ms = oldest + lim->window_ms - now;
    if (e->retry_after_ms < 1000)
        e->retry_after_ms = 1000;
    e->rate_limit = lim->max;
    return ql_error_set(e, QL_ERATE_LIMITED, "%s", lim->refusal);
}

int ql__limit_take_back(struct ql_ctx *cx, const struct ql__attempt *at)
{
    return ql_store_throttle_forget_failure(cx->ports.store, cx, at->key, at->at_ms);
}

int ql__account_attempt(struct ql_ctx *cx, const char *email, struct ql__attempt *out)
{
    static const struct ql__limit lockout = {
        .max = QL_LOGIN_MAX_FAILURES,
        .window_ms = QL_LOGIN_WINDOW_MS,
        .refusal = "Too many failed logins for this account; try again later."};
    const char *key = failure_key(cx, email);
    if (key == NULL)
        return ql_error_nomem(&cx->err);
    return ql__limit_attempt(cx, &lockout, key, out);
}

int ql__account_attempt_passed(struct ql_ctx *cx, const struct ql__attempt *at)
{
    return ql__limit_take_back(cx, at);
}

int ql_account_forget_failures(struct ql_ctx *cx, const char *email)
{
    const char *key = failure_key(cx, email);
    if (key == NULL)
        return ql_error_nomem(&cx->err);
    return ql_store_throttle_clear_failures(cx->ports.store, cx, key);
}
