/*
 * oidc.h - verification of bearer JWTs from an external OpenID Connect provider.
 *
 * Tokens signed RS256, ES256 (OpenSSL's libcrypto) or EdDSA/Ed25519 (libsodium) are checked
 * against the provider's JWKS, fetched with libcurl, cached, and fetched again when a token
 * names a key id the cache does not know (at most once per QL_OIDC_REFETCH_MS, whether the
 * last fetch worked or not, so garbage tokens cannot make Quill hammer the provider).  iss, aud,
 * exp and nbf are checked with QL_OIDC_LEEWAY_S of clock skew allowed; "alg": "none" and every
 * other algorithm are refused.  Time comes from the clock port.  Thread-safe: pool threads share
 * one verifier.  It is the identity-provider port of core/auth/auth.h (ql_oidc_port).
 */
#ifndef QL_OIDC_H
#define QL_OIDC_H

#include <stddef.h>
#include <stdint.h>

#define QL_OIDC_LEEWAY_S 60
#define QL_OIDC_REFETCH_MS 1000
#define QL_OIDC_MAX_AGE_MS 600000

struct ql_oidc;
struct ql_idp;
struct ql_logger;
struct ql_clock;

/* On success *out owns the verifier (ql_oidc_destroy).  Strings are copied. */
int ql_oidc_create(const char *issuer, const char *audience, const char *jwks_url,
                   struct ql_logger *log, struct ql_clock *clock, struct ql_oidc **out);
void ql_oidc_destroy(struct ql_oidc *o);

/* The verifier as the identity-provider port (borrowed; lives as long as o). */
struct ql_idp *ql_oidc_port(struct ql_oidc *o);

/*
 * Install a key set (a JWKS document of n bytes) as if it had just been fetched: what a fetch
 * does, for tests.  0, or -1 when the document holds no usable key.
 */
int ql_oidc_install_jwks(struct ql_oidc *o, const char *jwks, size_t n);

#endif
