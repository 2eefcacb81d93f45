/*
 * netaddr.c - CIDR parsing and matching with inet_pton (libc only).
 */
#include "netaddr/netaddr.h"

#include "err/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_ip(const char *s, size_t n, int *v6, uint8_t addr[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *v6 = 1;
        return 0;
    }
    return -1;
}

int ql_cidr_list_parse(const char *s, struct ql_cidr_list *out)
{
    out->n = 0;
    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == '\0')
            break;
        const char *end = s;
        while (*end && *end != ',' && *end != ' ')
            end++;
        if (out->n == QL_CIDR_MAX)
            return QL_EVALIDATION;
        struct ql_cidr *c = &out->items[out->n];
        const char *slash = memchr(s, '/', (size_t)(end - s));
        size_t iplen = slash ? (size_t)(slash - s) : (size_t)(end - s);
        if (parse_ip(s, iplen, &c->v6, c->addr) != 0)
            return QL_EVALIDATION;
        int max = c->v6 ? 128 : 32;
        c->bits = max;
        if (slash) {
            char *e;
            long b = strtol(slash + 1, &e, 10);
            if (e != end || e == slash + 1 || b < 0 || b > max)
                return QL_EVALIDATION;
            c->bits = (int)b;
        }
        out->n++;
        s = end;
    }
    return QL_OK;
}

static int in_cidr(const struct ql_cidr *c, int v6, const uint8_t *a)
{
    if (c->v6 != v6)
        return 0;
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a[full] & mask);
}

int ql_cidr_list_contains(const struct ql_cidr_list *l, const char *ip, size_t n)
{
    int v6;
    uint8_t a[16];
    if (l == NULL || l->n == 0 || parse_ip(ip, n, &v6, a) != 0)
        return 0;
    for (int i = 0; i < l->n; i++)
        if (in_cidr(&l->items[i], v6, a))
            return 1;
    return 0;
}

void ql_client_address(const struct ql_cidr_list *trusted, const char *peer, const char *xff,
                       size_t xff_n, char *out, size_t cap)
{
    snprintf(out, cap, "%s", peer);
    if (xff == NULL || !ql_cidr_list_contains(trusted, peer, strlen(peer)))
        return;
    size_t end = xff_n;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && xff[a] == ' ')
            a++;
        while (b > a && xff[b - 1] == ' ')
            b--;
        int v6;
        uint8_t addr[16];
        if (b == a || parse_ip(xff + a, b - a, &v6, addr) != 0)
            return; /* garbage: keep what we believed so far */
        snprintf(out, cap, "%.*s", (int)(b - a), xff + a);
        if (!ql_cidr_list_contains(trusted, xff + a, b - a))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}
