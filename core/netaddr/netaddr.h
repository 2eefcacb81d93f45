/*
 * netaddr.h - IP addresses and CIDR lists, for QUILL_TRUSTED_PROXIES and for finding the
 * client address behind trusted proxies.
 */
#ifndef QL_NETADDR_H
#define QL_NETADDR_H

#include <stddef.h>
#include <stdint.h>

#define QL_CIDR_MAX 32

struct ql_cidr {
    int v6;
    uint8_t addr[16];
    int bits;
};

struct ql_cidr_list {
    int n;
    struct ql_cidr items[QL_CIDR_MAX];
};

/* Parse "10.0.0.0/8, 127.0.0.1, ::1" (empty: no entries).  QL_EVALIDATION on a bad item. */
int ql_cidr_list_parse(const char *s, struct ql_cidr_list *out);

/* 1 when ip (text, n bytes) is inside one of the list's ranges. */
int ql_cidr_list_contains(const struct ql_cidr_list *l, const char *ip, size_t n);

/*
 * The client address of a request: the peer itself, unless the peer is trusted, in which
 * case X-Forwarded-For (xff, may be NULL) is walked from the right and the first address
 * that is not a trusted proxy is the client.  Writes a NUL-terminated address to out.
 */
void ql_client_address(const struct ql_cidr_list *trusted, const char *peer, const char *xff,
                       size_t xff_n, char *out, size_t cap);

/*
 * Is an address one that outbound requests (webhooks) may reach: 1 for a public unicast
 * address; 0 for loopback, private (RFC 1918, unique local), link-local (cloud metadata
 * lives there), carrier-grade NAT, multicast, broadcast, unspecified, reserved and
 * documentation ranges, in IPv4 and IPv6, IPv4-mapped and IPv4-compatible IPv6 included,
 * and the IPv6 ranges that translate to any IPv4 address (NAT64, local-use NAT64, IPv4-
 * translated, 6to4, Teredo).
 * addr is 4 bytes (v6 0) or 16 (v6 1), in network order.
 */
int ql_addr_is_public(const uint8_t *addr, int v6);

/* The same for an address in text; 0 for text that is not an address. */
int ql_addr_text_is_public(const char *ip);

#endif
