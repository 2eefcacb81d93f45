/*
 * cron.c - five-field cron expressions in UTC.  Fields parse into bit sets; finding the
 * next tick walks forward a day at a time to a matching day, then within it to a matching
 * hour and minute, so a yearly schedule costs a few hundred steps, not half a million.
 */
#include "jobs/jobs.h"

#include "clock/clock.h"
#include "err/err.h"

#include <stdlib.h>
#include <string.h>

static int parse_num(const char **p, int *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    int v = 0;
    while (*s >= '0' && *s <= '9' && v < 1000)
        v = v * 10 + (*s++ - '0');
    *p = s;
    *out = v;
    return 0;
}

/* One field (text up to a space) into bits; lo..hi is the field's range. */
static int parse_field(const char *s, const char *end, int lo, int hi, uint64_t *bits, int *any)
{
    *bits = 0;
    *any = 0;
    const char *p = s;
    while (p < end) {
        int a, b, step = 1, single = 0;
        if (*p == '*') {
            a = lo;
            b = hi;
            p++;
            if (p == end || *p == ',')
                *any = 1;
        } else {
            if (parse_num(&p, &a))
                return -1;
            b = a;
            single = 1;
            if (p < end && *p == '-') {
                p++;
                if (parse_num(&p, &b))
                    return -1;
                single = 0;
            }
        }
        if (p < end && *p == '/') {
            p++;
            if (parse_num(&p, &step) || step < 1)
                return -1;
            if (single)
                b = hi; /* "a/n" means a-hi/n */
            *any = 0;
        }
        if (a < lo || b > hi || a > b)
            return -1;
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (p < end && *p != ',')
            return -1;
        if (p < end)
            p++;
    }
    return *bits ? 0 : -1;
}

int ql_cron_parse(const char *expr, struct ql_cron *out, struct ql_error *err)
{
    static const char *const names[] = {"minute", "hour", "day of month", "month", "day of week"};
    static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 7};
    const char *p = expr;
    uint64_t bits[5];
    int any[5];
    for (int f = 0; f < 5; f++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        if (end == p || parse_field(p, end, lo[f], hi[f], &bits[f], &any[f]))
            return ql_error_set(err, QL_EVALIDATION, "cron '%s': bad %s field", expr, names[f]);
        p = end;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return ql_error_set(err, QL_EVALIDATION, "cron '%s': expected five fields", expr);
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    out->mday_any = any[2];
    out->wday_any = any[4];
    return QL_OK;
}

/* Civil date of a day count (days since 1970-01-01). */
static void civil(int64_t days, int *month, int *mday, int *wday)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

static int day_matches(const struct ql_cron *c, int64_t days)
{
    int month, mday, wday;
    civil(days, &month, &mday, &wday);
    if (!(c->months & (1u << month)))
        return 0;
    int dm = (int)((c->mdays >> mday) & 1), dw = (int)((c->wdays >> wday) & 1);
    if (c->mday_any && c->wday_any)
        return 1;
    if (c->mday_any)
        return dw;
    if (c->wday_any)
        return dm;
    return dm || dw;
}

int ql_cron_matches(const struct ql_cron *c, int64_t ms)
{
    int64_t minutes = ms >= 0 ? ms / 60000 : -((-ms + 59999) / 60000);
    int64_t days = minutes >= 0 ? minutes / 1440 : -((-minutes + 1439) / 1440);
    int m = (int)(minutes - days * 1440);
    return day_matches(c, days) && ((c->hours >> (m / 60)) & 1) && ((c->minutes >> (m % 60)) & 1);
}

int64_t ql_cron_next(const struct ql_cron *c, int64_t after_ms)
{
    int64_t minute = (after_ms >= 0 ? after_ms / 60000 : -((-after_ms + 59999) / 60000)) + 1;
    int64_t day = minute >= 0 ? minute / 1440 : -((-minute + 1439) / 1440); /* floor */
    int start = (int)(minute - day * 1440);
    for (int i = 0; i < 366 * 5; i++, day++, start = 0) {
        if (!day_matches(c, day))
            continue;
        for (int m = start; m < 1440; m++)
            if (((c->hours >> (m / 60)) & 1) && ((c->minutes >> (m % 60)) & 1))
                return (day * 1440 + m) * 60000;
    }
    return -1;
}
