/* Unit tests of core/uuid: UUIDv7 layout, text form and parsing. */
#include "err/err.h"
#include "fakes/fakes.h"
#include "test.h"
#include "uuid/uuid.h"

static void test_layout_matches_seed_ids(void)
{
    /* SEED.md: user 1 is 019b76da-abe8-7001-8000-000000000001 (ms of T0 + 1 s). */
    uint8_t rnd[10] = {0x00, 0x01, 0x80, 0, 0, 0, 0, 0, 0, 0x01};
    struct ql_uuid u;
    ql_uuid7_from(&u, 1767225601000LL, rnd);
    char s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&u, s);
    ASSERT_STR_EQ(s, "019b76da-abe8-7001-8000-000000000001");
    ASSERT_INT_EQ(ql_uuid7_ms(&u), 1767225601000LL);
}

static void test_version_and_variant_bits(void)
{
    struct fake_clock c;
    struct fake_auth a;
    fake_clock_init(&c, 1767225600000LL);
    fake_auth_init(&a);
    a.counter = 0xf0;
    struct ql_uuid u;
    ASSERT_INT_EQ(ql_uuid7_new(&c.base, &a.base, &u), QL_OK);
    ASSERT_INT_EQ(u.b[6] >> 4, 7);
    ASSERT_INT_EQ(u.b[8] >> 6, 2);
    ASSERT_INT_EQ(ql_uuid7_ms(&u), 1767225600000LL);
}

static void test_random_failure_propagates(void)
{
    struct fake_clock c;
    struct fake_auth a;
    fake_clock_init(&c, 0);
    fake_auth_init(&a);
    a.fail_random = 1;
    struct ql_uuid u;
    ASSERT_INT_EQ(ql_uuid7_new(&c.base, &a.base, &u), QL_EINTERNAL);
    ASSERT_INT_EQ(a.fail_hits, 1);
}

static void test_parse_round_trip_and_rejects(void)
{
    struct ql_uuid u, v;
    const char *s = "019B76DA-ABE8-7001-8000-0000000003E8";
    ASSERT_INT_EQ(ql_uuid_parse(s, 36, &u), QL_OK);
    char out[37];
    ql_uuid_format(&u, out);
    ASSERT_STR_EQ(out, "019b76da-abe8-7001-8000-0000000003e8");
    ASSERT_INT_EQ(ql_uuid_parse(out, 36, &v), QL_OK);
    ASSERT_MEM_EQ(u.b, v.b, 16);
    ASSERT_INT_EQ(ql_uuid_parse("019b76da-abe8-7001-8000-0000000003e", 35, &u), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_uuid_parse("019b76daxabe8-7001-8000-0000000003e8", 36, &u), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_uuid_parse("019b76da-abe8-7001-8000-0000000003eg", 36, &u), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_uuid_parse("not-a-uuid", 10, &u), QL_EVALIDATION);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_layout_matches_seed_ids),
        TEST(test_version_and_variant_bits),
        TEST(test_random_failure_propagates),
        TEST(test_parse_round_trip_and_rejects),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
