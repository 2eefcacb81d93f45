/*
 * Unit tests of the request body parser (adapters/http/body.c): which members it refuses,
 * and that the problem document naming them is UTF-8 JSON whatever the client sent.
 */
#include "arena/arena.h"
#include "http/internal.h"
#include "test.h"
#include "validate/validate.h"

#include <cJSON.h>

static const struct ql__field fields[] = {{"name", QL__JSON_STRING, 1}};

/*
 * Parse body (n bytes) as a request's body; the status, and the first field the problem
 * names into field (cap bytes), which must be valid UTF-8 like the whole document.
 */
static int parse(const char *body, size_t n, char *field, size_t cap)
{
    struct ql_arena a;
    ql_arena_init(&a, 0, 0);
    struct ql_http_req r;
    memset(&r, 0, sizeof(r));
    ql__req_reset(&r, &a);
    r.body = (struct ql_span){body, n};
    cJSON *doc;
    field[0] = '\0';
    if (ql__body_parse(&r, fields, 1, &doc) == 0) {
        ql__req_release(&r);
        ql_arena_cleanup(&a);
        return 200;
    }
    int status = r.status;
    int utf8 = ql_utf8_count(r.res_body.data, r.res_body.len) >= 0;
    cJSON *p = cJSON_ParseWithLength(r.res_body.data, r.res_body.len);
    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(p, "errors");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(errors, 0), "field");
    if (cJSON_IsString(f))
        snprintf(field, cap, "%s", f->valuestring);
    cJSON_Delete(p);
    ql_arena_cleanup(&a);
    return utf8 ? status : -1;
}

static void test_unknown_and_repeated_members_are_named(void)
{
    char field[128];
    const char *body = "{\"name\":\"a\",\"nmae\":1}";
    ASSERT_INT_EQ(parse(body, strlen(body), field, sizeof(field)), 422);
    ASSERT_STR_EQ(field, "nmae");
    body = "{\"name\":\"a\",\"name\":\"b\"}";
    ASSERT_INT_EQ(parse(body, strlen(body), field, sizeof(field)), 422);
    ASSERT_STR_EQ(field, "name");
    body = "{\"name\":\"a\\u0000\"}";
    ASSERT_INT_EQ(parse(body, strlen(body), field, sizeof(field)), 422);
    ASSERT_STR_EQ(field, "name");
}

/* A name too long for a field error is cut between characters, never inside one. */
static void test_a_long_member_name_is_cut_between_characters(void)
{
    char body[256], field[128];
    int n = snprintf(body, sizeof(body), "{\"name\":\"a\",\"");
    for (int i = 0; i < 40; i++)
        n += snprintf(body + n, sizeof(body) - (size_t)n, "\xc3\xa9"); /* é */
    n += snprintf(body + n, sizeof(body) - (size_t)n, "\":1}");
    ASSERT_INT_EQ(parse(body, (size_t)n, field, sizeof(field)), 422);
    ASSERT_INT_EQ(strlen(field), 62); /* 31 whole characters */
    /* the same for a NUL in the value of such a member */
    n = snprintf(body, sizeof(body), "{\"");
    for (int i = 0; i < 40; i++)
        n += snprintf(body + n, sizeof(body) - (size_t)n, "\xc3\xa9");
    n += snprintf(body + n, sizeof(body) - (size_t)n, "\":\"\\u0000\"}");
    ASSERT_INT_EQ(parse(body, (size_t)n, field, sizeof(field)), 422);
    ASSERT_INT_EQ(strlen(field), 62);
}

/* JSON text is UTF-8 (RFC 8259): a member named in other bytes is reported as the body's. */
static void test_a_member_name_that_is_not_utf8_is_not_echoed(void)
{
    char field[128];
    static const char body[] = "{\"name\":\"a\",\"\xff\xfe\":1}";
    ASSERT_INT_EQ(parse(body, sizeof(body) - 1, field, sizeof(field)), 422);
    ASSERT_STR_EQ(field, "body");
    static const char nul[] = "{\"\xc3\":\"\\u0000\"}";
    ASSERT_INT_EQ(parse(nul, sizeof(nul) - 1, field, sizeof(field)), 422);
    ASSERT_STR_EQ(field, "body");
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_unknown_and_repeated_members_are_named),
        TEST(test_a_long_member_name_is_cut_between_characters),
        TEST(test_a_member_name_that_is_not_utf8_is_not_echoed),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
