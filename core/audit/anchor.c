/*
 * anchor.c - reading, writing and looking up the anchors of the audit chains (anchor.h).
 */
#include "audit/anchor.h"

#include "b64/b64.h"
#include "buf/buf.h"
#include "err/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ql_audit_anchors_init(struct ql_audit_anchors *s)
{
    s->v = NULL;
    s->n = s->cap = 0;
}

void ql_audit_anchors_cleanup(struct ql_audit_anchors *s)
{
    free(s->v);
    ql_audit_anchors_init(s);
}

int ql_audit_anchors_add(struct ql_audit_anchors *s, const char *chain, int64_t seq,
                         const uint8_t hash[32])
{
    size_t len = strlen(chain);
    if (len == 0 || len > QL_AUDIT_CHAIN_MAX)
        return QL_EVALIDATION;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct ql_audit_anchor *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return QL_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    struct ql_audit_anchor *a = &s->v[s->n++];
    memcpy(a->chain, chain, len + 1);
    a->seq = seq;
    memcpy(a->hash, hash, 32);
    a->met = 0;
    return QL_OK;
}

static int by_chain(const void *x, const void *y)
{
    return strcmp(((const struct ql_audit_anchor *)x)->chain,
                  ((const struct ql_audit_anchor *)y)->chain);
}

int ql_audit_anchors_sort(struct ql_audit_anchors *s, struct ql_error *err)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), by_chain);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->v[i - 1].chain, s->v[i].chain) == 0)
            return ql_error_set(err, QL_EVALIDATION, "chain %s is anchored twice", s->v[i].chain);
    return QL_OK;
}

/* One line "<chain> <seq> <hex>" (no newline) into s; 0 or QL_EVALIDATION / QL_ENOMEM. */
static int parse_line(struct ql_audit_anchors *s, const char *p, size_t n)
{
    const char *sp1 = memchr(p, ' ', n);
    if (sp1 == NULL || sp1 == p || (size_t)(sp1 - p) > QL_AUDIT_CHAIN_MAX)
        return QL_EVALIDATION;
    const char *rest = sp1 + 1, *end = p + n;
    const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
    if (sp2 == NULL || end - (sp2 + 1) != 64)
        return QL_EVALIDATION;
    char num[24], chain[QL_AUDIT_CHAIN_MAX + 1];
    size_t nl = (size_t)(sp2 - rest);
    if (nl == 0 || nl >= sizeof(num))
        return QL_EVALIDATION;
    memcpy(num, rest, nl);
    num[nl] = 0;
    for (size_t i = 0; i < nl; i++)
        if (num[i] < '0' || num[i] > '9')
            return QL_EVALIDATION;
    errno = 0;
    long long seq = strtoll(num, NULL, 10);
    if (errno || seq < 1)
        return QL_EVALIDATION;
    uint8_t hash[32];
    for (int i = 0; i < 32; i++) {
        int hi = ql_hex_digit(sp2[1 + 2 * i]), lo = ql_hex_digit(sp2[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return QL_EVALIDATION;
        hash[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(chain, p, (size_t)(sp1 - p));
    chain[sp1 - p] = 0;
    return ql_audit_anchors_add(s, chain, seq, hash);
}

int ql_audit_anchors_parse(struct ql_audit_anchors *s, const char *text, size_t len,
                           struct ql_error *err)
{
    size_t at = 0;
    for (int line = 1; at < len; line++) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t full = nl ? (size_t)(nl - (text + at)) : len - at, n = full;
        if (n > 0 && text[at + n - 1] == '\r')
            n--;
        if (n > 0 && text[at] != '#') {
            int rc = parse_line(s, text + at, n);
            if (rc == QL_ENOMEM)
                return ql_error_set(err, rc, NULL);
            if (rc)
                return ql_error_set(err, rc, "line %d is not \"<chain> <seq> <64 hex digits>\"",
                                    line);
        }
        at += full + (nl != NULL);
    }
    return ql_audit_anchors_sort(s, err);
}

void ql_audit_anchors_format(const struct ql_audit_anchors *s, struct ql_buf *b)
{
    ql_buf_puts(b, "# quill audit anchors: <chain> <seq> <sha-256 of that row>\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct ql_audit_anchor *a = &s->v[i];
        ql_buf_puts(b, a->chain);
        ql_buf_putc(b, ' ');
        ql_buf_i64(b, a->seq);
        ql_buf_putc(b, ' ');
        char hex[65];
        ql_hex_encode(a->hash, 32, hex);
        ql_buf_append(b, hex, 64);
        ql_buf_putc(b, '\n');
    }
}

struct ql_audit_anchor *ql_audit_anchors_find(const struct ql_audit_anchors *s, const char *chain)
{
    struct ql_audit_anchor key;
    size_t len = strlen(chain);
    if (len > QL_AUDIT_CHAIN_MAX || s->n == 0)
        return NULL;
    memset(&key, 0, sizeof(key));
    memcpy(key.chain, chain, len + 1);
    return bsearch(&key, s->v, s->n, sizeof(*s->v), by_chain);
}
