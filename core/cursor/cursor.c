/*
 * cursor.c - keyset cursor encoding: one number (version 1) or two (version 2), and an id.
 */
#include "cursor/cursor.h"

#include "arena/arena.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "err/err.h"

#include <stdint.h>
#include <string.h>

#define VERSION 1 /* one number */
#define RAW_LEN 26
#define VERSION2 2 /* two numbers */
#define RAW2_LEN 34

static void put64(uint8_t *p, int64_t num)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)num >> (56 - 8 * i));
}

static int64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static char *encode(struct ql_arena *a, const uint8_t *raw, size_t n)
{
    char *out = ql_arena_alloc(a, ql_b64_enc_len(n, 1) + 1);
    if (out)
        ql_b64_encode(raw, n, out, 1);
    return out;
}

char *ql_cursor_encode(struct ql_arena *a, int kind, int64_t num, const struct ql_uuid *id)
{
    uint8_t raw[RAW_LEN];
    raw[0] = VERSION;
    raw[1] = (uint8_t)kind;
    put64(raw + 2, num);
    memcpy(raw + 10, id->b, 16);
    return encode(a, raw, RAW_LEN);
}

char *ql_cursor_encode2(struct ql_arena *a, int kind, int64_t ms, int64_t num2,
                        const struct ql_uuid *id)
{
    uint8_t raw[RAW2_LEN];
    raw[0] = VERSION2;
    raw[1] = (uint8_t)kind;
    put64(raw + 2, ms);
    put64(raw + 10, num2);
    memcpy(raw + 18, id->b, 16);
    return encode(a, raw, RAW2_LEN);
}

/*
 * What the number of a one-number cursor of this kind is a time of: 1 when it is a time in
 * ms (the creation of the page's last row), 1000 when it is that times 1000 plus an attempt
 * (a delivery's, as issued before two-number cursors), 0 when it is no time (an audit
 * sequence number, or nothing).
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
    int64_t v = get64(raw + 2);
    int64_t div = ms_divisor(kind), ms = div ? v / div : 0;
    if (ms < QL_TIME_MIN_MS || ms > QL_TIME_MAX_MS)
        return bad_cursor(err); /* a time no row has: forged, and the store could not take it */
    *num = v;
    memcpy(id->b, raw + 10, 16);
    return QL_OK;
}

int ql_cursor_decode2(struct ql_error *err, int kind, const char *s, size_t n, int64_t *ms,
                      int64_t *num2, struct ql_uuid *id)
{
    uint8_t raw[RAW2_LEN + 2];
    size_t len;
    if (n > 64 || ql_b64_decode(s, n, raw, sizeof(raw), &len) != QL_OK)
        return bad_cursor(err);
    if (len == RAW_LEN) { /* time * 1000 + attempt, from before; ql_cursor_decode checks it */
        int64_t v = 0;
        int rc = ql_cursor_decode(err, kind, s, n, &v, id);
        if (rc == QL_OK) {
            *ms = v / 1000 - (v % 1000 < 0); /* floor, for times before 1970 */
            *num2 = v - *ms * 1000;
        }
        return rc;
    }
    if (len != RAW2_LEN || raw[0] != VERSION2 || raw[1] != kind)
        return bad_cursor(err);
    int64_t t = get64(raw + 2), k = get64(raw + 10);
    if (t < QL_TIME_MIN_MS || t > QL_TIME_MAX_MS || k < 0 || k > INT32_MAX)
        return bad_cursor(err);
    *ms = t;
    *num2 = k;
    memcpy(id->b, raw + 18, 16);
    return QL_OK;
}
