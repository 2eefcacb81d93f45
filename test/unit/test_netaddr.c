/* Unit tests of core/netaddr (trusted proxies) and the HTTP rate limiter. */
#include "err/err.h"
#include "http/ratelimit.h"
#include "usage/usage.h"
#include "netaddr/netaddr.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

static void test_cidr_parse_and_match(void)
{
    struct ql_cidr_list l;
    ASSERT_INT_EQ(ql_cidr_list_parse("10.0.0.0/8, 127.0.0.1,::1,2001:db8::/32", &l), QL_OK);
    ASSERT_INT_EQ(l.n, 4);
    ASSERT_TRUE(ql_cidr_list_contains(&l, "10.1.2.3", 8));
    ASSERT_TRUE(!ql_cidr_list_contains(&l, "11.1.2.3", 8));
    ASSERT_TRUE(ql_cidr_list_contains(&l, "127.0.0.1", 9));
    ASSERT_TRUE(!ql_cidr_list_contains(&l, "127.0.0.2", 9));
    ASSERT_TRUE(ql_cidr_list_contains(&l, "::1", 3));
    ASSERT_TRUE(ql_cidr_list_contains(&l, "2001:db8:1::5", 13));
    ASSERT_INT_EQ(ql_cidr_list_parse("10.0.0.0/33", &l), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_cidr_list_parse("nope", &l), QL_EVALIDATION);
    ASSERT_INT_EQ(ql_cidr_list_parse("", &l), QL_OK);
    ASSERT_INT_EQ(l.n, 0);
}

static void test_client_address_behind_proxies(void)
{
    struct ql_cidr_list l;
    ql_cidr_list_parse("127.0.0.1, 10.0.0.0/8", &l);
    char out[64];
    const char *xff = "198.51.100.9, 203.0.113.5, 10.0.0.2";
    /* untrusted peer: X-Forwarded-For is ignored */
    ql_client_address(&l, "192.0.2.1", xff, strlen(xff), out, sizeof(out));
    ASSERT_STR_EQ(out, "192.0.2.1");
    /* trusted peer: the rightmost address that is not a trusted proxy */
    ql_client_address(&l, "127.0.0.1", xff, strlen(xff), out, sizeof(out));
    ASSERT_STR_EQ(out, "203.0.113.5");
    ql_client_address(&l, "127.0.0.1", "garbage", 7, out, sizeof(out));
    ASSERT_STR_EQ(out, "127.0.0.1");
    ql_client_address(&l, "127.0.0.1", NULL, 0, out, sizeof(out));
    ASSERT_STR_EQ(out, "127.0.0.1");
}

static void test_token_bucket(void)
{
    struct ql_ratelimit *rl;
    ASSERT_INT_EQ(ql_ratelimit_create(10, &rl), QL_OK);
    uint8_t key[16] = {1, 2, 3};
    struct ql_rate_result r;
    int64_t t = 1000000000;
    for (int i = 0; i < 20; i++) {
        ql_ratelimit_take(rl, key, t, 100, &r);
        ASSERT_INT_EQ(r.allowed, 1);
        ASSERT_INT_EQ(r.remaining, 19 - i);
    }
    ql_ratelimit_take(rl, key, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 0);
    ASSERT_INT_EQ(r.limit, 20);
    ASSERT_INT_EQ(r.reset_s, 1);
    /* 100 ms later one token is back */
    ql_ratelimit_take(rl, key, t + 100000000, 100, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    /* another principal has its own bucket */
    uint8_t other[16] = {9};
    ql_ratelimit_take(rl, other, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    ql_ratelimit_destroy(rl);
}

/* Two instances, each with its own limiter, that exchange their counts as the meter does. */
static void exchange(struct ql_ratelimit *from, struct ql_ratelimit *to, int64_t now)
{
    struct ql_rate_count c[8];
    int n = ql_ratelimit_collect(from, c, 8);
    for (int i = 0; i < n; i++)
        ql_ratelimit_charge(to, c[i].principal.b, c[i].second, c[i].n, now);
}

static void test_token_buckets_are_shared_across_instances(void)
{
    struct ql_ratelimit *a, *b;
    ASSERT_INT_EQ(ql_ratelimit_create(10, &a), QL_OK);
    ASSERT_INT_EQ(ql_ratelimit_create(10, &b), QL_OK);
    uint8_t key[16] = {1, 2, 3};
    struct ql_rate_result r;
    int64_t t = 1000000000;
    for (int i = 0; i < 15; i++) {
        ql_ratelimit_take(a, key, t, 100, &r);
        ASSERT_INT_EQ(r.allowed, 1);
    }
    /* what a handed out reaches b: 5 of b's 20 are left */
    exchange(a, b, t);
    for (int i = 0; i < 5; i++) {
        ql_ratelimit_take(b, key, t, 100, &r);
        ASSERT_INT_EQ(r.allowed, 1);
    }
    ql_ratelimit_take(b, key, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 0);
    /* a count already charged is not charged again; only what is new */
    exchange(a, b, t);
    ql_ratelimit_take(a, key, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    exchange(a, b, t);
    /* b is in debt by one: a second brings 10 tokens, so 9 are usable */
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        ql_ratelimit_take(b, key, t + 1000000000, 101, &r);
        ok += r.allowed;
    }
    ASSERT_INT_EQ(ok, 9);
    /* b's counts go the other way: a has handed out 16, b 14 in all; a's bucket after a
     * second of refill (10) had 4 left, and b's 14 put it into debt */
    exchange(b, a, t + 1000000000);
    ql_ratelimit_take(a, key, t + 1000000000, 101, &r);
    ASSERT_INT_EQ(r.allowed, 0);
    ASSERT_INT_EQ(r.reset_s, 1);
    /* nothing new: nothing to publish */
    struct ql_rate_count c[4];
    ASSERT_INT_EQ(ql_ratelimit_collect(b, c, 4), 0);
    ql_ratelimit_destroy(a);
    ql_ratelimit_destroy(b);
}

/*
 * Ids that differ in a few bytes only (here one byte of the timestamp, as ids made by hand
 * or seeded often do) each keep their own bucket: they must not all land in one probe
 * window, where each new one would recycle the bucket of another and hand out a full burst.
 */
static void test_similar_ids_keep_their_own_buckets(void)
{
    struct ql_ratelimit *rl;
    ASSERT_INT_EQ(ql_ratelimit_create(1, &rl), QL_OK); /* a burst of 2 */
    struct ql_rate_result r;
    int64_t t = 1000000000;
    uint8_t key[16];
    for (int i = 0; i < 64; i++) {
        memset(key, 0x5a, sizeof(key));
        key[5] = (uint8_t)i;
        for (int k = 0; k < 2; k++) {
            ql_ratelimit_take(rl, key, t, 1, &r);
            ASSERT_INT_EQ(r.allowed, 1);
        }
    }
    for (int i = 0; i < 64; i++) { /* every bucket is still the empty one */
        memset(key, 0x5a, sizeof(key));
        key[5] = (uint8_t)i;
        ql_ratelimit_take(rl, key, t, 1, &r);
        ASSERT_INT_EQ(r.allowed, 0);
    }
    ql_ratelimit_destroy(rl);
}

/*
 * The answer that hands out the last whole token says when the next one comes
 * (RateLimit-Reset), not 0: 0 means a token is there now, and a client that believed it
 * would be refused at once.
 */
static void test_the_last_token_says_when_the_next_one_comes(void)
{
    struct ql_ratelimit *rl;
    ASSERT_INT_EQ(ql_ratelimit_create(10, &rl), QL_OK);
    uint8_t key[16] = {4, 5, 6};
    struct ql_rate_result r;
    int64_t t = 1000000000;
    for (int i = 0; i < 19; i++) {
        ql_ratelimit_take(rl, key, t, 100, &r);
        ASSERT_INT_EQ(r.reset_s, 0); /* tokens left: one is there now */
    }
    ql_ratelimit_take(rl, key, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    ASSERT_INT_EQ(r.remaining, 0);
    ASSERT_INT_EQ(r.reset_s, 1); /* a tenth of a second, in whole seconds */
    ql_ratelimit_destroy(rl);
}

/*
 * A bucket left alone for months refills to its burst, whatever the rate: the refill of
 * the time elapsed must not overflow (at QUILL_RATE_LIMIT=1000000, 107 days of
 * microseconds times the rate passes 2^63) and leave the caller refused.
 */
static void test_a_long_idle_bucket_is_full_again(void)
{
    struct ql_ratelimit *rl;
    ASSERT_INT_EQ(ql_ratelimit_create(1000000, &rl), QL_OK);
    uint8_t key[16] = {7, 8, 9};
    struct ql_rate_result r;
    int64_t t = 1000000000;
    ql_ratelimit_take(rl, key, t, 100, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    t += 200LL * 86400 * 1000000000; /* 200 days later */
    ql_ratelimit_take(rl, key, t, 100 + 200LL * 86400, &r);
    ASSERT_INT_EQ(r.allowed, 1);
    ASSERT_INT_EQ(r.remaining, 2000000 - 1);
    ql_ratelimit_destroy(rl);
}

static void test_which_addresses_are_public(void)
{
    static const char *const refused[] = {
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::a00:1",        /* local-use NAT64 (RFC 8215) */
        "64:ff9b:1:ffff::8.8.8.8", /* the whole /48, whatever IPv4 address it embeds */
        "::ffff:0:7f00:1",         /* IPv4-translated (SIIT): 127.0.0.1 */
        "::ffff:0:8.8.8.8",        /* the whole ::ffff:0:0:0/96 */
        "2002:7f00:1::",
        "2001:db8::1",
        "not an address",
        "",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (ql_addr_text_is_public(refused[i]))
            printf("# %s counted as public\n", refused[i]);
        ASSERT_INT_EQ(ql_addr_text_is_public(refused[i]), 0);
    }
    static const char *const allowed[] = {"8.8.8.8",     "1.1.1.1",        "172.32.0.1",
                                          "192.169.0.1", "::ffff:8.8.8.8", "2606:4700::1111",
                                          "2a00:1450::1"};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        ASSERT_INT_EQ(ql_addr_text_is_public(allowed[i]), 1);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_cidr_parse_and_match),
        TEST(test_client_address_behind_proxies),
        TEST(test_token_bucket),
        TEST(test_token_buckets_are_shared_across_instances),
        TEST(test_similar_ids_keep_their_own_buckets),
        TEST(test_the_last_token_says_when_the_next_one_comes),
        TEST(test_a_long_idle_bucket_is_full_again),
        TEST(test_which_addresses_are_public),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
