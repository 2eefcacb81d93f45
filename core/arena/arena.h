/*
 * arena.h - a bump allocator for everything that lives as long as one request or job.
 *
 * Allocations are carved from chunks obtained with malloc; nothing is freed piece by
 * piece.  ql_arena_reset() releases everything but the first chunk, so a connection
 * that serves many requests reuses its memory without touching malloc in the steady
 * state.  An optional limit bounds the total a single request may use: allocations
 * past it fail (return NULL) like an out-of-memory condition, which also gives tests a
 * way to walk every allocation-failure path.
 *
 * Pointers returned by an arena are "arena" pointers: valid until the next reset or
 * cleanup of that arena.
 */
#ifndef QL_ARENA_H
#define QL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct ql_arena_chunk;

struct ql_arena {
    struct ql_arena_chunk *head; /* newest chunk; the first chunk is the last in the list */
    size_t chunk_size;           /* default size of new chunks */
    size_t total;                /* bytes held in chunks */
    size_t limit;                /* 0: unlimited; else most bytes the arena may hold */
    long fail_after;             /* tests: fail the Nth allocation from now (-1: never) */
};

/* Prepare an empty arena.  chunk_size 0 picks 8 KiB.  Allocates nothing yet. */
void ql_arena_init(struct ql_arena *a, size_t chunk_size, size_t limit);

/* Free every chunk.  The arena may be initialised again afterwards. */
void ql_arena_cleanup(struct ql_arena *a);

/* Forget every allocation but keep the first chunk of the default size for reuse. */
void ql_arena_reset(struct ql_arena *a);

/* n bytes aligned for any type, or NULL when out of memory or over the limit. */
void *ql_arena_alloc(struct ql_arena *a, size_t n);

/* Zeroed allocation of n * size bytes (overflow-checked), or NULL. */
void *ql_arena_calloc(struct ql_arena *a, size_t n, size_t size);

/* Copy of the n bytes at s plus a terminating NUL, or NULL. */
char *ql_arena_strndup(struct ql_arena *a, const char *s, size_t n);

/* Copy of the NUL-terminated s, or NULL. */
char *ql_arena_strdup(struct ql_arena *a, const char *s);

/* printf into the arena, or NULL. */
char *ql_arena_sprintf(struct ql_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Bytes currently held from malloc (for metrics and tests). */
size_t ql_arena_held(const struct ql_arena *a);

#endif
