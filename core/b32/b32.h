/*
 * b32.h - base32 (RFC 4648, section 6): the alphabet A-Z 2-7, with or without padding.  It
 * is how TOTP secrets travel to authenticator apps (the otpauth:// URI's secret) and how
 * recovery codes are spelled.
 */
#ifndef QL_B32_H
#define QL_B32_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, NUL excluded (pad: rounded up to whole 8-character groups). */
size_t ql_b32_enc_len(size_t n, int pad);

/* Encode n bytes into out (ql_b32_enc_len + 1 bytes); NUL-terminates; returns the length. */
size_t ql_b32_encode(const uint8_t *in, size_t n, char *out, int pad);

/*
 * Decode s (n chars, either case, padding optional) into out (room for cap bytes).  Returns
 * 0 and sets *out_len, or QL_EVALIDATION on a bad character, an impossible length, bits left
 * over that are not zero (a non-canonical spelling) or too small an out.
 */
int ql_b32_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);

#endif
