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

static int prefix(const uint8_t *a, const uint8_t *p, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, p, (size_t)full) != 0)
        return 0;
    return rest == 0 || ((a[full] ^ p[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int v4_is_public(const uint8_t *a)
{
    static const struct {
        uint8_t p[4];
        int bits;
    } deny[] = {
        {{0, 0, 0, 0}, 8},       /* "this network", unspecified */
        {{10, 0, 0, 0}, 8},      /* private */
        {{100, 64, 0, 0}, 10},   /* carrier-grade NAT */
        {{127, 0, 0, 0}, 8},     /* loopback */
        {{169, 254, 0, 0}, 16},  /* link-local: 169.254.169.254 is cloud metadata */
        {{172, 16, 0, 0}, 12},   /* private */
        {{192, 0, 0, 0}, 24},    /* IETF protocol assignments */
        {{192, 0, 2, 0}, 24},    /* documentation */
        {{192, 88, 99, 0}, 24},  /* 6to4 relay anycast */
        {{192, 168, 0, 0}, 16},  /* private */
        {{198, 18, 0, 0}, 15},   /* benchmarking */
        {{198, 51, 100, 0}, 24}, /* documentation */
        {{203, 0, 113, 0}, 24},  /* documentation */
        {{224, 0, 0, 0}, 4},     /* multicast */
        {{240, 0, 0, 0}, 4},     /* reserved, and broadcast */
    };
    for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
        if (prefix(a, deny[i].p, deny[i].bits))
            return 0;
    return 1;
}

int ql_addr_is_public(const uint8_t *addr, int v6)
{
    if (!v6)
        return v4_is_public(addr);
    static const uint8_t zero[16] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0 || memcmp(addr, zero, 12) == 0)
        return memcmp(addr, zero, 16) != 0 && v4_is_public(addr + 12); /* ::a.b.c.d too */
    static const struct {
        uint8_t p[16];
        int bits;
    } deny[] = {
        {{0x00, 0x64, 0xff, 0x9b}, 96}, /* NAT64: could reach any IPv4 address */
        {{0x01, 0x00}, 64},             /* discard-only */
        {{0x20, 0x01, 0x00, 0x00}, 32}, /* Teredo */
        {{0x20, 0x01, 0x0d, 0xb8}, 32}, /* documentation */
        {{0x20, 0x02}, 16},             /* 6to4: carries IPv4 addresses */
        {{0xfc}, 7},                    /* unique local (fd00:ec2::254 is cloud metadata) */
        {{0xfe, 0x80}, 10},             /* link-local */
        {{0xfe, 0xc0}, 10},             /* site-local (deprecated) */
        {{0xff}, 8},                    /* multicast */

        /* they too could reach any IPv4 address, as NAT64 above */
        {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48}, /* local-use NAT64 (RFC 8215) */
        {{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* IPv4-translated (SIIT), ::ffff:0:0:0/96 */
    };
    for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
        if (prefix(addr, deny[i].p, deny[i].bits))
            return 0;
    return 1;
}

int ql_addr_text_is_public(const char *ip)
{
    int v6;
    uint8_t a[16];
    if (ip == NULL || parse_ip(ip, strlen(ip), &v6, a) != 0)
        return 0;
    return ql_addr_is_public(a, v6);
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
