/*
 * err.c - names and messages of the error codes, and the error record helpers.
 * Everything here is table lookups and bounded string copies: reporting an error must
 * never itself fail.
 */
#include "err/err.h"

#include <stdio.h>
#include <string.h>

struct err_info {
    int code;
    const char *wire;
    const char *msg;
};

static const struct err_info infos[] = {
#define QL__ERR_INFO(name, val, wire, msg) {(val), (wire), (msg)},
    QL_ERR_MAP(QL__ERR_INFO)
#undef QL__ERR_INFO
};

static const struct err_info *find(int code)
{
    for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++)
        if (infos[i].code == code)
            return &infos[i];
    return NULL;
}

const char *ql_err_name(int code)
{
    const struct err_info *i = find(code);
    return i ? i->wire : "internal";
}

const char *ql_strerror(int code)
{
    if (code == QL_OK)
        return "Success.";
    const struct err_info *i = find(code);
    return i ? i->msg : "An internal error occurred.";
}

int ql_err_transient(int code)
{
    switch (code) {
    case QL_EINTERNAL:
    case QL_EUNAVAILABLE:
    case QL_ENOMEM:
    case QL_ERETRY:
    case QL_EIO:
    case QL_EWOULD_BLOCK:
    case QL_ERATE_LIMITED:
    case QL_EQUOTA:
    case QL_EIDEM_IN_PROGRESS:
        return 1;
    default:
        return code < 0 && find(code) == NULL; /* an unknown code: assume the worst */
    }
}

void ql_error_clear(struct ql_error *e)
{
    e->code = QL_OK;
    e->retry_after_ms = 0;
    e->rate_limit = 0;
    e->msg[0] = '\0';
    e->nfields = 0;
}

int ql_error_set(struct ql_error *e, int code, const char *fmt, ...)
{
    e->code = code;
    if (fmt == NULL) {
        snprintf(e->msg, sizeof(e->msg), "%s", ql_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

/* s into out (cap bytes), cut short between UTF-8 characters when it does not fit. */
static void copy_name(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] would be the rest of a character: leave the whole character out */
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

int ql_error_field(struct ql_error *e, const char *field, const char *code, const char *fmt, ...)
{
    if (e->code == QL_OK) {
        e->code = QL_EVALIDATION;
        snprintf(e->msg, sizeof(e->msg), "%s", ql_strerror(QL_EVALIDATION));
    }
    if (e->nfields >= QL_ERROR_MAX_FIELDS)
        return QL_EVALIDATION;
    struct ql_field_error *f = &e->fields[e->nfields++];
    copy_name(f->field, sizeof(f->field), field); /* a client's name, for a JSON document */
    snprintf(f->code, sizeof(f->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    return QL_EVALIDATION;
}
