/*
 * buf.c - buffer growth, numeric formatting and JSON string escaping.  Growth doubles the
 * capacity; an arena-backed buffer copies into a fresh arena block (the old one is simply
 * abandoned until the arena resets), a heap-backed one uses realloc.
 */
#include "buf/buf.h"

#include "arena/arena.h"
#include "err/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ql_buf_init(struct ql_buf *b, struct ql_arena *arena)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->arena = arena;
    b->failed = 0;
}

void ql_buf_cleanup(struct ql_buf *b)
{
    if (b->arena == NULL)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

/* Move the buffer to cap bytes (more than it holds); NULL (and failed) when out of memory. */
static char *regrow(struct ql_buf *b, size_t cap)
{
    char *p;
    if (b->arena) {
        p = ql_arena_alloc(b->arena, cap);
        if (p && b->len)
            memcpy(p, b->data, b->len);
    } else {
        p = realloc(b->data, cap);
    }
    if (p == NULL) {
        b->failed = 1;
        return NULL;
    }
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

char *ql_buf_reserve(struct ql_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->cap - b->len > n)
        return b->data + b->len;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return NULL;
        }
        cap *= 2;
    }
    return regrow(b, cap);
}

char *ql_buf_reserve_exact(struct ql_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->cap - b->len > n)
        return b->data + b->len;
    if (n >= ((size_t)-1) - b->len) {
        b->failed = 1;
        return NULL;
    }
    return regrow(b, b->len + n + 1); /* the least that ql_buf_reserve(b, n) takes as room */
}

void ql_buf_append(struct ql_buf *b, const void *p, size_t n)
{
    char *dst = ql_buf_reserve(b, n);
    if (dst == NULL)
        return;
    if (n)
        memcpy(dst, p, n);
    b->len += n;
}

void ql_buf_puts(struct ql_buf *b, const char *s)
{
    ql_buf_append(b, s, strlen(s));
}

void ql_buf_putc(struct ql_buf *b, char c)
{
    char *dst = ql_buf_reserve(b, 1);
    if (dst == NULL)
        return;
    *dst = c;
    b->len++;
}

void ql_buf_printf(struct ql_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    char *dst = ql_buf_reserve(b, (size_t)n + 1);
    if (dst == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ql_buf_u64(struct ql_buf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ql_buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void ql_buf_i64(struct ql_buf *b, int64_t v)
{
    if (v < 0) {
        ql_buf_putc(b, '-');
        ql_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        ql_buf_u64(b, (uint64_t)v);
    }
}

void ql_buf_consume(struct ql_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int ql_buf_ok(const struct ql_buf *b)
{
    return b->failed ? QL_ENOMEM : QL_OK;
}

char *ql_buf_cstr(struct ql_buf *b)
{
    if (ql_buf_reserve(b, 1) == NULL)
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

/* 1 for bytes that cannot appear raw inside a JSON string. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

/*
 * Whether any of the 8 bytes of w needs escaping: below 0x20, '"', '\\' or 0x7f.  These
 * are the zero-byte and less-than tests of Hacker's Delight (6-1): exact as an answer for
 * the whole word, though not about which byte it is.  Bytes from 0x80 (UTF-8) pass.
 */
static int word_needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\'), del = w ^ (ones * 0x7f);
    uint64_t hit =
        ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | ((del - ones) & ~del);
    return (hit & high) != 0;
}

/* The index of the first byte of s[i..n) that needs escaping (n: none does). */
static size_t plain_until(const char *s, size_t i, size_t n)
{
    /* Eight bytes a step over what needs no escape: nearly all of every string. */
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        if (word_needs_escape(w))
            break;
    }
    while (i < n && !needs_escape[(unsigned char)s[i]])
        i++;
    return i;
}

void ql_buf_json_escape(struct ql_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0, i = 0;
    for (;;) {
        i = plain_until(s, i, n);
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        ql_buf_append(b, s + start, i - start);
        start = ++i;
        switch (c) {
        case '"':
            ql_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ql_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ql_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ql_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ql_buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ql_buf_append(b, u, 6);
        }
        }
    }
    ql_buf_append(b, s + start, n - start);
}

size_t ql_buf_json_escaped_len(const char *s, size_t n)
{
    size_t len = n;
    for (size_t i = plain_until(s, 0, n); i < n; i = plain_until(s, i + 1, n)) {
        unsigned char c = (unsigned char)s[i];
        len += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 1 : 5;
    }
    return len;
}

void ql_jw_init(struct ql_jw *w, struct ql_buf *b)
{
    w->b = b;
    w->depth = 0;
    w->need_comma = 0;
    w->after_key = 0;
}

/* Emit the separator a new value needs at the current depth. */
static void sep(struct ql_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    uint32_t bit = 1u << (w->depth & 31);
    if (w->need_comma & bit)
        ql_buf_putc(w->b, ',');
    w->need_comma |= bit;
}

static void jw_open(struct ql_jw *w, char c)
{
    sep(w);
    ql_buf_putc(w->b, c);
    w->depth++;
    w->need_comma &= ~(1u << (w->depth & 31));
}

static void jw_close(struct ql_jw *w, char c)
{
    ql_buf_putc(w->b, c);
    w->depth--;
}

void ql_jw_obj(struct ql_jw *w)
{
    jw_open(w, '{');
}

void ql_jw_obj_end(struct ql_jw *w)
{
    jw_close(w, '}');
}

void ql_jw_arr(struct ql_jw *w)
{
    jw_open(w, '[');
}

void ql_jw_arr_end(struct ql_jw *w)
{
    jw_close(w, ']');
}

/*
 * '"', s (n bytes) escaped, then the tail: one reserve and one copy for the part that
 * needs no escaping, which is all of nearly every string and key.
 */
static void quoted(struct ql_buf *b, const char *s, size_t n, const char *tail, size_t tail_n)
{
    size_t i = plain_until(s, 0, n);
    char *dst = ql_buf_reserve(b, i + 1 + tail_n);
    if (dst == NULL)
        return;
    dst[0] = '"';
    memcpy(dst + 1, s, i);
    if (i == n) { /* nothing to escape: the tail goes in the same reservation */
        memcpy(dst + 1 + i, tail, tail_n);
        b->len += i + 1 + tail_n;
        return;
    }
    b->len += i + 1;
    ql_buf_json_escape(b, s + i, n - i);
    ql_buf_append(b, tail, tail_n);
}

void ql_jw_key(struct ql_jw *w, const char *k)
{
    sep(w);
    quoted(w->b, k, strlen(k), "\":", 2);
    w->after_key = 1;
}

void ql_jw_strn(struct ql_jw *w, const char *s, size_t n)
{
    sep(w);
    quoted(w->b, s, n, "\"", 1);
}

void ql_jw_str(struct ql_jw *w, const char *s)
{
    ql_jw_strn(w, s, strlen(s));
}

void ql_jw_str_or_null(struct ql_jw *w, const char *s)
{
    if (s)
        ql_jw_str(w, s);
    else
        ql_jw_null(w);
}

void ql_jw_plain(struct ql_jw *w, const char *s, size_t n)
{
    sep(w);
    char *dst = ql_buf_reserve(w->b, n + 2);
    if (dst == NULL)
        return;
    dst[0] = '"';
    memcpy(dst + 1, s, n);
    dst[n + 1] = '"';
    w->b->len += n + 2;
}

void ql_jw_int(struct ql_jw *w, int64_t v)
{
    sep(w);
    ql_buf_i64(w->b, v);
}

void ql_jw_double(struct ql_jw *w, double v)
{
    sep(w);
    ql_buf_printf(w->b, "%.17g", v);
}

void ql_jw_bool(struct ql_jw *w, int v)
{
    sep(w);
    ql_buf_puts(w->b, v ? "true" : "false");
}

void ql_jw_null(struct ql_jw *w)
{
    sep(w);
    ql_buf_append(w->b, "null", 4);
}

void ql_jw_raw(struct ql_jw *w, const char *json, size_t n)
{
    sep(w);
    ql_buf_append(w->b, json, n);
}
