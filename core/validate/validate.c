/*
 * validate.c - input validators.  UTF-8 decoding follows RFC 3629 exactly: overlong forms,
 * surrogates and code points above U+10FFFF are rejected.
 */
#include "validate/validate.h"

#include "arena/arena.h"
#include "err/err.h"

#include <string.h>

long ql_utf8_count(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long count = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c == 0)
            return -1;
        if (c < 0x80) {
            i++;
        } else {
            int len;
            unsigned cp, min;
            if ((c & 0xe0) == 0xc0)
                len = 2, cp = c & 0x1f, min = 0x80;
            else if ((c & 0xf0) == 0xe0)
                len = 3, cp = c & 0x0f, min = 0x800;
            else if ((c & 0xf8) == 0xf0)
                len = 4, cp = c & 0x07, min = 0x10000;
            else
                return -1;
            if (i + (size_t)len > n)
                return -1;
            for (int k = 1; k < len; k++) {
                if ((p[i + k] & 0xc0) != 0x80)
                    return -1;
                cp = cp << 6 | (p[i + k] & 0x3f);
            }
            if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return -1;
            i += (size_t)len;
        }
        count++;
    }
    return count;
}

int ql_valid_text(struct ql_error *err, const char *field, const char *s, size_t n, long min,
                  long max, int single_line)
{
    long count = ql_utf8_count(s, n);
    if (count < 0)
        return ql_error_field(err, field, "invalid_text",
                              "must be valid UTF-8 without NUL characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && (single_line || (c != '\t' && c != '\n' && c != '\r')))
            return ql_error_field(err, field, "invalid_text",
                                  "must not contain control characters");
        /* DEL, and the C1 controls U+0080 to U+009F (0xc2 0x80 to 0xc2 0x9f in UTF-8) */
        if (c == 0x7f || (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0))
            return ql_error_field(err, field, "invalid_text",
                                  "must not contain control characters");
    }
    if (count == 0 && min > 0)
        return ql_error_field(err, field, "required", "must not be empty");
    if (count < min)
        return ql_error_field(err, field, "too_short", "must be at least %ld characters", min);
    if (count > max)
        return ql_error_field(err, field, "too_long", "must be at most %ld characters", max);
    return QL_OK;
}

int ql_valid_email(struct ql_error *err, struct ql_arena *a, const char *field, const char *s,
                   size_t n, const char **out)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 254)
        return ql_error_field(err, field, "invalid_email", "must be an email address");
    const char *at = memchr(s, '@', n);
    if (at == NULL || at == s || memchr(at + 1, '@', n - (size_t)(at - s) - 1) != NULL)
        return ql_error_field(err, field, "invalid_email", "must be an email address");
    const char *domain = at + 1;
    size_t dn = n - (size_t)(domain - s);
    const char *dot = memchr(domain, '.', dn);
    if (dn < 3 || dot == NULL || dot == domain || domain[dn - 1] == '.')
        return ql_error_field(err, field, "invalid_email", "must be an email address");
    if (ql_utf8_count(s, n) < 0)
        return ql_error_field(err, field, "invalid_email", "must be an email address");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',' ||
            c == ';' || c == '(' || c == ')')
            return ql_error_field(err, field, "invalid_email", "must be an email address");
    }
    char *copy = ql_arena_strndup(a, s, n);
    if (copy == NULL)
        return ql_error_set(err, QL_ENOMEM, NULL);
    for (size_t i = 0; i < n; i++)
        if (copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] - 'A' + 'a');
    *out = copy;
    return QL_OK;
}

int ql_valid_password(struct ql_error *err, const char *field, const char *s, size_t n)
{
    long count = ql_utf8_count(s, n);
    if (count < 0)
        return ql_error_field(err, field, "invalid_text",
                              "must be valid UTF-8 without NUL characters");
    if (count < 12)
        return ql_error_field(err, field, "too_short", "must be at least 12 characters");
    if (count > 128)
        return ql_error_field(err, field, "too_long", "must be at most 128 characters");
    return QL_OK;
}
