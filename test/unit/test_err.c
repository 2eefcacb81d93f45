/* Unit tests of core/err: code names, statuses and the bounded error record. */
#include "err/err.h"
#include "test.h"

static void test_names_and_statuses(void)
{
    ASSERT_STR_EQ(ql_err_name(QL_EVALIDATION), "validation_failed");
    ASSERT_INT_EQ(ql_err_status(QL_EVALIDATION), 422);
    ASSERT_STR_EQ(ql_err_name(QL_ENOT_FOUND), "not_found");
    ASSERT_INT_EQ(ql_err_status(QL_EIDEM_IN_PROGRESS), 409);
    ASSERT_INT_EQ(ql_err_status(QL_EQUOTA), 429);
    ASSERT_STR_EQ(ql_err_name(QL_ENOMEM), "internal");
    ASSERT_INT_EQ(ql_err_status(-9999), 500);
    ASSERT_STR_EQ(ql_err_name(-9999), "internal");
    ASSERT_STR_EQ(ql_strerror(QL_OK), "Success.");
}

static void test_every_code_has_a_name_and_status(void)
{
    for (int c = -1; c >= -25; c--) {
        ASSERT_TRUE(ql_err_name(c)[0] != '\0');
        ASSERT_TRUE(ql_err_status(c) >= 300 && ql_err_status(c) < 600);
        ASSERT_TRUE(ql_strerror(c)[0] != '\0');
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

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_names_and_statuses),           TEST(test_every_code_has_a_name_and_status),
        TEST(test_set_returns_code_and_formats), TEST(test_long_messages_truncate),
        TEST(test_field_errors_bounded),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
