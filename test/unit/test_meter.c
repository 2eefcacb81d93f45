/* Unit tests of the HTTP adapter's meter (adapters/http/meter.h): its table of accounts. */
#include "err/err.h"
#include "fixture.h"
#include "http/internal.h"
#include "http/meter.h"
#include "http/ratelimit.h"
#include "store/store_usage.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Teams whose ids differ in a few bytes only (here one byte of the timestamp, as ids made
 * by hand or seeded often do) each keep their account: they must not all land in one probe
 * window, where each new one would recycle another's account and give back its units.
 */
static void test_similar_team_ids_keep_their_accounts(void)
{
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(m != NULL);
    ql__meter_sync_init(m);
    int64_t now = 1767225600000LL;
    struct ql_uuid team;
    for (int i = 0; i < 64; i++) {
        memset(team.b, 0x5a, sizeof(team.b));
        team.b[5] = (uint8_t)i;
        uint32_t base;
        struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
        ql__meter_account(m, s, base, &team, now)->held = 100 + i;
    }
    for (int i = 0; i < 64; i++) {
        memset(team.b, 0x5a, sizeof(team.b));
        team.b[5] = (uint8_t)i;
        uint32_t base;
        struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
        ASSERT_INT_EQ(ql__meter_account(m, s, base, &team, now)->held, 100 + i);
    }
    ASSERT_INT_EQ(m->nreturns, 0); /* nothing recycled, so nothing given back */
    ql__meter_sync_cleanup(m);
    free(m);
}

/*
 * A billed request that ends after the month turned is dated when it took its unit, so the
 * flush counts it in the period the unit was reserved from (not in the next one, where it
 * would be lost or counted beyond what was reserved); others are dated when they end.
 */
static void test_a_billed_row_is_dated_when_its_unit_was_taken(void)
{
    int64_t jan_end = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct ql__admission a = {.metered = QL__METER_BILLED, .at_ms = jan_end - 1};
    memset(a.team.b, 1, 16);
    memset(a.key.b, 2, 16);
    struct ql_request_row row = {.method = "GET", .status = 200};
    ql__meter_row(&a, jan_end + 30, &row);
    ASSERT_INT_EQ(row.at_ms, jan_end - 1);
    ASSERT_INT_EQ(row.billed, 1);
    ASSERT_MEM_EQ(row.team.b, a.team.b, 16);
    ASSERT_MEM_EQ(row.key.b, a.key.b, 16);
    ASSERT_STR_EQ(row.method, "GET");
    int64_t start, end;
    ql_usage_period(row.at_ms, &start, &end);
    ASSERT_INT_EQ(end, jan_end);
    /* refused with 429: no unit, dated when answered */
    a.metered = QL__METER_REFUSED;
    ql__meter_row(&a, jan_end + 30, &row);
    ASSERT_INT_EQ(row.at_ms, jan_end + 30);
    ASSERT_INT_EQ(row.billed, 0);
}

/*
 * A request that read the clock in the last millisecond of January and reaches the meter
 * after another took the team's account into February spends a unit of February's block,
 * and is dated February's first millisecond, so the flush counts it where its unit came from.
 */
static void test_a_request_late_across_midnight_counts_in_the_new_month(void)
{
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(m != NULL);
    ql__meter_sync_init(m);
    int64_t feb = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct ql_uuid team;
    memset(team.b, 0x33, sizeof(team.b));
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(m, &team, &base);
    ql__meter_account(m, s, base, &team, feb)->held = 100; /* February's block */
    struct ql_ctx cx;
    memset(&cx, 0, sizeof(cx));
    int64_t now = feb;
    ASSERT_INT_EQ(ql__meter_admit(m, &cx, &team, &now, 0), QL_OK);
    ASSERT_INT_EQ(now, feb);
    now = feb - 1;
    ASSERT_INT_EQ(ql__meter_admit(m, &cx, &team, &now, 0), QL_OK);
    ASSERT_INT_EQ(now, feb);
    ASSERT_INT_EQ(ql__meter_account(m, s, base, &team, feb)->held, 98);
    ASSERT_INT_EQ(m->nreturns, 0);
    ql__meter_sync_cleanup(m);
    free(m);
}

/*
 * The fakes, whose next COMMIT lands and then loses its answer (the connection fails), and
 * a meter on them without its thread, whose flushes and give-backs the test runs itself.
 */
struct lossy {
    struct fixture f;
    int (*real_commit)(struct ql_store *self, struct ql_ctx *cx);
    int lose;
    struct ql_http_env env;
    struct ql__meter m;
};

static int lossy_commit(struct ql_store *self, struct ql_ctx *cx)
{
    struct lossy *l = (struct lossy *)((char *)self - offsetof(struct fixture, store));
    int rc = l->real_commit(self, cx);
    if (rc == QL_OK && l->lose) {
        l->lose = 0;
        rc = ql_error_set(&cx->err, QL_EUNAVAILABLE, "database connection lost");
    }
    return rc;
}

static struct lossy *lossy_new(void)
{
    struct lossy *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    fixture_init(&l->f);
    l->real_commit = l->f.store.ops.commit;
    l->f.store.ops.commit = lossy_commit;
    l->env = (struct ql_http_env){
        .clock = &l->f.clock.base, .auth = &l->f.auth.base, .log = &l->f.log.base};
    l->m.env = &l->env;
    ql_arena_init(&l->m.arena, 0, 0);
    l->m.cx = l->f.cx;
    l->m.cx.arena = &l->m.arena;
    return l;
}

static void lossy_free(struct lossy *l)
{
    free(l->m.trows);
    ql_arena_cleanup(&l->m.arena);
    fixture_cleanup(&l->f);
    free(l);
}

static void add_rows(struct ql__meter *m, int n)
{
    for (int i = 0; i < n; i++) {
        struct ql_request_row *r = &m->trows[m->ntrows++];
        memset(r, 0, sizeof(*r));
        memset(r->team.b, 0x44, 16);
        r->at_ms = T0 + m->ntrows;
        r->method = "GET";
        r->route = "/v1/teams/{teamId}";
        r->status = 200;
    }
}

/*
 * A flush whose COMMIT landed but whose answer was lost stays for the next tick, and is then
 * recognised (its number is stored) instead of being written, and counted, a second time.
 */
static void test_a_flush_that_landed_unseen_is_not_written_again(void)
{
    struct lossy *l = lossy_new();
    ASSERT_TRUE(l != NULL);
    struct ql__meter *m = &l->m;
    memset(m->instance.b, 0x77, 16);
    m->trows = calloc(8, sizeof(*m->trows));
    ASSERT_TRUE(m->trows != NULL);
    m->captrows = 8;
    add_rows(m, 3);
    l->lose = 1;
    ql__meter_flush(m);
    ASSERT_INT_EQ(l->f.store.usage.nrequests, 3); /* it landed */
    ASSERT_INT_EQ(m->ntrows, 3);                  /* and waits for the next tick */
    add_rows(m, 2);                               /* more came meanwhile */
    ql__meter_flush(m);
    ASSERT_INT_EQ(l->f.store.usage.nrequests, 5); /* only the new ones */
    ASSERT_INT_EQ(m->ntrows, 0);
    add_rows(m, 1);
    ql__meter_flush(m);
    ASSERT_INT_EQ(l->f.store.usage.nrequests, 6);
    lossy_free(l);
}

/*
 * The end of a quota with the meter's own thread: the fakes, whose reservations made by the
 * meter's thread (a background refill) keep their answer until the test lets them go.
 */
struct race {
    struct fixture f;
    struct ql_usage_ops usage; /* the fake's, with reserve wrapped */
    const struct ql_usage_ops *real;
    struct ql__meter *m;
    struct ql_uuid team;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refill_reserved; /* the thread's reservation ran in the "database" */
};

static int64_t remaining(struct race *r)
{
    uint32_t base;
    struct ql__meter_stripe *s = ql__meter_stripe(r->m, &r->team, &base);
    pthread_mutex_lock(&s->lock);
    int64_t n = ql__meter_account(r->m, s, base, &r->team, T0)->remaining;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/*
 * The thread's reservation takes the last unit, then its answer waits until the request's own
 * reservation has found nothing left and the account knows it (remaining 0): the order of a
 * refill whose UPDATE ran just before the request's and which lands just after it.
 */
static int racing_reserve(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                          int64_t period_ms, int64_t want, int64_t default_quota,
                          struct ql_usage_grant *out)
{
    struct race *r = (struct race *)((char *)self - offsetof(struct race, f.store));
    int rc = r->real->reserve(self, cx, team, period_ms, want, default_quota, out);
    if (cx != &r->m->cx)
        return rc; /* a request's own */
    pthread_mutex_lock(&r->lock);
    r->refill_reserved = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    while (remaining(r) != 0) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    return rc;
}

/*
 * With one unit of the quota left, the meter's thread reserved it ahead of need, and before it
 * landed a request that found none held reserved itself and got nothing: the request waits for
 * the thread's answer and spends that unit, instead of being refused while the unit comes to
 * its own process (the next request is the one refused).  It was [200, 429, 200] before.
 */
static void test_the_last_unit_on_its_way_is_waited_for_not_refused(void)
{
    struct race *r = calloc(1, sizeof(*r));
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(r != NULL && m != NULL);
    fixture_init(&r->f);
    r->real = r->f.store.ops.usage;
    r->usage = *r->real;
    r->usage.reserve = racing_reserve;
    r->f.store.ops.usage = &r->usage;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    memset(r->team.b, 0x66, 16);
    struct ql_team t = {.id = r->team, .name = "Racing", .created_ms = T0, .updated_ms = T0};
    struct ql_uuid owner = {{2}};
    struct ql_ctx *cx = &r->f.cx;
    ASSERT_INT_EQ(ql_store_teams_insert(cx->ports.store, cx, &t, &owner), QL_OK);
    ASSERT_INT_EQ(ql_store_usage_subscribe(cx->ports.store, cx, &r->team, "pro", 2, T0), QL_OK);

    struct ql_http_env env = {.clock = &r->f.clock.base, .log = &r->f.log.base};
    m->env = &env;
    ql__meter_sync_init(m);
    ql_arena_init(&m->arena, 0, 0);
    m->cx = *cx;
    m->cx.arena = &m->arena;
    r->m = m;
    m->running = 1;
    ASSERT_INT_EQ(pthread_create(&m->thread, NULL, ql__meter_main, m), 0);

    /* the first request reserves (1 of 2: one at a time near the end) and asks for a refill */
    int64_t now = T0;
    ASSERT_INT_EQ(ql__meter_admit(m, cx, &r->team, &now, 1), QL_OK);
    pthread_mutex_lock(&r->lock);
    while (!r->refill_reserved)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    ASSERT_INT_EQ(r->f.store.usage.periods[0].reserved, 2); /* the thread has the last one */
    /* none held, the refill not landed: the request's own reservation gets nothing */
    now = T0;
    ASSERT_INT_EQ(ql__meter_admit(m, cx, &r->team, &now, 1), QL_OK);
    /* now the quota is spent */
    ql_error_clear(&cx->err);
    now = T0;
    ASSERT_INT_EQ(ql__meter_admit(m, cx, &r->team, &now, 1), QL_EQUOTA);
    ASSERT_INT_EQ(r->f.store.usage.periods[0].reserved, 2);

    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    ASSERT_INT_EQ(r->f.store.usage.periods[0].reserved, 2); /* nothing was held to give back */
    ql__meter_sync_cleanup(m);
    ql_arena_cleanup(&m->arena);
    free(m);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    fixture_cleanup(&r->f);
    free(r);
}

/* The units of team 0x55's period T0 the fake store holds reserved. */
static int64_t fake_reserved(struct lossy *l)
{
    for (int i = 0; i < l->f.store.usage.nperiods; i++)
        if (l->f.store.usage.periods[i].team.b[0] == 0x55)
            return l->f.store.usage.periods[i].reserved;
    return -1;
}

static void add_back(struct ql__meter *m, int64_t n)
{
    struct ql_usage_return *r = &m->tback[m->ntback++];
    memset(r, 0, sizeof(*r));
    memset(r->team.b, 0x55, 16);
    r->period_ms = T0;
    r->n = n;
}

/*
 * A give-back of units whose COMMIT landed but whose answer was lost stays for the next tick,
 * and is then recognised (its number is stored) instead of being applied a second time, which
 * would leave fewer units reserved than the processes hold.
 */
static void test_a_give_back_that_landed_unseen_is_not_applied_again(void)
{
    struct lossy *l = lossy_new();
    ASSERT_TRUE(l != NULL);
    struct ql__meter *m = &l->m;
    struct ql_uuid team;
    memset(team.b, 0x55, 16);
    l->f.store.teams[l->f.store.nteams++].t.id = team;
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&m->cx, &team, T0, 10, &g), QL_OK);
    ASSERT_INT_EQ(fake_reserved(l), 10);
    add_back(m, 4);
    l->lose = 1;
    ql__meter_release(m);
    ASSERT_INT_EQ(fake_reserved(l), 6); /* it landed */
    ASSERT_INT_EQ(m->ntback, 1);        /* and waits for the next tick */
    add_back(m, 1);                     /* more came meanwhile */
    ql__meter_release(m);
    ASSERT_INT_EQ(fake_reserved(l), 5); /* only the new one */
    ASSERT_INT_EQ(m->ntback, 0);
    add_back(m, 2);
    ql__meter_release(m);
    ASSERT_INT_EQ(fake_reserved(l), 3);
    lossy_free(l);
}

/* How many rate counts of instance (0x77 or 0x88 in every byte) the fake store holds, and
 * the tokens of the first one for principal (the same in every byte; 0: the nil one). */
static int rate_rows(struct lossy *l, uint8_t instance, uint8_t principal, int64_t *n)
{
    int rows = 0;
    const struct fake_usage *u = &l->f.store.usage;
    for (int i = 0; i < u->nrates; i++) {
        if (u->rates[i].instance.b[0] != instance)
            continue;
        rows++;
        if (u->rates[i].principal.b[0] == principal && u->rates[i].principal.b[15] == principal)
            *n = u->rates[i].n;
    }
    return rows;
}

/*
 * An instance alone publishes no rate counts, only the row that says it is there; once it
 * has seen another instance's row, its next exchange publishes what it handed out, tokens
 * taken while it was alone included.  It published every principal's count every tick,
 * 200 ms apart, for nobody to read.
 */
static void test_rate_counts_are_published_only_beside_another_instance(void)
{
    struct lossy *l = lossy_new();
    ASSERT_TRUE(l != NULL);
    struct ql__meter *m = &l->m;
    memset(m->instance.b, 0x77, 16);
    ASSERT_INT_EQ(ql_ratelimit_create(100, &m->limiter), QL_OK);
    uint8_t who[16];
    memset(who, 0x31, sizeof(who));
    int64_t second = l->f.clock.now_ms / 1000;
    struct ql_rate_result res;
    for (int i = 0; i < 3; i++)
        ql_ratelimit_take(m->limiter, who, l->f.clock.mono_ns, second, &res);
    ql__meter_share_rates(m);
    int64_t n = -1;
    ASSERT_INT_EQ(rate_rows(l, 0x77, 0x31, &n), 1); /* its presence only */
    ASSERT_INT_EQ(rate_rows(l, 0x77, 0, &n), 1);
    ASSERT_INT_EQ(n, 0);

    struct ql_uuid other;
    memset(other.b, 0x88, 16);
    struct ql_rate_count here = {.second = second}, *seen;
    int nseen;
    ASSERT_INT_EQ(ql_store_usage_rates_share(&l->f.store.base, &l->f.cx, &other, &here, 1,
                                             second - 2, &seen, &nseen),
                  QL_OK);
    ASSERT_INT_EQ(nseen, 1);  /* the first one's presence */
    ql__meter_share_rates(m); /* sees the other */
    ql__meter_share_rates(m); /* and publishes */
    n = -1;
    ASSERT_INT_EQ(rate_rows(l, 0x77, 0x31, &n), 2);
    ASSERT_INT_EQ(n, 3);
    ql_ratelimit_destroy(m->limiter);
    free(m->counts);
    lossy_free(l);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_similar_team_ids_keep_their_accounts),
        TEST(test_a_billed_row_is_dated_when_its_unit_was_taken),
        TEST(test_a_request_late_across_midnight_counts_in_the_new_month),
        TEST(test_a_flush_that_landed_unseen_is_not_written_again),
        TEST(test_the_last_unit_on_its_way_is_waited_for_not_refused),
        TEST(test_a_give_back_that_landed_unseen_is_not_applied_again),
        TEST(test_rate_counts_are_published_only_beside_another_instance),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
