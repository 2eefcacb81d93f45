/*
 * internal.h - what the account use cases (account.c, sessions.c) share with the MFA ones
 * (core/mfa): opening sessions, the per-address limit and per-account lockout of login
 * attempts (lockout.c, whose per-key limits the mail limits of recovery.c use too), and the
 * cleaning of what clients say about themselves.  Not a public header.
 */
#ifndef QL_ACCOUNT_INTERNAL_H
#define QL_ACCOUNT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct ql_ctx;
struct ql_uuid;
struct ql_user;
struct ql_new_session;

/* Longest User-Agent a session keeps (longer ones are cut). */
#define QL_USER_AGENT_MAX 256

/* QL_ERATE_LIMITED (with retry_after_ms) while ip is over its signup and login allowance. */
int ql__account_ip_limit(struct ql_ctx *cx, const char *ip);

/*
 * A limit on attempts per key, counted on the throttle's rows (lockout.c): at most max
 * attempts of one key within window_ms; a refusal is QL_ERATE_LIMITED with refusal as its
 * message (static).
 */
struct ql__limit {
    int max;
    int64_t window_ms;
    const char *refusal;
};

/* An attempt counted by ql__limit_attempt: the row it wrote. */
struct ql__attempt {
    const char *key; /* the limit's key, "login:<email>", "mail:reset:<email>"... (borrowed) */
    int64_t at_ms;   /* the time of the attempt's row */
};

/*
 * Count an attempt under lim before doing what lim limits: a row of key now (into *out),
 * committed on its own, then a count of key's rows.  QL_ERATE_LIMITED (with retry_after_ms
 * and rate_limit, the row taken back) when that makes more than lim->max within
 * lim->window_ms.  Concurrent attempts cannot all read one count, so at most lim->max go on.
 * The row stays until ql__limit_take_back; on another error it may stay (a failed count
 * leaves it: the store's errors err on the strict side).  key must outlive *out (arena).
 */
int ql__limit_attempt(struct ql_ctx *cx, const struct ql__limit *lim, const char *key,
                      struct ql__attempt *out);

/* Take an attempt's row back (one row of its key and time): what it limits did not happen. */
int ql__limit_take_back(struct ql_ctx *cx, const struct ql__attempt *at);

/*
 * Count an attempt at email's secrets before checking it: ql__limit_attempt under the key
 * "login:<email>", QL_LOGIN_MAX_FAILURES within QL_LOGIN_WINDOW_MS, wrong passwords and
 * wrong second factors alike.  When the secret turns out wrong the row stays as its
 * failure; when right, ql__account_attempt_passed takes it back.
 */
int ql__account_attempt(struct ql_ctx *cx, const char *email, struct ql__attempt *out);

/* The attempt's secret was right: its row is no failure (the account's others stay). */
int ql__account_attempt_passed(struct ql_ctx *cx, const struct ql__attempt *at);

/* A fresh session of user in the open transaction: token and CSRF token in out (arena). */
int ql__account_new_session(struct ql_ctx *cx, const struct ql_uuid *user, const char *user_agent,
                            const char *client_ip, struct ql_new_session *out);

/*
 * The writes of a successful login, in the open transaction: the account's failures
 * forgotten (ql_account_forget_failures), a session opened, the "session.login" audit row.
 */
int ql__account_login_rows(struct ql_ctx *cx, const struct ql_user *u, const char *user_agent,
                           const char *client_ip, struct ql_new_session *out);

/* ql__account_login_rows in a transaction of its own. */
int ql__account_open(struct ql_ctx *cx, const struct ql_user *u, const char *user_agent,
                     const char *client_ip, struct ql_new_session *out);

/* s (n bytes) as a session keeps it: printable ASCII, at most QL_USER_AGENT_MAX (arena). */
const char *ql__account_user_agent(struct ql_ctx *cx, const char *s, size_t n);

/* "User:<id>" into out: the actor of rows written before a principal exists. */
void ql__account_actor(const struct ql_uuid *user, char out[64]);

#endif
