/*
 * store_security.h - the store's repositories of account security: sessions as their owner
 * lists and revokes them, TOTP enrolments, recovery codes, and logins waiting for their
 * second factor (core/account/sessions.c and core/mfa use them); and the throttles, failed
 * logins and rate counters (core/account, core/mfa).  Part of the store port (store.h): a
 * store's ops table points at these as `security` and `throttle`, and the core calls them
 * only through the wrappers below (store_security.c).
 *
 * Secrets never reach the store in the clear: TOTP secrets arrive sealed by the auth port,
 * recovery codes and challenge tokens as keyed digests.  Records are filled with arena
 * memory of cx.
 */
#ifndef QL_STORE_SECURITY_H
#define QL_STORE_SECURITY_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "uuid/uuid.h"

struct ql_ctx;
struct ql_store;

/* A live session as the sessions list shows it. */
struct ql_session_info {
    struct ql_uuid id;
    int64_t created_ms;
    int64_t last_used_ms;   /* written at most once a minute (QL_TOUCH_INTERVAL_MS) */
    int64_t expires_ms;     /* absolute expiry */
    const char *user_agent; /* as the client sent it at login, cleaned; NULL: unknown */
    const char *client_ip;  /* the address it logged in from; NULL: unknown */
};

/* A user's TOTP enrolment. */
struct ql_totp_row {
    const uint8_t *sealed; /* the secret as ql_auth_seal left it (arena) */
    size_t sealed_n;
    int64_t created_ms;
    int64_t confirmed_ms; /* 0: waiting for its first code */
    int64_t last_step;    /* the newest time step accepted (0: none): no code of it or before */
};

/* A password login waiting for its second factor (the mfaToken). */
struct ql_mfa_challenge {
    struct ql_uuid user_id;
    int failures; /* codes tried so far (each counted before it is checked) */
    int64_t created_ms;
    int64_t expires_ms;
};

struct ql_security_ops {
    /*
     * The user's live sessions (not past expires_ms, used within idle_ms of now_ms), newest
     * first by (created_ms, id), after (after_ms, after) (after NULL: from the first).
     */
    int (*sessions_list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int64_t now_ms, int64_t idle_ms, int64_t after_ms,
                         const struct ql_uuid *after, int limit, struct ql_session_info **out,
                         int *n, int *more);
    /*
     * End the user's session id; QL_ENOT_FOUND when the user has no such session.  Like every
     * revocation, cached principals of it are forgotten on every instance at commit.
     */
    int (*session_revoke)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                          const struct ql_uuid *id);
    /* The user's enrolment, confirmed or not; QL_ENOT_FOUND when there is none. */
    int (*totp_get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    struct ql_totp_row *out);
    /*
     * Start an enrolment with a sealed secret (n bytes), replacing one still waiting for its
     * first code; QL_ECONFLICT when a confirmed one exists.
     */
    int (*totp_begin)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      const uint8_t *sealed, size_t n, int64_t now_ms);
    /* Confirm the waiting enrolment, step its first accepted step; QL_ENOT_FOUND when none. */
    int (*totp_confirm)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int64_t step, int64_t now_ms);
    /*
     * Accept step for the confirmed enrolment if it is newer than its last one, atomically (of
     * two requests with one code, one wins); QL_ENOT_FOUND otherwise.
     */
    int (*totp_use)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    int64_t step);
    /* Delete the enrolment and the user's recovery codes; QL_ENOT_FOUND when none. */
    int (*totp_remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user);
    /* Replace the user's recovery codes with digests[0..n). */
    int (*recovery_set)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t (*digests)[QL_DIGEST_LEN], int n, int64_t now_ms);
    /* Mark the unused code with this digest used, atomically; QL_ENOT_FOUND when none. */
    int (*recovery_use)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms);
    /* How many of the user's recovery codes are unused. */
    int (*recovery_left)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                         int *n);
    int (*challenge_insert)(struct ql_store *self, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *user,
                            int64_t now_ms, int64_t expires_ms);
    /* The challenge with this token digest, live or not; QL_ENOT_FOUND when there is none. */
    int (*challenge_get)(struct ql_store *self, struct ql_ctx *cx,
                         const uint8_t digest[QL_DIGEST_LEN], struct ql_mfa_challenge *out);
    /*
     * Count a try at a code, atomically (of concurrent tries, each gets its own count);
     * *failures gets the new count.  QL_ENOT_FOUND when it is gone.
     */
    int (*challenge_fail)(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int *failures);
    /*
     * Delete the challenge if it is live (not expired at now_ms, fewer than max_failures
     * tries counted), atomically: it is spent.  QL_ENOT_FOUND when it is not.
     */
    int (*challenge_take)(struct ql_store *self, struct ql_ctx *cx,
                          const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms, int max_failures);
    /* Delete the challenges expired at now_ms; *n gets how many. */
    int (*challenge_purge)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t *n);
};

/*
 * Failures counted per key, the rows of one table: failed logins under "login:<email>"
 * (core/account/lockout.c) and other per-key limits of at most 15 minutes under their own
 * prefix ("mail:reset:<email>": core/account/recovery.c).  Each method is one statement: run
 * outside a transaction, it commits on its own.
 */
struct ql_throttle_ops {
    /* The failures of key since since_ms (after it): how many, and the oldest one's time. */
    int (*failures)(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t since_ms,
                    int *count, int64_t *oldest_ms);
    int (*record_failure)(struct ql_store *self, struct ql_ctx *cx, const char *key,
                          int64_t now_ms);
    /*
     * Delete one failure of key recorded at at_ms (of several alike, any one; none: nothing
     * happens), so an attempt counted before it was checked can be taken back.
     */
    int (*forget_failure)(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t at_ms);
    /* Delete every failure of key. */
    int (*clear_failures)(struct ql_store *self, struct ql_ctx *cx, const char *key);
    /*
     * Count one hit for key in the one-minute window starting at window_ms; *count is the new
     * total of that window and *prev the total of the window before it.
     */
    int (*hit)(struct ql_store *self, struct ql_ctx *cx, const char *key, int64_t window_ms,
               int *count, int *prev);
};

/* The wrappers: each does what the method of the same name does, after checking arguments. */
int ql_store_sessions_list(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                           int64_t now_ms, int64_t idle_ms, int64_t after_ms,
                           const struct ql_uuid *after, int limit, struct ql_session_info **out,
                           int *n, int *more);
int ql_store_sessions_revoke(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                             const struct ql_uuid *id);
int ql_store_totp_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                      struct ql_totp_row *out);
int ql_store_totp_begin(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                        const uint8_t *sealed, size_t n, int64_t now_ms);
int ql_store_totp_confirm(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          int64_t step, int64_t now_ms);
int ql_store_totp_use(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                      int64_t step);
int ql_store_totp_remove(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user);
int ql_store_recovery_set(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          const uint8_t (*digests)[QL_DIGEST_LEN], int n, int64_t now_ms);
int ql_store_recovery_use(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                          const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms);
int ql_store_recovery_left(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *user,
                           int *n);
int ql_store_challenge_insert(struct ql_store *s, struct ql_ctx *cx,
                              const uint8_t digest[QL_DIGEST_LEN], const struct ql_uuid *user,
                              int64_t now_ms, int64_t expires_ms);
int ql_store_challenge_get(struct ql_store *s, struct ql_ctx *cx,
                           const uint8_t digest[QL_DIGEST_LEN], struct ql_mfa_challenge *out);
int ql_store_challenge_fail(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int *failures);
int ql_store_challenge_take(struct ql_store *s, struct ql_ctx *cx,
                            const uint8_t digest[QL_DIGEST_LEN], int64_t now_ms, int max_failures);
int ql_store_challenge_purge(struct ql_store *s, struct ql_ctx *cx, int64_t now_ms, int64_t *n);

int ql_store_throttle_failures(struct ql_store *s, struct ql_ctx *cx, const char *key,
                               int64_t since_ms, int *count, int64_t *oldest_ms);
int ql_store_throttle_record_failure(struct ql_store *s, struct ql_ctx *cx, const char *key,
                                     int64_t now_ms);
int ql_store_throttle_forget_failure(struct ql_store *s, struct ql_ctx *cx, const char *key,
                                     int64_t at_ms);
int ql_store_throttle_clear_failures(struct ql_store *s, struct ql_ctx *cx, const char *key);
int ql_store_throttle_hit(struct ql_store *s, struct ql_ctx *cx, const char *key, int64_t window_ms,
                          int *count, int *prev);

#endif
