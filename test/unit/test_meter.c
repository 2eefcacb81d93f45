/* Unit tests of the HTTP adapter's meter (adapters/http/meter.h): its table of accounts. */
#include "err/err.h"
#include "http/meter.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Teams whose ids differ in a few bytes only (here one byte of the timestamp, as ids made
 * by hand or seeded often do) each keep their account: they must not all land in one probe
 * window, where each new one would recycle another's account and give back its units.
 */
static void test_similar_team_ids_keep_their_accounts(void)
{
    struct ql__meter *m = calloc(1, sizeof(*m));
    ASSERT_TRUE(m != NULL);
    pthread_mutex_init(&m->lock, NULL);
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
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_similar_team_ids_keep_their_accounts),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
