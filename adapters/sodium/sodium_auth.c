/*
 * sodium_auth.c - libsodium behind the auth port.  sodium_init() is called by the
 * constructor (it is idempotent and thread-safe after the first call).
 */
#include "sodium_auth.h"

#include "err/err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct sodium_auth {
    struct ql_auth base;
    uint8_t key[crypto_generichash_KEYBYTES_MAX];
    size_t keylen;
    unsigned long long opslimit;
    size_t memlimit;
};

static int s_random(struct ql_auth *self, void *buf, size_t n)
{
    (void)self;
    randombytes_buf(buf, n);
    return QL_OK;
}

static int s_pw_hash(struct ql_auth *self, const char *pw, size_t n, char out[QL_PWHASH_LEN])
{
    struct sodium_auth *a = (struct sodium_auth *)self;
    _Static_assert(crypto_pwhash_STRBYTES <= QL_PWHASH_LEN, "hash buffer too small");
    if (crypto_pwhash_str_alg(out, pw, n, a->opslimit, a->memlimit, crypto_pwhash_ALG_ARGON2ID13))
        return QL_ENOMEM;
    return QL_OK;
}

static int s_pw_verify(struct ql_auth *self, const char *hash, const char *pw, size_t n)
{
    (void)self;
    return crypto_pwhash_str_verify(hash, pw, n) == 0 ? QL_OK : QL_EINVALID_CREDENTIALS;
}

static int s_digest(struct ql_auth *self, const void *token, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    struct sodium_auth *a = (struct sodium_auth *)self;
    if (crypto_generichash(out, QL_DIGEST_LEN, token, n, a->key, a->keylen))
        return QL_EINTERNAL;
    return QL_OK;
}

static int s_hmac(struct ql_auth *self, const void *key, size_t keylen, const void *msg, size_t n,
                  uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    crypto_auth_hmacsha256_state st;
    if (crypto_auth_hmacsha256_init(&st, key, keylen) ||
        crypto_auth_hmacsha256_update(&st, msg, n) || crypto_auth_hmacsha256_final(&st, out))
        return QL_EINTERNAL;
    return QL_OK;
}

static int s_sha256(struct ql_auth *self, const void *msg, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    return crypto_hash_sha256(out, msg, n) ? QL_EINTERNAL : QL_OK;
}

static const struct ql_auth_ops ops = {
    .random = s_random,
    .password_hash = s_pw_hash,
    .password_verify = s_pw_verify,
    .token_digest = s_digest,
    .hmac_sha256 = s_hmac,
    .sha256 = s_sha256,
};

int ql_sodium_auth_create(const uint8_t *secret, size_t secret_len, unsigned long long opslimit,
                          size_t memlimit, struct ql_auth **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return QL_EINTERNAL;
    if (secret_len < crypto_generichash_KEYBYTES_MIN ||
        secret_len > crypto_generichash_KEYBYTES_MAX)
        return QL_ECONFIG;
    struct sodium_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return QL_ENOMEM;
    a->base.ops = &ops;
    memcpy(a->key, secret, secret_len);
    a->keylen = secret_len;
    a->opslimit = opslimit ? opslimit : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    a->memlimit = memlimit ? memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    *out = &a->base;
    return QL_OK;
}

void ql_sodium_auth_destroy(struct ql_auth *base)
{
    if (base == NULL)
        return;
    struct sodium_auth *a = (struct sodium_auth *)base;
    sodium_memzero(a->key, sizeof(a->key));
    free(a);
}
