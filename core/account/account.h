/*
 * account.h - accounts and sessions: signup, login, logout, the caller's profile,
 * password change, and turning a presented token into a principal.
 *
 * Tokens are "qs_" + base64url(32 random bytes); only their keyed digest is stored.  The
 * CSRF token of a session is derived from its digest, so it needs no storage either.
 * Passwords are hashed with the auth port (argon2id); callers run these use cases on a
 * pool thread, never on an event loop.
 */
#ifndef QL_ACCOUNT_H
#define QL_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "ctx/ctx.h"
#include "model/model.h"

/* Login throttling: this many failures for one email within the window lock it. */
#define QL_LOGIN_MAX_FAILURES 5
#define QL_LOGIN_WINDOW_MS (15 * 60 * 1000)
/* last_seen / last_used are written at most this often. */
#define QL_TOUCH_INTERVAL_MS 60000

struct ql_new_session {
    const char *token; /* arena; shown to the client once */
    const char *csrf;  /* arena */
    int64_t expires_ms;
};

/*
 * What a login answers.  With MFA on, a right password opens no session: mfa_token (arena,
 * shown to the client once) names the second step instead (core/mfa/mfa.h), and session
 * and user are unset.  mfa_token is NULL otherwise.
 */
struct ql_auth_result {
    struct ql_user user;
    struct ql_new_session session;
    const char *mfa_token;
    int64_t mfa_expires_ms;
};

/* Signup input; strings are borrowed, with lengths. */
struct ql_credentials {
    const char *email;
    size_t email_n;
    const char *password;
    size_t password_n;
    const char *display_name; /* signup only */
    size_t display_name_n;
    const char *client_ip;  /* for the per-address limit and the sessions list; may be NULL */
    const char *user_agent; /* the User-Agent header, for the sessions list; may be NULL */
    size_t user_agent_n;
};

/* Create a user and a first session.  QL_EEMAIL_TAKEN, QL_EVALIDATION, QL_ERATE_LIMITED. */
int ql_account_signup(struct ql_ctx *cx, const struct ql_credentials *in,
                      struct ql_auth_result *out);

/*
 * Check email and password and open a session (or, with MFA on, a challenge: see
 * struct ql_auth_result).  A wrong password and an unknown email give the same
 * QL_EINVALID_CREDENTIALS after the same work; QL_ERATE_LIMITED (with
 * cx->err.retry_after_ms) while the email is locked or the address is over its limit.
 */
int ql_account_login(struct ql_ctx *cx, const struct ql_credentials *in,
                     struct ql_auth_result *out);

/* End the current session (the token stops working on every instance). */
int ql_account_logout(struct ql_ctx *cx);

/*
 * Resolve a presented session token or API key into *out (memberships in cx's arena).
 * QL_EUNAUTHENTICATED when the token is unknown, revoked or expired.
 */
int ql_account_resolve(struct ql_ctx *cx, const char *token, size_t n, int via,
                       struct ql_principal *out);

/*
 * Resolve a bearer token: a JWT of the identity provider (when the ports have one) into its
 * user's principal (ql_account_oidc), anything else as ql_account_resolve does.
 */
int ql_account_bearer(struct ql_ctx *cx, const char *token, size_t n, struct ql_principal *out);

/* The CSRF token of a session principal into out (at least 44 bytes). */
int ql_account_csrf(struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN], char *out);

/* The caller and the teams it belongs to.  The store must answer at once. */
int ql_account_me(struct ql_ctx *cx, struct ql_user *user, struct ql_team_role **teams, int *n);

/*
 * ql_account_me answered through done, later (an event loop's session pipelines the read),
 * or an error now and done never runs.  user, teams and n stay valid until done runs.
 */
int ql_account_me_async(struct ql_ctx *cx, struct ql_user *user, struct ql_team_role **teams,
                        int *n, ql_done_fn done, void *arg);

int ql_account_rename(struct ql_ctx *cx, const char *name, size_t n, struct ql_user *out);

/*
 * Change the password; every other session of the user is revoked.  A wrong current
 * password is QL_EVALIDATION (field "currentPassword", "mismatch") and counts as a failed
 * login of the account: QL_ERATE_LIMITED (with cx->err.retry_after_ms) while it is locked.
 */
int ql_account_change_password(struct ql_ctx *cx, const char *current, size_t cn, const char *next,
                               size_t nn);

/*
 * The principal of an OpenID Connect user: the user with (issuer, subject) is created on
 * first sight with the token's email when the provider says it is verified (email_verified),
 * or a placeholder unique to the pair when it is not, or is taken, invalid or absent.  An
 * account is never found by the token's email.
 */
int ql_account_oidc(struct ql_ctx *cx, const char *issuer, const char *subject, const char *email,
                    int email_verified, const char *name, struct ql_principal *out);

/* Is the caller a user principal?  Sets QL_EFORBIDDEN in cx->err when not. */
int ql_account_require_user(struct ql_ctx *cx);

/*
 * Forget every failed login of email (the lockout's count, core/account/lockout.c), in the
 * open transaction if any: after a complete login, a password reset, an erasure.
 */
int ql_account_forget_failures(struct ql_ctx *cx, const char *email);

#endif
