/*
 * buf.h - growable byte buffers and a streaming JSON writer on top of them.
 *
 * A buffer grows either inside an arena (arena != NULL: memory is "arena") or on the heap
 * (arena == NULL: the buffer owns data; free it with ql_buf_cleanup).  Appends never
 * return an error: the first failed growth sets a sticky `failed` flag and every later
 * append is a no-op, so a serializer checks once, at the end, with ql_buf_ok().  That
 * keeps hot serializers free of per-field branches while still never losing an error.
 *
 * The JSON writer tracks commas itself; nesting is limited to 32 levels.
 */
#ifndef QL_BUF_H
#define QL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ql_arena;

struct ql_buf {
    char *data;
    size_t len;
    size_t cap;
    struct ql_arena *arena; /* NULL: heap-backed */
    int failed;
};

void ql_buf_init(struct ql_buf *b, struct ql_arena *arena);
/* Frees a heap-backed buffer's memory; does nothing for an arena-backed one. */
void ql_buf_cleanup(struct ql_buf *b);
/* Make room for n more bytes; returns a pointer to them or NULL (and sets failed). */
char *ql_buf_reserve(struct ql_buf *b, size_t n);
/*
 * ql_buf_reserve without rounding the capacity up (ql_buf_reserve doubles it): for a buffer
 * whose final size is known, such as a page of the largest entries, where the doubling
 * could take as much again.
 */
char *ql_buf_reserve_exact(struct ql_buf *b, size_t n);
void ql_buf_append(struct ql_buf *b, const void *p, size_t n);
void ql_buf_puts(struct ql_buf *b, const char *s);
void ql_buf_putc(struct ql_buf *b, char c);
void ql_buf_printf(struct ql_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ql_buf_u64(struct ql_buf *b, uint64_t v);
void ql_buf_i64(struct ql_buf *b, int64_t v);
/* Drop the first n bytes (heap buffers keep their capacity). */
void ql_buf_consume(struct ql_buf *b, size_t n);
/* 0 when every append so far succeeded, else QL_ENOMEM. */
int ql_buf_ok(const struct ql_buf *b);
/* NUL-terminate without counting the NUL in len; returns data or NULL when failed. */
char *ql_buf_cstr(struct ql_buf *b);

/* Append s (n bytes) as the inside of a JSON string: quotes and control bytes escaped. */
void ql_buf_json_escape(struct ql_buf *b, const char *s, size_t n);
/* The bytes ql_buf_json_escape(b, s, n) appends. */
size_t ql_buf_json_escaped_len(const char *s, size_t n);

struct ql_jw {
    struct ql_buf *b;
    int depth;
    uint32_t need_comma; /* bit d set: the next value at depth d needs a comma first */
    int after_key;
};

void ql_jw_init(struct ql_jw *w, struct ql_buf *b);
void ql_jw_obj(struct ql_jw *w);
void ql_jw_obj_end(struct ql_jw *w);
void ql_jw_arr(struct ql_jw *w);
void ql_jw_arr_end(struct ql_jw *w);
void ql_jw_key(struct ql_jw *w, const char *k);
void ql_jw_str(struct ql_jw *w, const char *s);
void ql_jw_strn(struct ql_jw *w, const char *s, size_t n);
/* A string, or null when s is NULL. */
void ql_jw_str_or_null(struct ql_jw *w, const char *s);
/*
 * A string the caller knows needs no escaping (an id, a time, a name from the code: no
 * quote, backslash or control byte), copied as it is: the hot paths' ids and times skip
 * the escape scan.
 */
void ql_jw_plain(struct ql_jw *w, const char *s, size_t n);
void ql_jw_int(struct ql_jw *w, int64_t v);
void ql_jw_double(struct ql_jw *w, double v);
void ql_jw_bool(struct ql_jw *w, int v);
void ql_jw_null(struct ql_jw *w);
/* Already-serialized JSON text, inserted as one value. */
void ql_jw_raw(struct ql_jw *w, const char *json, size_t n);

#endif
