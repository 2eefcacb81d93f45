/*
 * b32.c - base32 encoding and decoding (RFC 4648).  Five bytes make eight characters; a
 * shorter tail makes 2, 4, 5 or 7 characters and, when padded, '=' up to eight.
 */
#include "b32/b32.h"

#include "err/err.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t ql_b32_enc_len(size_t n, int pad)
{
    if (pad)
        return (n + 4) / 5 * 8;
    return (n * 8 + 4) / 5;
}

size_t ql_b32_encode(const uint8_t *in, size_t n, char *out, int pad)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    while (pad && o % 8 != 0)
        out[o++] = '=';
    out[o] = '\0';
    return o;
}

static int value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int ql_b32_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t len = n;
    while (len > 0 && s[len - 1] == '=')
        len--;
    /* Padding, when present, fills the last group exactly; a tail of 1, 3 or 6 is no tail. */
    size_t tail = len % 8;
    if ((len < n && n % 8 != 0) || tail == 1 || tail == 3 || tail == 6)
        return QL_EVALIDATION;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value(s[i]);
        if (v < 0)
            return QL_EVALIDATION;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return QL_EVALIDATION;
            out[o++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    if (acc != 0)
        return QL_EVALIDATION;
    *out_len = o;
    return QL_OK;
}
