/*
 * arena.c - chunked bump allocation.  Chunks form a singly linked list, newest first; the
 * oldest chunk of the default size is kept by reset so steady-state requests never call
 * malloc.  Large requests get a chunk of their own so they do not waste the tail of the
 * current one.
 */
#include "arena/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16

struct ql_arena_chunk {
    struct ql_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

void ql_arena_init(struct ql_arena *a, size_t chunk_size, size_t limit)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 8192;
    a->total = 0;
    a->limit = limit;
    a->fail_after = -1;
}

void ql_arena_cleanup(struct ql_arena *a)
{
    struct ql_arena_chunk *c = a->head;
    while (c) {
        struct ql_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

/*
 * Keep the oldest chunk of the default size and free the rest.  An oversized chunk is never
 * kept, even when it is the oldest (it goes behind the first chunk, or was the arena's first
 * allocation): a connection that once read a 1 MiB body would hold it while it stays open.
 */
void ql_arena_reset(struct ql_arena *a)
{
    struct ql_arena_chunk *keep = NULL;
    for (struct ql_arena_chunk *c = a->head; c; c = c->next)
        if (c->cap <= a->chunk_size)
            keep = c;
    for (struct ql_arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        if (c != keep)
            free(c);
    }
    a->head = keep;
    a->total = 0;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
        a->total = keep->cap;
    }
}

static struct ql_arena_chunk *grow(struct ql_arena *a, size_t n)
{
    size_t cap = n > a->chunk_size ? n : a->chunk_size;
    if (cap > SIZE_MAX - sizeof(struct ql_arena_chunk))
        return NULL;
    if (a->limit && a->total + cap > a->limit)
        return NULL;
    struct ql_arena_chunk *c = malloc(sizeof(*c) + cap);
    if (c == NULL)
        return NULL;
    c->cap = cap;
    c->used = 0;
    a->total += cap;
    if (a->head == NULL || n <= a->chunk_size) {
        c->next = a->head;
        a->head = c;
    } else {
        /* An oversized chunk goes behind the current one, which keeps its free tail. */
        c->next = a->head->next;
        a->head->next = c;
    }
    return c;
}

void *ql_arena_alloc(struct ql_arena *a, size_t n)
{
    if (a->fail_after >= 0 && a->fail_after-- == 0)
        return NULL;
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct ql_arena_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        c = grow(a, n);
        if (c == NULL)
            return NULL;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *ql_arena_calloc(struct ql_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = ql_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *ql_arena_strndup(struct ql_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = ql_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ql_arena_strdup(struct ql_arena *a, const char *s)
{
    return ql_arena_strndup(a, s, strlen(s));
}

char *ql_arena_sprintf(struct ql_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = ql_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t ql_arena_held(const struct ql_arena *a)
{
    return a->total;
}
