/*
 * b64.h - base64 (RFC 4648): the standard alphabet with padding and the URL-safe
 * alphabet without it.  Decoding accepts either alphabet, with or without padding.
 * Also base16: the one digit reader the hex parsers share, and an encoder.
 */
#ifndef QL_B64_H
#define QL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, NUL excluded. */
size_t ql_b64_enc_len(size_t n, int url);

/* Encode n bytes into out (ql_b64_enc_len + 1 bytes); NUL-terminates; returns the length. */
size_t ql_b64_encode(const uint8_t *in, size_t n, char *out, int url);

/*
 * Decode s (n chars) into out (room for cap bytes).  Returns 0 and sets *out_len, or
 * QL_EVALIDATION on a bad character, bad length or too small an out.
 */
int ql_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* The value of the hex digit c (either case), or -1. */
int ql_hex_digit(char c);

/* The n bytes of d as 2 * n lower-case hex digits and a NUL in out. */
void ql_hex_encode(const uint8_t *d, size_t n, char *out);

#endif
