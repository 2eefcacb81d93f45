/* Unit tests of core/buf: growth, sticky failure, JSON escaping and the JSON writer. */
#include "arena/arena.h"
#include "buf/buf.h"
#include "err/err.h"
#include "test.h"

#include <cJSON.h>
#include <string.h>

static void test_heap_growth_and_numbers(void)
{
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    for (int i = 0; i < 1000; i++)
        ql_buf_puts(&b, "abc");
    ASSERT_INT_EQ(b.len, 3000);
    b.len = 0;
    ql_buf_i64(&b, -9223372036854775807LL - 1);
    ql_buf_putc(&b, ' ');
    ql_buf_u64(&b, 18446744073709551615ULL);
    ASSERT_STR_EQ(ql_buf_cstr(&b), "-9223372036854775808 18446744073709551615");
    ql_buf_consume(&b, 21);
    ASSERT_STR_EQ(ql_buf_cstr(&b), "18446744073709551615");
    ql_buf_cleanup(&b);
}

static void test_sticky_failure_in_arena(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 2048);
    struct ql_buf b;
    ql_buf_init(&b, &a);
    for (int i = 0; i < 300; i++)
        ql_buf_puts(&b, "0123456789");
    ASSERT_INT_EQ(ql_buf_ok(&b), QL_ENOMEM);
    size_t len = b.len;
    ql_buf_puts(&b, "more");
    ASSERT_INT_EQ(b.len, len);
    ASSERT_NULL(ql_buf_cstr(&b));
    ql_arena_cleanup(&a);
}

/* A reservation of the size a buffer ends at takes that and a byte, and holds it all. */
static void test_an_exact_reservation_is_not_rounded_up(void)
{
    struct ql_arena a;
    ql_arena_init(&a, 1024, 0);
    struct ql_buf b;
    ql_buf_init(&b, &a);
    ql_buf_puts(&b, "[");
    ASSERT_NOT_NULL(ql_buf_reserve_exact(&b, 5000));
    ASSERT_INT_EQ(b.cap, 5002);
    size_t held = ql_arena_held(&a);
    for (int i = 0; i < 500; i++)
        ql_buf_puts(&b, "0123456789");
    ASSERT_INT_EQ(ql_buf_ok(&b), QL_OK);
    ASSERT_INT_EQ(b.len, 5001);
    ASSERT_INT_EQ(b.cap, 5002);
    ASSERT_INT_EQ(ql_arena_held(&a), held); /* nothing more was taken */
    ASSERT_NOT_NULL(ql_buf_reserve_exact(&b, 0));
    ASSERT_INT_EQ(b.cap, 5002);
    ql_arena_cleanup(&a);
    /* past the arena's limit it fails as a growth does */
    ql_arena_init(&a, 1024, 4096);
    ql_buf_init(&b, &a);
    ASSERT_NULL(ql_buf_reserve_exact(&b, 5000));
    ASSERT_INT_EQ(ql_buf_ok(&b), QL_ENOMEM);
    ql_arena_cleanup(&a);
}

static void test_escape(void)
{
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    const char in[] = "a\"b\\c\n\t\x01\x1f/é";
    ql_buf_json_escape(&b, in, sizeof(in) - 1);
    ASSERT_STR_EQ(ql_buf_cstr(&b), "a\\\"b\\\\c\\n\\t\\u0001\\u001f/é");
    ql_buf_cleanup(&b);
}

/* The escaping of one byte as JSON wants it, written the slow way, to check the fast one. */
static void escape_ref(struct ql_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            ql_buf_printf(b, "\\%c", c);
        else if (c == '\n')
            ql_buf_puts(b, "\\n");
        else if (c == '\r')
            ql_buf_puts(b, "\\r");
        else if (c == '\t')
            ql_buf_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            ql_buf_printf(b, "\\u%04x", c);
        else
            ql_buf_putc(b, (char)c);
    }
}

/*
 * The escaper skips eight bytes a step: every byte that needs escaping, at every offset
 * of a string longer than two words, among bytes that come close to the tests (0x20,
 * '!', '#', '[', ']', '~', 0x80, 0xa2 and 0xdc, which are '"' and '\\' with the high bit,
 * 0xff), is escaped as byte by byte, by the escaper and by the writer's strings.
 */
static void test_escape_every_byte_at_every_offset(void)
{
    static const unsigned char near[] = {0x20, '!', '#', '[', ']', '~', 0x80, 0xa2, 0xdc, 0xff};
    struct ql_buf got, want;
    ql_buf_init(&got, NULL);
    ql_buf_init(&want, NULL);
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < 19; at++) {
            for (size_t f = 0; f < sizeof(near); f++) {
                char in[19];
                for (size_t i = 0; i < sizeof(in); i++)
                    in[i] = (char)near[(f + i) % sizeof(near)];
                in[at] = (char)c;
                got.len = want.len = 0;
                ql_buf_json_escape(&got, in, sizeof(in));
                escape_ref(&want, in, sizeof(in));
                ASSERT_INT_EQ(got.len, want.len);
                ASSERT_MEM_EQ(got.data, want.data, got.len);
                ASSERT_INT_EQ(ql_buf_json_escaped_len(in, sizeof(in)), want.len);
                /* and as the writer's string: its plain prefix copied, the rest escaped */
                struct ql_jw w;
                got.len = 0;
                ql_jw_init(&w, &got);
                ql_jw_strn(&w, in, sizeof(in));
                ASSERT_INT_EQ(got.len, want.len + 2);
                ASSERT_TRUE(got.data[0] == '"' && got.data[got.len - 1] == '"');
                ASSERT_MEM_EQ(got.data + 1, want.data, want.len);
            }
        }
    }
    ql_buf_cleanup(&got);
    ql_buf_cleanup(&want);
}

static void test_writer_nesting_and_commas(void)
{
    struct ql_buf b;
    struct ql_jw w;
    ql_buf_init(&b, NULL);
    ql_jw_init(&w, &b);
    ql_jw_obj(&w);
    ql_jw_key(&w, "items");
    ql_jw_arr(&w);
    for (int i = 0; i < 3; i++) {
        ql_jw_obj(&w);
        ql_jw_key(&w, "n");
        ql_jw_int(&w, i);
        ql_jw_key(&w, "s");
        ql_jw_str_or_null(&w, i == 1 ? NULL : "x");
        ql_jw_obj_end(&w);
    }
    ql_jw_arr_end(&w);
    ql_jw_key(&w, "ok");
    ql_jw_bool(&w, 1);
    ql_jw_key(&w, "raw");
    ql_jw_raw(&w, "[1,2]", 5);
    ql_jw_key(&w, "plain");
    ql_jw_arr(&w);
    ql_jw_plain(&w, "2026-12-03T09:30:00.000Z", 24);
    ql_jw_plain(&w, "upsert!", 6); /* n bytes of s, no more */
    ql_jw_plain(&w, "", 0);
    ql_jw_arr_end(&w);
    ql_jw_key(&w, "empty");
    ql_jw_arr(&w);
    ql_jw_arr_end(&w);
    ql_jw_obj_end(&w);
    ASSERT_STR_EQ(ql_buf_cstr(&b),
                  "{\"items\":[{\"n\":0,\"s\":\"x\"},{\"n\":1,\"s\":null},{\"n\":2,"
                  "\"s\":\"x\"}],\"ok\":true,\"raw\":[1,2],\"plain\":[\"2026-12-03T09:30:00.000Z\","
                  "\"upsert\",\"\"],\"empty\":[]}");
    ql_buf_cleanup(&b);
}

/* Property: any byte string written as a JSON string parses back to itself. */
static void test_escape_round_trip_random(void)
{
    unsigned seed = 12345;
    for (int round = 0; round < 500; round++) {
        char in[64];
        int n = 1 + (int)(seed % 63);
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            in[i] = (char)(1 + (seed >> 16) % 127); /* ASCII without NUL */
        }
        in[n] = '\0';
        struct ql_buf b;
        struct ql_jw w;
        ql_buf_init(&b, NULL);
        ql_jw_init(&w, &b);
        ql_jw_str(&w, in);
        cJSON *j = cJSON_Parse(ql_buf_cstr(&b));
        ASSERT_NOT_NULL(j);
        ASSERT_STR_EQ(cJSON_GetStringValue(j), in);
        cJSON_Delete(j);
        ql_buf_cleanup(&b);
    }
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_heap_growth_and_numbers),
        TEST(test_sticky_failure_in_arena),
        TEST(test_an_exact_reservation_is_not_rounded_up),
        TEST(test_escape),
        TEST(test_escape_every_byte_at_every_offset),
        TEST(test_writer_nesting_and_commas),
        TEST(test_escape_round_trip_random),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
