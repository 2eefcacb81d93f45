/*
 * libFuzzer target: bearer JWTs through the OpenID Connect adapter (adapters/oidc), with a
 * fixed key set installed as a fetch would (ql_oidc_install_jwks): an RSA (RS256), a P-256
 * (ES256) and an Ed25519 (EdDSA) key.  The keys' private halves are here, so the target can
 * also sign what the fuzzer writes.  The first byte chooses how the token is made:
 *   0  the rest is the token, as a client sends it;
 *   1  the rest is a header and a payload (JSON, split at the first newline), signed with
 *      an installed key (the second byte says which), so the claims checks are reached;
 *   2  the same signed with a key that is not installed (an attacker's);
 *   3  as 1, then one byte of the token changed (the second byte says where);
 *   4  the rest is a key set, installed in a second verifier: parsing it must not fail
 *      badly whatever it holds.
 * Nothing may crash, and a token may be accepted only when its signature checks out with an
 * installed key (checked here again, apart from the adapter) and its claims name the
 * issuer; one signed by the attacker's key, never.
 */
#include "auth/auth.h"
#include "b64/b64.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "oidc/oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISS "https://idp.example"
#define AUD "quill"
#define TOKEN_MAX 16384

/* Generated for this target with openssl genpkey; they protect nothing. */
static const char rsa_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQCt8aL9qhl1LXrU\n"
                              "rEzxI4MCHSaPLW7COdywHhQQiYriNd9cJ4K9B0YNnEgEjR66iGI1nXaB46DyrSH2\n"
                              "F9KGgEdM5O5AayUAsESTre7kO2JQbCiaZcv6J+2Wq8nfuU3WeQ86R3h8J5Tmrbhj\n"
                              "7AsUzBAKEcT2GGhYmcRAjFZFMvLKCBYsT18LQObnQK2ul1f6AIO9sIaqKvo9C9AT\n"
                              "92LqGqfCRMqky7gGV4/OkWYW/9z9SrYo7jS/pk8fUPGDuXGpyXOcUNt4irI+u1/E\n"
                              "Xx5RH2wYQViUSWfDQbb2izeVj2131XZFbu0qiYyN6sHCYWzNGlUhot/6KT17mvhg\n"
                              "IdJ7jnvJAgMBAAECgf9WqRIWe64oJ/VdyAq57Gw8//sPDGGAxu76ShhFtaUdcrmj\n"
                              "S9+DellyCk7L9a+AglDxOMp+kvqtlA7MWq3b8LQawjajUNSIXFSWjN9nfQ0qzIua\n"
                              "o5dP2F0Ro1haGJmeZ/S5XMDcaCnjBnI18gU6Rp0bRco58wVXjmXDaeTfO/fFViz0\n"
                              "y0Tkxm9U+8Hv9bM9Yg47pXMyJAQ7zIhamFP2SB7qqWYOUDdfrmp6pl8S2jC5Eix8\n"
                              "jmn7Q8bbf8LjmeNUsB27rBbvC67t2bDgPMzikgdJhgfcEAmWj2NxIpvAngmEgb6L\n"
                              "YWkiBoeiawx3mMU9ieYNUvnRCUOXSzXQr8ivFckCgYEA1753qAjX0ghdK7wt43JL\n"
                              "lh1UfVrFE1kIkY7neMhgENKlFvxAAKMPX2Y2ZNVOPQss9Vrtw0IURjzp39vQGtwZ\n"
                              "9jj4HG7Jl8wJKICZnYget/js3OWsgOlrCsGwm/wRIDPZBycIgaVQ4XuOI34yDzoG\n"
                              "tyDucOuEupXE51i0sqXIOCUCgYEAzmZ8X4ocPMFWhXc7zMssHEGeKsnqH2MYht0I\n"
                              "nJxWi6EgcYJKJ85NoQ3FNFbuUDTgC0JvYsDudNnoVglcPPpYVBgnZzVg6tm8Rcbn\n"
                              "cg2BbDGuxy9dGPIIuWE5zZyH7k8nwql495oTVw+WG/GkqAkNlBcfMY53O26Zgk1R\n"
                              "CxtfIdUCgYAL6C4wbvSCWgXSYRtjPy6exVWhaX4Q+Ev5xJpP1zc+FnIYF6nsnxM9\n"
                              "H6YG4KLlyZUcoX0X1rDJw5jgyv/sS5N/PFutLgwgPZmPy7EuuZGAc9OWyXJA1yEa\n"
                              "QeBea4YCcfobY/MbPKV/HFOW7+MRZhFyz/V48/aqWZO5dPLcHTw0pQKBgE1eEUTm\n"
                              "ykrj1gDVfu73QaOd3SIA6ee2B52WAQJjf/V7AmRKCG3/YQ370W4bH92k1E6kKoiD\n"
                              "9V6LyBFoFNEurilnnG2NjrS5xV8Kffs8oMTjorY7RNRy9V432aj/Ad0MgsTvLc7y\n"
                              "TEmYKBZ1b9kk+5gFSsYStxLqFFTJkpVtPy25AoGAF8w+lgueFN/51UQ5ETFQHKnM\n"
                              "HPMoCG6UvG21NyQYrLdc9Twd4t8TVeIHTGJHtjbh6byuCm9h2a8XDp536VvhAZMB\n"
                              "DgyU4uoRjwZLk6t/NbP4NSDQ0Ms532x/OvX/K5+swxsI4+xU4MFURVUC1YDRhjMl\n"
                              "d9BR1GQupme6ysZq1M0=\n"
                              "-----END PRIVATE KEY-----\n";

static const char ec_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                             "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXYNlT+mnqMi762iD\n"
                             "gVJ4LjUhV+To5Q9uMlbAquN1GhChRANCAARdNOiucv+yybGx3Cmd4N8YPM5LyjjN\n"
                             "ftXOegDSrvSwUmif3UeLhA92uchu/j5Q3StQJ/izxYJ78TQBRXy7wPaa\n"
                             "-----END PRIVATE KEY-----\n";

static const char attacker_ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPzeWJ8E/GzphX0Nw\n"
    "mEggB+9sUnNVoMsdeJtEzyl3/6yhRANCAARASbxJKrAP5jTv/4c1CX4q9+o1ZIpd\n"
    "/4PwGDJApsKjBBQc8MvDCu2tU8OMSbR2ZlSjiRI7N+hsY3jJ4LFrE/xb\n"
    "-----END PRIVATE KEY-----\n";

enum { KEY_ED, KEY_RSA, KEY_EC, NKEYS };

struct world {
    struct fake_clock clock;
    struct ql_oidc *oidc;  /* with the fixed key set */
    struct ql_oidc *other; /* key sets from the fuzzer go here */
    EVP_PKEY *rsa, *ec, *attacker_ec;
    uint8_t ed_pk[crypto_sign_PUBLICKEYBYTES], ed_sk[crypto_sign_SECRETKEYBYTES];
    uint8_t bad_pk[crypto_sign_PUBLICKEYBYTES], bad_sk[crypto_sign_SECRETKEYBYTES];
};

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_jwt: %s\n", what);
        abort();
    }
}

static EVP_PKEY *load(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    check(k != NULL, "cannot load a key");
    return k;
}

/* A big number parameter of key as base64url (the JWK form) into out. */
static void jwk_param(EVP_PKEY *key, const char *name, size_t width, char *out)
{
    BIGNUM *bn = NULL;
    check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, "a key without its parameter");
    uint8_t raw[512];
    int n = width ? BN_bn2binpad(bn, raw, (int)width) : BN_bn2bin(bn, raw);
    check(n > 0, "cannot write a parameter");
    ql_b64_encode(raw, (size_t)n, out, 1);
    BN_free(bn);
}

static void build(struct world *w)
{
    check(sodium_init() >= 0, "no libsodium");
    fake_clock_init(&w->clock, 1767225600000LL);
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 1, sizeof(seed));
    crypto_sign_seed_keypair(w->ed_pk, w->ed_sk, seed);
    memset(seed, 2, sizeof(seed));
    crypto_sign_seed_keypair(w->bad_pk, w->bad_sk, seed);
    w->rsa = load(rsa_pem);
    w->ec = load(ec_pem);
    w->attacker_ec = load(attacker_ec_pem);
    char x[64], n[400], e[16], ex[64], ey[64], jwks[1024];
    ql_b64_encode(w->ed_pk, sizeof(w->ed_pk), x, 1);
    jwk_param(w->rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
    jwk_param(w->rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
    jwk_param(w->ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, ex);
    jwk_param(w->ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, ey);
    snprintf(jwks, sizeof(jwks),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             x, n, e, ex, ey);
    /* a closed local port: a refetch (there should be none, time stands still) fails at once */
    check(ql_oidc_create(ISS, AUD, "http://127.0.0.1:1/jwks", NULL, &w->clock.base, &w->oidc) ==
              QL_OK,
          "cannot create the verifier");
    check(ql_oidc_install_jwks(w->oidc, jwks, strlen(jwks)) == 0, "the key set is refused");
    check(ql_oidc_create(ISS, AUD, "http://127.0.0.1:1/jwks", NULL, &w->clock.base, &w->other) ==
              QL_OK,
          "cannot create the verifier");
}

/* ---- signatures ---------------------------------------------------------------------------- */

/* An ECDSA signature between DER (libcrypto) and r || s (JWS), 32 bytes each. */
static int der_to_jws(const uint8_t *der, size_t n, uint8_t out[64])
{
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &der, (long)n);
    if (s == NULL)
        return -1;
    const BIGNUM *r, *ss;
    ECDSA_SIG_get0(s, &r, &ss);
    int ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(ss, out + 32, 32) == 32;
    ECDSA_SIG_free(s);
    return ok ? 0 : -1;
}

static int jws_to_der(const uint8_t *sig, uint8_t *out, size_t cap, size_t *n)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
    if (s == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
        ECDSA_SIG_free(s);
        BN_free(r);
        BN_free(ss);
        return -1;
    }
    int len = i2d_ECDSA_SIG(s, NULL);
    uint8_t *p = out;
    int ok = len > 0 && (size_t)len <= cap && i2d_ECDSA_SIG(s, &p) == len;
    ECDSA_SIG_free(s);
    *n = (size_t)len;
    return ok ? 0 : -1;
}

/* Sign msg with key (RS256 or ES256, JWS form) into sig; its length. */
static size_t sign_evp(EVP_PKEY *key, int ec, const char *msg, size_t n, uint8_t *sig)
{
    uint8_t der[600];
    size_t len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, der, &len, (const uint8_t *)msg, n) == 1;
    EVP_MD_CTX_free(md);
    check(ok, "cannot sign");
    if (!ec) {
        memcpy(sig, der, len);
        return len;
    }
    check(der_to_jws(der, len, sig) == 0, "cannot convert a signature");
    return 64;
}

static int verify_evp(EVP_PKEY *key, int ec, const uint8_t *sig, size_t n, const char *msg,
                      size_t msg_n)
{
    uint8_t der[160];
    if (ec) {
        if (n != 64 || jws_to_der(sig, der, sizeof(der), &n) != 0)
            return 0;
        sig = der;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, sig, n, (const uint8_t *)msg, msg_n) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

/* 1 when the token's signature is good for one of the installed keys, checked apart. */
static int signed_by_installed(struct world *w, const char *t, size_t n)
{
    const char *d1 = memchr(t, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(t + n - d1 - 1)) : NULL;
    uint8_t sig[600];
    size_t sn;
    if (d2 == NULL || ql_b64_decode(d2 + 1, (size_t)(t + n - d2 - 1), sig, sizeof(sig), &sn))
        return 0;
    size_t msg_n = (size_t)(d2 - t);
    return (sn == 64 &&
            crypto_sign_verify_detached(sig, (const uint8_t *)t, msg_n, w->ed_pk) == 0) ||
           verify_evp(w->rsa, 0, sig, sn, t, msg_n) || verify_evp(w->ec, 1, sig, sn, t, msg_n);
}

/*
 * header.payload from text (split at its first newline), signed with key (attacker: the
 * keys that are not installed), into out; its length.
 */
static size_t make_token(struct world *w, const uint8_t *text, size_t n, int key, int attacker,
                         char *out)
{
    const uint8_t *nl = memchr(text, '\n', n);
    size_t hn = nl ? (size_t)(nl - text) : n;
    const uint8_t *payload = nl ? nl + 1 : text + n;
    size_t pn = nl ? n - hn - 1 : 0;
    size_t o = ql_b64_encode(text, hn, out, 1);
    out[o++] = '.';
    o += ql_b64_encode(payload, pn, out + o, 1);
    uint8_t sig[600];
    size_t sn;
    if (key == KEY_ED) {
        crypto_sign_detached(sig, NULL, (const uint8_t *)out, o, attacker ? w->bad_sk : w->ed_sk);
        sn = crypto_sign_BYTES;
    } else if (key == KEY_RSA && !attacker) {
        sn = sign_evp(w->rsa, 0, out, o, sig);
    } else {
        sn = sign_evp(attacker ? w->attacker_ec : w->ec, 1, out, o, sig);
    }
    out[o++] = '.';
    o += ql_b64_encode(sig, sn, out + o, 1);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct world w;
    static int ready;
    static char token[TOKEN_MAX];
    if (!ready) {
        build(&w);
        ready = 1;
    }
    if (size < 2 || size > 4096)
        return 0;
    int mode = data[0] % 5, key = (data[0] / 5) % NKEYS;
    const uint8_t *text = data + 2;
    size_t n = size - 2;
    if (mode == 4) {
        ql_oidc_install_jwks(w.other, (const char *)text, n);
        return 0;
    }
    size_t tn;
    if (mode == 0) {
        memcpy(token, text, n);
        tn = n;
    } else {
        tn = make_token(&w, text, n, key, mode == 2, token);
        if (mode == 3 && tn > 0)
            token[data[1] * 257 % tn] ^= (char)(1 + data[0] % 7);
        if (getenv("FUZZ_TRACE")) /* to read a crash, or to make seeds of mode 0 */
            fprintf(stderr, "token: %.*s\n", (int)tn, token);
    }
    /* the token in a buffer of its own size, so reading past it is caught */
    char *t = malloc(tn ? tn : 1);
    check(t != NULL, "out of memory");
    memcpy(t, token, tn);
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    struct ql_idp_claims claims;
    int rc = ql_idp_verify(ql_oidc_port(w.oidc), &cx, t, tn, &claims);
    if (getenv("FUZZ_TRACE"))
        fprintf(stderr, "verify: %d %s\n", rc, cx.err.msg);
    check(rc == QL_OK || rc == QL_EUNAUTHENTICATED, "a token answered with an odd code");
    if (rc == QL_OK) {
        check(mode != 2, "a token signed by a key that is not installed was accepted");
        check(signed_by_installed(&w, t, tn), "a token accepted without a good signature");
        check(strcmp(claims.issuer, ISS) == 0 && claims.subject[0] != '\0',
              "a token accepted without its issuer or subject");
    }
    free(t);
    return 0;
}
