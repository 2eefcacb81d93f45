/*
 * cursor.h - opaque keyset cursors for list endpoints.
 *
 * A cursor is base64url of: a version byte, a kind byte (which list it belongs to), a
 * 64-bit big-endian number (usually a time in ms), for a list keyed by two numbers a second
 * one (version 2: the attempt of a delivery), and a 16-byte id.  A cursor of another
 * kind, of a bad length or not base64 is refused, so clients cannot pass a cursor of one
 * list to another.  Cursors carry no secret: forging one only moves the page start.
 */
#ifndef QL_CURSOR_H
#define QL_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "uuid/uuid.h"

struct ql_arena;
struct ql_error;

enum ql_cursor_kind {
    QL_CURSOR_AUDIT = 1,
    QL_CURSOR_MEMBERS = 2,
    QL_CURSOR_API_KEYS = 3,
    QL_CURSOR_TEAMS = 4,
    QL_CURSOR_ENTRIES = 5,
    QL_CURSOR_PROMPTS = 6,
    QL_CURSOR_JOBS = 7,
    QL_CURSOR_WEBHOOKS = 8,
    QL_CURSOR_DELIVERIES = 9,
    QL_CURSOR_SESSIONS = 10,
    QL_CURSOR_MAIL = 13, /* the outbox (a number far from the next free ones) */
};

/* Encode into the arena; NULL when out of memory. */
char *ql_cursor_encode(struct ql_arena *a, int kind, int64_t num, const struct ql_uuid *id);

/*
 * Decode s (n bytes) of the given kind; QL_EVALIDATION (with a field error on "cursor").
 * For a list keyed by time, a cursor whose time lies outside QL_TIME_MIN_MS..QL_TIME_MAX_MS
 * is refused the same way: no row has such a time, so it was forged.
 */
int ql_cursor_decode(struct ql_error *err, int kind, const char *s, size_t n, int64_t *num,
                     struct ql_uuid *id);

/*
 * The same for a list keyed by a time in ms, an id and a second number from 0 to INT32_MAX
 * (the webhook attempts list: time, delivery, attempt).  Decoding also takes the cursors
 * issued before there were two numbers, time * 1000 + attempt (attempts below 1000 only),
 * so that a client paging during an upgrade goes on where it was.
 */
char *ql_cursor_encode2(struct ql_arena *a, int kind, int64_t ms, int64_t num2,
                        const struct ql_uuid *id);
int ql_cursor_decode2(struct ql_error *err, int kind, const char *s, size_t n, int64_t *ms,
                      int64_t *num2, struct ql_uuid *id);

#endif
