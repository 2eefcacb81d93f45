/*
 * recovery.h - password reset and email verification: single-use links sent by mail.
 *
 * A link carries a token ("qr_" for a reset, "qv_" for a verification, then base64url of
 * 32 random bytes) that is stored only as its keyed digest (the auth port), works once, and
 * expires (QUILL_PASSWORD_RESET_TTL_MINUTES, 30; QUILL_EMAIL_VERIFY_TTL_HOURS, 24).  Links
 * point at the web application: <QUILL_APP_URL>/reset-password#token=... and
 * /verify-email#token=... (a fragment, so the token never reaches a server's access log).
 *
 * A reset request never tells whether the email has an account: the request only counts
 * itself and enqueues the job "account.password_reset" (the same work, the same answer,
 * for every email); the job looks the email up and, for an account, writes the token and
 * the mail.  Mails go through the outbox (core/mail/mail.h).
 *
 * Limits: QUILL_MAIL_IP_LIMIT requests a minute per client address (reset requests and
 * confirmations, verification requests), and QL_MAIL_MAX_PER_WINDOW mails a window per
 * email (resets: counted for every email, known or not) or per user (verifications).
 */
#ifndef QL_RECOVERY_H
#define QL_RECOVERY_H

#include <stddef.h>

struct ql_ctx;
struct ql_job;

#define QL_MAIL_MAX_PER_WINDOW 3
#define QL_MAIL_WINDOW_MS (15 * 60 * 1000)

/* The job that mails a reset link to the account of an email, if there is one. */
#define QL_RESET_MAIL_KIND "account.password_reset"

/*
 * Ask for a reset link for email (n bytes).  0 whether or not the email has an account;
 * QL_EVALIDATION for a missing or malformed email; QL_ERATE_LIMITED (cx->err.retry_after_ms)
 * past a limit.  client_ip may be NULL.
 */
int ql_account_reset_request(struct ql_ctx *cx, const char *email, size_t n, const char *client_ip);

/* The job "account.password_reset" ({"email"}): token and mail for the account, if any. */
int ql_account_reset_mail(struct ql_ctx *cx, const struct ql_job *job);

/*
 * Set a new password with a reset token: every session of the user ends at once on every
 * instance, every other reset link of the user stops working, the email counts as
 * verified, and failed logins are forgotten.  QL_EINVALID_TOKEN for a token that is unknown,
 * used or expired; QL_EVALIDATION for a bad password; QL_ERATE_LIMITED.
 */
int ql_account_reset_confirm(struct ql_ctx *cx, const char *token, size_t tn, const char *password,
                             size_t pn, const char *client_ip);

/*
 * Mail the caller (a user) a verification link for its email.  QL_ECONFLICT when the email
 * is verified already; QL_ERATE_LIMITED.
 */
int ql_account_verify_request(struct ql_ctx *cx, const char *client_ip);

/* Mark the email of the token's user verified.  QL_EINVALID_TOKEN as for a reset. */
int ql_account_verify_confirm(struct ql_ctx *cx, const char *token, size_t tn);

#endif
