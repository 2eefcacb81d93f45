/*
 * mail_store.h - the store's mail repository (struct ql_store_ops's mail table): the outbox
 * and the single-use tokens that mails carry (password reset, email verification).
 *
 * A token is known by the keyed digest of its text only (the auth port's token_digest), as
 * sessions are.  Using one is one statement that marks it used only while it is unused and
 * unexpired, so two requests with the same token cannot both succeed.
 *
 * Errors are the store's (store.h).  Records handed out are arena memory of cx.
 */
#ifndef QL_MAIL_STORE_H
#define QL_MAIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "mail/mail.h"
#include "store/store.h"

/* What a token is for. */
enum ql_token_purpose {
    QL_TOKEN_PASSWORD_RESET = 1,
    QL_TOKEN_EMAIL_VERIFY = 2,
};

/* "password_reset" or "email_verification"; NULL for anything else. */
const char *ql_token_purpose_name(int purpose);

struct ql_mail_token {
    uint8_t digest[QL_DIGEST_LEN];
    int purpose;
    struct ql_uuid user_id;
    const char *email; /* the address the token was mailed to */
    int64_t created_ms;
    int64_t expires_ms;
    int64_t used_ms; /* 0: unused */
};

struct ql_mail_repo_ops {
    /*
     * Add a mail (state, attempts and times as given).  QL_ECONFLICT when its dedupe_key is
     * taken: nothing is written and the transaction stays usable.
     */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail *m);
    /* A mail with its sealed body; QL_ENOT_FOUND when there is none. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
               struct ql_mail *out);
    /*
     * Record what an attempt (attempted 1) or a decision (attempted 0) left: the state, the
     * error (NULL: none), updated at now; attempts grows by attempted.  A mail that became
     * sent gets sent_at and loses its body.  QL_ENOT_FOUND when the mail is gone.
     */
    int (*record)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                  const char *state, const char *error, int attempted, int64_t now_ms);
    /* The outbox, newest first, after (after_ms, after) (NULL: from the newest). */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, int64_t after_ms,
                const struct ql_uuid *after, int limit, struct ql_mail **out, int *n, int *more);
    int (*token_insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail_token *t);
    /* The unused token of purpose with this digest that is unexpired at now; QL_ENOT_FOUND. */
    int (*token_find)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                      int purpose, int64_t now_ms, struct ql_mail_token *out);
    /* Like token_find, and mark it used at now: only one caller ever gets it. */
    int (*token_use)(struct ql_store *self, struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN],
                     int purpose, int64_t now_ms, struct ql_mail_token *out);
    /* Mark every unused token of purpose of the user used at now (they stop working). */
    int (*tokens_end)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                      int purpose, int64_t now_ms);
    /*
     * Mark the user's email verified at now (kept when it already was), if the user's email
     * is still email; QL_ENOT_FOUND otherwise.
     */
    int (*verify_email)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const char *email, int64_t now_ms);
    /*
     * Delete tokens that expired before tokens_before_ms, and mails that are not pending and
     * were last updated before mails_before_ms; *n gets how many rows went.
     */
    int (*purge)(struct ql_store *self, struct ql_ctx *cx, int64_t tokens_before_ms,
                 int64_t mails_before_ms, int64_t *n);
    /*
     * Forget what mail kept of a user whose email was email (an erasure): the user's mails
     * and tokens, the per-email reset counts, and reset jobs naming the email.
     */
    int (*forget)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                  const char *email);
};

/* The wrappers the core calls the repository through. */
static inline int ql_mail_repo_insert(struct ql_store *s, struct ql_ctx *cx,
                                      const struct ql_mail *m)
{
    return s->ops->mail->insert(s, cx, m);
}

static inline int ql_mail_repo_get(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *id,
                                   struct ql_mail *out)
{
    return s->ops->mail->get(s, cx, id, out);
}

static inline int ql_mail_repo_record(struct ql_store *s, struct ql_ctx *cx,
                                      const struct ql_uuid *id, const char *state,
                                      const char *error, int attempted, int64_t now_ms)
{
    return s->ops->mail->record(s, cx, id, state, error, attempted, now_ms);
}

static inline int ql_mail_repo_list(struct ql_store *s, struct ql_ctx *cx, int64_t after_ms,
                                    const struct ql_uuid *after, int limit, struct ql_mail **out,
                                    int *n, int *more)
{
    return s->ops->mail->list(s, cx, after_ms, after, limit, out, n, more);
}

static inline int ql_mail_repo_token_insert(struct ql_store *s, struct ql_ctx *cx,
                                            const struct ql_mail_token *t)
{
    return s->ops->mail->token_insert(s, cx, t);
}

static inline int ql_mail_repo_token_find(struct ql_store *s, struct ql_ctx *cx,
                                          const uint8_t digest[QL_DIGEST_LEN], int purpose,
                                          int64_t now_ms, struct ql_mail_token *out)
{
    return s->ops->mail->token_find(s, cx, digest, purpose, now_ms, out);
}

static inline int ql_mail_repo_token_use(struct ql_store *s, struct ql_ctx *cx,
                                         const uint8_t digest[QL_DIGEST_LEN], int purpose,
                                         int64_t now_ms, struct ql_mail_token *out)
{
    return s->ops->mail->token_use(s, cx, digest, purpose, now_ms, out);
}

static inline int ql_mail_repo_tokens_end(struct ql_store *s, struct ql_ctx *cx,
                                          const struct ql_uuid *user, int purpose, int64_t now_ms)
{
    return s->ops->mail->tokens_end(s, cx, user, purpose, now_ms);
}

static inline int ql_mail_repo_verify_email(struct ql_store *s, struct ql_ctx *cx,
                                            const struct ql_uuid *user, const char *email,
                                            int64_t now_ms)
{
    return s->ops->mail->verify_email(s, cx, user, email, now_ms);
}

static inline int ql_mail_repo_forget(struct ql_store *s, struct ql_ctx *cx,
                                      const struct ql_uuid *user, const char *email)
{
    return s->ops->mail->forget(s, cx, user, email);
}

static inline int ql_mail_repo_purge(struct ql_store *s, struct ql_ctx *cx,
                                     int64_t tokens_before_ms, int64_t mails_before_ms, int64_t *n)
{
    return s->ops->mail->purge(s, cx, tokens_before_ms, mails_before_ms, n);
}

#endif
