/*
 * totp.c - HOTP values, TOTP checks and otpauth:// URIs (totp.h).
 */
#include "mfa/totp.h"

#include "arena/arena.h"
#include "auth/auth.h"
#include "buf/buf.h"
#include "err/err.h"

#include <string.h>

int64_t ql_totp_step(int64_t now_ms)
{
    return now_ms / QL_TOTP_STEP_MS;
}

int ql_totp_code(struct ql_auth *a, const uint8_t *key, size_t n, int64_t counter, int digits,
                 char *out)
{
    static const uint32_t mod[] = {1000000, 10000000, 100000000};
    if (digits < 6 || digits > 8)
        return QL_EVALIDATION;
    uint8_t msg[8], mac[QL_SHA1_LEN];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)((uint64_t)counter >> (56 - 8 * i));
    int rc = ql_auth_hmac_sha1(a, key, n, msg, sizeof(msg), mac);
    if (rc)
        return rc;
    /* Dynamic truncation (RFC 4226, section 5.3). */
    int off = mac[QL_SHA1_LEN - 1] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
                   (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
    bin %= mod[digits - 6];
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + bin % 10);
        bin /= 10;
    }
    out[digits] = '\0';
    return QL_OK;
}

int ql_totp_check(struct ql_auth *a, const uint8_t *key, size_t n, int64_t now_ms,
                  int64_t last_step, const char *code, size_t code_n, int64_t *step)
{
    int shape = code_n == QL_TOTP_DIGITS;
    for (size_t i = 0; shape && i < code_n; i++)
        shape = code[i] >= '0' && code[i] <= '9';
    if (!shape)
        return QL_ENOT_FOUND;
    int64_t now = ql_totp_step(now_ms), fresh = -1, used = -1;
    for (int64_t s = now - QL_TOTP_WINDOW; s <= now + QL_TOTP_WINDOW; s++) {
        char want[QL_TOTP_DIGITS + 1];
        int rc = ql_totp_code(a, key, n, s, QL_TOTP_DIGITS, want);
        if (rc)
            return rc;
        unsigned diff = 0;
        for (int i = 0; i < QL_TOTP_DIGITS; i++)
            diff |= (unsigned)(want[i] ^ code[i]);
        if (diff == 0 && s > last_step && fresh < 0)
            fresh = s;
        else if (diff == 0 && s <= last_step)
            used = s;
    }
    if (fresh >= 0) {
        *step = fresh;
        return QL_OK;
    }
    return used >= 0 ? QL_ECONFLICT : QL_ENOT_FOUND;
}

/* Percent-encode s for a URI path segment or query value: unreserved characters stay. */
static void put_escaped(struct ql_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            ql_buf_putc(b, (char)*p);
        } else {
            ql_buf_putc(b, '%');
            ql_buf_putc(b, hex[*p >> 4]);
            ql_buf_putc(b, hex[*p & 15]);
        }
    }
}

char *ql_totp_uri(struct ql_arena *a, const char *issuer, const char *account,
                  const char *secret_b32)
{
    struct ql_buf b;
    ql_buf_init(&b, a);
    ql_buf_puts(&b, "otpauth://totp/");
    put_escaped(&b, issuer);
    ql_buf_putc(&b, ':');
    put_escaped(&b, account);
    ql_buf_puts(&b, "?secret=");
    ql_buf_puts(&b, secret_b32);
    ql_buf_puts(&b, "&issuer=");
    put_escaped(&b, issuer);
    ql_buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", QL_TOTP_DIGITS,
                  QL_TOTP_STEP_MS / 1000);
    return ql_buf_cstr(&b); /* NULL when an append failed */
}
