/* Unit tests of core/audit/anchor: the file of the audit chains' anchors. */
#include "audit/anchor.h"
#include "buf/buf.h"
#include "err/err.h"
#include "test.h"

#include <string.h>

static const char H1[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_write_then_read_gives_the_same_anchors(void)
{
    struct ql_audit_anchors a, b;
    ql_audit_anchors_init(&a);
    ql_audit_anchors_init(&b);
    uint8_t h[32];
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(i * 7 + 1);
    ASSERT_INT_EQ(ql_audit_anchors_add(&a, "team:0190a1b2-0000-7000-8000-000000000001", 42, h),
                  QL_OK);
    h[0] ^= 0xff;
    ASSERT_INT_EQ(ql_audit_anchors_add(&a, "account", 7, h), QL_OK);
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_audit_anchors_sort(&a, &err), QL_OK);
    ASSERT_STR_EQ(a.v[0].chain, "account");
    struct ql_buf text;
    ql_buf_init(&text, NULL);
    ql_audit_anchors_format(&a, &text);
    ASSERT_INT_EQ(ql_buf_ok(&text), QL_OK);
    ASSERT_INT_EQ(ql_audit_anchors_parse(&b, text.data, text.len, &err), QL_OK);
    ASSERT_INT_EQ(b.n, 2);
    for (size_t i = 0; i < 2; i++) {
        ASSERT_STR_EQ(b.v[i].chain, a.v[i].chain);
        ASSERT_INT_EQ(b.v[i].seq, a.v[i].seq);
        ASSERT_MEM_EQ(b.v[i].hash, a.v[i].hash, 32);
        ASSERT_INT_EQ(b.v[i].met, 0);
    }
    struct ql_audit_anchor *f =
        ql_audit_anchors_find(&b, "team:0190a1b2-0000-7000-8000-000000000001");
    ASSERT_NOT_NULL(f);
    ASSERT_INT_EQ(f->seq, 42);
    ASSERT_NULL(ql_audit_anchors_find(&b, "team:other"));
    ql_buf_cleanup(&text);
    ql_audit_anchors_cleanup(&a);
    ql_audit_anchors_cleanup(&b);
}

static void test_comments_blank_lines_and_crlf_are_read(void)
{
    char text[512];
    snprintf(text, sizeof(text), "# a comment\r\n\r\naccount 3 %s\r\nteam:x 1 %s", H1, H1);
    struct ql_audit_anchors a;
    ql_audit_anchors_init(&a);
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_audit_anchors_parse(&a, text, strlen(text), &err), QL_OK);
    ASSERT_INT_EQ(a.n, 2);
    ASSERT_INT_EQ(ql_audit_anchors_find(&a, "account")->seq, 3);
    ASSERT_INT_EQ(ql_audit_anchors_find(&a, "team:x")->hash[31], 0xff);
    ql_audit_anchors_cleanup(&a);
    ASSERT_INT_EQ(ql_audit_anchors_parse(&a, "", 0, &err), QL_OK); /* a new, empty file */
    ASSERT_INT_EQ(a.n, 0);
    ASSERT_NULL(ql_audit_anchors_find(&a, "account"));
}

/* text is refused, with a message that names why. */
static void parse_fails(const char *text, const char *why)
{
    struct ql_audit_anchors a;
    ql_audit_anchors_init(&a);
    struct ql_error err;
    ql_error_clear(&err);
    ASSERT_INT_EQ(ql_audit_anchors_parse(&a, text, strlen(text), &err), QL_EVALIDATION);
    ASSERT_TRUE(strstr(err.msg, why) != NULL);
    ql_audit_anchors_cleanup(&a);
}

/* Each bad line is refused with its number, and nothing half-read is trusted. */
static void test_a_bad_line_is_named(void)
{
    static const char *bad[] = {
        "account 3",                       /* no hash */
        "account x3 %s",                   /* seq not a number */
        "account 0 %s",                    /* seq starts at 1 */
        "account 99999999999999999999 %s", /* seq out of range */
        " 3 %s",                           /* no chain */
        "account 3 %s0",                   /* hash too long */
        "account  3 %s",                   /* two spaces */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        int n = snprintf(text, sizeof(text), "# ok\naccount 1 %s\n", H1);
        snprintf(text + n, sizeof(text) - (size_t)n, bad[i], H1);
        parse_fails(text, "line 3");
    }
    char text[512];
    snprintf(text, sizeof(text), "account 1 %s\naccount 2 %s\n", H1, H1);
    parse_fails(text, "account is anchored twice");
    struct ql_audit_anchors a;
    ql_audit_anchors_init(&a);
    char hash[64] = {0};
    ASSERT_INT_EQ(ql_audit_anchors_add(&a, "", 1, (const uint8_t *)hash), QL_EVALIDATION);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_write_then_read_gives_the_same_anchors),
        TEST(test_comments_blank_lines_and_crlf_are_read),
        TEST(test_a_bad_line_is_named),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
