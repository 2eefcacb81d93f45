/*
 * smtp.c - send one mail with libcurl's SMTP client: connect (TLS from the start for
 * smtps://, STARTTLS when the server offers it for smtp://, or always when TLS is required),
 * authenticate when credentials are configured, MAIL FROM, RCPT TO, and the message from
 * ql_smtp_compose as the DATA upload.  Each send is one connection of its own, so sends from
 * several threads never share state.
 *
 * Outcomes (core/mail/mail.h): a 5xx reply to the envelope or the message is a refusal for
 * good (QL_EVALIDATION), except the replies about authentication (530, 534, 535, 538),
 * which an operator fixes in the configuration; everything else that fails may work later
 * (QL_EUNAVAILABLE).  Errors name the SMTP reply code and libcurl's reason, never the
 * recipient or the message.
 */
#include "smtp.h"

#include "buf/buf.h"
#include "err/err.h"
#include "mail/mail.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ql_smtp {
    struct ql_mailer base;
    struct ql_smtp_config cfg;
};

/* The message as the upload reads it. */
struct upload {
    const char *data;
    size_t len;
    size_t off;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct upload *u = ud;
    size_t room = size * nitems, left = u->len - u->off;
    size_t n = left < room ? left : room;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

static int auth_reply(long code)
{
    return code == 530 || code == 534 || code == 535 || code == 538;
}

static int s_send(struct ql_mailer *self, const struct ql_mail_msg *m, struct ql_mail_result *res)
{
    struct ql_smtp *s = (struct ql_smtp *)self;
    const struct ql_smtp_config *c = &s->cfg;
    struct ql_buf msg;
    ql_buf_init(&msg, NULL);
    int rc = ql_smtp_compose(c, m, &msg);
    if (rc) {
        ql_buf_cleanup(&msg);
        snprintf(res->error, sizeof(res->error), "%s",
                 rc == QL_EVALIDATION ? "the recipient is not an address" : "out of memory");
        return rc;
    }
    char from[340], to[340], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(from, sizeof(from), "<%s>", c->from_addr);
    snprintf(to, sizeof(to), "<%s>", m->to);
    CURL *h = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    if (h == NULL || rcpt == NULL) {
        curl_easy_cleanup(h);
        curl_slist_free_all(rcpt);
        ql_buf_cleanup(&msg);
        snprintf(res->error, sizeof(res->error), "out of memory");
        return QL_ENOMEM;
    }
    struct upload up = {msg.data, msg.len, 0};
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(c->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    if (c->ca_file[0])
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->username[0]) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    res->smtp_code = (int)code;
    rc = QL_OK;
    if (cc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        if (code)
            snprintf(res->error, sizeof(res->error), "SMTP %ld: %s", code, why);
        else
            snprintf(res->error, sizeof(res->error), "%s", why);
        rc = code >= 500 && code < 600 && !auth_reply(code) ? QL_EVALIDATION : QL_EUNAVAILABLE;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(rcpt);
    ql_buf_cleanup(&msg);
    return rc;
}

static const struct ql_mailer_ops ops = {.send = s_send};

int ql_smtp_create(const struct ql_smtp_config *c, struct ql_smtp **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return QL_ENOMEM;
    (*out)->base.ops = &ops;
    (*out)->cfg = *c;
    return QL_OK;
}

struct ql_mailer *ql_smtp_port(struct ql_smtp *s)
{
    return &s->base;
}

void ql_smtp_destroy(struct ql_smtp *s)
{
    if (s == NULL)
        return;
    /* credentials (the password, or the URL holding one) leave no copy in freed memory */
    explicit_bzero(&s->cfg, sizeof(s->cfg));
    free(s);
}
