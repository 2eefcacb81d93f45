/*
 * oidc.c - JWT verification against a JWKS.  The key set is parsed once per fetch into
 * ready-to-use keys (EVP_PKEY for RSA and P-256, raw bytes for Ed25519) and swapped in
 * under a mutex; a verification holds the mutex only to find its key and take a reference.
 */
#include "oidc.h"

#include "auth/auth.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { ALG_RS256 = 1, ALG_ES256 = 2, ALG_EDDSA = 3 };

struct jwk {
    char kid[128];
    int alg;
    EVP_PKEY *pkey; /* RSA or EC */
    uint8_t ed[32]; /* Ed25519 */
};

struct keyset {
    int refs;
    int n;
    struct jwk *keys;
};

struct ql_oidc {
    struct ql_idp base;
    char *issuer, *audience, *url;
    struct ql_logger *log;
    struct ql_clock *clock;
    pthread_mutex_t lock;     /* guards set and fetched_ms */
    pthread_mutex_t fetching; /* one fetch at a time; guards tried_ms */
    struct keyset *set;
    int64_t fetched_ms;
    int64_t tried_ms; /* when the last fetch began, whatever came of it; 0: never */
};

/* Monotonic ms, for the age of the key set. */
static int64_t mono_ms(struct ql_oidc *o)
{
    return ql_clock_mono_ns(o->clock) / 1000000;
}

static void keyset_release(struct keyset *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (int i = 0; i < s->n; i++)
        EVP_PKEY_free(s->keys[i].pkey);
    free(s->keys);
    free(s);
}

/* base64url field of a JSON object into out; returns the decoded length or -1. */
static long b64_field(const cJSON *o, const char *name, uint8_t *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    size_t n;
    if (!cJSON_IsString(v) || ql_b64_decode(v->valuestring, strlen(v->valuestring), out, cap, &n))
        return -1;
    return (long)n;
}

static EVP_PKEY *rsa_key(const cJSON *k)
{
    uint8_t n[1024], e[16];
    long nn = b64_field(k, "n", n, sizeof(n)), en = b64_field(k, "e", e, sizeof(e));
    if (nn <= 0 || en <= 0)
        return NULL;
    BIGNUM *bn = BN_bin2bn(n, (int)nn, NULL), *be = BN_bin2bn(e, (int)en, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static EVP_PKEY *ec_key(const cJSON *k)
{
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(k, "crv");
    if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256") != 0)
        return NULL;
    uint8_t pub[65];
    pub[0] = 0x04;
    if (b64_field(k, "x", pub + 1, 32) != 32 || b64_field(k, "y", pub + 33, 32) != 32)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* Parse a JWKS document into a key set (NULL when nothing usable is in it). */
static struct keyset *parse_jwks(const char *text, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(doc, "keys");
    struct keyset *s = NULL;
    if (!cJSON_IsArray(keys))
        goto out;
    s = calloc(1, sizeof(*s));
    int max = cJSON_GetArraySize(keys);
    if (s == NULL || max <= 0 || (s->keys = calloc((size_t)max, sizeof(struct jwk))) == NULL) {
        free(s);
        s = NULL;
        goto out;
    }
    s->refs = 1;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        const cJSON *kty = cJSON_GetObjectItemCaseSensitive(k, "kty");
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(k, "kid");
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(k, "use");
        if (!cJSON_IsString(kty) || kty->valuestring == NULL ||
            (cJSON_IsString(use) && use->valuestring && strcmp(use->valuestring, "sig") != 0))
            continue;
        if (s->keys == NULL || s->n >= max)
            break;
        struct jwk *j = &s->keys[s->n];
        memset(j, 0, sizeof(*j));
        if (cJSON_IsString(kid))
            snprintf(j->kid, sizeof(j->kid), "%s", kid->valuestring);
        if (strcmp(kty->valuestring, "RSA") == 0 && (j->pkey = rsa_key(k)) != NULL) {
            j->alg = ALG_RS256;
        } else if (strcmp(kty->valuestring, "EC") == 0 && (j->pkey = ec_key(k)) != NULL) {
            j->alg = ALG_ES256;
        } else if (strcmp(kty->valuestring, "OKP") == 0) {
            const cJSON *crv = cJSON_GetObjectItemCaseSensitive(k, "crv");
            if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "Ed25519") != 0 ||
                b64_field(k, "x", j->ed, sizeof(j->ed)) != 32)
                continue;
            j->alg = ALG_EDDSA;
        } else {
            continue;
        }
        s->n++;
    }
out:
    cJSON_Delete(doc);
    return s;
}

struct fetch_buf {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct fetch_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > (1 << 20))
        return 0; /* a JWKS is small: refuse to buffer more than 1 MiB */
    char *d = realloc(b->data, b->len + n + 1);
    if (d == NULL)
        return 0;
    memcpy(d + b->len, p, n);
    b->data = d;
    b->len += n;
    d[b->len] = '\0';
    return n;
}

/* Fetch and install a fresh key set; returns 0 when one was installed. */
static int refetch(struct ql_oidc *o)
{
    struct fetch_buf b = {NULL, 0};
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    int ok = rc == CURLE_OK && status == 200 && ql_oidc_install_jwks(o, b.data, b.len) == 0;
    free(b.data);
    if (!ok) {
        ql_log(o->log, QL_LOG_WARN, "cannot fetch the OIDC key set", "url", o->url, NULL);
        return -1;
    }
    return 0;
}

int ql_oidc_install_jwks(struct ql_oidc *o, const char *jwks, size_t n)
{
    struct keyset *s = jwks ? parse_jwks(jwks, n) : NULL;
    if (s == NULL)
        return -1;
    pthread_mutex_lock(&o->lock);
    struct keyset *old = o->set;
    o->set = s;
    o->fetched_ms = mono_ms(o);
    pthread_mutex_unlock(&o->lock);
    keyset_release(old);
    return 0;
}

/* Find the key for (kid, alg) in the current set and take a reference to the set. */
static struct keyset *find(struct ql_oidc *o, const char *kid, int alg, struct jwk **out)
{
    pthread_mutex_lock(&o->lock);
    struct keyset *s = o->set;
    *out = NULL;
    if (s && mono_ms(o) - o->fetched_ms < QL_OIDC_MAX_AGE_MS) {
        for (int i = 0; i < s->n && *out == NULL; i++)
            if (s->keys[i].alg == alg && (kid[0] == '\0' || strcmp(s->keys[i].kid, kid) == 0))
                *out = &s->keys[i];
    }
    if (*out)
        s->refs++;
    else
        s = NULL;
    pthread_mutex_unlock(&o->lock);
    return s;
}

static int verify_evp(EVP_PKEY *key, int alg, const uint8_t *sig, size_t siglen, const char *msg,
                      size_t msglen)
{
    uint8_t der[80];
    const uint8_t *s = sig;
    size_t sl = siglen;
    if (alg == ALG_ES256) {
        /* JWS carries r || s; libcrypto wants a DER ECDSA-Sig-Value. */
        if (siglen != 64)
            return 0;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
        if (es == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(es, r, ss)) {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(ss);
            return 0;
        }
        uint8_t *p = der;
        int dl = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        if (dl <= 0)
            return 0;
        s = der;
        sl = (size_t)dl;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, s, sl, (const uint8_t *)msg, msglen) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int fail(struct ql_error *err, const char *why)
{
    return ql_error_set(err, QL_EUNAUTHENTICATED, "The token is not valid: %s.", why);
}

static int check_claims(struct ql_oidc *o, const cJSON *c, struct ql_idp_claims *out,
                        struct ql_error *err)
{
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(c, "sub");
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(c, "aud");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(c, "nbf");
    if (!cJSON_IsString(iss) || strcmp(iss->valuestring, o->issuer) != 0)
        return fail(err, "wrong issuer");
    int aud_ok = cJSON_IsString(aud) && strcmp(aud->valuestring, o->audience) == 0;
    const cJSON *a;
    if (cJSON_IsArray(aud))
        cJSON_ArrayForEach(a, aud) aud_ok |=
            cJSON_IsString(a) && !strcmp(a->valuestring, o->audience);
    if (!aud_ok)
        return fail(err, "wrong audience");
    double now = (double)ql_clock_now_ms(o->clock) / 1000.0;
    if (!cJSON_IsNumber(exp) || exp->valuedouble + QL_OIDC_LEEWAY_S <= now)
        return fail(err, "expired");
    if (nbf && (!cJSON_IsNumber(nbf) || nbf->valuedouble - QL_OIDC_LEEWAY_S > now))
        return fail(err, "not valid yet");
    if (!cJSON_IsString(sub) || sub->valuestring[0] == '\0' || strlen(sub->valuestring) > 255)
        return fail(err, "no subject");
    const cJSON *email = cJSON_GetObjectItemCaseSensitive(c, "email");
    const cJSON *verified = cJSON_GetObjectItemCaseSensitive(c, "email_verified");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    /* a boolean in OpenID Connect Core; some providers send the string "true" */
    out->email_verified = cJSON_IsTrue(verified) ||
                          (cJSON_IsString(verified) && strcmp(verified->valuestring, "true") == 0);
    snprintf(out->issuer, sizeof(out->issuer), "%s", iss->valuestring);
    snprintf(out->subject, sizeof(out->subject), "%s", sub->valuestring);
    snprintf(out->email, sizeof(out->email), "%s", cJSON_IsString(email) ? email->valuestring : "");
    snprintf(out->name, sizeof(out->name), "%s", cJSON_IsString(name) ? name->valuestring : "");
    return QL_OK;
}

static int verify(struct ql_idp *self, struct ql_ctx *cx, const char *token, size_t n,
                  struct ql_idp_claims *out)
{
    struct ql_oidc *o = (struct ql_oidc *)self;
    struct ql_error *err = &cx->err;
    if (n > 16384)
        return fail(err, "too long");
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(token + n - d1 - 1)) : NULL;
    if (d2 == NULL)
        return fail(err, "not a JWT");
    uint8_t hdr[1024], payload[8192], sig[600];
    size_t hn, pn, sn;
    if (ql_b64_decode(token, (size_t)(d1 - token), hdr, sizeof(hdr) - 1, &hn) ||
        ql_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload, sizeof(payload) - 1, &pn) ||
        ql_b64_decode(d2 + 1, (size_t)(token + n - d2 - 1), sig, sizeof(sig), &sn))
        return fail(err, "bad encoding");
    cJSON *h = cJSON_ParseWithLength((const char *)hdr, hn);
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *kidj = cJSON_GetObjectItemCaseSensitive(h, "kid");
    int a = 0;
    if (cJSON_IsString(alg)) {
        a = !strcmp(alg->valuestring, "RS256")   ? ALG_RS256
            : !strcmp(alg->valuestring, "ES256") ? ALG_ES256
            : !strcmp(alg->valuestring, "EdDSA") ? ALG_EDDSA
                                                 : 0;
    }
    char kid[128] = "";
    if (cJSON_IsString(kidj))
        snprintf(kid, sizeof(kid), "%s", kidj->valuestring);
    cJSON_Delete(h);
    if (a == 0)
        return fail(err, "unsupported algorithm");
    struct jwk *key;
    struct keyset *set = find(o, kid, a, &key);
    if (set == NULL) {
        /* Unknown key: the provider may have rotated.  Fetch again, but not too often. */
        pthread_mutex_lock(&o->fetching);
        set = find(o, kid, a, &key);
        if (set == NULL) {
            /* A fetch that failed counts too: a provider that is down or answers garbage is
             * asked again only a second later, however many tokens come meanwhile. */
            int64_t now = mono_ms(o);
            pthread_mutex_lock(&o->lock);
            int fresh = o->set != NULL && now - o->fetched_ms < QL_OIDC_REFETCH_MS;
            pthread_mutex_unlock(&o->lock);
            if (!fresh && (o->tried_ms == 0 || now - o->tried_ms >= QL_OIDC_REFETCH_MS)) {
                o->tried_ms = now > 0 ? now : 1;
                refetch(o);
            }
            set = find(o, kid, a, &key);
        }
        pthread_mutex_unlock(&o->fetching);
        if (set == NULL) {
            pthread_mutex_lock(&o->lock);
            int have = o->set != NULL;
            pthread_mutex_unlock(&o->lock);
            if (!have)
                return ql_error_set(err, QL_EUNAVAILABLE, "The identity provider is unreachable.");
            return fail(err, "unknown signing key");
        }
    }
    size_t msglen = (size_t)(d2 - token);
    int ok;
    if (a == ALG_EDDSA)
        ok = sn == 64 &&
             crypto_sign_verify_detached(sig, (const uint8_t *)token, msglen, key->ed) == 0;
    else
        ok = verify_evp(key->pkey, a, sig, sn, token, msglen);
    pthread_mutex_lock(&o->lock);
    keyset_release(set);
    pthread_mutex_unlock(&o->lock);
    if (!ok)
        return fail(err, "bad signature");
    cJSON *claims = cJSON_ParseWithLength((const char *)payload, pn);
    int rc = cJSON_IsObject(claims) ? check_claims(o, claims, out, err) : fail(err, "bad claims");
    cJSON_Delete(claims);
    return rc;
}

static const struct ql_idp_ops ops = {.verify = verify};

struct ql_idp *ql_oidc_port(struct ql_oidc *o)
{
    return &o->base;
}

int ql_oidc_create(const char *issuer, const char *audience, const char *jwks_url,
                   struct ql_logger *log, struct ql_clock *clock, struct ql_oidc **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return QL_EINTERNAL;
    struct ql_oidc *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return QL_ENOMEM;
    o->issuer = strdup(issuer);
    o->audience = strdup(audience);
    o->url = strdup(jwks_url);
    o->base.ops = &ops;
    o->log = log;
    o->clock = clock;
    pthread_mutex_init(&o->lock, NULL);
    pthread_mutex_init(&o->fetching, NULL);
    if (o->issuer == NULL || o->audience == NULL || o->url == NULL) {
        ql_oidc_destroy(o);
        return QL_ENOMEM;
    }
    *out = o;
    return QL_OK;
}

void ql_oidc_destroy(struct ql_oidc *o)
{
    if (o == NULL)
        return;
    keyset_release(o->set);
    pthread_mutex_destroy(&o->lock);
    pthread_mutex_destroy(&o->fetching);
    free(o->issuer);
    free(o->audience);
    free(o->url);
    free(o);
}
