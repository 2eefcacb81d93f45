/*
 * Unit tests of the OpenID Connect verifier (adapters/oidc) on a manual clock: EdDSA tokens
 * signed here, a key set installed as a fetch would, expiry and not-before with their
 * leeway, a key set that grows too old, and every claim that must match.  Nothing sleeps;
 * the provider's URL is a closed local port, so a refetch fails at once.
 */
#include "auth/auth.h"
#include "b64/b64.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "oidc/oidc.h"
#include "test.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define ISS "https://idp.example"
#define AUD "quill"

struct world {
    struct fake_clock clock;
    struct ql_oidc *oidc;
    struct ql_ctx cx;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
};

static void b64url(const void *in, size_t n, char *out)
{
    ql_b64_encode(in, n, out, 1);
}

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    ASSERT_TRUE(sodium_init() >= 0);
    fake_clock_init(&w->clock, 1767225600000LL);
    ASSERT_INT_EQ(
        ql_oidc_create(ISS, AUD, "http://127.0.0.1:1/jwks", NULL, &w->clock.base, &w->oidc), QL_OK);
    crypto_sign_keypair(w->pk, w->sk);
    char x[64], jwks[256];
    b64url(w->pk, sizeof(w->pk), x);
    snprintf(jwks, sizeof(jwks),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k1\",\"x\":\"%s\"}]}", x);
    ASSERT_INT_EQ(ql_oidc_install_jwks(w->oidc, jwks, strlen(jwks)), 0);
}

/* A token signed with the world's key; claims is the payload's JSON. */
static const char *token(struct world *w, const char *alg, const char *claims, char *out,
                         size_t cap)
{
    char header[128], h64[256], p64[1024], s64[128];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"k1\"}", alg);
    b64url(header, strlen(header), h64);
    b64url(claims, strlen(claims), p64);
    char msg[1400];
    int n = snprintf(msg, sizeof(msg), "%s.%s", h64, p64);
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)msg, (unsigned long long)n, w->sk);
    b64url(sig, sizeof(sig), s64);
    snprintf(out, cap, "%s.%s", msg, s64);
    return out;
}

static long long now_s(struct world *w)
{
    return w->clock.now_ms / 1000;
}

static int verify(struct world *w, const char *tok, struct ql_idp_claims *c)
{
    ql_error_clear(&w->cx.err);
    return ql_idp_verify(ql_oidc_port(w->oidc), &w->cx, tok, strlen(tok), c);
}

static void test_a_valid_token_gives_its_claims(void)
{
    struct world w;
    setup(&w);
    char claims[512], tok[2048];
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
             "\",\"sub\":\"ada\",\"email\":\"ada@example.com\","
             "\"name\":\"Ada\",\"exp\":%lld,\"nbf\":%lld}",
             now_s(&w) + 300, now_s(&w) - 10);
    struct ql_idp_claims c;
    ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c), QL_OK);
    ASSERT_STR_EQ(c.issuer, ISS);
    ASSERT_STR_EQ(c.subject, "ada");
    ASSERT_STR_EQ(c.email, "ada@example.com");
    ASSERT_STR_EQ(c.name, "Ada");
    ql_oidc_destroy(w.oidc);
}

/* email_verified: true, or the string "true"; anything else (absent, false, 1) is not. */
static void test_email_verified_is_true_only_when_the_provider_says_so(void)
{
    struct world w;
    setup(&w);
    const struct {
        const char *claim;
        int verified;
    } cases[] = {{"", 0},
                 {",\"email_verified\":true", 1},
                 {",\"email_verified\":\"true\"", 1},
                 {",\"email_verified\":false", 0},
                 {",\"email_verified\":\"false\"", 0},
                 {",\"email_verified\":1", 0},
                 {",\"email_verified\":null", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char claims[512], tok[2048];
        snprintf(claims, sizeof(claims),
                 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
                 "\",\"sub\":\"ada\",\"email\":\"ada@example.com\"%s,\"exp\":%lld}",
                 cases[i].claim, now_s(&w) + 300);
        struct ql_idp_claims c;
        ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c), QL_OK);
        ASSERT_INT_EQ(c.email_verified, cases[i].verified);
    }
    ql_oidc_destroy(w.oidc);
}

static void test_expiry_and_not_before_move_with_the_clock(void)
{
    struct world w;
    setup(&w);
    char claims[512], tok[2048];
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld,\"nbf\":%lld}",
             now_s(&w) + 100, now_s(&w) + 100);
    token(&w, "EdDSA", claims, tok, sizeof(tok));
    struct ql_idp_claims c;
    /* not before: 100 s ahead is more than the leeway */
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "not valid yet"));
    /* within the leeway of nbf, it is good */
    fake_clock_advance(&w.clock, (100 - QL_OIDC_LEEWAY_S + 1) * 1000);
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_OK);
    /* past exp plus the leeway, it is not */
    fake_clock_advance(&w.clock, (QL_OIDC_LEEWAY_S * 2) * 1000);
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "expired"));
    ql_oidc_destroy(w.oidc);
}

static void test_a_key_set_too_old_is_not_trusted(void)
{
    struct world w;
    setup(&w);
    char claims[512], tok[2048];
    fake_clock_advance(&w.clock, QL_OIDC_MAX_AGE_MS);
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld}",
             now_s(&w) + 300);
    struct ql_idp_claims c;
    /* the set is as old as allowed: the refetch fails, and the old keys are not used */
    ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c),
                  QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "unknown signing key"));
    ql_oidc_destroy(w.oidc);
}

static void test_claims_and_signatures_must_match(void)
{
    struct world w;
    setup(&w);
    char claims[512], tok[2048];
    struct ql_idp_claims c;
    long long exp = now_s(&w) + 300;
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"https://other\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld}", exp);
    ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c),
                  QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "wrong issuer"));
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"sub\":\"s\",\"exp\":%lld}", exp);
    ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c),
                  QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "wrong audience"));
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"" AUD "\"],\"sub\":\"s\",\"exp\":%lld}", exp);
    ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c), QL_OK);
    /* "none" and other algorithms are refused */
    ASSERT_INT_EQ(verify(&w, token(&w, "none", claims, tok, sizeof(tok)), &c), QL_EUNAUTHENTICATED);
    ASSERT_NOT_NULL(strstr(w.cx.err.msg, "unsupported algorithm"));
    /* a changed payload breaks the signature */
    token(&w, "EdDSA", claims, tok, sizeof(tok));
    char *dot = strchr(tok, '.');
    dot[1] = dot[1] == 'A' ? 'B' : 'A';
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    ql_oidc_destroy(w.oidc);
}

/* A provider whose JWKS address answers every request 500, counting them. */
struct failing_idp {
    int fd;
    atomic_int served;
    atomic_int stop;
    pthread_t thread;
};

static void *failing_idp_run(void *arg)
{
    struct failing_idp *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[2048];
        size_t got = 0;
        ssize_t n;
        while (got < sizeof(buf) - 1 && (n = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        atomic_fetch_add(&f->served, 1); /* before the answer: the fetch returns after it */
        static const char answer[] =
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = write(c, answer, sizeof(answer) - 1);
        (void)w;
        close(c);
    }
    return NULL;
}

/* Start f, and point w's verifier at it: every key-set fetch fails. */
static void failing_idp_start(struct failing_idp *f, struct world *w)
{
    memset(f, 0, sizeof(*f));
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int up = f->fd >= 0 && bind(f->fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             listen(f->fd, 16) == 0 && getsockname(f->fd, (struct sockaddr *)&a, &al) == 0 &&
             pthread_create(&f->thread, NULL, failing_idp_run, f) == 0;
    ASSERT_INT_EQ(up, 1);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/jwks", ntohs(a.sin_port));
    ql_oidc_destroy(w->oidc);
    ASSERT_INT_EQ(ql_oidc_create(ISS, AUD, url, NULL, &w->clock.base, &w->oidc), QL_OK);
}

static void failing_idp_stop(struct failing_idp *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static void test_a_failing_provider_is_asked_at_most_once_a_second(void)
{
    struct world w;
    setup(&w);
    struct failing_idp idp;
    failing_idp_start(&idp, &w);
    char x[64], jwks[256], claims[512], header[64], h64[128], p64[1024], tok[2048];
    b64url(w.pk, sizeof(w.pk), x);
    snprintf(jwks, sizeof(jwks),
             "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k1\",\"x\":\"%s\"}]}", x);
    ASSERT_INT_EQ(ql_oidc_install_jwks(w.oidc, jwks, strlen(jwks)), 0);
    /* garbage tokens naming keys the set does not hold: the clock stands still */
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld}",
             now_s(&w) + 300);
    b64url(claims, strlen(claims), p64);
    struct ql_idp_claims c;
    fake_clock_advance(&w.clock, QL_OIDC_REFETCH_MS);
    for (int i = 0; i < 4; i++) {
        snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"kid\":\"nope%d\"}", i);
        b64url(header, strlen(header), h64);
        snprintf(tok, sizeof(tok), "%s.%s.AAAA", h64, p64);
        ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    }
    ASSERT_INT_EQ(atomic_load(&idp.served), 1);
    /* a second on, one more try */
    fake_clock_advance(&w.clock, QL_OIDC_REFETCH_MS);
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(atomic_load(&idp.served), 2);
    /* the set grows too old and the provider still fails: valid tokens do not each fetch */
    fake_clock_advance(&w.clock, QL_OIDC_MAX_AGE_MS);
    for (int i = 0; i < 3; i++)
        ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c),
                      QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(atomic_load(&idp.served), 3);
    ql_oidc_destroy(w.oidc);
    failing_idp_stop(&idp);
}

/* A verifier that never had a key set asks the provider at most once a second too. */
static void test_no_key_set_yet_is_fetched_at_most_once_a_second(void)
{
    struct world w;
    setup(&w);
    struct failing_idp idp;
    failing_idp_start(&idp, &w);
    char claims[512], tok[2048];
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"s\",\"exp\":%lld}",
             now_s(&w) + 300);
    struct ql_idp_claims c;
    for (int i = 0; i < 3; i++)
        ASSERT_INT_EQ(verify(&w, token(&w, "EdDSA", claims, tok, sizeof(tok)), &c),
                      QL_EUNAVAILABLE);
    ASSERT_INT_EQ(atomic_load(&idp.served), 1);
    fake_clock_advance(&w.clock, QL_OIDC_REFETCH_MS);
    ASSERT_INT_EQ(verify(&w, tok, &c), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(atomic_load(&idp.served), 2);
    ql_oidc_destroy(w.oidc);
    failing_idp_stop(&idp);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_valid_token_gives_its_claims),
        TEST(test_email_verified_is_true_only_when_the_provider_says_so),
        TEST(test_expiry_and_not_before_move_with_the_clock),
        TEST(test_a_key_set_too_old_is_not_trusted),
        TEST(test_claims_and_signatures_must_match),
        TEST(test_a_failing_provider_is_asked_at_most_once_a_second),
        TEST(test_no_key_set_yet_is_fetched_at_most_once_a_second),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
