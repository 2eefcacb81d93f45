/*
 * mfa.h - a second factor for accounts: TOTP (RFC 6238, see totp.h) with recovery codes,
 * the login step that asks for it, and re-authentication for sensitive changes.
 *
 * Enrolment (after the password again) makes a 160-bit secret, stores it sealed by the auth
 * port under a key derived from QUILL_SECRET (the box holds the user id too, so a secret
 * copied to another account's row does not open there) and shows it once, in base32 and as
 * an otpauth:// URI.  It counts for nothing until a first right code confirms it; that also
 * makes QL_MFA_RECOVERY_CODES single-use recovery codes, shown once and kept only as keyed
 * digests.  From then on a right password at login opens no session but a challenge, whose
 * token ql_mfa_login exchanges, with a code or a recovery code, for the session.
 *
 * Replays: an enrolment keeps the newest 30-second step it accepted; a code of that step or
 * an earlier one is refused, and the step moves with a conditional write, so of two requests
 * carrying one code only one passes.  Guessing: a challenge dies after QL_MFA_MAX_FAILURES
 * wrong codes, and each wrong code (like each wrong password) counts as a failed login of the
 * account, which QL_LOGIN_MAX_FAILURES failures within QL_LOGIN_WINDOW_MS lock: logging in
 * again with a known password buys no fresh guesses.
 *
 * Every call here needs the password hash checked or the database: run them on a pool
 * thread.  A wrong password or code is QL_EVALIDATION with a field error ("password" or
 * "code", code "mismatch"), as for a password change, except in ql_mfa_login, where it is the
 * login's QL_EINVALID_CREDENTIALS.
 */
#ifndef QL_MFA_H
#define QL_MFA_H

#include <stddef.h>
#include <stdint.h>

struct ql_ctx;
struct ql_user;
struct ql_auth_result;

/* How long the mfaToken of a password login lives. */
#define QL_MFA_CHALLENGE_TTL_MS (5 * 60 * 1000)
/* Wrong codes a challenge takes before it dies. */
#define QL_MFA_MAX_FAILURES 5
#define QL_MFA_RECOVERY_CODES 10
/* The issuer authenticator apps show beside the account. */
#define QL_MFA_ISSUER "Quill"

/* What enrolment shows, once (arena strings). */
struct ql_totp_enrolment {
    const char *secret; /* base32, unpadded */
    const char *uri;    /* otpauth://totp/Quill:<email>?secret=...&issuer=Quill&... */
};

/* The recovery codes confirmation shows, once (arena strings, "xxxxxx-xxxxxx-xxxxxx-xxxxxx"). */
struct ql_recovery_codes {
    const char *codes[QL_MFA_RECOVERY_CODES];
};

/*
 * Start (or restart) a TOTP enrolment of the calling user after checking password.  Not in
 * force until confirmed.  QL_ECONFLICT when MFA is on already (disable it first).
 */
int ql_mfa_enrol(struct ql_ctx *cx, const char *password, size_t pn, struct ql_totp_enrolment *out);

/*
 * Confirm the enrolment with a first code: MFA is on, and *out gets fresh recovery codes (any
 * earlier ones are gone).  QL_ECONFLICT when no enrolment waits for confirmation.
 */
int ql_mfa_confirm(struct ql_ctx *cx, const char *code, size_t cn, struct ql_recovery_codes *out);

/*
 * Turn MFA off (or drop an enrolment not yet confirmed) after ql_mfa_reauthenticate: the
 * password, and a code or recovery code when MFA is on.  QL_ECONFLICT when nothing is enrolled.
 */
int ql_mfa_disable(struct ql_ctx *cx, const char *password, size_t pn, const char *code, size_t cn);

/*
 * Re-authenticate the calling user before a sensitive change (turning MFA off, erasing the
 * account): password must be theirs and, when MFA is on, code (n bytes) a TOTP code not used
 * before or an unused recovery code, which this spends.  0 when both hold; QL_EVALIDATION with
 * field errors "password"/"code" (required, mismatch); QL_ERATE_LIMITED while the account is
 * locked by failed attempts (each mismatch is one); QL_EFORBIDDEN for API keys.  It commits
 * its own bookkeeping (the spent code and its audit row, a failure) apart from the caller's
 * transaction, and it is slow (argon2id): call it before opening yours, after any cheap check
 * that could refuse the change anyway.
 */
int ql_mfa_reauthenticate(struct ql_ctx *cx, const char *password, size_t pn, const char *code,
                          size_t cn);

/*
 * The second step of a password login for u (a user with MFA on): a challenge whose token
 * (out->mfa_token, "qm_..."; out->mfa_expires_ms) ql_mfa_login takes.  Called by
 * ql_account_login once the password was right.
 */
int ql_mfa_challenge(struct ql_ctx *cx, const struct ql_user *u, struct ql_auth_result *out);

/* The answer to a challenge; strings borrowed, with lengths. */
struct ql_mfa_answer {
    const char *token; /* the mfaToken */
    size_t token_n;
    const char *code; /* a TOTP code or a recovery code */
    size_t code_n;
    const char *client_ip; /* for the per-address limit and the session; may be NULL */
    const char *user_agent;
    size_t user_agent_n;
};

/*
 * Exchange a challenge's token and a right code for a session (*out as a login answers).
 * QL_EINVALID_CREDENTIALS for a wrong or replayed code (the challenge counts it and dies at
 * QL_MFA_MAX_FAILURES); QL_EUNAUTHENTICATED when the token is unknown, spent, expired or dead
 * (log in again); QL_ERATE_LIMITED while the account or address is throttled.
 */
int ql_mfa_login(struct ql_ctx *cx, const struct ql_mfa_answer *in, struct ql_auth_result *out);

#endif
