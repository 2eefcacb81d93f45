/*
 * cursor.c - keyset cursor encoding.
 */
#include "cursor/cursor.h"

#include "arena/arena.h"
#include "b64/b64.h"
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

int ql_cursor_decode(struct ql_error *err, int kind, const char *s, size_t n, int64_t *num,
                     struct ql_uuid *id)
{
    uint8_t raw[RAW_LEN + 2];
    size_t len;
    if (n > 64 || ql_b64_decode(s, n, raw, sizeof(raw), &len) != QL_OK || len != RAW_LEN ||
        raw[0] != VERSION || raw[1] != kind)
        return ql_error_field(err, "cursor", "invalid_cursor", "is not a cursor this list issued");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[2 + i];
    *num = (int64_t)v;
    memcpy(id->b, raw + 10, 16);
    return QL_OK;
}
