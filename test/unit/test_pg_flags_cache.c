/*
 * Unit tests of the flag cache (adapters/postgres/flagcache.c) with a manual clock and a
 * fake notification port: nothing is served before the port listens or after it lost its
 * connection, any flag notification empties it, entries expire by the clock, and a read
 * that raced a change is not kept.
 */
#include "arena/arena.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "flag/flag.h"
#include "notify/notify.h"
#include "postgres/internal.h"
#include "postgres/pg.h"
#include "test.h"

#include <stdio.h>

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
    struct ql_pg_flags_cache *cache;
    struct ql_arena arena;
    struct ql_uuid team, other;
    struct ql_flag_state rows[2];
};

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fake_clock_init(&w->clock, 1767225600000LL);
    w->notify.base.ops = &fn_ops;
    ql_arena_init(&w->arena, 0, 0);
    ASSERT_INT_EQ(ql__pg_flags_cache_create(&w->notify.base, &w->clock.base, 64, &w->cache), QL_OK);
    ASSERT_STR_EQ(w->notify.channel, QL_NOTIFY_FLAGS);
    for (int i = 0; i < 16; i++) {
        w->team.b[i] = (uint8_t)(0x10 + i);
        w->other.b[i] = (uint8_t)(0x40 + i);
    }
    w->rows[0] = (struct ql_flag_state){"alpha", 1, 0, QL_FLAG_NO_OVERRIDE};
    w->rows[1] = (struct ql_flag_state){"beta", 0, 40, 1};
}

static void cleanup(struct world *w)
{
    ql__pg_flags_cache_destroy(w->cache);
    ASSERT_INT_EQ(w->notify.subscribed, 0);
    ql_arena_cleanup(&w->arena);
}

static int cached(struct world *w, const struct ql_uuid *team, int *n)
{
    struct ql_flag_state *out = NULL;
    int found = ql__pg_flags_cache_get(w->cache, &w->arena, team, &out, n);
    if (found && *n == 2) {
        ASSERT_STR_EQ(out[1].key, "beta");
        ASSERT_INT_EQ(out[1].rollout_percent, 40);
        ASSERT_INT_EQ(out[1].override, 1);
    }
    return found;
}

static void test_served_only_while_listening(void)
{
    struct world w;
    setup(&w);
    int n;
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.team, w.rows, 2);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0); /* not listening yet: nothing kept */
    w.notify.fn(w.notify.ud, QL_NOTIFY_LISTENING, NULL);
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.team, w.rows, 2);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 1);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(cached(&w, &w.other, &n), 0);
    w.notify.fn(w.notify.ud, QL_NOTIFY_LOST, NULL);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0);
    w.notify.fn(w.notify.ud, QL_NOTIFY_LISTENING, NULL);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0); /* emptied: something may have been missed */
    cleanup(&w);
}

static void test_any_flag_change_empties_it_and_entries_expire(void)
{
    struct world w;
    setup(&w);
    int n;
    w.notify.fn(w.notify.ud, QL_NOTIFY_LISTENING, NULL);
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.team, w.rows, 2);
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.other, w.rows, 0);
    ASSERT_INT_EQ(cached(&w, &w.other, &n), 1);
    ASSERT_INT_EQ(n, 0); /* no flags at all is an answer too */
    w.notify.fn(w.notify.ud, QL_NOTIFY_MESSAGE, "some-flag");
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0);
    ASSERT_INT_EQ(cached(&w, &w.other, &n), 0);
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.team, w.rows, 2);
    fake_clock_advance(&w.clock, QL_PG_CACHE_TTL_MS - 1);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 1);
    fake_clock_advance(&w.clock, 2);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0);
    /* the writing session's own flush at its commit does the same */
    ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &w.team, w.rows, 2);
    ql__pg_flags_cache_flush(w.cache);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0);
    cleanup(&w);
}

static void test_a_read_that_raced_a_change_is_not_kept(void)
{
    struct world w;
    setup(&w);
    int n;
    w.notify.fn(w.notify.ud, QL_NOTIFY_LISTENING, NULL);
    uint64_t gen = ql__pg_flags_cache_gen(w.cache);   /* a read begins */
    w.notify.fn(w.notify.ud, QL_NOTIFY_MESSAGE, "*"); /* a flag changes meanwhile */
    ql__pg_flags_cache_put(w.cache, gen, &w.team, w.rows, 2);
    ASSERT_INT_EQ(cached(&w, &w.team, &n), 0);
    cleanup(&w);
}

static void test_many_teams_fit_and_the_oldest_go(void)
{
    struct world w;
    setup(&w);
    w.notify.fn(w.notify.ud, QL_NOTIFY_LISTENING, NULL);
    int n, kept = 0;
    for (int i = 0; i < 200; i++) {
        struct ql_uuid t = w.team;
        t.b[12] = (uint8_t)i;
        t.b[13] = (uint8_t)(i * 7);
        fake_clock_advance(&w.clock, 1);
        ql__pg_flags_cache_put(w.cache, ql__pg_flags_cache_gen(w.cache), &t, w.rows, 2);
    }
    for (int i = 0; i < 200; i++) {
        struct ql_uuid t = w.team;
        t.b[12] = (uint8_t)i;
        t.b[13] = (uint8_t)(i * 7);
        kept += cached(&w, &t, &n);
    }
    ASSERT_TRUE(kept > 0 && kept <= 64); /* bounded by its slots */
    cleanup(&w);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_served_only_while_listening),
        TEST(test_any_flag_change_empties_it_and_entries_expire),
        TEST(test_a_read_that_raced_a_change_is_not_kept),
        TEST(test_many_teams_fit_and_the_oldest_go),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
