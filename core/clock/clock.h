/*
 * clock.h - the clock port and UTC time formatting.
 *
 * Wall time is milliseconds since the Unix epoch (UTC); monotonic time is nanoseconds
 * from an arbitrary origin.  Both come from the port so unit tests can drive a manual
 * clock.  Wire times are RFC 3339 with milliseconds and "Z": 2026-11-21T23:36:18.123Z.
 */
#ifndef QL_CLOCK_H
#define QL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

struct ql_clock;

struct ql_clock_ops {
    /* Wall-clock time in ms since the epoch. */
    int64_t (*now_ms)(struct ql_clock *self);
    /* Monotonic time in ns; never goes backwards. */
    int64_t (*mono_ns)(struct ql_clock *self);
};

struct ql_clock {
    const struct ql_clock_ops *ops;
};

static inline int64_t ql_clock_now_ms(struct ql_clock *c)
{
    return c->ops->now_ms(c);
}

static inline int64_t ql_clock_mono_ns(struct ql_clock *c)
{
    return c->ops->mono_ns(c);
}

/* Length of a formatted time without its NUL: "2026-11-21T23:36:18.123Z". */
#define QL_TIME_LEN 24

/*
 * The times Quill writes (RFC 3339 has four-digit years: 0000-01-01T00:00:00.000Z to
 * 9999-12-31T23:59:59.999Z, in ms since 1970).  A time a client hands back, such as the one
 * inside a cursor, is one of them or forged; these fit PostgreSQL's timestamptz (4713 BC to
 * 294276 AD) and its microseconds in an int64 with room to spare.
 */
#define QL_TIME_MIN_MS INT64_C(-62167219200000)
#define QL_TIME_MAX_MS INT64_C(253402300799999)

/*
 * Format ms as RFC 3339 UTC with milliseconds into out (at least QL_TIME_LEN + 1 bytes).
 * Years outside 0000-9999 are clamped.  Returns QL_TIME_LEN.
 */
int ql_time_format(int64_t ms, char *out);

/*
 * Parse an RFC 3339 date-time ("2026-11-21T23:36:18.123Z", any fraction length, "Z" or a
 * numeric offset) into ms since the epoch; sub-millisecond digits are truncated.
 * Returns 0, or QL_EVALIDATION when s (n bytes) is not such a time.
 */
int ql_time_parse(const char *s, size_t n, int64_t *out_ms);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
int64_t ql_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
