/*
 * smtp.h - the mail port (core/mail/mail.h) over libcurl's SMTP client.
 *
 * Configuration (quill-worker reads it; see docs/configuration.md):
 *   QUILL_SMTP_URL              smtp://host[:port] (STARTTLS when the server offers it) or
 *                               smtps://host[:port] (TLS from the start); credentials as
 *                               user:password@ in the URL or in the two variables below.
 *                               Unset: no mail server, mail stays in the outbox.
 *   QUILL_SMTP_USERNAME, QUILL_SMTP_PASSWORD
 *   QUILL_MAIL_FROM             "Quill <quill@example.com>" or an address: the From header
 *                               and the envelope sender (required with QUILL_SMTP_URL)
 *   QUILL_SMTP_TLS              "try" (STARTTLS when offered) or "require" (refuse to send
 *                               without TLS)
 *   QUILL_SMTP_CA_FILE          PEM file of the CAs to trust (default: the system's)
 *   QUILL_SMTP_CONNECT_TIMEOUT_MS, QUILL_SMTP_TIMEOUT_MS   connecting, and one whole send
 *
 * Lifetime: ql_smtp_create() -> ql_smtp_port() for the contexts that send ->
 * ql_smtp_destroy().  The process calls curl_global_init() before and curl_global_cleanup()
 * after (the apps' main.c).
 */
#ifndef QL_SMTP_H
#define QL_SMTP_H

#include <stddef.h>

struct ql_env;
struct ql_mailer;
struct ql_mail_msg;
struct ql_buf;
struct ql_smtp;

struct ql_smtp_config {
    char url[1024]; /* "": no mail server */
    char username[256];
    char password[256];
    char from_addr[320];   /* the address of QUILL_MAIL_FROM: the envelope sender */
    char from_header[640]; /* QUILL_MAIL_FROM as a From header value, encoded */
    char domain[256];      /* the address's domain: the right part of Message-IDs */
    int require_tls;
    char ca_file[512]; /* "": the system's CAs */
    int connect_timeout_ms;
    int timeout_ms;
};

/* Read c from the environment; problems (each naming its variable) go to e. */
void ql_smtp_config_read(struct ql_env *e, struct ql_smtp_config *c);

/*
 * Parse a From value ("Name <addr>", "\"Name\" <addr>" or "addr") into c's from_addr,
 * from_header and domain.  0, or -1 with the reason in why (cap bytes).
 */
int ql_smtp_parse_from(const char *v, struct ql_smtp_config *c, char *why, size_t cap);

/*
 * The RFC 5322 message of m as c sends it, CRLF line ends, into out: Date, From, To,
 * Subject (RFC 2047 encoded words when it is not plain ASCII), Message-ID
 * (<id@domain>), MIME-Version, Content-Type text/plain UTF-8, quoted-printable body.
 * Returns 0; QL_EVALIDATION when m->to is not an address (or m->id not plain ASCII); or
 * QL_ENOMEM (out's failed flag).
 */
int ql_smtp_compose(const struct ql_smtp_config *c, const struct ql_mail_msg *m,
                    struct ql_buf *out);

/* A sender for c (copied).  *out NULL on failure. */
int ql_smtp_create(const struct ql_smtp_config *c, struct ql_smtp **out);
struct ql_mailer *ql_smtp_port(struct ql_smtp *s);
void ql_smtp_destroy(struct ql_smtp *s);

#endif
