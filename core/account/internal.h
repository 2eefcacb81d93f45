/*
 * internal.h - what the account use cases (account.c, sessions.c) share with the MFA ones
 * (core/mfa): opening sessions, the per-address limit and per-account lockout of login
 * attempts (lockout.c), and the cleaning of what clients say about themselves.  Not a public
 * header.
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

/* An attempt at an account's password or code, counted by ql__account_attempt. */
struct ql__attempt {
    const char *key; /* the key of the account's failures, "login:<email>" (arena) */
    int64_t at_ms;   /* the time of the attempt's row */
};

/*
 * Count an attempt at email's secrets before checking it (lockout.c): a failure row of the
 * account now, into *out.  QL_ERATE_LIMITED (with retry_after_ms and rate_limit, the row
 * taken back) when that makes more than QL_LOGIN_MAX_FAILURES within QL_LOGIN_WINDOW_MS:
 * wrong passwords and wrong second factors alike.  When the secret turns out wrong the row
 * stays as its failure; when right, ql__account_attempt_passed takes it back.
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
