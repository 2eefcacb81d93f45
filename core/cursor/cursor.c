/*
 * cursor.c - keyset cursor encoding.
 */
#include "cursor/cursor.h"

#include "arena/arena.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "err/err.h"

#include <string.h>

#define VERSION 1
#define RAW_LEN 26

char *ql_cursor_encode(struct ql_arena *a, int kind, int64_t num, const struct ql_uuid *id)
{
    uint8_t raw[RAW_LEN];
    raw[0] = VERSION;
    raw[1] = (uint8_t)kind;
    for (int i = 0; i < 8; i++)
        raw[2 + i] = (uint8_t)((uint64_t)num >> (56 - 8 * i));
    memcpy(raw + 10, id->b, 16);
    char *out = ql_arena_alloc(a, ql_b64_enc_len(RAW_LEN, 1) + 1);
    if (out)
        ql_b64_encode(raw, RAW_LEN, out, 1);
    return out;
}

/*
 * What the number of a cursor of this kind is a time of: 1 when it is a time in ms (the
 * creation of the page's last row), 1000 when it is that times 1000 plus an attempt (a
 * delivery), 0 when it is no time (an audit sequence number, or nothing).
 */
static int64_t ms_divisor(int kind)
{
    switch (kind) {
    case QL_CURSOR_API_KEYS:
    case QL_CURSOR_ENTRIES:
    case QL_CURSOR_PROMPTS:
    case QL_CURSOR_WEBHOOKS:
    case QL_CURSOR_SESSIONS:
    case QL_CURSOR_MAIL:
        return 1;
    case QL_CURSOR_DELIVERIES:
        return 1000;
    default:
        return 0;
    }
}

static int bad_cursor(struct ql_error *err)
{
    return ql_error_field(err, "cursor", "invalid_cursor", "is not a cursor this list issued");
}

int ql_cursor_decode(struct ql_error *err, int kind, const char *s, size_t n, int64_t *num,
                     struct ql_uuid *id)
{
    uint8_t raw[RAW_LEN + 2];
    size_t len;
    if (n > 64 || ql_b64_decode(s, n, raw, sizeof(raw), &len) != QL_OK || len != RAW_LEN ||
        raw[0] != VERSION || raw[1] != kind)
        return bad_cursor(err);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[2 + i];
    int64_t div = ms_divisor(kind), ms = div ? (int64_t)v / div : 0;
    if (ms < QL_TIME_MIN_MS || ms > QL_TIME_MAX_MS)
        return bad_cursor(err); /* a time no row has: forged, and the store could not take it */
    *num = (int64_t)v;
    memcpy(id->b, raw + 10, 16);
    return QL_OK;
}
