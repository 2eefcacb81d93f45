/*
 * array.c - array literals ('{"a","b",NULL}') for statements that insert many rows with
 * one INSERT ... SELECT FROM unnest($1::text[], ...): one parameter per column whatever
 * the number of rows, so one prepared statement serves every batch size.
 */
#include "internal.h"

#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "uuid/uuid.h"

#include <string.h>

static void sep(struct ql_buf *b, int first)
{
    if (!first)
        ql_buf_putc(b, ',');
}

void ql__pg_arr_strn(struct ql_buf *b, const char *s, size_t n, int first)
{
    sep(b, first);
    if (s == NULL) {
        ql_buf_puts(b, "NULL");
        return;
    }
    ql_buf_putc(b, '"');
    size_t from = 0; /* copy runs between the characters that need a backslash */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            ql_buf_append(b, s + from, i - from);
            ql_buf_putc(b, '\\');
            from = i;
        }
    }
    ql_buf_append(b, s + from, n - from);
    ql_buf_putc(b, '"');
}

void ql__pg_arr_str(struct ql_buf *b, const char *s, int first)
{
    ql__pg_arr_strn(b, s, s ? strlen(s) : 0, first);
}

void ql__pg_arr_int(struct ql_buf *b, int64_t v, int first)
{
    sep(b, first);
    ql_buf_i64(b, v);
}

void ql__pg_arr_time(struct ql_buf *b, int64_t ms, int first)
{
    sep(b, first);
    if (ms == 0) {
        ql_buf_puts(b, "NULL");
        return;
    }
    char t[QL_TIME_LEN + 1];
    ql_time_format(ms, t);
    ql_buf_putc(b, '"');
    ql_buf_puts(b, t);
    ql_buf_putc(b, '"');
}

void ql__pg_arr_uuid(struct ql_buf *b, const struct ql_uuid *u, int first)
{
    sep(b, first);
    if (u == NULL) {
        ql_buf_puts(b, "NULL");
        return;
    }
    char s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(u, s);
    ql_buf_puts(b, s);
}

void ql__pg_arr_begin(struct ql_ctx *cx, struct ql_buf *cols, int ncols)
{
    for (int c = 0; c < ncols; c++) {
        ql_buf_init(&cols[c], cx->arena);
        ql_buf_putc(&cols[c], '{');
    }
}

int ql__pg_arr_params(struct ql_ctx *cx, struct ql_buf *cols, int ncols, struct ql__pg_params *p)
{
    for (int c = 0; c < ncols; c++) {
        ql_buf_putc(&cols[c], '}');
        if (ql_buf_cstr(&cols[c]) == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
        ql__pg_p_text(p, cols[c].data);
    }
    return QL_OK;
}
