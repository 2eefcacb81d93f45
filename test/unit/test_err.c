/* Unit tests of core/err: code names, transience and the bounded error record. */
#include "err/err.h"
#include "test.h"

static void test_names_and_transience(void)
{
    ASSERT_STR_EQ(ql_err_name(QL_EVALIDATION), "validation_failed");
    ASSERT_STR_EQ(ql_err_name(QL_ENOT_FOUND), "not_found");
    ASSERT_STR_EQ(ql_err_name(QL_ENOMEM), "internal");
    ASSERT_STR_EQ(ql_err_name(-9999), "internal");
    ASSERT_STR_EQ(ql_strerror(QL_OK), "Success.");
    ASSERT_INT_EQ(ql_err_transient(QL_EUNAVAILABLE), 1);
    ASSERT_INT_EQ(ql_err_transient(QL_EIDEM_IN_PROGRESS), 1);
    ASSERT_INT_EQ(ql_err_transient(QL_ERATE_LIMITED), 1);
    ASSERT_INT_EQ(ql_err_transient(QL_EINTERNAL), 1);
    ASSERT_INT_EQ(ql_err_transient(-9999), 1);
    ASSERT_INT_EQ(ql_err_transient(QL_EVALIDATION), 0);
    ASSERT_INT_EQ(ql_err_transient(QL_ECONFLICT), 0);
    ASSERT_INT_EQ(ql_err_transient(QL_OK), 0);
}

static void test_every_code_has_a_name_and_message(void)
{
    for (int c = -1; c >= -26; c--) {
        ASSERT_TRUE(strcmp(ql_err_name(c), "internal") != 0 || c == QL_EINTERNAL ||
                    c == QL_ENOMEM || c == QL_EIO);
        ASSERT_TRUE(ql_strerror(c)[0] != '\0');
        ASSERT_TRUE(strcmp(ql_strerror(c), "An internal error occurred.") != 0 ||
                    c == QL_EINTERNAL);
    }
}

static void test_set_returns_code_and_formats(void)
{
    struct ql_error e;
    ql_error_clear(&e);
    ASSERT_INT_EQ(ql_error_set(&e, QL_ECONFLICT, "team %d is busy", 7), QL_ECONFLICT);
    ASSERT_STR_EQ(e.msg, "team 7 is busy");
    ql_error_set(&e, QL_ENOT_FOUND, NULL);
    ASSERT_STR_EQ(e.msg, "No such resource.");
}

static void test_long_messages_truncate(void)
{
    struct ql_error e;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ql_error_set(&e, QL_EINTERNAL, "%s", big);
    ASSERT_INT_EQ(strlen(e.msg), sizeof(e.msg) - 1);
}

static void test_field_errors_bounded(void)
{
    struct ql_error e;
    ql_error_clear(&e);
    for (int i = 0; i < 20; i++)
        ASSERT_INT_EQ(ql_error_field(&e, "content", "too_long", "field %d", i), QL_EVALIDATION);
    ASSERT_INT_EQ(e.code, QL_EVALIDATION);
    ASSERT_INT_EQ(e.nfields, QL_ERROR_MAX_FIELDS);
    ASSERT_STR_EQ(e.fields[0].field, "content");
    ASSERT_STR_EQ(e.fields[0].code, "too_long");
    ASSERT_STR_EQ(e.fields[3].message, "field 3");
}

/* A field name too long for the record is cut between UTF-8 characters, never inside one. */
static void test_long_field_names_keep_whole_characters(void)
{
    struct ql_error e;
    ql_error_clear(&e);
    char name[100] = "";
    for (int i = 0; i < 40; i++)
        strcat(name, "\xc3\xa9"); /* é, two bytes */
    ql_error_field(&e, name, "unknown_field", "is not a known field");
    ASSERT_INT_EQ(strlen(e.fields[0].field), 62);
    ASSERT_INT_EQ(memcmp(e.fields[0].field, name, 62), 0);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_names_and_transience),         TEST(test_every_code_has_a_name_and_message),
        TEST(test_set_returns_code_and_formats), TEST(test_long_messages_truncate),
        TEST(test_field_errors_bounded),         TEST(test_long_field_names_keep_whole_characters),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
