/* Unit tests of core/b64 against the RFC 4648 vectors. */
#include "b64/b64.h"
#include "err/err.h"
#include "test.h"

#include <string.h>

static void test_rfc4648_vectors(void)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        size_t n = strlen(in[i]);
        ASSERT_INT_EQ(ql_b64_encode((const uint8_t *)in[i], n, out, 0), strlen(std[i]));
        ASSERT_STR_EQ(out, std[i]);
        ASSERT_INT_EQ(ql_b64_enc_len(n, 0), strlen(std[i]));
        ql_b64_encode((const uint8_t *)in[i], n, out, 1);
        ASSERT_STR_EQ(out, url[i]);
        ASSERT_INT_EQ(ql_b64_enc_len(n, 1), strlen(url[i]));
        uint8_t dec[16];
        size_t dn;
        ASSERT_INT_EQ(ql_b64_decode(std[i], strlen(std[i]), dec, sizeof(dec), &dn), QL_OK);
        ASSERT_INT_EQ(dn, n);
        ASSERT_MEM_EQ(dec, in[i], n);
        ASSERT_INT_EQ(ql_b64_decode(url[i], strlen(url[i]), dec, sizeof(dec), &dn), QL_OK);
        ASSERT_INT_EQ(dn, n);
    }
}

static void test_hex_encode(void)
{
    static const uint8_t d[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    memset(out, 'x', sizeof(out));
    ql_hex_encode(d, sizeof(d), out);
    ASSERT_STR_EQ(out, "000fa5ff");
    ql_hex_encode(d, 0, out);
    ASSERT_STR_EQ(out, "");
}

static void test_hex_digits(void)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        ASSERT_INT_EQ(ql_hex_digit(digits[i]), i);
        if (i >= 10)
            ASSERT_INT_EQ(ql_hex_digit((char)(digits[i] - 'a' + 'A')), i);
    }
    for (int c = 1; c < 256; c++)
        if (strchr("0123456789abcdefABCDEF", c) == NULL)
            ASSERT_INT_EQ(ql_hex_digit((char)c), -1);
}

static void test_url_alphabet_and_errors(void)
{
    uint8_t raw[3] = {0xfb, 0xff, 0xfe}, dec[8];
    char out[8];
    ql_b64_encode(raw, 3, out, 1);
    ASSERT_STR_EQ(out, "-__-");
    ql_b64_encode(raw, 3, out, 0);
    ASSERT_STR_EQ(out, "+//+");
    size_t n;
    ASSERT_INT_EQ(ql_b64_decode("-__-", 4, dec, sizeof(dec), &n), QL_OK);
    ASSERT_MEM_EQ(dec, raw, 3);
    ASSERT_INT_EQ(ql_b64_decode("Zm9v!", 5, dec, sizeof(dec), &n), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_b64_decode("Z", 1, dec, sizeof(dec), &n), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_b64_decode("Zm9vYmFy", 8, dec, 2, &n), QL_EVALIDATION);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_rfc4648_vectors),
        TEST(test_url_alphabet_and_errors),
        TEST(test_hex_digits),
        TEST(test_hex_encode),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
