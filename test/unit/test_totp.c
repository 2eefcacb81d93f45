/*
 * Unit tests of the pure TOTP pieces: base32 (RFC 4648's vectors), HOTP and TOTP values
 * (RFC 4226's and RFC 6238's SHA-1 vectors, through the sodium adapter's HMAC-SHA-1), the
 * window and replay refusal of a check, and the otpauth:// URI.
 */
#include "b32/b32.h"
#include "err/err.h"
#include "mfa/totp.h"
#include "sodium/sodium_auth.h"
#include "test.h"

#include "arena/arena.h"

static const uint8_t server_secret[32] = {7};
static const uint8_t rfc_key[] = "12345678901234567890"; /* the RFCs' SHA-1 seed, 20 bytes */

static void test_base32_rfc4648_vectors(void)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const padded[] = {
        "", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
    static const char *const bare[] = {"",        "MY",       "MZXQ",      "MZXW6",
                                       "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(in[i]);
        char out[32];
        ASSERT_INT_EQ(ql_b32_encode((const uint8_t *)in[i], n, out, 1), strlen(padded[i]));
        ASSERT_STR_EQ(out, padded[i]);
        ASSERT_INT_EQ(ql_b32_enc_len(n, 1), strlen(padded[i]));
        ASSERT_INT_EQ(ql_b32_encode((const uint8_t *)in[i], n, out, 0), strlen(bare[i]));
        ASSERT_STR_EQ(out, bare[i]);
        ASSERT_INT_EQ(ql_b32_enc_len(n, 0), strlen(bare[i]));
        uint8_t back[16];
        size_t got = 99;
        ASSERT_INT_EQ(ql_b32_decode(padded[i], strlen(padded[i]), back, sizeof(back), &got), QL_OK);
        ASSERT_INT_EQ(got, n);
        ASSERT_MEM_EQ(back, in[i], n);
        ASSERT_INT_EQ(ql_b32_decode(bare[i], strlen(bare[i]), back, sizeof(back), &got), QL_OK);
        ASSERT_INT_EQ(got, n);
        ASSERT_MEM_EQ(back, in[i], n);
    }
    uint8_t b[16];
    size_t got;
    ASSERT_INT_EQ(ql_b32_decode("mzxw6ytboi", 10, b, sizeof(b), &got), QL_OK); /* either case */
    ASSERT_MEM_EQ(b, "foobar", 6);
    ASSERT_INT_EQ(ql_b32_decode("MZXW1", 5, b, sizeof(b), &got), QL_EVALIDATION); /* '1' */
    ASSERT_INT_EQ(ql_b32_decode("M", 1, b, sizeof(b), &got), QL_EVALIDATION);     /* no tail */
    ASSERT_INT_EQ(ql_b32_decode("MZX", 3, b, sizeof(b), &got), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_b32_decode("MZ", 2, b, sizeof(b), &got), QL_EVALIDATION);  /* bits left */
    ASSERT_INT_EQ(ql_b32_decode("MY=", 3, b, sizeof(b), &got), QL_EVALIDATION); /* half a pad */
    ASSERT_INT_EQ(ql_b32_decode("MZXW6YTB", 8, b, 4, &got), QL_EVALIDATION);    /* no room */
}

static struct ql_auth *sodium(void)
{
    struct ql_auth *a = NULL;
    ASSERT_INT_EQ(ql_sodium_auth_create(server_secret, sizeof(server_secret), 0, 0, 0, &a), QL_OK);
    return a;
}

/* RFC 4226 appendix D: HOTP of the seed for counters 0 to 9. */
static void test_hotp_rfc4226_vectors(void)
{
    static const char *const want[] = {"755224", "287082", "359152", "969429", "338314",
                                       "254676", "287922", "162583", "399871", "520489"};
    struct ql_auth *a = sodium();
    for (int i = 0; i < 10; i++) {
        char code[9];
        ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, i, 6, code), QL_OK);
        ASSERT_STR_EQ(code, want[i]);
    }
    char code[12];
    ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, 0, 5, code), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, 0, 9, code), QL_EVALIDATION);
    ql_sodium_auth_destroy(a);
}

/* RFC 6238 appendix B, the SHA-1 rows (8 digits; Quill shows the last 6). */
static void test_totp_rfc6238_sha1_vectors(void)
{
    static const struct {
        int64_t unix_s;
        const char *code;
    } rows[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
                {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
    struct ql_auth *a = sodium();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t step = ql_totp_step(rows[i].unix_s * 1000);
        ASSERT_INT_EQ(step, rows[i].unix_s / 30);
        char code[9];
        ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, step, 8, code), QL_OK);
        ASSERT_STR_EQ(code, rows[i].code);
        ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, step, 6, code), QL_OK);
        ASSERT_STR_EQ(code, rows[i].code + 2);
        /* and a check at that time accepts it, once */
        int64_t got = 0;
        ASSERT_INT_EQ(
            ql_totp_check(a, rfc_key, 20, rows[i].unix_s * 1000, 0, rows[i].code + 2, 6, &got),
            QL_OK);
        ASSERT_INT_EQ(got, step);
        ASSERT_INT_EQ(
            ql_totp_check(a, rfc_key, 20, rows[i].unix_s * 1000, got, rows[i].code + 2, 6, &got),
            QL_ECONFLICT);
    }
    ql_sodium_auth_destroy(a);
}

/* One step either side is accepted; two is not; a used step and older ones are replays. */
static void test_totp_check_window_and_replay(void)
{
    struct ql_auth *a = sodium();
    int64_t now = 1767225615000LL; /* in the middle of a step */
    int64_t t = ql_totp_step(now);
    char c[5][9];
    for (int d = -2; d <= 2; d++)
        ASSERT_INT_EQ(ql_totp_code(a, rfc_key, 20, t + d, 6, c[d + 2]), QL_OK);
    int64_t step = 0;
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, c[0], 6, &step), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, c[4], 6, &step), QL_ENOT_FOUND);
    for (int d = -1; d <= 1; d++) {
        ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, c[d + 2], 6, &step), QL_OK);
        ASSERT_INT_EQ(step, t + d);
    }
    /* the current step was used: it and the one before are replays, the next one is fresh */
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, t, c[2], 6, &step), QL_ECONFLICT);
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, t, c[1], 6, &step), QL_ECONFLICT);
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, t, c[3], 6, &step), QL_OK);
    ASSERT_INT_EQ(step, t + 1);
    /* not six digits: never a match */
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, c[2], 5, &step), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, "12a456", 6, &step), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_totp_check(a, rfc_key, 20, now, 0, "", 0, &step), QL_ENOT_FOUND);
    ql_sodium_auth_destroy(a);
}

static void test_otpauth_uri(void)
{
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 0);
    const char *uri = ql_totp_uri(&arena, "Quill", "ada+mfa@example.com", "GEZDGNBVGY3TQOJQ");
    ASSERT_STR_EQ(uri, "otpauth://totp/Quill:ada%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQ"
                       "&issuer=Quill&algorithm=SHA1&digits=6&period=30");
    uri = ql_totp_uri(&arena, "Quill Dev", "x@y.z", "AB");
    ASSERT_STR_EQ(uri, "otpauth://totp/Quill%20Dev:x%40y.z?secret=AB&issuer=Quill%20Dev"
                       "&algorithm=SHA1&digits=6&period=30");
    ql_arena_cleanup(&arena);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_base32_rfc4648_vectors),
        TEST(test_hotp_rfc4226_vectors),
        TEST(test_totp_rfc6238_sha1_vectors),
        TEST(test_totp_check_window_and_replay),
        TEST(test_otpauth_uri),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
