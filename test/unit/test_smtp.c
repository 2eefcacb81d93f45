/*
 * test_smtp.c - the SMTP adapter without a network: its configuration (every problem names
 * its variable, and no problem repeats a password), the From header, and the RFC 5322 text
 * it sends (headers, encoded words, quoted-printable lines that decode to the text).
 * Sending itself is tested end to end against a real SMTP server (test/e2e/mail.test.mjs).
 */
#include "b64/b64.h"
#include "buf/buf.h"
#include "config/config.h"
#include "err/err.h"
#include "mail/mail.h"
#include "smtp/smtp.h"
#include "test.h"

#include <curl/curl.h>

static const char *env_of(void *ud, const char *name)
{
    const char *const *kv = ud;
    for (; kv && kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

/* Read the configuration from kv; the number of problems, every one in errs. */
static int read_config(const char *const *kv, struct ql_smtp_config *c,
                       struct ql_config_errors *errs)
{
    struct ql_env e;
    ql_env_init(&e, env_of, (void *)kv, errs);
    ql_smtp_config_read(&e, c);
    return errs->n;
}

static int any_mentions(const struct ql_config_errors *errs, const char *s)
{
    for (int i = 0; i < errs->n; i++)
        if (strstr(errs->msg[i], s))
            return 1;
    return 0;
}

static void test_configuration(void)
{
    struct ql_smtp_config c;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(read_config(NULL, &c, &errs), 0);
    ASSERT_STR_EQ(c.url, ""); /* no server: mail stays in the outbox */
    const char *ok[] = {"QUILL_SMTP_URL", "smtp://mail.example.com:587", "QUILL_MAIL_FROM",
                        "Quill <quill@example.com>", NULL};
    ASSERT_INT_EQ(read_config(ok, &c, &errs), 0);
    ASSERT_STR_EQ(c.from_addr, "quill@example.com");
    ASSERT_STR_EQ(c.from_header, "Quill <quill@example.com>");
    ASSERT_STR_EQ(c.domain, "example.com");
    ASSERT_INT_EQ(c.require_tls, 0); /* STARTTLS when offered */
    ASSERT_INT_EQ(c.connect_timeout_ms, 10000);
    ASSERT_INT_EQ(c.timeout_ms, 60000);
    /* credentials make TLS required unless the operator says otherwise */
    const char *creds[] = {"QUILL_SMTP_URL", "smtp://relay:hunter2secret@mail.example.com",
                           "QUILL_MAIL_FROM", "quill@example.com", NULL};
    ASSERT_INT_EQ(read_config(creds, &c, &errs), 0);
    ASSERT_INT_EQ(c.require_tls, 1);
    const char *try_tls[] = {"QUILL_SMTP_URL",
                             "smtps://mail.example.com",
                             "QUILL_SMTP_USERNAME",
                             "relay",
                             "QUILL_SMTP_PASSWORD",
                             "pw",
                             "QUILL_SMTP_TLS",
                             "try",
                             "QUILL_MAIL_FROM",
                             "quill@example.com",
                             NULL};
    ASSERT_INT_EQ(read_config(try_tls, &c, &errs), 0);
    ASSERT_INT_EQ(c.require_tls, 0);
    ASSERT_STR_EQ(c.username, "relay");
}

static void test_bad_configuration_names_the_variable(void)
{
    struct ql_smtp_config c;
    struct ql_config_errors errs;
    const char *no_from[] = {"QUILL_SMTP_URL", "smtp://mail.example.com", NULL};
    ASSERT_INT_EQ(read_config(no_from, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_MAIL_FROM: required", 25) == 0);
    const char *scheme[] = {"QUILL_SMTP_URL", "http://mail.example.com", "QUILL_MAIL_FROM",
                            "q@example.com", NULL};
    ASSERT_INT_EQ(read_config(scheme, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_SMTP_URL: the scheme must be smtp or smtps", 48) == 0);
    const char *twice[] = {"QUILL_SMTP_URL",
                           "smtp://u:topsecretpw@mail.example.com",
                           "QUILL_SMTP_USERNAME",
                           "u",
                           "QUILL_MAIL_FROM",
                           "q@example.com",
                           NULL};
    ASSERT_INT_EQ(read_config(twice, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_SMTP_USERNAME: ", 21) == 0);
    ASSERT_INT_EQ(any_mentions(&errs, "topsecretpw"), 0);
    const char *garbage[] = {"QUILL_SMTP_URL", "smtp://u:topsecretpw@[bad", "QUILL_MAIL_FROM",
                             "q@example.com", NULL};
    ASSERT_INT_EQ(read_config(garbage, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_SMTP_URL: not a URL", 25) == 0);
    ASSERT_INT_EQ(any_mentions(&errs, "topsecretpw"), 0);
    const char *orphans[] = {"QUILL_SMTP_PASSWORD",
                             "pw",
                             "QUILL_SMTP_TLS",
                             "sometimes",
                             "QUILL_SMTP_TIMEOUT_MS",
                             "0",
                             NULL};
    ASSERT_INT_EQ(read_config(orphans, &c, &errs), 4);
    ASSERT_TRUE(any_mentions(&errs, "QUILL_SMTP_URL: required when"));
    ASSERT_TRUE(any_mentions(&errs, "QUILL_SMTP_USERNAME: required when QUILL_SMTP_PASSWORD"));
    ASSERT_TRUE(any_mentions(&errs, "QUILL_SMTP_TLS: expected try or require"));
    ASSERT_TRUE(any_mentions(&errs, "QUILL_SMTP_TIMEOUT_MS: "));
    const char *ca[] = {"QUILL_SMTP_URL",
                        "smtp://m.example.com",
                        "QUILL_SMTP_CA_FILE",
                        "/nonexistent/ca.pem",
                        "QUILL_MAIL_FROM",
                        "q@example.com",
                        NULL};
    ASSERT_INT_EQ(read_config(ca, &c, &errs), 1);
    ASSERT_TRUE(strncmp(errs.msg[0], "QUILL_SMTP_CA_FILE: cannot read", 31) == 0);
}

static void test_from_values(void)
{
    struct ql_smtp_config c;
    char why[160];
    memset(&c, 0, sizeof(c));
    ASSERT_INT_EQ(ql_smtp_parse_from("quill@mail.example.com", &c, why, sizeof(why)), 0);
    ASSERT_STR_EQ(c.from_header, "<quill@mail.example.com>");
    ASSERT_STR_EQ(c.domain, "mail.example.com");
    ASSERT_INT_EQ(ql_smtp_parse_from("\"Quill, Inc.\" <q@example.com>", &c, why, sizeof(why)), 0);
    ASSERT_STR_EQ(c.from_header, "\"Quill, Inc.\" <q@example.com>");
    ASSERT_INT_EQ(ql_smtp_parse_from("Quill \"Q\" Team <q@example.com>", &c, why, sizeof(why)), 0);
    ASSERT_STR_EQ(c.from_header, "\"Quill \\\"Q\\\" Team\" <q@example.com>");
    ASSERT_INT_EQ(ql_smtp_parse_from("Quïll <q@example.com>", &c, why, sizeof(why)), 0);
    ASSERT_STR_EQ(c.from_header, "=?UTF-8?B?UXXDr2xs?= <q@example.com>");
    const char *bad[] = {"quill",
                         "a@b@example.com",
                         "Name <q@example.com",
                         "q@",
                         "@example.com",
                         "two words@example.com",
                         "Name <q@example.com> trailing",
                         "q@example.com\r\nBcc: x@example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_INT_EQ(ql_smtp_parse_from(bad[i], &c, why, sizeof(why)), -1);
}

/* Decode quoted-printable (soft breaks and =XX) from s into out. */
static void qp_decode(const char *s, size_t n, struct ql_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=' && i + 2 < n) {
            unsigned v;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            ASSERT_INT_EQ(sscanf(hex, "%2X", &v), 1);
            ql_buf_putc(out, (char)v);
            i += 2;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            ql_buf_putc(out, '\n');
            i++;
        } else {
            ql_buf_putc(out, s[i]);
        }
    }
}

static void test_the_message_text(void)
{
    struct ql_smtp_config c;
    char why[160];
    memset(&c, 0, sizeof(c));
    ASSERT_INT_EQ(ql_smtp_parse_from("Quill <quill@example.com>", &c, why, sizeof(why)), 0);
    char text[1024];
    snprintf(text, sizeof(text),
             "Hello Zoë,\n\nopen https://app.example.com/reset-password#token=qr_%s\n"
             "a=b and a trailing space \n\n%s\n",
             "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE",
             "a long line that goes on and on and on and on and on and on and on and on and "
             "on and on and on past seventy-six characters");
    const struct ql_mail_msg m = {.id = "0190f2a4-1111-7000-8000-000000000001",
                                  .to = "zoe@example.org",
                                  .subject = "Réinitialiser votre mot de passe Quill",
                                  .text = text,
                                  .date_ms = 1767225600123LL}; /* 2026-01-01T00:00:00.123Z */
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    ASSERT_INT_EQ(ql_smtp_compose(&c, &m, &b), QL_OK);
    const char *s = ql_buf_cstr(&b);
    ASSERT_TRUE(strncmp(s, "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n", 39) == 0);
    ASSERT_NOT_NULL(strstr(s, "\r\nFrom: Quill <quill@example.com>\r\n"));
    ASSERT_NOT_NULL(strstr(s, "\r\nTo: <zoe@example.org>\r\n"));
    ASSERT_NOT_NULL(strstr(s, "\r\nSubject: =?UTF-8?B?"));
    ASSERT_NOT_NULL(
        strstr(s, "\r\nMessage-ID: <0190f2a4-1111-7000-8000-000000000001@example.com>"));
    ASSERT_NOT_NULL(strstr(s, "\r\nMIME-Version: 1.0\r\n"));
    ASSERT_NOT_NULL(strstr(s, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
    ASSERT_NOT_NULL(strstr(s, "\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
    /* every line is 7-bit, ends with CRLF, and is at most 78 characters */
    size_t start = 0;
    for (size_t i = 0; i < b.len; i++) {
        ASSERT_TRUE((unsigned char)s[i] < 128);
        ASSERT_TRUE(s[i] != '\n' || (i > 0 && s[i - 1] == '\r'));
        if (s[i] == '\n') {
            ASSERT_TRUE(i - start - 1 <= 78);
            start = i + 1;
        }
    }
    ASSERT_INT_EQ(start, b.len); /* the text ends with a line end */
    const char *body = strstr(s, "\r\n\r\n") + 4;
    ASSERT_NOT_NULL(strstr(body, "Zo=C3=AB"));
    ASSERT_NOT_NULL(strstr(body, "a=3Db"));
    ASSERT_NOT_NULL(strstr(body, "space=20\r\n"));
    struct ql_buf dec;
    ql_buf_init(&dec, NULL);
    qp_decode(body, b.len - (size_t)(body - s), &dec);
    ASSERT_STR_EQ(ql_buf_cstr(&dec), text);
    /* the subject's encoded words decode to the subject */
    const char *w = strstr(s, "Subject: ") + 9;
    struct ql_buf subj;
    ql_buf_init(&subj, NULL);
    while (strncmp(w, "=?UTF-8?B?", 10) == 0) {
        const char *end = strstr(w + 10, "?=");
        uint8_t raw[64];
        size_t rn;
        ASSERT_INT_EQ(ql_b64_decode(w + 10, (size_t)(end - w - 10), raw, sizeof(raw), &rn), QL_OK);
        ql_buf_append(&subj, raw, rn);
        w = end + 2;
        if (strncmp(w, "\r\n ", 3) == 0)
            w += 3;
    }
    ASSERT_STR_EQ(ql_buf_cstr(&subj), m.subject);
    ql_buf_cleanup(&subj);
    ql_buf_cleanup(&dec);
    ql_buf_cleanup(&b);
    /* a recipient that is not one address is refused */
    const struct ql_mail_msg bad = {
        .id = "x", .to = "a@example.com, b@example.com", .subject = "s", .text = "t"};
    ql_buf_init(&b, NULL);
    ASSERT_INT_EQ(ql_smtp_compose(&c, &bad, &b), QL_EVALIDATION);
    ql_buf_cleanup(&b);
}

/* A server that cannot be reached: a failure that may pass, saying why. */
static void test_an_unreachable_server_is_a_failure_to_retry(void)
{
    struct ql_smtp_config c;
    struct ql_config_errors errs;
    const char *kv[] = {"QUILL_SMTP_URL",
                        "smtp://127.0.0.1:1",
                        "QUILL_MAIL_FROM",
                        "q@example.com",
                        "QUILL_SMTP_CONNECT_TIMEOUT_MS",
                        "2000",
                        NULL};
    ASSERT_INT_EQ(read_config(kv, &c, &errs), 0);
    struct ql_smtp *s;
    ASSERT_INT_EQ(ql_smtp_create(&c, &s), QL_OK);
    const struct ql_mail_msg m = {
        .id = "id-1", .to = "zoe@example.org", .subject = "s", .text = "t\n", .date_ms = 0};
    struct ql_mail_result res;
    ASSERT_INT_EQ(ql_mailer_send(ql_smtp_port(s), &m, &res), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(res.smtp_code, 0);
    ASSERT_TRUE(res.error[0] != '\0');
    ASSERT_NULL(strstr(res.error, "zoe@"));
    ql_smtp_destroy(s);
    ql_smtp_destroy(NULL);
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const struct ql_test tests[] = {
        TEST(test_configuration),
        TEST(test_bad_configuration_names_the_variable),
        TEST(test_from_values),
        TEST(test_the_message_text),
        TEST(test_an_unreachable_server_is_a_failure_to_retry),
    };
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    curl_global_cleanup();
    return rc;
}
