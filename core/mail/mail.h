/*
 * mail.h - the mail port: hand one message to a mail server (adapters/smtp), and the
 * outbox the core keeps in the store so that no request waits for a mail server and no
 * mail is lost while one is down.
 *
 *   the port     send() takes one plain-text UTF-8 message to one recipient and blocks
 *                until the server accepted or refused it.  The adapter adds From (its own
 *                configuration), Date, Message-ID and the MIME headers.
 *   the outbox   a use case writes a mail with ql_mail_queue inside its own transaction: the
 *                mail (body sealed by the auth port, so tokens in links are not readable in
 *                the database) and one job "mail.send" exist if and only if the request's
 *                write committed.  The job (ql_mail_send_job) hands the mail to the port and
 *                records the outcome; a server that is down or answers 4xx fails the attempt
 *                and the job engine retries it with its backoff.  Without a port (no
 *                QUILL_SMTP_URL) the mail is "held": it stays in the outbox, readable by the
 *                operator (ql_mail_list), and nothing goes to the logs.
 */
#ifndef QL_MAIL_H
#define QL_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "uuid/uuid.h"

struct ql_ctx;
struct ql_job;

/* One message.  Strings are borrowed for the call. */
struct ql_mail_msg {
    const char *id;      /* unique and stable across retries: the Message-ID's left part */
    const char *to;      /* one address (addr-spec) */
    const char *subject; /* UTF-8, one line */
    const char *text;    /* UTF-8 plain text; lines end with "\n" */
    int64_t date_ms;     /* the Date header */
};

/* What the server said; error is "" after a success and never holds the message. */
struct ql_mail_result {
    int smtp_code; /* the last SMTP reply code; 0 when none came */
    char error[256];
};

struct ql_mailer;

struct ql_mailer_ops {
    /*
     * Send m.  QL_OK once the server accepted it; QL_EUNAVAILABLE when it may work later
     * (no connection, timeout, TLS, a 4xx reply, refused credentials); QL_EVALIDATION when
     * it never will (a 5xx reply to the message or its recipient, an address with CR or LF).
     * res says why.  Blocking; safe from several threads at once.
     */
    int (*send)(struct ql_mailer *self, const struct ql_mail_msg *m, struct ql_mail_result *res);
};

struct ql_mailer {
    const struct ql_mailer_ops *ops;
};

/* The wrapper the core sends through (outbox.c): checks the message, clears res. */
int ql_mailer_send(struct ql_mailer *m, const struct ql_mail_msg *msg, struct ql_mail_result *res);

/* ---- the outbox ------------------------------------------------------------------------------ */

/* Outbox states. */
#define QL_MAIL_PENDING "pending" /* waiting for (another) attempt */
#define QL_MAIL_SENT "sent"       /* accepted by the server; its body is gone */
#define QL_MAIL_HELD "held"       /* no mail server configured: kept for the operator */
#define QL_MAIL_FAILED "failed"   /* refused for good, or every attempt failed */

/* A mail of the outbox.  Strings and body are arena memory of the context that read it. */
struct ql_mail {
    struct ql_uuid id;
    const char *kind; /* what it is for: "password_reset", "email_verification" */
    struct ql_uuid user_id;
    int has_user;
    const char *to;
    const char *subject;
    const uint8_t *body; /* sealed text; NULL once sent */
    size_t body_n;
    const char *state;
    int attempts;
    const char *last_error; /* NULL: none */
    const char *dedupe_key; /* NULL: none; a second mail with the same key is refused */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t sent_ms; /* 0: not sent */
};

/* The job that sends one mail, and its attempts (with the engine's backoff). */
#define QL_MAIL_SEND_KIND "mail.send"
#define QL_MAIL_SEND_ATTEMPTS 20

/* What to queue.  Strings are borrowed for the call. */
struct ql_mail_new {
    const char *kind;
    const struct ql_uuid *user; /* NULL: none */
    const char *to;
    const char *subject;
    const char *text;
    const char *dedupe_key; /* NULL: none */
};

/*
 * Write a mail to the outbox and enqueue its "mail.send" job, in the open transaction.
 * *id (may be NULL) gets the mail's id.  QL_ECONFLICT when dedupe_key is taken (nothing is
 * written: the mail was queued before).
 */
int ql_mail_queue(struct ql_ctx *cx, const struct ql_mail_new *m, struct ql_uuid *id);

/* The job "mail.send": one attempt at the mail its payload names ({"mailId"}). */
int ql_mail_send_job(struct ql_ctx *cx, const struct ql_job *job);

/*
 * Forget, in the open transaction, every mail and mailed token of a user being erased, and
 * what the outbox's limits and jobs kept of its email (the address it had).
 */
int ql_mail_forget(struct ql_ctx *cx, const struct ql_uuid *user, const char *email);

/* The job "purge.mail": used and expired tokens, and finished mails older than 30 days. */
int ql_mail_purge_job(struct ql_ctx *cx, const struct ql_job *job);

/*
 * The outbox, newest first, for the operator: each mail with its body opened (arena text in
 * *bodies[i], NULL when the mail has none any more).  cursor may be NULL.
 */
int ql_mail_list(struct ql_ctx *cx, const char *cursor, size_t cursor_n, int limit,
                 struct ql_mail **out, const char ***bodies, int *n, const char **next_cursor);

#endif
