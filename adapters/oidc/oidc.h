/*
 * oidc.h - verification of bearer JWTs from an external OpenID Connect provider.
 *
 * Tokens signed RS256, ES256 (OpenSSL's libcrypto) or EdDSA/Ed25519 (libsodium) are checked
 * against the provider's JWKS, fetched with libcurl, cached, and fetched again when a token
 * names a key id the cache does not know (at most once per QL_OIDC_REFETCH_MS, so garbage
 * tokens cannot make Quill hammer the provider).  iss, aud, exp and nbf are checked with
 * QL_OIDC_LEEWAY_S of clock skew allowed; "alg": "none" and every other algorithm are
 * refused.  Thread-safe: pool threads share one verifier.
 */
#ifndef QL_OIDC_H
#define QL_OIDC_H

#include <stddef.h>
#include <stdint.h>

#define QL_OIDC_LEEWAY_S 60
#define QL_OIDC_REFETCH_MS 1000
#define QL_OIDC_MAX_AGE_MS 600000

struct ql_oidc;
struct ql_error;
struct ql_logger;

struct ql_oidc_claims {
    char issuer[512];
    char subject[256];
    char email[256];
    char name[128];
};

/* On success *out owns the verifier (ql_oidc_destroy).  Strings are copied. */
int ql_oidc_create(const char *issuer, const char *audience, const char *jwks_url,
                   struct ql_logger *log, struct ql_oidc **out);
void ql_oidc_destroy(struct ql_oidc *o);

/*
 * Verify token (n bytes) at the current time.  0 with claims in *out, or
 * QL_EUNAUTHENTICATED with a client-safe reason in err (QL_EUNAVAILABLE when the JWKS
 * cannot be fetched at all).
 */
int ql_oidc_verify(struct ql_oidc *o, const char *token, size_t n, struct ql_oidc_claims *out,
                   struct ql_error *err);

#endif
