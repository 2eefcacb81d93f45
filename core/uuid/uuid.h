/*
 * uuid.h - UUIDv7 identifiers (RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * IDs are made in the core from the clock and auth ports, so tests can fix both.
 */
#ifndef QL_UUID_H
#define QL_UUID_H

#include <stddef.h>
#include <stdint.h>

/* Length of the canonical text form without its NUL. */
#define QL_UUID_STR_LEN 36

struct ql_uuid {
    uint8_t b[16];
};

struct ql_clock;
struct ql_auth;

/* Build a UUIDv7 from a millisecond timestamp and 10 random bytes. */
void ql_uuid7_from(struct ql_uuid *u, int64_t ms, const uint8_t rnd[10]);

/* A new UUIDv7 from the clock and the random source of the auth port. */
int ql_uuid7_new(struct ql_clock *clock, struct ql_auth *auth, struct ql_uuid *out);

/* Canonical lower-case text into out (QL_UUID_STR_LEN + 1 bytes, NUL-terminated). */
void ql_uuid_format(const struct ql_uuid *u, char *out);

/*
 * Parse the hyphenated 36-character form (either case).  Returns 0 or QL_EVALIDATION.
 * Any version is accepted: IDs from other systems may be v4.
 */
int ql_uuid_parse(const char *s, size_t n, struct ql_uuid *out);

/* The millisecond timestamp of a UUIDv7. */
int64_t ql_uuid7_ms(const struct ql_uuid *u);

/*
 * A 64-bit hash of the 16 bytes, every one of them mixed into every bit (for tables keyed
 * by ids that may differ in a few bytes only): for keying, not for security.
 */
uint64_t ql_uuid_hash(const struct ql_uuid *u);

#endif
