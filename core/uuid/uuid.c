/*
 * uuid.c - UUIDv7 construction, text form and parsing.
 */
#include "uuid/uuid.h"

#include "auth/auth.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "err/err.h"

#include <string.h>

void ql_uuid7_from(struct ql_uuid *u, int64_t ms, const uint8_t rnd[10])
{
    uint64_t t = (uint64_t)ms;
    for (int i = 0; i < 6; i++)
        u->b[i] = (uint8_t)(t >> (40 - 8 * i));
    memcpy(u->b + 6, rnd, 10);
    u->b[6] = (uint8_t)(0x70 | (u->b[6] & 0x0f));
    u->b[8] = (uint8_t)(0x80 | (u->b[8] & 0x3f));
}

int ql_uuid7_new(struct ql_clock *clock, struct ql_auth *auth, struct ql_uuid *out)
{
    uint8_t rnd[10];
    int rc = ql_auth_random(auth, rnd, sizeof(rnd));
    if (rc)
        return rc;
    ql_uuid7_from(out, ql_clock_now_ms(clock), rnd);
    return QL_OK;
}

void ql_uuid_format(const struct ql_uuid *u, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u->b[i] >> 4];
        *p++ = hex[u->b[i] & 15];
    }
    *p = '\0';
}

int ql_uuid_parse(const char *s, size_t n, struct ql_uuid *out)
{
    if (n != QL_UUID_STR_LEN)
        return QL_EVALIDATION;
    int j = 0;
    for (size_t i = 0; i < n;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return QL_EVALIDATION;
            i++;
            continue;
        }
        int hi = ql_hex_digit(s[i]), lo = ql_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return QL_EVALIDATION;
        out->b[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return QL_OK;
}

int64_t ql_uuid7_ms(const struct ql_uuid *u)
{
    uint64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = t << 8 | u->b[i];
    return (int64_t)t;
}

uint64_t ql_uuid_hash(const struct ql_uuid *u)
{
    /* Both halves folded, then murmur3's finalizer: every bit of the result depends on every
     * byte, so ids that differ in a few bytes only (made by hand, or in one millisecond) land
     * far apart in any table keyed by the low or the high bits. */
    uint64_t x, y;
    memcpy(&x, u->b, 8);
    memcpy(&y, u->b + 8, 8);
    uint64_t h = x ^ (y * 0x9e3779b97f4a7c15ULL);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}
