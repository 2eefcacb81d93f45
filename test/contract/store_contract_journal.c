/*
 * store_contract_journal.c - the store contract's cases for journal entries, prompts and
 * idempotency records (store_contract.h).
 */
#include "contract/store_contract.h"

#include <string.h>

/* ---- entries ------------------------------------------------------------------------------ */

static struct ql_entry entry_in(struct cc *c, const struct ql_team *t, const struct ql_user *by,
                                int64_t at, const char *content)
{
    struct ql_entry e = {.id = cc_id(), .team_id = t->id, .has_author_user = 1};
    e.author_user = by->id;
    e.content = content;
    e.content_n = strlen(content);
    e.version = 1;
    e.created_ms = e.updated_ms = c->now + at;
    return e;
}

static void assert_entry(const struct ql_entry *got, const struct ql_entry *want)
{
    ASSERT_ID_EQ(&got->id, &want->id);
    ASSERT_ID_EQ(&got->team_id, &want->team_id);
    ASSERT_INT_EQ(got->has_author_user, want->has_author_user);
    if (want->has_author_user)
        ASSERT_ID_EQ(&got->author_user, &want->author_user);
    ASSERT_INT_EQ(got->has_author_key, want->has_author_key);
    ASSERT_INT_EQ(got->has_prompt, want->has_prompt);
    if (want->has_prompt)
        ASSERT_ID_EQ(&got->prompt, &want->prompt);
    ASSERT_INT_EQ(got->content_n, want->content_n);
    ASSERT_MEM_EQ(got->content, want->content, want->content_n);
    ASSERT_INT_EQ(got->version, want->version);
    ASSERT_INT_EQ(got->created_ms, want->created_ms);
    ASSERT_INT_EQ(got->updated_ms, want->updated_ms);
    ASSERT_INT_EQ(got->deleted_ms, want->deleted_ms);
}

/*
 * List t's entries with q, page after page of q.limit, and check they are want[0..nwant) in
 * this order: every page full but the last, *more set exactly when another page follows.
 */
static void assert_list(struct cc *c, const struct ql_team *t, struct ql_entry_query q,
                        const struct ql_entry *const *want, int nwant)
{
    int seen = 0, more = 1;
    struct ql_uuid after;
    while (more) {
        struct ql_entry *items;
        int n;
        ASSERT_INT_EQ(ql_store_entries_list(c->s, &c->cx, &t->id, &q, &items, &n, &more), QL_OK);
        int left = nwant - seen;
        ASSERT_INT_EQ(n, left < q.limit ? left : q.limit);
        ASSERT_INT_EQ(more, left > q.limit);
        for (int i = 0; i < n; i++, seen++)
            ASSERT_ID_EQ(&items[i].id, &want[seen]->id);
        if (n > 0) {
            after = items[n - 1].id;
            q.after_ms = items[n - 1].created_ms;
            q.after_id = &after;
        }
    }
}

/*
 * Entries come newest first by (created, id), in keyset pages, with author and prompt
 * filters.  They are inserted out of time order, and two share a creation time.
 */
static void test_entries_insert_get_and_list_newest_first_in_pages(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t = cc_team(&c, "T", &a), t2 = cc_team(&c, "T2", &a);
    struct ql_prompt p = {.id = cc_id(), .has_team = 1, .team_id = t.id, .text = "Why?"};
    p.category = cc_unique(&c, "cat");
    p.created_ms = p.updated_ms = c.now;
    ASSERT_INT_EQ(ql_store_prompts_insert(c.s, &c.cx, &p), QL_OK);
    struct ql_entry e[6];
    e[0] = entry_in(&c, &t, &a, 1, "first");
    e[1] = entry_in(&c, &t, &b, 3, "\xc3\xa9t\xc3\xa9 \"quoted\" {x,y} \\ line\nbreak");
    e[2] = entry_in(&c, &t, &a, 2, "second");
    e[3] = entry_in(&c, &t, &a, 3, "same time as e1, greater id");
    e[4] = entry_in(&c, &t, &b, 4, "newest");
    e[5] = entry_in(&c, &t2, &a, 5, "another team's");
    e[1].has_prompt = e[3].has_prompt = 1;
    e[1].prompt = e[3].prompt = p.id;
    const struct ql_entry *three[3] = {&e[0], &e[1], &e[2]};
    ASSERT_INT_EQ(ql_store_entries_insert_many(c.s, &c.cx, three, 3), QL_OK);
    for (int i = 3; i < 6; i++)
        ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[i]), QL_OK);
    struct ql_entry got;
    for (int i = 0; i < 6; i++) {
        ASSERT_INT_EQ(ql_store_entries_get(c.s, &c.cx, &e[i].team_id, &e[i].id, &got), QL_OK);
        assert_entry(&got, &e[i]);
    }
    CC_FAILS(&c, ql_store_entries_get(c.s, &c.cx, &t2.id, &e[1].id, &got), QL_ENOT_FOUND);
    const struct ql_entry *newest_first[5] = {&e[4], &e[3], &e[1], &e[2], &e[0]};
    assert_list(&c, &t, (struct ql_entry_query){.limit = 2}, newest_first, 5);
    assert_list(&c, &t, (struct ql_entry_query){.limit = 5}, newest_first, 5);
    assert_list(&c, &t, (struct ql_entry_query){.limit = 9}, newest_first, 5);
    const struct ql_entry *by_a[3] = {&e[3], &e[2], &e[0]}, *by_b[2] = {&e[4], &e[1]};
    assert_list(&c, &t, (struct ql_entry_query){.author = &a.id, .limit = 2}, by_a, 3);
    assert_list(&c, &t, (struct ql_entry_query){.author = &b.id, .limit = 10}, by_b, 2);
    const struct ql_entry *with_p[2] = {&e[3], &e[1]};
    assert_list(&c, &t, (struct ql_entry_query){.prompt = &p.id, .limit = 1}, with_p, 2);
    assert_list(&c, &t, (struct ql_entry_query){.author = &a.id, .prompt = &p.id, .limit = 10},
                with_p, 1);
    const struct ql_entry *theirs[1] = {&e[5]};
    assert_list(&c, &t2, (struct ql_entry_query){.limit = 10}, theirs, 1);
    cc_close(&c);
}

/* Updates write content, prompt, version and time of a locked entry; removal is soft. */
static void test_entries_update_a_locked_entry_and_soft_delete(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    struct ql_prompt p = {.id = cc_id(), .has_team = 1, .team_id = t.id, .text = "Why?"};
    p.category = cc_unique(&c, "cat");
    p.created_ms = p.updated_ms = c.now;
    ASSERT_INT_EQ(ql_store_prompts_insert(c.s, &c.cx, &p), QL_OK);
    struct ql_entry e = entry_in(&c, &t, &a, 0, "draft"), other = entry_in(&c, &t, &a, 1, "kept");
    ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &other), QL_OK);
    struct ql_entry locked, got;
    for (int round = 0; round < 2; round++) {
        ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
        ASSERT_INT_EQ(ql_store_entries_lock(c.s, &c.cx, &t.id, &e.id, &locked), QL_OK);
        assert_entry(&locked, &e);
        e.content = round ? "final, without its prompt" : "edited";
        e.content_n = strlen(e.content);
        e.has_prompt = !round;
        e.prompt = p.id;
        e.version++;
        e.updated_ms = c.now + 10 + round;
        ASSERT_INT_EQ(ql_store_entries_update(c.s, &c.cx, &e), QL_OK);
        ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
        ASSERT_INT_EQ(ql_store_entries_get(c.s, &c.cx, &t.id, &e.id, &got), QL_OK);
        assert_entry(&got, &e);
    }
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t.id, &e.id, c.now + 20), QL_OK);
    CC_FAILS(&c, ql_store_entries_get(c.s, &c.cx, &t.id, &e.id, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_entries_remove(c.s, &c.cx, &t.id, &e.id, c.now + 21), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    CC_FAILS(&c, ql_store_entries_lock(c.s, &c.cx, &t.id, &e.id, &locked), QL_ENOT_FOUND);
    ql_store_rollback(c.s, &c.cx);
    const struct ql_entry *left[1] = {&other};
    assert_list(&c, &t, (struct ql_entry_query){.limit = 10}, left, 1);
    ASSERT_INT_EQ(ql_store_entries_get(c.s, &c.cx, &t.id, &other.id, &got), QL_OK);
    assert_entry(&got, &other);
    cc_close(&c);
}

/* ---- prompts ------------------------------------------------------------------------------ */

static struct ql_prompt prompt_in(const struct ql_team *t, const char *category, int64_t at)
{
    struct ql_prompt p = {.id = cc_id(), .has_team = t != NULL, .text = "What now?"};
    if (t)
        p.team_id = t->id;
    p.category = category;
    p.created_ms = p.updated_ms = at;
    return p;
}

static void assert_prompts(struct cc *c, const struct ql_team *t, const char *category, int limit,
                           const struct ql_prompt *const *want, int nwant)
{
    int seen = 0, more = 1;
    int64_t after_ms = 0;
    struct ql_uuid after;
    while (more) {
        struct ql_prompt *items;
        int n;
        ASSERT_INT_EQ(ql_store_prompts_list(c->s, &c->cx, &t->id, category, after_ms,
                                            seen ? &after : NULL, limit, &items, &n, &more),
                      QL_OK);
        int left = nwant - seen;
        ASSERT_INT_EQ(n, left < limit ? left : limit);
        ASSERT_INT_EQ(more, left > limit);
        for (int i = 0; i < n; i++, seen++) {
            ASSERT_ID_EQ(&items[i].id, &want[seen]->id);
            ASSERT_INT_EQ(items[i].has_team, want[seen]->has_team);
            ASSERT_STR_EQ(items[i].text, want[seen]->text);
            ASSERT_STR_EQ(items[i].category, want[seen]->category);
            ASSERT_INT_EQ(items[i].created_ms, want[seen]->created_ms);
            ASSERT_INT_EQ(items[i].deleted_ms, 0);
        }
        if (n > 0) {
            after = items[n - 1].id;
            after_ms = items[n - 1].created_ms;
        }
    }
    ASSERT_INT_EQ(seen, nwant);
}

/*
 * A team sees the global prompts and its own, oldest first, in pages, by category; it can
 * delete only its own.  Categories are fresh, so the seeded global prompts stay out of view.
 */
static void test_prompts_global_and_own_oldest_first_by_category(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user u = cc_user(&c, "U");
    struct ql_team t = cc_team(&c, "T", &u), t2 = cc_team(&c, "T2", &u);
    const char *cat = cc_unique(&c, "cat"), *cat2 = cc_unique(&c, "cat2");
    struct ql_prompt g = prompt_in(NULL, cat, c.now + 2), p = prompt_in(&t, cat, c.now + 1);
    struct ql_prompt q = prompt_in(&t2, cat, c.now), p2 = prompt_in(&t, cat2, c.now + 3);
    struct ql_prompt g2 = prompt_in(NULL, cat, c.now + 2); /* a tie: the greater id is later */
    const struct ql_prompt *all[5] = {&g, &p, &q, &p2, &g2};
    for (int i = 0; i < 5; i++)
        ASSERT_INT_EQ(ql_store_prompts_insert(c.s, &c.cx, all[i]), QL_OK);
    struct ql_prompt got;
    ASSERT_INT_EQ(ql_store_prompts_get(c.s, &c.cx, &t.id, &g.id, &got), QL_OK);
    ASSERT_INT_EQ(got.has_team, 0);
    ASSERT_STR_EQ(got.category, cat);
    ASSERT_INT_EQ(got.created_ms, c.now + 2);
    ASSERT_INT_EQ(got.updated_ms, c.now + 2);
    ASSERT_INT_EQ(ql_store_prompts_get(c.s, &c.cx, &t.id, &p.id, &got), QL_OK);
    ASSERT_INT_EQ(got.has_team, 1);
    ASSERT_ID_EQ(&got.team_id, &t.id);
    ASSERT_STR_EQ(got.text, "What now?");
    CC_FAILS(&c, ql_store_prompts_get(c.s, &c.cx, &t.id, &q.id, &got), QL_ENOT_FOUND);
    const struct ql_prompt *mine[3] = {&p, &g, &g2}, *theirs[3] = {&q, &g, &g2};
    assert_prompts(&c, &t, cat, 10, mine, 3);
    assert_prompts(&c, &t, cat, 1, mine, 3);
    assert_prompts(&c, &t2, cat, 2, theirs, 3);
    assert_prompts(&c, &t, cat2, 10, (const struct ql_prompt *[]){&p2}, 1);
    ASSERT_INT_EQ(ql_store_prompts_remove(c.s, &c.cx, &t.id, &p.id, c.now + 9), QL_OK);
    CC_FAILS(&c, ql_store_prompts_get(c.s, &c.cx, &t.id, &p.id, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_prompts_remove(c.s, &c.cx, &t.id, &p.id, c.now + 9), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_prompts_remove(c.s, &c.cx, &t.id, &g.id, c.now + 9), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_prompts_remove(c.s, &c.cx, &t.id, &q.id, c.now + 9), QL_ENOT_FOUND);
    assert_prompts(&c, &t, cat, 10, mine + 1, 2);
    cc_close(&c);
}

/* ---- idempotency records ------------------------------------------------------------------ */

static struct ql_idem_record record(uint8_t mark, int status, const char *sealed, int64_t at,
                                    int64_t ttl)
{
    struct ql_idem_record r = {.status = status, .created_ms = at, .expires_ms = at + ttl};
    memset(r.fingerprint, mark, sizeof(r.fingerprint));
    r.sealed = (const uint8_t *)sealed;
    r.sealed_n = strlen(sealed);
    return r;
}

static void assert_record(const struct ql_idem_record *got, const struct ql_idem_record *want)
{
    ASSERT_MEM_EQ(got->fingerprint, want->fingerprint, QL_DIGEST_LEN);
    ASSERT_INT_EQ(got->status, want->status);
    ASSERT_INT_EQ(got->sealed_n, want->sealed_n);
    ASSERT_MEM_EQ(got->sealed, want->sealed, want->sealed_n);
    ASSERT_INT_EQ(got->created_ms, want->created_ms);
    ASSERT_INT_EQ(got->expires_ms, want->expires_ms);
}

/* A record is found until it expires; an expired one is replaced by the next put. */
static void test_idempotency_records_live_until_they_expire(void)
{
    struct cc c;
    cc_open(&c);
    const char *scope = cc_unique(&c, "user"), *key = "key-1";
    struct ql_idem_record r = record(1, 201, "sealed \x01\x02 bytes", c.now, 1000), got;
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, scope, key, &r), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_get(c.s, &c.cx, scope, key, c.now + 999, &got), QL_OK);
    assert_record(&got, &r);
    CC_FAILS(&c, ql_store_idem_get(c.s, &c.cx, scope, key, c.now + 1000, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_idem_get(c.s, &c.cx, scope, "key-2", c.now, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_idem_get(c.s, &c.cx, cc_unique(&c, "user"), key, c.now, &got),
             QL_ENOT_FOUND);
    struct ql_idem_record r2 = record(2, 422, "second", c.now + 2000, 1000);
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, scope, key, &r2), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_get(c.s, &c.cx, scope, key, c.now + 2001, &got), QL_OK);
    assert_record(&got, &r2);
    cc_close(&c);
}

/* A record is written once: a second put for a live record keeps the first (its request ran). */
static void test_idempotency_put_over_a_live_record_keeps_the_first(void)
{
    struct cc c;
    cc_open(&c);
    const char *scope = cc_unique(&c, "user"), *key = "key-1";
    struct ql_idem_record r = record(1, 201, "first", c.now, 1000), got;
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, scope, key, &r), QL_OK);
    struct ql_idem_record r2 = record(2, 201, "second", c.now + 10, 1000);
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, scope, key, &r2), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_get(c.s, &c.cx, scope, key, c.now + 11, &got), QL_OK);
    assert_record(&got, &r);
    cc_close(&c);
}

/* Which entries of a group are stored: live or deleted, of their own team only. */
static void test_entries_exist_many_finds_stored_ones(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a), t2 = cc_team(&c, "T2", &a);
    struct ql_entry e[4];
    e[0] = entry_in(&c, &t, &a, 1, "live");
    e[1] = entry_in(&c, &t, &a, 2, "deleted");
    e[2] = entry_in(&c, &t, &a, 3, "never written");
    e[3] = entry_in(&c, &t2, &a, 4, "other team");
    ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[0]), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[1]), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_insert(c.s, &c.cx, &e[3]), QL_OK);
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t.id, &e[1].id, c.now + 5), QL_OK);
    struct ql_entry wrong_team = e[3];
    wrong_team.team_id = t.id;
    const struct ql_entry *group[5] = {&e[0], &e[1], &e[2], &e[3], &wrong_team};
    int found[5] = {9, 9, 9, 9, 9};
    ASSERT_INT_EQ(ql_store_entries_exist_many(c.s, &c.cx, group, 5, found), QL_OK);
    ASSERT_INT_EQ(found[0], 1);
    ASSERT_INT_EQ(found[1], 1);
    ASSERT_INT_EQ(found[2], 0);
    ASSERT_INT_EQ(found[3], 1);
    ASSERT_INT_EQ(found[4], 0);
    cc_close(&c);
}

const struct ql_test contract_journal_tests[] = {
    TEST(test_entries_exist_many_finds_stored_ones),
    TEST(test_entries_insert_get_and_list_newest_first_in_pages),
    TEST(test_entries_update_a_locked_entry_and_soft_delete),
    TEST(test_prompts_global_and_own_oldest_first_by_category),
    TEST(test_idempotency_records_live_until_they_expire),
    TEST(test_idempotency_put_over_a_live_record_keeps_the_first),
};
const int contract_journal_ntests = QL_NTESTS(contract_journal_tests);
