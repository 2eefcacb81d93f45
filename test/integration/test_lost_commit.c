/*
 * Integration tests of COMMITs that land while their answer is lost, on PostgreSQL: the
 * sessions go through fault_proxy.h, which forwards a COMMIT and then closes the client's
 * side.  A grouped creation of journal entries, a lone one under an idempotency record's
 * hooks, a flush of the usage meter and its give-back of reserved units must each find out
 * what landed instead of writing it again (a 409 for an entry that exists) or counting it
 * twice; a write that commits on its own, outside a transaction, is not sent again when its
 * answer was lost, unless it is harmless to repeat (a read is).
 */
#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "group/group.h"
#include "integration/fault_proxy.h"
#include "integration/uc_world.h"
#include "store/store.h"
#include "store/store_security.h"
#include "team/team.h"
#include "tx/tx.h"
#include "usage/usage.h"
#include "uuid/uuid.h"

#include <time.h>

/*
 * The proxy, one for the program: the session factories of itest.h are made per conninfo
 * and kept, so every world connects through the same port.
 */
static struct fault_proxy fp;
static char via[512];

struct world {
    const char *direct; /* the database, not through the proxy */
    int cuts;           /* fp.cuts when the world opened */
    struct uc_world u;
    struct ql_auth_result owner;
    struct ql_principal po;
    struct ql_team team;
};

static void world_open(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->direct = itest_url("QUILL_TEST_DATABASE_URL");
    w->cuts = atomic_load(&fp.cuts);
    uc_world_open(&w->u, via, 0x42);
    char email[96];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(email, sizeof(email), "lost-%lx%lx@example.com", (long)ts.tv_sec, (long)ts.tv_nsec);
    struct ql_credentials c = {email, strlen(email), "correct horse battery", 21, "L", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->u.cx, &c, &w->owner), QL_OK);
    ql_error_clear(&w->u.cx.err);
    const char *tok = w->owner.session.token;
    ASSERT_INT_EQ(ql_account_resolve(&w->u.cx, tok, strlen(tok), QL_VIA_BEARER, &w->po), QL_OK);
    w->u.cx.principal = &w->po;
    ASSERT_INT_EQ(ql_team_create(&w->u.cx, "Lost", 4, &w->team), QL_OK);
    ql_error_clear(&w->u.cx.err);
    ASSERT_INT_EQ(ql_account_resolve(&w->u.cx, tok, strlen(tok), QL_VIA_BEARER, &w->po), QL_OK);
    ql_arena_reset(&w->u.arena);
}

static void world_close(struct world *w)
{
    uc_world_close(&w->u);
}

/* The COMMITs cut since w opened. */
static int cuts(const struct world *w)
{
    return atomic_load(&fp.cuts) - w->cuts;
}

/* How many journal entries have id (on a direct connection). */
static int entries_with(struct world *w, const struct ql_uuid *id)
{
    char s[QL_UUID_STR_LEN + 1], sql[160];
    ql_uuid_format(id, s);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM journal_entries WHERE journal_entry_id = '%s'",
             s);
    const char *n = itest_sql(w->direct, sql);
    return n ? atoi(n) : -1;
}

/* A group port whose next join writes `waiting` (another thread's creation) with its item. */
struct test_group {
    struct ql_group base;
    struct ql_group_item *waiting;
};

static int tg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    struct test_group *g = (struct test_group *)self;
    struct ql_group_item *batch[2] = {g->waiting, item};
    g->waiting = NULL;
    write(cx, batch, 2);
    return item->rc;
}

static const struct ql_group_ops tg_ops = {tg_join};

/* The entry of the other caller in the group: the owner's, with the content "peer". */
static void peer_entry(struct world *w, struct ql_entry *e)
{
    memset(e, 0, sizeof(*e));
    ASSERT_INT_EQ(ql_uuid7_new(w->u.cx.ports.clock, w->u.cx.ports.auth, &e->id), QL_OK);
    e->team_id = w->team.id;
    e->has_author_user = 1;
    e->author_user = w->owner.user.id;
    e->content = "peer";
    e->content_n = 4;
    e->version = 1;
    e->created_ms = e->updated_ms = ql_uuid7_ms(&e->id);
}

/* A group whose COMMIT landed unseen: both callers get their entry (201), stored once. */
static void test_a_group_whose_commit_landed_unseen_answers_success(void)
{
    struct world w;
    world_open(&w);
    struct test_group g = {.base = {&tg_ops}};
    struct ql_ctx peer = w.u.cx;
    struct ql_entry e1;
    peer_entry(&w, &e1);
    struct ql_group_item i1 = {.cx = &peer, .arg = &e1};
    g.waiting = &i1;
    w.u.cx.ports.group = &g.base;
    atomic_store(&fp.armed, 1);
    struct ql_entry mine;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    int rc = ql_entry_create(&w.u.cx, &w.team.id, &in, &mine);
    ASSERT_INT_EQ(cuts(&w), 1); /* the fault happened */
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(i1.rc, QL_OK);
    ASSERT_INT_EQ(entries_with(&w, &mine.id), 1);
    ASSERT_INT_EQ(entries_with(&w, &e1.id), 1);
    world_close(&w);
}

/* An existence check that ran before the server had finished the COMMIT: nothing is there. */
static int absent(struct ql_store *self, struct ql_ctx *cx, const struct ql_entry *const *es, int n,
                  int *found)
{
    (void)self;
    (void)cx;
    (void)es;
    memset(found, 0, sizeof(*found) * (size_t)n);
    return QL_OK;
}

/* The store's operations with the existence check answering "absent" (early.real: undo). */
struct early {
    const struct ql_store_ops *real;
    struct ql_store_ops ops;
    struct ql_entries_ops entries;
};

static void checks_too_early(struct ql_store *s, struct early *e)
{
    e->real = s->ops;
    e->ops = *s->ops;
    e->entries = *s->ops->entries;
    e->entries.exist_many = absent;
    e->ops.entries = &e->entries;
    s->ops = &e->ops;
}

/*
 * A group whose COMMIT landed unseen, and whose check came too early (it says "not stored"):
 * the lone write meets the entry's own id, and its caller gets that entry (201), not a 409.
 */
static void test_a_group_checked_too_early_answers_success(void)
{
    struct world w;
    world_open(&w);
    struct test_group g = {.base = {&tg_ops}};
    struct ql_ctx peer = w.u.cx;
    struct ql_entry e1;
    peer_entry(&w, &e1);
    struct ql_group_item i1 = {.cx = &peer, .arg = &e1};
    g.waiting = &i1;
    w.u.cx.ports.group = &g.base;
    struct early early;
    checks_too_early(w.u.cx.ports.store, &early);
    atomic_store(&fp.armed, 1);
    struct ql_entry mine;
    struct ql_entry_input in = {"mine", 4, 0, NULL, 0};
    int rc = ql_entry_create(&w.u.cx, &w.team.id, &in, &mine);
    w.u.cx.ports.store->ops = early.real;
    ASSERT_INT_EQ(cuts(&w), 1);
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(w.u.cx.err.code, QL_OK);
    ASSERT_INT_EQ(i1.rc, QL_ERETRY); /* its caller writes it alone, and meets it the same way */
    ASSERT_INT_EQ(entries_with(&w, &mine.id), 1);
    ASSERT_INT_EQ(mine.version, 1);
    ASSERT_INT_EQ((int)mine.content_n, 4);
    ASSERT_INT_EQ(memcmp(mine.content, "mine", 4), 0);
    ASSERT_INT_EQ(memcmp(mine.team_id.b, w.team.id.b, 16), 0);
    world_close(&w);
}

static int no_hook(struct ql_ctx *cx, void *ud)
{
    (void)cx;
    (void)ud;
    return QL_OK;
}

/* A lone creation, under an idempotency record's hooks, whose COMMIT landed unseen: 201. */
static void test_a_lone_creation_whose_commit_landed_unseen_answers_success(void)
{
    struct world w;
    world_open(&w);
    struct ql_tx_hooks hooks = {no_hook, no_hook, NULL, 0};
    w.u.cx.tx = &hooks;
    atomic_store(&fp.armed, 1);
    struct ql_entry mine;
    struct ql_entry_input in = {"alone", 5, 0, NULL, 0};
    int rc = ql_entry_create(&w.u.cx, &w.team.id, &in, &mine);
    ASSERT_INT_EQ(cuts(&w), 1);
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(hooks.committed, 1);
    ASSERT_INT_EQ(entries_with(&w, &mine.id), 1);
    world_close(&w);
}

/*
 * A lone creation, under an idempotency record's hooks, whose COMMIT landed unseen, and whose
 * check came too early (it says "not stored"): 201 with the stored entry, not 503.
 */
static void test_a_lone_creation_checked_too_early_answers_success(void)
{
    struct world w;
    world_open(&w);
    struct ql_tx_hooks hooks = {no_hook, no_hook, NULL, 0};
    w.u.cx.tx = &hooks;
    struct early early;
    checks_too_early(w.u.cx.ports.store, &early);
    atomic_store(&fp.armed, 1);
    struct ql_entry mine;
    struct ql_entry_input in = {"early", 5, 0, NULL, 0};
    int rc = ql_entry_create(&w.u.cx, &w.team.id, &in, &mine);
    w.u.cx.ports.store->ops = early.real;
    ASSERT_INT_EQ(cuts(&w), 1);
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(w.u.cx.err.code, QL_OK);
    ASSERT_INT_EQ(hooks.committed, 1);
    ASSERT_INT_EQ(entries_with(&w, &mine.id), 1);
    ASSERT_INT_EQ((int)mine.content_n, 5);
    ASSERT_INT_EQ(memcmp(mine.content, "early", 5), 0);
    ASSERT_INT_EQ((int)mine.version, 1);
    world_close(&w);
}

/* A meter's flush whose COMMIT landed unseen, sent again: its rows are written once. */
static void test_a_flush_whose_commit_landed_unseen_is_not_counted_again(void)
{
    struct world w;
    world_open(&w);
    struct ql_uuid key;
    ASSERT_INT_EQ(ql_uuid7_new(w.u.cx.ports.clock, w.u.cx.ports.auth, &key), QL_OK);
    int rc;
    struct ql_usage_flush f = {.seq = 1};
    ASSERT_INT_EQ(ql_uuid7_new(w.u.cx.ports.clock, w.u.cx.ports.auth, &f.instance), QL_OK);
    int64_t now = ql_clock_now_ms(w.u.cx.ports.clock);
    struct ql_request_row rows[3];
    for (int i = 0; i < 3; i++)
        rows[i] = (struct ql_request_row){w.team.id, key, now + i, "GET", "/v1/me", 200, 10, 0};
    atomic_store(&fp.armed, 1);
    rc = ql_usage_record(&w.u.cx, &f, rows, 3);
    ASSERT_INT_EQ(rc, QL_EUNAVAILABLE);
    ASSERT_INT_EQ(cuts(&w), 1);
    ql_error_clear(&w.u.cx.err);
    ASSERT_INT_EQ(ql_usage_record(&w.u.cx, &f, rows, 3), QL_OK); /* the meter's retry */
    char k[QL_UUID_STR_LEN + 1], sql[160];
    ql_uuid_format(&key, k);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM request_log WHERE api_key_id = '%s'", k);
    ASSERT_STR_EQ(itest_sql(w.direct, sql), "3");
    world_close(&w);
}

/* The units of w's team's period reserved by every process (on a direct connection). */
static long long reserved(struct world *w, int64_t period_ms)
{
    char t[QL_UUID_STR_LEN + 1], sql[200];
    ql_uuid_format(&w->team.id, t);
    snprintf(sql, sizeof(sql),
             "SELECT reserved FROM usage_periods WHERE team_id = '%s' AND period_start = "
             "to_timestamp(%lld / 1000.0)",
             t, (long long)period_ms);
    const char *n = itest_sql(w->direct, sql);
    return n ? atoll(n) : -1;
}

/*
 * Give back n units as the meter does: a numbered give-back, sent again with its number
 * until it is done; ASSERT that one message's answer was lost on the way.
 */
static void give_back_lossy(struct world *w, const struct ql_usage_flush *f, int64_t period,
                            int64_t n)
{
    struct ql_usage_return back = {w->team.id, period, n};
    int cut = cuts(w);
    atomic_store(&fp.armed, 1);
    int rc = ql_usage_release(&w->u.cx, f, &back, 1);
    for (int i = 0; rc != QL_OK && i < 3; i++) { /* the meter's next ticks */
        ql_error_clear(&w->u.cx.err);
        rc = ql_usage_release(&w->u.cx, f, &back, 1);
    }
    ASSERT_INT_EQ(rc, QL_OK);
    ASSERT_INT_EQ(cuts(w), cut + 1);
}

/*
 * A give-back of reserved units whose answer was lost, sent again: applied once.  Applied
 * twice, the team's reserved count falls below what its processes hold, and it can pass its
 * quota.  Once the COMMIT's answer is lost, once the give-back statement's (which commits
 * by itself when it runs outside a transaction).
 */
static void test_a_give_back_whose_answer_was_lost_applies_once(void)
{
    struct world w;
    world_open(&w);
    int64_t start, end;
    ql_usage_period(ql_clock_now_ms(w.u.cx.ports.clock), &start, &end);
    struct ql_usage_grant g;
    ASSERT_INT_EQ(ql_usage_reserve(&w.u.cx, &w.team.id, start, 10, &g), QL_OK);
    ASSERT_INT_EQ((int)g.granted, 10);
    ASSERT_INT_EQ((int)reserved(&w, start), 10);
    struct ql_usage_flush f = {.seq = 1};
    ASSERT_INT_EQ(ql_uuid7_new(w.u.cx.ports.clock, w.u.cx.ports.auth, &f.instance), QL_OK);
    give_back_lossy(&w, &f, start, 4);
    ASSERT_INT_EQ((int)reserved(&w, start), 6);
    f.seq = 2;
    atomic_store(&fp.stmt, "usage_release");
    give_back_lossy(&w, &f, start, 2);
    atomic_store(&fp.stmt, NULL);
    ASSERT_INT_EQ((int)reserved(&w, start), 4);
    world_close(&w);
}

/* The count of rate key's window (on a direct connection). */
static const char *rate_count(struct world *w, const char *key)
{
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count FROM rate_counters WHERE key = '%s'", key);
    return itest_sql(w->direct, sql);
}

/*
 * A rate hit, an increment that commits on its own, whose answer was lost: counted once.
 * Sent again on a new connection, it counted the request twice; its caller is told that it
 * may have been written instead, and the next hit counts 2, not 3.
 */
static void test_a_lone_increment_whose_answer_was_lost_applies_once(void)
{
    struct world w;
    world_open(&w);
    struct ql_store *st = w.u.cx.ports.store;
    char key[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(key, sizeof(key), "test:lost:%lx%lx", (long)ts.tv_sec, (long)ts.tv_nsec);
    int64_t window = ql_clock_now_ms(w.u.cx.ports.clock) / 60000 * 60000;
    int count = 0, prev = 0;
    atomic_store(&fp.stmt, "rate_hit");
    atomic_store(&fp.armed, 1);
    int rc = ql_store_throttle_hit(st, &w.u.cx, key, window, &count, &prev);
    atomic_store(&fp.stmt, NULL);
    ASSERT_INT_EQ(cuts(&w), 1);
    ASSERT_INT_EQ(rc, QL_EUNAVAILABLE);
    /* through the proxy, which lets no one in before the server finished the first hit */
    ql_error_clear(&w.u.cx.err);
    ASSERT_INT_EQ(ql_store_throttle_hit(st, &w.u.cx, key, window, &count, &prev), QL_OK);
    ASSERT_INT_EQ(count, 2);
    ASSERT_STR_EQ(rate_count(&w, key), "2");
    world_close(&w);
}

/* A read whose answer was lost is sent again on a new connection: its caller sees nothing. */
static void test_a_lone_read_whose_answer_was_lost_is_sent_again(void)
{
    struct world w;
    world_open(&w);
    atomic_store(&fp.stmt, "ping");
    atomic_store(&fp.armed, 1);
    int rc = ql_store_ping(w.u.cx.ports.store, &w.u.cx);
    atomic_store(&fp.stmt, NULL);
    ASSERT_INT_EQ(cuts(&w), 1);
    ASSERT_INT_EQ(rc, QL_OK);
    world_close(&w);
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *to = fault_proxy_url(&fp, itest_url("QUILL_TEST_DATABASE_URL"), &port);
    if (to == NULL || fault_proxy_start(&fp, port) != 0) {
        printf("Bail out! QUILL_TEST_DATABASE_URL must name a server on 127.0.0.1 (TCP)\n");
        return 1;
    }
    snprintf(via, sizeof(via), "%s",
             fault_proxy_url(&fp, itest_url("QUILL_TEST_DATABASE_URL"), &port));
    static const struct ql_test tests[] = {
        TEST(test_a_group_whose_commit_landed_unseen_answers_success),
        TEST(test_a_lone_creation_whose_commit_landed_unseen_answers_success),
        TEST(test_a_flush_whose_commit_landed_unseen_is_not_counted_again),
        TEST(test_a_group_checked_too_early_answers_success),
        TEST(test_a_lone_creation_checked_too_early_answers_success),
        TEST(test_a_give_back_whose_answer_was_lost_applies_once),
        TEST(test_a_lone_increment_whose_answer_was_lost_applies_once),
        TEST(test_a_lone_read_whose_answer_was_lost_is_sent_again),
    };
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    fault_proxy_stop(&fp);
    return rc;
}
