/* Unit tests of core/wire: the room reserved for an entry covers what is written. */
#include "buf/buf.h"
#include "test.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of ql_wire_entry(e) in a fresh buffer. */
static size_t written(const struct ql_entry *e)
{
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    struct ql_jw w;
    ql_jw_init(&w, &b);
    ql_wire_entry(&w, e);
    ASSERT_INT_EQ(b.failed, 0);
    size_t n = b.len;
    ql_buf_cleanup(&b);
    return n;
}

/* Every optional field set (the most the fields beside the content can take). */
static struct ql_entry full_entry(const char *content, size_t n)
{
    struct ql_entry e;
    memset(&e, 0xab, sizeof(e));
    e.has_author_user = 1;
    e.has_author_key = 1; /* never both in the store; the widest case here */
    e.has_prompt = 1;
    e.content = content;
    e.content_n = n;
    e.version = 2147483647;
    e.created_ms = 253402300799999LL; /* 9999-12-31T23:59:59.999Z */
    e.updated_ms = e.created_ms;
    e.deleted_ms = e.created_ms;
    return e;
}

static void test_room_covers_the_fields_and_content(void)
{
    static const size_t sizes[] = {0, 1, 150, 4096, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *content = malloc(sizes[i] + 1);
        ASSERT_NOT_NULL(content);
        memset(content, 'x', sizes[i]);
        struct ql_entry e = full_entry(content, sizes[i]);
        size_t n = written(&e), room = ql_wire_entry_room(&e);
        printf("# content %zu: written %zu, room %zu\n", sizes[i], n, room);
        ASSERT_TRUE(n <= room);
        ASSERT_TRUE(room - n <= 64 + sizes[i] / 16); /* and not much more */
        free(content);
    }
}

/* Escapes beyond a sixteenth of the content outgrow the room: the buffer grows then. */
static void test_room_is_a_hint_for_heavy_escaping(void)
{
    char content[1600];
    memset(content, '"', sizeof(content));
    struct ql_entry e = full_entry(content, sizeof(content));
    ASSERT_TRUE(written(&e) > ql_wire_entry_room(&e));
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_room_covers_the_fields_and_content),
        TEST(test_room_is_a_hint_for_heavy_escaping),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
