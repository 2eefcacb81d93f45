/* The libsodium auth adapter: argon2id round trips, keyed digests, HMAC and SHA-256 vectors. */
#include "err/err.h"
#include "sodium/sodium_auth.h"
#include "test.h"

#include <pthread.h>

static const uint8_t secret[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_password_round_trip(void)
{
    struct ql_auth *a;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 32, 0, 0, 2, &a), QL_OK);
    char h[QL_PWHASH_LEN];
    ASSERT_INT_EQ(ql_auth_password_hash(a, "correct horse battery", 21, h), QL_OK);
    ASSERT_TRUE(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    ASSERT_INT_EQ(ql_auth_password_verify(a, h, "correct horse battery", 21), QL_OK);
    ASSERT_INT_EQ(ql_auth_password_verify(a, h, "correct horse batterx", 21),
                  QL_EINVALID_CREDENTIALS);
    ASSERT_INT_EQ(ql_auth_password_verify(a, "not a hash", "x", 1), QL_EINVALID_CREDENTIALS);
    ql_sodium_auth_destroy(a);
}

struct hasher {
    struct ql_auth *a;
    int rc;
};

static void *hash_many(void *arg)
{
    struct hasher *h = arg;
    char out[QL_PWHASH_LEN];
    for (int i = 0; i < 3 && h->rc == QL_OK; i++)
        h->rc = ql_auth_password_hash(h->a, "a long enough password", 22, out);
    if (h->rc == QL_OK)
        h->rc = ql_auth_password_verify(h->a, out, "a long enough password", 22);
    return NULL;
}

static void test_slow_threads_serve_concurrent_callers(void)
{
    struct ql_auth *a;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 32, 1, 8192, 2, &a), QL_OK);
    pthread_t t[6];
    struct hasher h[6];
    for (int i = 0; i < 6; i++) {
        h[i].a = a;
        h[i].rc = QL_OK;
        pthread_create(&t[i], NULL, hash_many, &h[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ASSERT_INT_EQ(h[i].rc, QL_OK);
    }
    ql_sodium_auth_destroy(a);
}

static void test_digests_are_keyed(void)
{
    struct ql_auth *a, *b;
    uint8_t other[32] = {0};
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 32, 0, 0, 0, &a), QL_OK);
    ASSERT_INT_EQ(ql_sodium_auth_create(other, 32, 0, 0, 0, &b), QL_OK);
    uint8_t d1[32], d2[32], d3[32];
    ql_auth_token_digest(a, "qs_token", 8, d1);
    ql_auth_token_digest(a, "qs_token", 8, d2);
    ql_auth_token_digest(b, "qs_token", 8, d3);
    ASSERT_MEM_EQ(d1, d2, 32);
    ASSERT_TRUE(memcmp(d1, d3, 32) != 0);
    struct ql_auth *c;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 8, 0, 0, 0, &c), QL_ECONFIG);
    ASSERT_NULL(c);
    ql_sodium_auth_destroy(a);
    ql_sodium_auth_destroy(b);
}

static void test_sha256_and_hmac_vectors(void)
{
    struct ql_auth *a;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 32, 0, 0, 0, &a), QL_OK);
    uint8_t d[32];
    char h[65];
    ql_auth_sha256(a, "abc", 3, d);
    hex(d, 32, h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    ql_auth_hmac_sha256(a, "Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, 32, h);
    ASSERT_STR_EQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t r1[16] = {0}, r2[16] = {0};
    ql_auth_random(a, r1, 16);
    ql_auth_random(a, r2, 16);
    ASSERT_TRUE(memcmp(r1, r2, 16) != 0);
    ql_sodium_auth_destroy(a);
}

/* RFC 2202's HMAC-SHA-1 cases 1, 2, 3, 6 and 7: short, long (hashed) and multi-block input. */
static void test_hmac_sha1_vectors(void)
{
    struct ql_auth *a;
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, 32, 0, 0, 0, &a), QL_OK);
    uint8_t k[80], m[50], d[QL_SHA1_LEN];
    char h[41];
    memset(k, 0x0b, 20);
    ASSERT_INT_EQ(ql_auth_hmac_sha1(a, k, 20, "Hi There", 8, d), QL_OK);
    hex(d, 20, h);
    ASSERT_STR_EQ(h, "b617318655057264e28bc0b6fb378c8ef146be00");
    ql_auth_hmac_sha1(a, "Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, 20, h);
    ASSERT_STR_EQ(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    memset(k, 0xaa, sizeof(k));
    memset(m, 0xdd, sizeof(m));
    ql_auth_hmac_sha1(a, k, 20, m, 50, d);
    hex(d, 20, h);
    ASSERT_STR_EQ(h, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    ql_auth_hmac_sha1(a, k, 80, m6, strlen(m6), d);
    hex(d, 20, h);
    ASSERT_STR_EQ(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    const char *m7 = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
    ql_auth_hmac_sha1(a, k, 80, m7, strlen(m7), d);
    hex(d, 20, h);
    ASSERT_STR_EQ(h, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
    ql_sodium_auth_destroy(a);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_password_round_trip), TEST(test_slow_threads_serve_concurrent_callers),
        TEST(test_digests_are_keyed),   TEST(test_sha256_and_hmac_vectors),
        TEST(test_hmac_sha1_vectors),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
