/* Unit tests of core/validate and core/cursor, with property checks on random input. */
#include "arena/arena.h"
#include "clock/clock.h"
#include "cursor/cursor.h"
#include "err/err.h"
#include "test.h"
#include "validate/validate.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Encode a code point as UTF-8; returns the length. */
static int put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static void test_utf8_counts_valid_random_text(void)
{
    for (int round = 0; round < 2000; round++) {
        char buf[512];
        int n = 0, cps = (int)(next() % 100);
        for (int i = 0; i < cps; i++) {
            unsigned cp;
            do
                cp = 1 + (unsigned)(next() % 0x10ffff);
            while (cp >= 0xd800 && cp <= 0xdfff);
            n += put_utf8(cp, buf + n);
        }
        ASSERT_INT_EQ(ql_utf8_count(buf, (size_t)n), cps);
    }
}

static void test_utf8_rejects_malformed(void)
{
    static const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xff",     "\x80",         "\xc3",         "a\0b"};
    static const size_t len[] = {2, 3, 3, 4, 1, 1, 1, 3};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_INT_EQ(ql_utf8_count(bad[i], len[i]), -1);
    /* random bytes: the validator never crashes and never over-counts */
    for (int round = 0; round < 5000; round++) {
        char buf[64];
        size_t n = next() % sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)next();
        long c = ql_utf8_count(buf, n);
        ASSERT_TRUE(c >= -1 && c <= (long)n);
    }
}

static void test_text_limits(void)
{
    struct ql_error e;
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "héllo", 6, 1, 5, 0), QL_OK);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "héllo!", 7, 1, 5, 0), QL_EVALIDATION);
    ASSERT_STR_EQ(e.fields[0].code, "too_long");
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "", 0, 1, 5, 0), QL_EVALIDATION);
    ASSERT_STR_EQ(e.fields[0].code, "required");
    ASSERT_STR_EQ(e.fields[0].message, "must not be empty");
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "name", "ab", 2, 3, 5, 1), QL_EVALIDATION);
    ASSERT_STR_EQ(e.fields[0].code, "too_short");
    ASSERT_STR_EQ(e.fields[0].message, "must be at least 3 characters");
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "a\nb\tc", 5, 1, 50, 0), QL_OK);
    ASSERT_INT_EQ(ql_valid_text(&e, "name", "a\nb", 3, 1, 50, 1), QL_EVALIDATION);
    /* C1 controls (U+0080 to U+009F, such as NEL) are control characters too */
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "a\xc2\x85z", 4, 1, 50, 0), QL_EVALIDATION);
    ASSERT_STR_EQ(e.fields[0].code, "invalid_text");
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "\xc2\x80", 2, 1, 50, 0), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_valid_text(&e, "content", "\xc2\xa0\xc2\xbf\xc3\x85", 6, 1, 50, 0), QL_OK);
}

static void test_email_normalisation(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_error e;
    ql_error_clear(&e);
    const char *out;
    ASSERT_INT_EQ(ql_valid_email(&e, &a, "email", " Mixed.Case@Example.ORG ", 24, &out), QL_OK);
    ASSERT_STR_EQ(out, "mixed.case@example.org");
    static const char *bad[] = {"",     "plain",    "@example.com", "a@b",      "a@.com",
                                "a@b.", "a b@c.de", "a@@b.de",      "a@b@c.de", "<a>@b.de"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ql_error_clear(&e);
        ASSERT_INT_EQ(ql_valid_email(&e, &a, "email", bad[i], strlen(bad[i]), &out),
                      QL_EVALIDATION);
    }
    ql_arena_cleanup(&a);
}

static void test_password_length(void)
{
    struct ql_error e;
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_valid_password(&e, "password", "elevenchars", 11), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_valid_password(&e, "password", "twelve chars", 12), QL_OK);
    char big[200];
    memset(big, 'x', sizeof(big));
    ASSERT_INT_EQ(ql_valid_password(&e, "password", big, 128), QL_OK);
    ASSERT_INT_EQ(ql_valid_password(&e, "password", big, 129), QL_EVALIDATION);
}

static void test_cursor_round_trip_and_rejects(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    for (int round = 0; round < 1000; round++) {
        struct ql_uuid id, back;
        for (int i = 0; i < 16; i++)
            id.b[i] = (uint8_t)next();
        /* a time of the years Quill reads and writes (any time from 0000 to 9999) */
        int64_t num = QL_TIME_MIN_MS +
                      (int64_t)(next() % (uint64_t)(QL_TIME_MAX_MS - QL_TIME_MIN_MS + 1)),
                got;
        char *c = ql_cursor_encode(&a, QL_CURSOR_ENTRIES, num, &id);
        ASSERT_NOT_NULL(c);
        struct ql_error e;
        ql_error_clear(&e);
        ASSERT_INT_EQ(ql_cursor_decode(&e, QL_CURSOR_ENTRIES, c, strlen(c), &got, &back), QL_OK);
        ASSERT_INT_EQ(got, num);
        ASSERT_MEM_EQ(back.b, id.b, 16);
        /* the same cursor is refused by another list */
        ASSERT_INT_EQ(ql_cursor_decode(&e, QL_CURSOR_AUDIT, c, strlen(c), &got, &back),
                      QL_EVALIDATION);
    }
    /* random strings are refused, never crash (this generator never yields a valid one) */
    for (int round = 0; round < 2000; round++) {
        char s[48];
        size_t n = next() % sizeof(s);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(32 + next() % 95);
        struct ql_error e;
        ql_error_clear(&e);
        int64_t num;
        struct ql_uuid id;
        ASSERT_INT_EQ(ql_cursor_decode(&e, QL_CURSOR_ENTRIES, s, n, &num, &id), QL_EVALIDATION);
        ASSERT_STR_EQ(e.fields[0].code, "invalid_cursor");
    }
    ql_arena_cleanup(&a);
}

/* Decode a cursor of kind encoding num: 0 with num back, or the validation error. */
static int decode_num(struct ql_arena *a, int kind, int64_t num, struct ql_error *e)
{
    struct ql_uuid id = {{1}}, back;
    int64_t got = 0;
    char *c = ql_cursor_encode(a, kind, num, &id);
    ASSERT_NOT_NULL(c);
    ql_error_clear(e);
    int rc = ql_cursor_decode(e, kind, c, strlen(c), &got, &back);
    if (rc == QL_OK)
        ASSERT_INT_EQ(got, num);
    return rc;
}

/*
 * A list keyed by time refuses a cursor whose time no row can have (forged: any 64-bit
 * number fits): it would reach the database, which cannot take it.  Other numbers (an audit
 * sequence) are any number.
 */
static void test_a_cursor_time_outside_the_years_0_to_9999_is_refused(void)
{
    static const int timed[] = {QL_CURSOR_ENTRIES,  QL_CURSOR_PROMPTS,  QL_CURSOR_API_KEYS,
                                QL_CURSOR_WEBHOOKS, QL_CURSOR_SESSIONS, QL_CURSOR_MAIL};
    ASSERT_INT_EQ(QL_TIME_MIN_MS, ql_days_from_civil(0, 1, 1) * 86400000);
    ASSERT_INT_EQ(QL_TIME_MAX_MS + 1, ql_days_from_civil(10000, 1, 1) * 86400000);
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_error e;
    for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
        ASSERT_INT_EQ(decode_num(&a, timed[i], QL_TIME_MIN_MS, &e), QL_OK);
        ASSERT_INT_EQ(decode_num(&a, timed[i], QL_TIME_MAX_MS, &e), QL_OK);
        const int64_t bad[] = {QL_TIME_MIN_MS - 1, QL_TIME_MAX_MS + 1, INT64_MIN, INT64_MAX};
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            ASSERT_INT_EQ(decode_num(&a, timed[i], bad[k], &e), QL_EVALIDATION);
            ASSERT_INT_EQ(e.nfields, 1);
            ASSERT_STR_EQ(e.fields[0].field, "cursor");
            ASSERT_STR_EQ(e.fields[0].code, "invalid_cursor");
        }
    }
    /* a delivery's number was its time times 1000, plus its attempt (before two numbers) */
    ASSERT_INT_EQ(decode_num(&a, QL_CURSOR_DELIVERIES, QL_TIME_MAX_MS * 1000 + 999, &e), QL_OK);
    ASSERT_INT_EQ(decode_num(&a, QL_CURSOR_DELIVERIES, (QL_TIME_MAX_MS + 1) * 1000, &e),
                  QL_EVALIDATION);
    ASSERT_INT_EQ(decode_num(&a, QL_CURSOR_DELIVERIES, INT64_MAX, &e), QL_EVALIDATION);
    ASSERT_INT_EQ(decode_num(&a, QL_CURSOR_AUDIT, INT64_MAX, &e), QL_OK);
    ASSERT_INT_EQ(decode_num(&a, QL_CURSOR_AUDIT, INT64_MIN, &e), QL_OK);
    ql_arena_cleanup(&a);
}

/* Decode a two-number cursor of kind: 0 with both numbers back, or the validation error. */
static int decode_two(struct ql_arena *a, int kind, int64_t ms, int64_t k, struct ql_error *e)
{
    struct ql_uuid id = {{7, 1}}, back;
    int64_t got_ms = 0, got_k = 0;
    char *c = ql_cursor_encode2(a, kind, ms, k, &id);
    ASSERT_NOT_NULL(c);
    ql_error_clear(e);
    int rc = ql_cursor_decode2(e, kind, c, strlen(c), &got_ms, &got_k, &back);
    if (rc == QL_OK) {
        ASSERT_INT_EQ(got_ms, ms);
        ASSERT_INT_EQ(got_k, k);
        ASSERT_MEM_EQ(back.b, id.b, 16);
    }
    return rc;
}

/*
 * The attempts list's cursor keeps the time and the attempt apart: any attempt number
 * survives (one of 1000 or more used to come back as a time 1 ms later and a smaller
 * attempt).  Times outside the years 0 to 9999 and attempts outside 0..INT32_MAX are
 * forged; a one-number cursor issued before still reads as time * 1000 + attempt.
 */
static void test_a_two_number_cursor_keeps_any_attempt(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_error e;
    const int64_t t = 1764583200123; /* 2025-12-01T10:00:00.123Z */
    const int64_t ok[] = {0, 1, 999, 1000, 1001, 123456, INT32_MAX};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ASSERT_INT_EQ(decode_two(&a, QL_CURSOR_DELIVERIES, t, ok[i], &e), QL_OK);
    ASSERT_INT_EQ(decode_two(&a, QL_CURSOR_DELIVERIES, QL_TIME_MIN_MS, 3, &e), QL_OK);
    ASSERT_INT_EQ(decode_two(&a, QL_CURSOR_DELIVERIES, QL_TIME_MAX_MS, 3, &e), QL_OK);
    const int64_t bad[][2] = {{t, -1},
                              {t, (int64_t)INT32_MAX + 1},
                              {t, INT64_MIN},
                              {QL_TIME_MIN_MS - 1, 1},
                              {QL_TIME_MAX_MS + 1, 1},
                              {INT64_MAX, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_INT_EQ(decode_two(&a, QL_CURSOR_DELIVERIES, bad[i][0], bad[i][1], &e),
                      QL_EVALIDATION);
        ASSERT_STR_EQ(e.fields[0].code, "invalid_cursor");
    }
    /* another list's, and one-number cursors of the new kind's lists are not taken */
    struct ql_uuid id = {{7}}, back;
    int64_t ms, k;
    char *c = ql_cursor_encode2(&a, QL_CURSOR_DELIVERIES, t, 5, &id);
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_cursor_decode2(&e, QL_CURSOR_WEBHOOKS, c, strlen(c), &ms, &k, &back),
                  QL_EVALIDATION);
    int64_t num;
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_cursor_decode(&e, QL_CURSOR_DELIVERIES, c, strlen(c), &num, &back),
                  QL_EVALIDATION);
    /* a cursor issued before: time * 1000 + attempt */
    c = ql_cursor_encode(&a, QL_CURSOR_DELIVERIES, t * 1000 + 42, &id);
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_cursor_decode2(&e, QL_CURSOR_DELIVERIES, c, strlen(c), &ms, &k, &back), QL_OK);
    ASSERT_INT_EQ(ms, t);
    ASSERT_INT_EQ(k, 42);
    ASSERT_MEM_EQ(back.b, id.b, 16);
    c = ql_cursor_encode(&a, QL_CURSOR_DELIVERIES, -5 * 1000 + 3, &id); /* before 1970 */
    ASSERT_INT_EQ(ql_cursor_decode2(&e, QL_CURSOR_DELIVERIES, c, strlen(c), &ms, &k, &back), QL_OK);
    ASSERT_INT_EQ(ms, -5);
    ASSERT_INT_EQ(k, 3);
    ql_arena_cleanup(&a);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_utf8_counts_valid_random_text),
        TEST(test_utf8_rejects_malformed),
        TEST(test_text_limits),
        TEST(test_email_normalisation),
        TEST(test_password_length),
        TEST(test_cursor_round_trip_and_rejects),
        TEST(test_a_cursor_time_outside_the_years_0_to_9999_is_refused),
        TEST(test_a_two_number_cursor_keeps_any_attempt),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
