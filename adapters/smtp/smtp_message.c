/*
 * smtp_message.c - the RFC 5322 text of a mail: headers (with RFC 2047 encoded words for
 * text that is not plain ASCII) and a quoted-printable UTF-8 body (RFC 2045), so the message
 * is 7-bit clean and no server has to support 8BITMIME.  Lines end with CRLF and stay under
 * 78 characters where the standards ask for it; libcurl adds the SMTP dot-stuffing.
 */
#include "smtp.h"

#include "b64/b64.h"
#include "buf/buf.h"
#include "err/err.h"
#include "mail/mail.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* An address character outside quotes (RFC 5322 atext, and "." and "@"). */
static int atext(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-/=?^_`{|}~.", ch));
}

static int plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Check an addr-spec; its domain into dom (cap bytes).  0 or -1 with why. */
static int check_addr(const char *a, size_t n, char *dom, size_t cap, char *why, size_t wcap)
{
    const char *at = memchr(a, '@', n);
    if (at == NULL || at == a || at == a + n - 1 || memchr(at + 1, '@', n - (size_t)(at - a) - 1)) {
        snprintf(why, wcap, "expected an address with one @ between a name and a domain");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!atext((unsigned char)a[i]) && a[i] != '@') {
            snprintf(why, wcap,
                     "the address may hold only letters, digits and !#$%%&'*+-/=?^_`{|}~.");
            return -1;
        }
    }
    size_t dn = n - (size_t)(at + 1 - a);
    if (dn >= cap) {
        snprintf(why, wcap, "the domain is too long");
        return -1;
    }
    memcpy(dom, at + 1, dn);
    dom[dn] = '\0';
    return 0;
}

/*
 * Append s as RFC 2047 encoded words (UTF-8, base64), each at most 75 characters, split on
 * character boundaries and joined by folding whitespace ("\r\n ").
 */
static void encoded_words(struct ql_buf *b, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t take = 0;
        while (i + take < n) { /* whole UTF-8 characters, at most 45 bytes (60 in base64) */
            size_t len = 1;
            while (i + take + len < n && ((unsigned char)s[i + take + len] & 0xc0) == 0x80)
                len++;
            if (take + len > 45)
                break;
            take += len;
        }
        if (take == 0)
            take = 1; /* not UTF-8: move on anyway */
        char enc[64];
        ql_b64_encode((const uint8_t *)s + i, take, enc, 0);
        ql_buf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", enc);
        i += take;
    }
}

/* A display name as a phrase: atoms as they are, else a quoted string or encoded words. */
static void phrase(struct ql_buf *b, const char *s, size_t n)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)n, s);
    if (!plain_ascii(tmp)) {
        encoded_words(b, tmp);
        return;
    }
    int atoms = 1;
    for (size_t i = 0; i < n && atoms; i++)
        atoms = atext((unsigned char)s[i]) || s[i] == ' ';
    if (atoms) {
        ql_buf_append(b, s, n);
        return;
    }
    ql_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            ql_buf_putc(b, '\\');
        ql_buf_putc(b, s[i]);
    }
    ql_buf_putc(b, '"');
}

int ql_smtp_parse_from(const char *v, struct ql_smtp_config *c, char *why, size_t cap)
{
    if (strpbrk(v, "\r\n")) {
        snprintf(why, cap, "must be one line");
        return -1;
    }
    const char *lt = strchr(v, '<');
    const char *addr = v, *name = NULL;
    size_t an = strlen(v), nn = 0;
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (gt == NULL || gt[1] != '\0') {
            snprintf(why, cap, "expected 'Name <address>' or an address");
            return -1;
        }
        addr = lt + 1;
        an = (size_t)(gt - addr);
        name = v;
        nn = (size_t)(lt - v);
        while (nn && name[nn - 1] == ' ')
            nn--;
        if (nn >= 2 && name[0] == '"' && name[nn - 1] == '"') {
            name++;
            nn -= 2;
        }
    }
    if (an >= sizeof(c->from_addr)) {
        snprintf(why, cap, "the address is too long");
        return -1;
    }
    if (check_addr(addr, an, c->domain, sizeof(c->domain), why, cap) != 0)
        return -1;
    memcpy(c->from_addr, addr, an);
    c->from_addr[an] = '\0';
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    if (nn) {
        phrase(&b, name, nn);
        ql_buf_putc(&b, ' ');
    }
    ql_buf_printf(&b, "<%s>", c->from_addr);
    int ok = ql_buf_ok(&b) == QL_OK && b.len < sizeof(c->from_header);
    if (ok)
        snprintf(c->from_header, sizeof(c->from_header), "%.*s", (int)b.len, b.data);
    else
        snprintf(why, cap, "the name is too long");
    ql_buf_cleanup(&b);
    return ok ? 0 : -1;
}

/* "Tue, 01 Dec 2026 10:00:00 +0000" (RFC 5322 date-time, UTC). */
static void date(struct ql_buf *b, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    ql_buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The body in quoted-printable: lines of at most 76 characters (soft breaks "=" CRLF),
 * "\n" as CRLF, "=" and bytes outside printable ASCII as =XX, a space or tab at the end of a
 * line encoded so no transport can strip it.
 */
static void quoted_printable(struct ql_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
            if (*p == '\r')
                p++;
            ql_buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        int at_end = p[1] == '\0' || p[1] == '\n' || p[1] == '\r';
        int literal =
            (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_end);
        size_t width = literal ? 1 : 3;
        if (col + width > 75) { /* room for the "=" of a soft break */
            ql_buf_puts(b, "=\r\n");
            col = 0;
        }
        if (literal) {
            ql_buf_putc(b, (char)*p);
        } else {
            char e[3] = {'=', hex[*p >> 4], hex[*p & 15]};
            ql_buf_append(b, e, 3);
        }
        col += width;
    }
    if (col)
        ql_buf_puts(b, "\r\n");
}

int ql_smtp_compose(const struct ql_smtp_config *c, const struct ql_mail_msg *m, struct ql_buf *out)
{
    char dom[256], why[160];
    if (check_addr(m->to, strlen(m->to), dom, sizeof(dom), why, sizeof(why)) != 0 ||
        !plain_ascii(m->id))
        return QL_EVALIDATION;
    ql_buf_puts(out, "Date: ");
    date(out, m->date_ms);
    ql_buf_printf(out, "\r\nFrom: %s\r\nTo: <%s>\r\nSubject: ", c->from_header, m->to);
    if (plain_ascii(m->subject) && strlen(m->subject) <= 68)
        ql_buf_puts(out, m->subject);
    else
        encoded_words(out, m->subject);
    ql_buf_printf(out,
                  "\r\nMessage-ID: <%s@%s>\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "Auto-Submitted: auto-generated\r\n"
                  "\r\n",
                  m->id, c->domain);
    quoted_printable(out, m->text);
    return ql_buf_ok(out);
}
