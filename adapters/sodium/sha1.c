/*
 * sha1.c - SHA-1 (FIPS 180-4) and HMAC-SHA-1 (RFC 2104) for the auth port's hmac_sha1.
 *
 * TOTP (RFC 6238) as every authenticator app computes it is HMAC-SHA-1, and libsodium has
 * no SHA-1, so this one primitive is written here rather than taken from a second crypto
 * library.  It hashes public-length inputs with no secret-dependent branches or table
 * lookups.  SHA-1's broken collision resistance does not carry over to HMAC-SHA-1 as a
 * pseudo-random function, which is all TOTP asks of it; nothing else in Quill uses it.
 */
#include "sha1.h"

#include <string.h>

struct sha1 {
    uint32_t h[5];
    uint64_t bytes; /* hashed so far */
    uint8_t block[64];
    size_t fill;
};

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void compress(struct sha1 *s, const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    memcpy(s->h, iv, sizeof(iv));
    s->bytes = 0;
    s->fill = 0;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
    s->bytes += n;
    while (n > 0) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill == 64) {
            compress(s, s->block);
            s->fill = 0;
        }
    }
}

static void sha1_final(struct sha1 *s, uint8_t out[QL_SHA1_LEN])
{
    uint64_t bits = s->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (s->fill < 56 ? 56 : 120) - s->fill;
    for (int i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, pad, padlen + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void ql__sha1(const void *msg, size_t n, uint8_t out[QL_SHA1_LEN])
{
    struct sha1 s;
    sha1_init(&s);
    sha1_update(&s, msg, n);
    sha1_final(&s, out);
}

void ql__hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n,
                   uint8_t out[QL_SHA1_LEN])
{
    uint8_t k[64] = {0}, pad[64], inner[QL_SHA1_LEN];
    if (keylen > 64)
        ql__sha1(key, keylen, k); /* a long key is hashed first (RFC 2104) */
    else if (keylen > 0)
        memcpy(k, key, keylen);
    struct sha1 s;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha1_init(&s);
    sha1_update(&s, pad, 64);
    sha1_update(&s, msg, n);
    sha1_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha1_init(&s);
    sha1_update(&s, pad, 64);
    sha1_update(&s, inner, QL_SHA1_LEN);
    sha1_final(&s, out);
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
}
