/*
 * auth.h - the auth port: the cryptography Quill's core needs, behind an ops table.
 *
 * The production adapter is libsodium (adapters/sodium); the unit-test fake is
 * deterministic.  The core never sees a library type: secrets and digests are plain
 * byte arrays.  Every method returns 0 or a negative QL_E* code.
 */
#ifndef QL_AUTH_H
#define QL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define QL_DIGEST_LEN 32
/* Length of an HMAC-SHA-1 (TOTP, RFC 6238). */
#define QL_SHA1_LEN 20
/* Room for an encoded password hash, NUL included. */
#define QL_PWHASH_LEN 128
/* Bytes a sealed box adds to its plaintext (nonce and tag). */
#define QL_SEAL_OVERHEAD 40

struct ql_auth;

struct ql_auth_ops {
    /* Fill buf with n cryptographically random bytes. */
    int (*random)(struct ql_auth *self, void *buf, size_t n);
    /* Hash a password (argon2id) into out, a NUL-terminated encoded string.  Slow. */
    int (*password_hash)(struct ql_auth *self, const char *pw, size_t n, char out[QL_PWHASH_LEN]);
    /* 0 when pw matches the encoded hash, QL_EINVALID_CREDENTIALS when not.  Slow. */
    int (*password_verify)(struct ql_auth *self, const char *hash, const char *pw, size_t n);
    /* Keyed digest (BLAKE2b-256 keyed with the server secret) of a token. */
    int (*token_digest)(struct ql_auth *self, const void *token, size_t n,
                        uint8_t out[QL_DIGEST_LEN]);
    /* HMAC-SHA-256 of msg under key. */
    int (*hmac_sha256)(struct ql_auth *self, const void *key, size_t keylen, const void *msg,
                       size_t n, uint8_t out[QL_DIGEST_LEN]);
    /*
     * HMAC-SHA-1 of msg under key: what TOTP (RFC 6238) and every authenticator app compute.
     * Only for that: SHA-1's weakness to collisions does not reach HMAC, but nothing new
     * should choose it.
     */
    int (*hmac_sha1)(struct ql_auth *self, const void *key, size_t keylen, const void *msg,
                     size_t n, uint8_t out[QL_SHA1_LEN]);
    /* Plain SHA-256 of msg. */
    int (*sha256)(struct ql_auth *self, const void *msg, size_t n, uint8_t out[QL_DIGEST_LEN]);
    /*
     * Authenticated encryption under a key derived from the server secret: out gets
     * n + QL_SEAL_OVERHEAD bytes.  open() reverses it, QL_EINTERNAL when the box was altered.
     */
    int (*seal)(struct ql_auth *self, const void *in, size_t n, uint8_t *out);
    int (*open)(struct ql_auth *self, const uint8_t *in, size_t n, void *out);
};

struct ql_auth {
    const struct ql_auth_ops *ops;
};

static inline int ql_auth_random(struct ql_auth *a, void *buf, size_t n)
{
    return a->ops->random(a, buf, n);
}

static inline int ql_auth_password_hash(struct ql_auth *a, const char *pw, size_t n,
                                        char out[QL_PWHASH_LEN])
{
    return a->ops->password_hash(a, pw, n, out);
}

static inline int ql_auth_password_verify(struct ql_auth *a, const char *hash, const char *pw,
                                          size_t n)
{
    return a->ops->password_verify(a, hash, pw, n);
}

static inline int ql_auth_token_digest(struct ql_auth *a, const void *token, size_t n,
                                       uint8_t out[QL_DIGEST_LEN])
{
    return a->ops->token_digest(a, token, n, out);
}

static inline int ql_auth_hmac_sha256(struct ql_auth *a, const void *key, size_t keylen,
                                      const void *msg, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    return a->ops->hmac_sha256(a, key, keylen, msg, n, out);
}

static inline int ql_auth_hmac_sha1(struct ql_auth *a, const void *key, size_t keylen,
                                    const void *msg, size_t n, uint8_t out[QL_SHA1_LEN])
{
    return a->ops->hmac_sha1(a, key, keylen, msg, n, out);
}

static inline int ql_auth_sha256(struct ql_auth *a, const void *msg, size_t n,
                                 uint8_t out[QL_DIGEST_LEN])
{
    return a->ops->sha256(a, msg, n, out);
}

static inline int ql_auth_seal(struct ql_auth *a, const void *in, size_t n, uint8_t *out)
{
    return a->ops->seal(a, in, n, out);
}

static inline int ql_auth_open(struct ql_auth *a, const uint8_t *in, size_t n, void *out)
{
    if (n < QL_SEAL_OVERHEAD)
        return -17; /* QL_EINTERNAL: a box cannot be shorter than its overhead */
    return a->ops->open(a, in, n, out);
}

/*
 * The identity-provider port: verification of bearer JWTs from an external OpenID Connect
 * provider (adapters/oidc).  NULL in the ports when none is configured.
 */
struct ql_ctx;
struct ql_idp;

/* What a verified token says about its holder (NUL-terminated; "" when absent). */
struct ql_idp_claims {
    char issuer[512];
    char subject[256];
    char email[256];
    int email_verified; /* the provider says email is verified: "email_verified" true */
    char name[128];
};

struct ql_idp_ops {
    /*
     * Verify token (n bytes) at the current time.  0 with the claims in *out;
     * QL_EUNAUTHENTICATED with a client-safe reason in cx->err; QL_EUNAVAILABLE when the
     * provider's keys cannot be fetched at all; QL_EWOULD_BLOCK from a port that may not wait
     * (an event loop's).
     */
    int (*verify)(struct ql_idp *self, struct ql_ctx *cx, const char *token, size_t n,
                  struct ql_idp_claims *out);
};

struct ql_idp {
    const struct ql_idp_ops *ops;
};

static inline int ql_idp_verify(struct ql_idp *p, struct ql_ctx *cx, const char *token, size_t n,
                                struct ql_idp_claims *out)
{
    return p->ops->verify(p, cx, token, n, out);
}

#endif
