/*
 * params.c - statement parameters in and column values out, in PostgreSQL's binary formats
 * where that saves the server a parse (uuid, timestamptz, bytea) and as text elsewhere.
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "uuid/uuid.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's binary timestamptz is microseconds since 2000-01-01T00:00:00Z. */
#define PG_EPOCH_MS INT64_C(946684800000)
/*
 * Its range, in ms since 1970: MIN_TIMESTAMP (4714-11-24 BC) up to END_TIMESTAMP
 * (294277-01-01, excluded) of PostgreSQL's src/include/datatype/timestamp.h.
 */
#define PG_TS_MIN_MS INT64_C(-210866803200000)
#define PG_TS_END_MS INT64_C(9224318016000000)

int64_t ql__pg_int8(const PGresult *r, int row, int col)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

int32_t ql__pg_int4(const PGresult *r, int row, int col)
{
    uint32_t v;
    memcpy(&v, PQgetvalue(r, row, col), 4);
    return (int32_t)ntohl(v);
}

int64_t ql__pg_affected(PGresult *r)
{
    const char *s = PQcmdTuples(r);
    char *end;
    long long n = strtoll(s, &end, 10);
    return end != s && n > 0 ? (int64_t)n : 0;
}

int ql__pg_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] != 0;
}

int64_t ql__pg_ts_ms(const PGresult *r, int row, int col)
{
    int64_t us = ql__pg_int8(r, row, col);
    int64_t ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    return ms + PG_EPOCH_MS;
}

void ql__pg_uuid(const PGresult *r, int row, int col, struct ql_uuid *out)
{
    memcpy(out->b, PQgetvalue(r, row, col), 16);
}

/* ---- parameters --------------------------------------------------------------------------- */

static void param(struct ql__pg_params *p, const char *v, int len, int fmt)
{
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = fmt;
    p->n++;
}

void ql__pg_p_uuid(struct ql__pg_params *p, const struct ql_uuid *u)
{
    param(p, u ? (const char *)u->b : NULL, 16, 1);
}

void ql__pg_p_text(struct ql__pg_params *p, const char *s)
{
    param(p, s, 0, 0);
}

void ql__pg_p_bytes(struct ql__pg_params *p, const void *b, int n)
{
    param(p, b, n, 1);
}

/*
 * A time outside PostgreSQL's range goes as -infinity or infinity (INT64_MIN, INT64_MAX in
 * the binary form), which compare below and above every time: its microseconds would
 * overflow, or the statement fail with 22008.  The core refuses such times from clients
 * (QL_TIME_MIN_MS..QL_TIME_MAX_MS); this is for whatever gets past it.
 */
void ql__pg_p_ts(struct ql__pg_params *p, int64_t ms)
{
    int64_t signed_us = ms < PG_TS_MIN_MS    ? INT64_MIN
                        : ms >= PG_TS_END_MS ? INT64_MAX
                                             : (ms - PG_EPOCH_MS) * 1000;
    uint64_t us = (uint64_t)signed_us;
    char *s = p->scratch[p->n];
    for (int i = 0; i < 8; i++)
        s[i] = (char)(us >> (56 - 8 * i));
    param(p, s, 8, 1);
}

void ql__pg_p_ts_or_null(struct ql__pg_params *p, int64_t ms)
{
    if (ms)
        ql__pg_p_ts(p, ms);
    else
        param(p, NULL, 0, 1);
}

void ql__pg_p_int(struct ql__pg_params *p, int64_t v)
{
    char *s = p->scratch[p->n];
    snprintf(s, sizeof(p->scratch[0]), "%lld", (long long)v);
    param(p, s, 0, 0);
}

const char *ql__pg_text(struct ql_ctx *cx, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *s =
        ql_arena_strndup(cx->arena, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
    if (s == NULL)
        ql_error_set(&cx->err, QL_ENOMEM, NULL);
    return s;
}

int64_t ql__pg_ts_ms_or_0(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : ql__pg_ts_ms(r, row, col);
}

void ql__pg_p_ts_infinity(struct ql__pg_params *p, int sign)
{
    /* PostgreSQL's binary +infinity / -infinity timestamps are INT64_MAX / INT64_MIN. */
    uint64_t v = sign > 0 ? (uint64_t)INT64_MAX : (uint64_t)INT64_MIN;
    char *s = p->scratch[p->n];
    for (int i = 0; i < 8; i++)
        s[i] = (char)(v >> (56 - 8 * i));
    param(p, s, 8, 1);
}
