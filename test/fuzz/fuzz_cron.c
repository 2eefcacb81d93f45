/*
 * libFuzzer target: five-field cron expressions (core/jobs/cron.c).  An input is a time
 * (8 bytes, folded into the years 1900 to 9999) and the expression text.  Any text must
 * parse or be refused with QL_EVALIDATION.  When it parses, ql_cron_next from that time must
 * end, and its answer must be a whole minute strictly later that matches, with no matching
 * minute skipped just before it, and asking again from the answer must go strictly
 * forward; -1 ("none within 5 years") must not hide a day that matches.
 */
#include "err/err.h"
#include "jobs/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_MS (-2208988800000LL) /* 1900-01-01 */
#define MAX_MS 253402300799999LL  /* 9999-12-31T23:59:59.999 */
#define DAY_MS 86400000LL
#define WINDOW_DAYS (365 * 5) /* what ql_cron_next promises to look through, at least */

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cron: %s\n", what);
        abort();
    }
}

static int lowest_bit(uint64_t v)
{
    int i = 0;
    while (!(v >> i & 1))
        i++;
    return i;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void check_next(const struct ql_cron *c, int64_t after)
{
    int64_t next = ql_cron_next(c, after);
    if (next == -1) {
        /* none within the window: then no day in it matches at its first hour and minute */
        int64_t at = lowest_bit(c->hours) * 3600000LL + lowest_bit(c->minutes) * 60000LL;
        int64_t day = floor_div(after, DAY_MS) + 1;
        for (int i = 0; i < WINDOW_DAYS - 1; i++, day++)
            check(!ql_cron_matches(c, day * DAY_MS + at), "-1, though a day in 5 years matches");
        return;
    }
    check(next > after, "a next tick that is not later");
    check(floor_div(next, 60000) * 60000 == next, "a next tick that is not a whole minute");
    check(ql_cron_matches(c, next), "a next tick that does not match");
    check(next - after <= (366 * 5 + 1) * DAY_MS, "a next tick past the days it looks through");
    if (next - 60000 > after)
        check(!ql_cron_matches(c, next - 60000), "a matching minute skipped");
    if (next < MAX_MS - 10 * 366 * DAY_MS) {
        int64_t again = ql_cron_next(c, next);
        check(again == -1 || again > next, "asking again from a tick does not go forward");
        check(ql_cron_next(c, next - 1) == next, "a tick not found from just before it");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 512)
        return 0;
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++)
        raw = raw << 8 | data[i];
    int64_t after = MIN_MS + (int64_t)(raw % (uint64_t)(MAX_MS - MIN_MS));
    char expr[512];
    memcpy(expr, data + 8, size - 8);
    expr[size - 8] = '\0';
    struct ql_cron c;
    struct ql_error err;
    ql_error_clear(&err);
    int rc = ql_cron_parse(expr, &c, &err);
    check(rc == QL_OK || (rc == QL_EVALIDATION && err.msg[0]), "a refusal without a message");
    if (rc != QL_OK)
        return 0;
    check(c.minutes && c.hours && c.mdays && c.months && c.wdays, "a field that matches nothing");
    check(c.minutes >> 60 == 0 && c.hours >> 24 == 0 && !(c.mdays & 1) && !(c.months & 1) &&
              c.months >> 13 == 0 && c.wdays >> 7 == 0,
          "a field with values outside its range");
    check_next(&c, after);
    return 0;
}
