/*
 * Unit tests of the principal cache (adapters/postgres/cache.c) with a manual clock and a
 * fake notification port: nothing is served before the port listens or after it lost its
 * connection, entries expire by the clock (no sleeping), invalidations evict by digest,
 * user, key and team, and a read that raced an invalidation is not cached.
 */
#include "arena/arena.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "model/model.h"
#include "notify/notify.h"
#include "postgres/internal.h"
#include "postgres/pg.h"
#include "test.h"
#include "uuid/uuid.h"

#include <stdio.h>

/* A notification port whose events the test delivers by hand. */
struct fake_notify {
    struct ql_notify base;
    ql_notify_fn fn;
    void *ud;
    char channel[64];
    int subscribed;
};

static int fn_subscribe(struct ql_notify *self, const char *channel, ql_notify_fn fn, void *ud,
                        int *id)
{
    struct fake_notify *n = (struct fake_notify *)self;
    snprintf(n->channel, sizeof(n->channel), "%s", channel);
    n->fn = fn;
    n->ud = ud;
    n->subscribed = 1;
    *id = 1;
    return QL_OK;
}

static void fn_unsubscribe(struct ql_notify *self, int id)
{
    (void)id;
    ((struct fake_notify *)self)->subscribed = 0;
}

static int fn_post(struct ql_notify *self, const char *channel, const char *payload)
{
    (void)self, (void)channel, (void)payload;
    return QL_OK;
}

static const struct ql_notify_ops fn_ops = {fn_subscribe, fn_unsubscribe, fn_post};

struct world {
    struct fake_clock clock;
    struct fake_notify notify;
    struct ql_pg_cache *cache;
    struct ql_arena arena;
    struct ql_membership teams[1];
    struct ql_principal user, key;
    uint8_t user_digest[QL_DIGEST_LEN], key_digest[QL_DIGEST_LEN];
};

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fake_clock_init(&w->clock, 1767225600000LL);
    w->notify.base.ops = &fn_ops;
    ql_arena_init(&w->arena, 0, 0);
    ASSERT_INT_EQ(ql__pg_cache_create(&w->notify.base, &w->clock.base, 1024, &w->cache), QL_OK);
    ASSERT_INT_EQ(w->notify.subscribed, 1);
    ASSERT_STR_EQ(w->notify.channel, QL_NOTIFY_AUTH);
    for (int i = 0; i < 16; i++) {
        w->user.user_id.b[i] = (uint8_t)(0x10 + i);
        w->key.credential_id.b[i] = (uint8_t)(0x40 + i);
        w->key.key_team_id.b[i] = (uint8_t)(0x70 + i);
        w->teams[0].team_id.b[i] = (uint8_t)(0xa0 + i);
    }
    w->user.kind = QL_PRINCIPAL_USER;
    w->user.nteams = 1;
    w->user.teams = w->teams;
    w->key.kind = QL_PRINCIPAL_API_KEY;
    memset(w->user_digest, 1, sizeof(w->user_digest));
    memset(w->key_digest, 2, sizeof(w->key_digest));
}

static void cleanup(struct world *w)
{
    ql__pg_cache_destroy(w->cache);
    ASSERT_INT_EQ(w->notify.subscribed, 0);
    ql_arena_cleanup(&w->arena);
}

static void event(struct world *w, enum ql_notify_event ev, const char *payload)
{
    w->notify.fn(w->notify.ud, ev, payload);
}

static int has(struct world *w, const uint8_t *digest)
{
    struct ql_principal p;
    return ql__pg_cache_get(w->cache, &w->arena, digest, &p);
}

static void put_both(struct world *w)
{
    ql__pg_cache_put(w->cache, ql__pg_cache_gen(w->cache), w->user_digest, &w->user);
    ql__pg_cache_put(w->cache, ql__pg_cache_gen(w->cache), w->key_digest, &w->key);
}

static void test_nothing_is_cached_until_the_port_listens(void)
{
    struct world w;
    setup(&w);
    put_both(&w);
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    event(&w, QL_NOTIFY_LISTENING, "");
    put_both(&w);
    ASSERT_INT_EQ(has(&w, w.user_digest), 1);
    struct ql_principal p;
    ASSERT_INT_EQ(ql__pg_cache_get(w.cache, &w.arena, w.user_digest, &p), 1);
    ASSERT_INT_EQ(p.nteams, 1);
    ASSERT_MEM_EQ(p.teams[0].team_id.b, w.teams[0].team_id.b, 16);
    /* the connection is lost: a notification may be missed, so nothing is served */
    event(&w, QL_NOTIFY_LOST, "");
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    put_both(&w);
    ASSERT_INT_EQ(has(&w, w.key_digest), 0);
    /* listening again starts from an empty cache */
    event(&w, QL_NOTIFY_LISTENING, "");
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    cleanup(&w);
}

static void test_entries_expire_by_the_clock(void)
{
    struct world w;
    setup(&w);
    event(&w, QL_NOTIFY_LISTENING, "");
    put_both(&w);
    fake_clock_advance(&w.clock, QL_PG_CACHE_TTL_MS);
    ASSERT_INT_EQ(has(&w, w.user_digest), 1);
    fake_clock_advance(&w.clock, 1);
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    ASSERT_INT_EQ(has(&w, w.key_digest), 0);
    cleanup(&w);
}

static void test_invalidations_evict_what_they_name(void)
{
    struct world w;
    setup(&w);
    event(&w, QL_NOTIFY_LISTENING, "");
    char key[80], id[QL_UUID_STR_LEN + 1];
    /* by user */
    put_both(&w);
    ql_uuid_format(&w.user.user_id, id);
    snprintf(key, sizeof(key), "u:%s", id);
    event(&w, QL_NOTIFY_MESSAGE, key);
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    ASSERT_INT_EQ(has(&w, w.key_digest), 1);
    /* by API key */
    ql_uuid_format(&w.key.credential_id, id);
    snprintf(key, sizeof(key), "k:%s", id);
    event(&w, QL_NOTIFY_MESSAGE, key);
    ASSERT_INT_EQ(has(&w, w.key_digest), 0);
    /* by team: a member of it, and a key of it */
    put_both(&w);
    ql_uuid_format(&w.teams[0].team_id, id);
    snprintf(key, sizeof(key), "t:%s", id);
    event(&w, QL_NOTIFY_MESSAGE, key);
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    ASSERT_INT_EQ(has(&w, w.key_digest), 1);
    ql_uuid_format(&w.key.key_team_id, id);
    snprintf(key, sizeof(key), "t:%s", id);
    event(&w, QL_NOTIFY_MESSAGE, key);
    ASSERT_INT_EQ(has(&w, w.key_digest), 0);
    /* by digest */
    put_both(&w);
    snprintf(key, sizeof(key), "d:");
    for (int i = 0; i < QL_DIGEST_LEN; i++)
        snprintf(key + 2 + 2 * i, sizeof(key) - 2 - 2 * (size_t)i, "%02x", w.user_digest[i]);
    event(&w, QL_NOTIFY_MESSAGE, key);
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    ASSERT_INT_EQ(has(&w, w.key_digest), 1);
    /* anything it cannot read flushes everything */
    event(&w, QL_NOTIFY_MESSAGE, "garbage");
    ASSERT_INT_EQ(has(&w, w.key_digest), 0);
    cleanup(&w);
}

static void test_a_read_that_raced_an_invalidation_is_not_cached(void)
{
    struct world w;
    setup(&w);
    event(&w, QL_NOTIFY_LISTENING, "");
    uint64_t gen = ql__pg_cache_gen(w.cache); /* a lookup missed and reads the database... */
    event(&w, QL_NOTIFY_MESSAGE, "u:not-a-uuid-at-all-but-still-an-invalidation");
    ql__pg_cache_put(w.cache, gen, w.user_digest, &w.user); /* ...and comes back too late */
    ASSERT_INT_EQ(has(&w, w.user_digest), 0);
    cleanup(&w);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_nothing_is_cached_until_the_port_listens),
        TEST(test_entries_expire_by_the_clock),
        TEST(test_invalidations_evict_what_they_name),
        TEST(test_a_read_that_raced_an_invalidation_is_not_cached),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
