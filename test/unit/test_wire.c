/* Unit tests of core/wire: the room reserved for a thing covers what is written. */
#include "buf/buf.h"
#include "test.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ENTRY, PROMPT, MEMBER };

/*
 * The bytes ql_wire_<kind>(x) adds as the second item of a list (so with its comma), which
 * its room must cover.
 */
static size_t written(int kind, const void *x)
{
    struct ql_buf b;
    ql_buf_init(&b, NULL);
    struct ql_jw w;
    ql_jw_init(&w, &b);
    ql_jw_arr(&w);
    ql_jw_null(&w);
    size_t before = b.len;
    if (kind == ENTRY)
        ql_wire_entry(&w, x);
    else if (kind == PROMPT)
        ql_wire_prompt(&w, x);
    else
        ql_wire_member(&w, x);
    ASSERT_INT_EQ(b.failed, 0);
    size_t n = b.len - before;
    ql_buf_cleanup(&b);
    return n;
}

#define LATEST 253402300799999LL /* 9999-12-31T23:59:59.999Z */

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
    e.created_ms = e.updated_ms = e.deleted_ms = LATEST;
    return e;
}

static struct ql_prompt full_prompt(const char *text, const char *category)
{
    struct ql_prompt p;
    memset(&p, 0xab, sizeof(p));
    p.has_team = 1;
    p.text = text;
    p.category = category;
    p.created_ms = p.updated_ms = p.deleted_ms = LATEST;
    return p;
}

static struct ql_member full_member(const char *email, const char *name)
{
    struct ql_member m;
    memset(&m, 0xab, sizeof(m));
    m.email = email;
    m.display_name = name;
    m.role = QL_ROLE_VIEWER; /* the longest name */
    m.joined_ms = LATEST;
    return m;
}

/* s (n bytes, NUL-terminated): fill 0 plain text, 1 quotes, 2 control bytes, 3 mixed. */
static char *text(size_t n, int fill)
{
    char *s = malloc(n + 1);
    ASSERT_NOT_NULL(s);
    static const char mix[] = "a\"\\\n\r\t\x01\x7f\xc3\xa9";
    for (size_t i = 0; i < n; i++)
        s[i] = fill == 0 ? 'x' : fill == 1 ? '"' : fill == 2 ? '\x01' : mix[i % (sizeof(mix) - 1)];
    s[n] = '\0';
    return s;
}

/* Exactly, whatever the text needs escaped: a page reserved once never grows. */
static void test_rooms_cover_what_is_written_however_it_is_escaped(void)
{
    static const size_t sizes[] = {0, 1, 150, 4096, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int fill = 0; fill < 4; fill++) {
            char *s = text(sizes[i], fill);
            struct ql_entry e = full_entry(s, sizes[i]);
            struct ql_prompt p = full_prompt(s, s);
            struct ql_member m = full_member(s, s);
            size_t n = written(ENTRY, &e), room = ql_wire_entry_room(&e);
            size_t pn = written(PROMPT, &p), proom = ql_wire_prompt_room(&p);
            size_t mn = written(MEMBER, &m), mroom = ql_wire_member_room(&m);
            printf("# %zu bytes, fill %d: entry %zu of %zu, prompt %zu of %zu, member %zu of %zu\n",
                   sizes[i], fill, n, room, pn, proom, mn, mroom);
            ASSERT_TRUE(n <= room && pn <= proom && mn <= mroom);
            /* and not much more: the fields' slack, not the text's */
            ASSERT_TRUE(room - n <= 64 && proom - pn <= 128 && mroom - mn <= 128);
            free(s);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_rooms_cover_what_is_written_however_it_is_escaped),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
