/*
 * store_contract_rights.c - the store contract's cases for data rights (struct
 * ql_rights_ops; store_contract.h): the reads of an export, exports and their parts, and
 * erasure.  Reads that scan a whole table (deliveries, idempotency records) find rows of
 * other cases too, so these cases look only at their own.
 */
#include "contract/store_contract.h"
#include "store/store_rights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT(c) QL__RIGHTS((c)->s)
#define QL__HOOKS_OF(c) ((c)->s->ops->webhooks)

static struct ql_entry entry_by(struct cc *c, const struct ql_team *t, const struct ql_user *by,
                                const char *content)
{
    struct ql_entry e = {.id = cc_id(), .team_id = t->id, .has_author_user = 1};
    e.author_user = by->id;
    e.content = content;
    e.content_n = strlen(content);
    e.version = 1;
    e.created_ms = e.updated_ms = c->now;
    ASSERT_INT_EQ(ql_store_entries_insert(c->s, &c->cx, &e), QL_OK);
    return e;
}

/*
 * The entries an export reads end at QL_PAGE_CONTENT_MAX bytes of content as well as at
 * their limit: after the entry that reaches it (exactly or past it), with more set, and at
 * least one entry however large; every entry once, in order of id.
 */
static void test_rights_entry_pages_end_at_their_bytes_of_content(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    static const size_t sizes[5] = {QL_PAGE_CONTENT_MAX - 10, 10, 5, 2000000, 3};
    struct ql_entry e[5];
    char *text[5];
    for (int i = 0; i < 5; i++) { /* ids grow: the page's order is this one */
        text[i] = malloc(sizes[i] + 1);
        ASSERT_NOT_NULL(text[i]);
        memset(text[i], 'a' + i, sizes[i]);
        text[i][sizes[i]] = 0;
        e[i] = entry_by(&c, &t, &a, text[i]);
    }
    /* e0 and e1 reach the bytes exactly, e2 and e3 pass them, e4 is the last */
    static const int first[4] = {0, 2, 4, 5};
    struct ql_uuid after;
    for (int p = 0; p < 3; p++) {
        struct ql_entry *got;
        int n, more;
        ASSERT_INT_EQ(RT(&c)->entries(c.s, &c.cx, &a.id, p ? &after : NULL, 50, &got, &n, &more),
                      QL_OK);
        ASSERT_INT_EQ(n, first[p + 1] - first[p]);
        ASSERT_INT_EQ(more, p < 2);
        for (int i = 0; i < n && first[p] + i < 5; i++) {
            const struct ql_entry *want = &e[first[p] + i];
            ASSERT_ID_EQ(&got[i].id, &want->id);
            ASSERT_INT_EQ(got[i].content_n, want->content_n);
            ASSERT_MEM_EQ(got[i].content, want->content, want->content_n);
        }
        if (n > 0)
            after = got[n - 1].id;
    }
    for (int i = 0; i < 5; i++)
        free(text[i]);
    cc_close(&c);
}

/* What an export reads: account, memberships, entries, sessions, keys; in keyset pages. */
static void test_rights_reads_of_an_export(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t1 = cc_team(&c, "T1", &a), t2 = cc_team(&c, "T2", &b);
    ASSERT_INT_EQ(ql_store_members_insert(c.s, &c.cx, &t2.id, &a.id, QL_ROLE_VIEWER, c.now + 5),
                  QL_OK);
    struct ql_rights_account acct;
    ASSERT_INT_EQ(RT(&c)->account(c.s, &c.cx, &a.id, &acct), QL_OK);
    ASSERT_STR_EQ(acct.user.email, a.email);
    ASSERT_STR_EQ(acct.user.display_name, "A");
    ASSERT_STR_EQ(acct.user.password_hash, a.password_hash);
    ASSERT_TRUE(acct.oidc_issuer == NULL && acct.oidc_subject == NULL);
    /* memberships by team id, one page at a time, with the team's name and state */
    ASSERT_INT_EQ(ql_store_teams_remove(c.s, &c.cx, &t2.id, c.now + 9), QL_OK);
    struct ql_rights_membership *m;
    int n, more;
    ASSERT_INT_EQ(RT(&c)->memberships(c.s, &c.cx, &a.id, NULL, 1, &m, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&m[0].team_id, &t1.id);
    ASSERT_STR_EQ(m[0].team_name, "T1");
    ASSERT_INT_EQ(m[0].role, QL_ROLE_OWNER);
    ASSERT_INT_EQ(m[0].joined_ms, c.now);
    ASSERT_INT_EQ(m[0].team_deleted, 0);
    struct ql_uuid after = m[0].team_id;
    ASSERT_INT_EQ(RT(&c)->memberships(c.s, &c.cx, &a.id, &after, 5, &m, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 0);
    ASSERT_ID_EQ(&m[0].team_id, &t2.id);
    ASSERT_INT_EQ(m[0].role, QL_ROLE_VIEWER);
    ASSERT_INT_EQ(m[0].team_deleted, 1);
    /* entries by id, soft-deleted ones too, the user's only */
    struct ql_entry e1 = entry_by(&c, &t1, &a, "one"), e2 = entry_by(&c, &t2, &a, "two");
    entry_by(&c, &t2, &b, "not hers");
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t1.id, &e1.id, c.now + 3), QL_OK);
    struct ql_entry *e;
    ASSERT_INT_EQ(RT(&c)->entries(c.s, &c.cx, &a.id, NULL, 1, &e, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(more, 1);
    ASSERT_ID_EQ(&e[0].id, &e1.id);
    ASSERT_INT_EQ(e[0].deleted_ms, c.now + 3);
    after = e[0].id;
    ASSERT_INT_EQ(RT(&c)->entries(c.s, &c.cx, &a.id, &after, 5, &e, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&e[0].id, &e2.id);
    ASSERT_STR_EQ(e[0].content, "two");
    /* sessions */
    uint8_t d1[QL_DIGEST_LEN], d2[QL_DIGEST_LEN];
    cc_digest(d1);
    cc_digest(d2);
    struct ql_uuid s1 = cc_id(), s2 = cc_id();
    ASSERT_INT_EQ(
        ql_store_sessions_insert(c.s, &c.cx, d1, &s1, &a.id, c.now, c.now + 100, NULL, NULL),
        QL_OK);
    ASSERT_INT_EQ(
        ql_store_sessions_insert(c.s, &c.cx, d2, &s2, &b.id, c.now, c.now + 100, NULL, NULL),
        QL_OK);
    struct ql_rights_session *s;
    ASSERT_INT_EQ(RT(&c)->sessions(c.s, &c.cx, &a.id, NULL, 5, &s, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&s[0].id, &s1);
    ASSERT_INT_EQ(s[0].created_ms, c.now);
    ASSERT_INT_EQ(s[0].last_seen_ms, c.now);
    ASSERT_INT_EQ(s[0].expires_ms, c.now + 100);
    /* keys she made, revoked ones too */
    struct ql_api_key k = {.id = cc_id(),
                           .team_id = t1.id,
                           .name = "k",
                           .role = QL_ROLE_MEMBER,
                           .prefix = "qk_x",
                           .created_ms = c.now,
                           .expires_ms = c.now + 50};
    cc_digest(d1);
    ASSERT_INT_EQ(ql_store_api_keys_insert(c.s, &c.cx, &k, d1, &a.id), QL_OK);
    ASSERT_INT_EQ(ql_store_api_keys_revoke(c.s, &c.cx, &t1.id, &k.id, c.now + 7), QL_OK);
    struct ql_rights_key *keys;
    ASSERT_INT_EQ(RT(&c)->api_keys(c.s, &c.cx, &a.id, NULL, 5, &keys, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_ID_EQ(&keys[0].key.id, &k.id);
    ASSERT_ID_EQ(&keys[0].key.team_id, &t1.id);
    ASSERT_STR_EQ(keys[0].key.name, "k");
    ASSERT_STR_EQ(keys[0].key.prefix, "qk_x");
    ASSERT_INT_EQ(keys[0].key.expires_ms, c.now + 50);
    ASSERT_INT_EQ(keys[0].revoked_ms, c.now + 7);
    ASSERT_INT_EQ(RT(&c)->api_keys(c.s, &c.cx, &b.id, NULL, 5, &keys, &n, &more), QL_OK);
    ASSERT_INT_EQ(n, 0);
    cc_close(&c);
}

/* The audit rows of a user: as actor or as target, in (chain, seq) order, in pages. */
static void test_rights_audit_rows_of_a_user(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t = cc_team(&c, "T", &a);
    char aid[QL_UUID_STR_LEN + 1], bid[QL_UUID_STR_LEN + 1], actor[48], other[48];
    ql_uuid_format(&a.id, aid);
    ql_uuid_format(&b.id, bid);
    snprintf(actor, sizeof(actor), "User:%s", aid);
    snprintf(other, sizeof(other), "User:%s", bid);
    struct ql_audit_entry rows[4] = {
        {.id = cc_id(),
         .at_ms = c.now,
         .actor = actor,
         .action = "x.one",
         .target_type = "T",
         .target_id = ""},
        {.id = cc_id(),
         .at_ms = c.now,
         .actor = other,
         .action = "x.two",
         .target_type = "User",
         .target_id = aid},
        {.id = cc_id(),
         .at_ms = c.now,
         .actor = other,
         .action = "x.not",
         .target_type = "User",
         .target_id = bid},
        {.id = cc_id(),
         .at_ms = c.now,
         .actor = actor,
         .action = "x.three",
         .target_type = "T",
         .target_id = ""},
    };
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, &t.id, &rows[0]), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, NULL, &rows[1]), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, &t.id, &rows[2]), QL_OK);
    ASSERT_INT_EQ(ql_store_audit_append(c.s, &c.cx, &t.id, &rows[3]), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    char tid[QL_UUID_STR_LEN + 1], team_chain[48];
    ql_uuid_format(&t.id, tid);
    snprintf(team_chain, sizeof(team_chain), "team:%s", tid);
    /* page through everything that is hers: her three rows, in chain then sequence order */
    const char *want[3] = {"x.two", "x.one", "x.three"}; /* "account" < "team:..." */
    char chain[80] = "";
    int64_t seq = 0;
    int seen = 0, more = 1;
    while (more) {
        struct ql_rights_audit *r;
        int n;
        ASSERT_INT_EQ(
            RT(&c)->audit(c.s, &c.cx, actor, aid, chain[0] ? chain : NULL, seq, 1, &r, &n, &more),
            QL_OK);
        if (n == 0)
            break;
        ASSERT_INT_EQ(n, 1);
        ASSERT_TRUE(seen < 3);
        ASSERT_STR_EQ(r[0].e.action, want[seen]);
        ASSERT_INT_EQ(r[0].has_team, seen > 0);
        if (seen > 0)
            ASSERT_ID_EQ(&r[0].team_id, &t.id);
        if (seen == 0)
            ASSERT_STR_EQ(r[0].chain, "account");
        else
            ASSERT_STR_EQ(r[0].chain, team_chain);
        snprintf(chain, sizeof(chain), "%s", r[0].chain);
        seq = r[0].e.seq;
        seen++;
    }
    ASSERT_INT_EQ(seen, 3);
    cc_close(&c);
}

/* ---- exports ------------------------------------------------------------------------------- */

static struct ql_export export_in(struct cc *c, const struct ql_user *u, int64_t at)
{
    struct ql_export e = {.id = cc_id(), .user_id = u->id, .status = QL_EXPORT_PENDING};
    e.created_ms = c->now + at;
    e.expires_ms = c->now + at + 1000;
    ASSERT_INT_EQ(RT(c)->export_insert(c->s, &c->cx, &e), QL_OK);
    return e;
}

/* An export: state, parts in order, finish once, reset, purge, removal with its user. */
static void test_rights_exports_and_parts(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_export got;
    int pending, live;
    int64_t first;
    ASSERT_INT_EQ(RT(&c)->export_state(c.s, &c.cx, &a.id, c.now, &got, &pending, &live, &first),
                  QL_OK);
    ASSERT_INT_EQ(pending, 0);
    ASSERT_INT_EQ(live, 0);
    ASSERT_INT_EQ(first, 0);
    struct ql_export e = export_in(&c, &a, 0);
    ASSERT_INT_EQ(RT(&c)->export_state(c.s, &c.cx, &a.id, c.now, &got, &pending, &live, &first),
                  QL_OK);
    ASSERT_INT_EQ(pending, 1);
    ASSERT_INT_EQ(live, 1);
    ASSERT_INT_EQ(first, c.now + 1000);
    ASSERT_ID_EQ(&got.id, &e.id);
    ASSERT_INT_EQ(got.status, QL_EXPORT_PENDING);
    /* an expired pending export is neither pending nor live */
    ASSERT_INT_EQ(
        RT(&c)->export_state(c.s, &c.cx, &a.id, c.now + 1000, &got, &pending, &live, &first),
        QL_OK);
    ASSERT_INT_EQ(pending, 0);
    ASSERT_INT_EQ(live, 0);
    /* parts come back in order, in pages, as written (bytes of any kind a document holds) */
    const char *texts[3] = {"{\"a\":[", "\"\xc3\xa9\\\"\",", "1]}"};
    ASSERT_INT_EQ(RT(&c)->export_append(c.s, &c.cx, &e.id, 1, texts[1], strlen(texts[1])), QL_OK);
    ASSERT_INT_EQ(RT(&c)->export_append(c.s, &c.cx, &e.id, 0, texts[0], strlen(texts[0])), QL_OK);
    ASSERT_INT_EQ(RT(&c)->export_append(c.s, &c.cx, &e.id, 2, texts[2], 2), QL_OK);
    struct ql_export_part *p;
    int n;
    ASSERT_INT_EQ(RT(&c)->export_parts(c.s, &c.cx, &e.id, -1, 2, &p, &n), QL_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_INT_EQ(p[0].part, 0);
    ASSERT_STR_EQ(p[0].data, texts[0]);
    ASSERT_INT_EQ(p[1].part, 1);
    ASSERT_INT_EQ(p[1].n, strlen(texts[1]));
    ASSERT_STR_EQ(p[1].data, texts[1]);
    ASSERT_INT_EQ(RT(&c)->export_parts(c.s, &c.cx, &e.id, 1, 2, &p, &n), QL_OK);
    ASSERT_INT_EQ(n, 1);
    ASSERT_INT_EQ(p[0].n, 2);
    ASSERT_STR_EQ(p[0].data, "1]");
    /* finished once; then it is no longer pending */
    struct ql_export done = e;
    done.status = QL_EXPORT_FAILED;
    done.error = "too big";
    done.bytes = 42;
    done.ready_ms = c.now + 5;
    done.expires_ms = c.now + 2000;
    ASSERT_INT_EQ(RT(&c)->export_finish(c.s, &c.cx, &done), QL_OK);
    CC_FAILS(&c, RT(&c)->export_finish(c.s, &c.cx, &done), QL_ENOT_FOUND);
    ASSERT_INT_EQ(RT(&c)->export_get(c.s, &c.cx, &e.id, &got), QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_FAILED);
    ASSERT_STR_EQ(got.error, "too big");
    ASSERT_INT_EQ(got.bytes, 42);
    ASSERT_INT_EQ(got.created_ms, c.now);
    ASSERT_INT_EQ(got.ready_ms, c.now + 5);
    ASSERT_INT_EQ(got.expires_ms, c.now + 2000);
    ASSERT_ID_EQ(&got.user_id, &a.id);
    ASSERT_INT_EQ(RT(&c)->export_reset(c.s, &c.cx, &e.id), QL_OK);
    ASSERT_INT_EQ(RT(&c)->export_parts(c.s, &c.cx, &e.id, -1, 5, &p, &n), QL_OK);
    ASSERT_INT_EQ(n, 0);
    /* purge by expiry, parts with them; removal of a user's */
    struct ql_export e2 = export_in(&c, &a, 10), e3 = export_in(&c, &a, 5000);
    ASSERT_INT_EQ(RT(&c)->export_append(c.s, &c.cx, &e2.id, 0, "x", 1), QL_OK);
    int64_t gone = 0;
    ASSERT_INT_EQ(RT(&c)->exports_purge(c.s, &c.cx, c.now + 2000, &gone), QL_OK);
    ASSERT_TRUE(gone >= 2); /* e and e2 (and any other case's that expired) */
    CC_FAILS(&c, RT(&c)->export_get(c.s, &c.cx, &e2.id, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(RT(&c)->export_parts(c.s, &c.cx, &e2.id, -1, 5, &p, &n), QL_OK);
    ASSERT_INT_EQ(n, 0);
    ASSERT_INT_EQ(RT(&c)->export_get(c.s, &c.cx, &e3.id, &got), QL_OK);
    ASSERT_INT_EQ(RT(&c)->exports_remove_user(c.s, &c.cx, &a.id, &gone), QL_OK);
    ASSERT_INT_EQ(gone, 1);
    CC_FAILS(&c, RT(&c)->export_get(c.s, &c.cx, &e3.id, &got), QL_ENOT_FOUND);
    cc_close(&c);
}

/* ---- erasure ------------------------------------------------------------------------------- */

/* A user erased: found no more, its email back once, its address free; its entries deleted. */
static void test_rights_erase_user_and_entries(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A"), b = cc_user(&c, "B");
    struct ql_team t = cc_team(&c, "T", &b);
    const char *email = NULL;
    ASSERT_INT_EQ(RT(&c)->erase_user(c.s, &c.cx, &a.id, c.now + 1, &email), QL_OK);
    ASSERT_STR_EQ(email, a.email);
    struct ql_user u;
    CC_FAILS(&c, ql_store_users_by_id(c.s, &c.cx, &a.id, &u), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_users_by_email(c.s, &c.cx, a.email, &u), QL_ENOT_FOUND);
    struct ql_rights_account acct;
    CC_FAILS(&c, RT(&c)->account(c.s, &c.cx, &a.id, &acct), QL_ENOT_FOUND);
    CC_FAILS(&c, RT(&c)->erase_user(c.s, &c.cx, &a.id, c.now + 2, &email), QL_ENOT_FOUND);
    /* an erased user joins no team (a member add that found them before the erasure) */
    CC_FAILS(&c, ql_store_members_insert(c.s, &c.cx, &t.id, &a.id, QL_ROLE_MEMBER, c.now + 2),
             QL_ENOT_FOUND);
    struct ql_team late = {.id = cc_id(), .name = "late", .created_ms = c.now + 2};
    late.updated_ms = late.created_ms;
    CC_FAILS(&c, ql_store_teams_insert(c.s, &c.cx, &late, &a.id), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_teams_get(c.s, &c.cx, &late.id, &late), QL_ENOT_FOUND);
    struct ql_user again = {.id = cc_id(),
                            .email = a.email,
                            .display_name = "A again",
                            .created_ms = c.now,
                            .updated_ms = c.now};
    ASSERT_INT_EQ(ql_store_users_insert(c.s, &c.cx, &again, NULL, NULL), QL_OK);
    /* entries: a page at a time, each saying whether it was live */
    struct ql_entry e1 = entry_by(&c, &t, &b, "one"), e2 = entry_by(&c, &t, &b, "two");
    struct ql_entry keep = entry_by(&c, &t, &again, "not his");
    ASSERT_INT_EQ(ql_store_entries_remove(c.s, &c.cx, &t.id, &e2.id, c.now + 3), QL_OK);
    struct ql_erased_entry *x;
    int n, all = 0, live = 0;
    for (int round = 0; round < 3; round++) {
        ASSERT_INT_EQ(RT(&c)->erase_entries(c.s, &c.cx, &b.id, 1, &x, &n), QL_OK);
        ASSERT_TRUE(n <= 1);
        for (int i = 0; i < n; i++) {
            ASSERT_ID_EQ(&x[i].team_id, &t.id);
            ASSERT_TRUE(memcmp(x[i].id.b, e1.id.b, 16) == 0 || memcmp(x[i].id.b, e2.id.b, 16) == 0);
            live += x[i].was_live;
            ASSERT_INT_EQ(x[i].was_live, memcmp(x[i].id.b, e1.id.b, 16) == 0);
        }
        all += n;
    }
    ASSERT_INT_EQ(all, 2);
    ASSERT_INT_EQ(live, 1);
    struct ql_entry got;
    CC_FAILS(&c, ql_store_entries_get(c.s, &c.cx, &t.id, &e1.id, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_entries_get(c.s, &c.cx, &t.id, &keep.id, &got), QL_OK);
    cc_close(&c);
}

/* Webhook bodies and stored responses that hold a mark go; the others stay. */
static void test_rights_scrub_deliveries_and_idempotency(void)
{
    struct cc c;
    cc_open(&c);
    struct ql_user a = cc_user(&c, "A");
    struct ql_team t = cc_team(&c, "T", &a);
    static const uint8_t secret[] = {1, 2, 3};
    struct ql_webhook w = {.id = cc_id(),
                           .team_id = t.id,
                           .url = "https://x.example.com",
                           .description = "",
                           .nevents = 1,
                           .events = {"member.added"},
                           .created_ms = c.now};
    ASSERT_INT_EQ(QL__HOOKS_OF(&c)->insert(c.s, &c.cx, &w, secret, sizeof(secret)), QL_OK);
    const char *mark = cc_unique(&c, "mark"), *other = cc_unique(&c, "other");
    const char *bodies[4] = {
        ql_arena_sprintf(&c.arena, "{\"a\":\"%s\"}", mark),
        ql_arena_sprintf(&c.arena, "{\"b\":\"%s\"}", other),
        ql_arena_sprintf(&c.arena, "{\"c\":\"x%sx\"}", mark),
        "{}",
    };
    struct ql_uuid after = cc_id(), last; /* ids of one process grow: ours come next */
    struct ql_delivery d[4];
    for (int i = 0; i < 4; i++)
        d[i] = (struct ql_delivery){.id = cc_id(),
                                    .webhook_id = w.id,
                                    .team_id = t.id,
                                    .event = "member.added",
                                    .body = bodies[i],
                                    .created_ms = c.now};
    ASSERT_INT_EQ(ql_store_begin(c.s, &c.cx), QL_OK);
    ASSERT_INT_EQ(QL__HOOKS_OF(&c)->deliveries_add(c.s, &c.cx, d, 4), QL_OK);
    ASSERT_INT_EQ(ql_store_commit(c.s, &c.cx), QL_OK);
    for (int i = 0; i < 2; i++) { /* an attempt of one that goes and of one that stays */
        struct ql_delivery_attempt at = {.delivery_id = d[i].id,
                                         .webhook_id = w.id,
                                         .team_id = t.id,
                                         .attempt = 1,
                                         .response_status = 500,
                                         .error = "HTTP 500",
                                         .at_ms = c.now + i};
        int failures;
        ASSERT_INT_EQ(QL__HOOKS_OF(&c)->attempt_add(c.s, &c.cx, &at, 0, &failures), QL_OK);
    }
    /* from just before the first of ours, two at a time: the positions move on */
    int scanned, deleted;
    ASSERT_INT_EQ(RT(&c)->scrub_deliveries(c.s, &c.cx, &after, 2, mark, "no such thing", &last,
                                           &scanned, &deleted),
                  QL_OK);
    ASSERT_INT_EQ(scanned, 2);
    ASSERT_INT_EQ(deleted, 1);
    ASSERT_ID_EQ(&last, &d[1].id);
    ASSERT_INT_EQ(RT(&c)->scrub_deliveries(c.s, &c.cx, &last, 2, "no such thing", mark, &last,
                                           &scanned, &deleted),
                  QL_OK);
    ASSERT_INT_EQ(scanned, 2);
    ASSERT_INT_EQ(deleted, 1);
    ASSERT_ID_EQ(&last, &d[3].id);
    struct ql_delivery dg;
    struct ql_webhook wg;
    int gone_hook;
    uint8_t *sec;
    size_t sec_n;
    CC_FAILS(&c, QL__HOOKS_OF(&c)->target(c.s, &c.cx, &d[0].id, &dg, &wg, &gone_hook, &sec, &sec_n),
             QL_ENOT_FOUND);
    ASSERT_INT_EQ(
        QL__HOOKS_OF(&c)->target(c.s, &c.cx, &d[1].id, &dg, &wg, &gone_hook, &sec, &sec_n), QL_OK);
    /* a scrubbed delivery's attempts go with it (ON DELETE CASCADE) */
    struct ql_delivery_attempt *at;
    int nat, more;
    ASSERT_INT_EQ(QL__HOOKS_OF(&c)->attempts(c.s, &c.cx, &t.id, &w.id, NULL, 10, &at, &nat, &more),
                  QL_OK);
    ASSERT_INT_EQ(nat, 1);
    ASSERT_ID_EQ(&at[0].delivery_id, &d[1].id);
    /* idempotency records: a scope's go at once; others one by one, found in key order */
    const char *s1 = cc_unique(&c, "scope"), *s2 = cc_unique(&c, "scope");
    struct ql_idem_record r = {.status = 200, .created_ms = c.now, .expires_ms = c.now + 1000};
    r.sealed = (const uint8_t *)"sealed";
    r.sealed_n = 6;
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, s1, "k1", &r), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, s1, "k2", &r), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, s2, "k2", &r), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(c.s, &c.cx, s2, "k1", &r), QL_OK);
    struct ql_idem_row *rows;
    int n, more_idem;
    ASSERT_INT_EQ(RT(&c)->idem_page(c.s, &c.cx, s1, "", 3, &rows, &n, &more_idem), QL_OK);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(more_idem, 1); /* (s2, k2) follows */
    ASSERT_STR_EQ(rows[0].scope, s1);
    ASSERT_STR_EQ(rows[0].key, "k1");
    ASSERT_STR_EQ(rows[1].key, "k2");
    ASSERT_STR_EQ(rows[2].scope, s2);
    ASSERT_STR_EQ(rows[2].key, "k1");
    ASSERT_INT_EQ(rows[2].r.status, 200);
    ASSERT_INT_EQ(rows[2].r.sealed_n, 6);
    ASSERT_MEM_EQ(rows[2].r.sealed, "sealed", 6);
    int64_t gone;
    ASSERT_INT_EQ(RT(&c)->idem_remove_scope(c.s, &c.cx, s1, &gone), QL_OK);
    ASSERT_INT_EQ(gone, 2);
    ASSERT_INT_EQ(RT(&c)->idem_remove(c.s, &c.cx, s2, "k1"), QL_OK);
    struct ql_idem_record got;
    CC_FAILS(&c, ql_store_idem_get(c.s, &c.cx, s1, "k1", c.now, &got), QL_ENOT_FOUND);
    CC_FAILS(&c, ql_store_idem_get(c.s, &c.cx, s2, "k1", c.now, &got), QL_ENOT_FOUND);
    ASSERT_INT_EQ(ql_store_idem_get(c.s, &c.cx, s2, "k2", c.now, &got), QL_OK);
    cc_close(&c);
}

const struct ql_test contract_rights_tests[] = {
    TEST(test_rights_reads_of_an_export),
    TEST(test_rights_entry_pages_end_at_their_bytes_of_content),
    TEST(test_rights_audit_rows_of_a_user),
    TEST(test_rights_exports_and_parts),
    TEST(test_rights_erase_user_and_entries),
    TEST(test_rights_scrub_deliveries_and_idempotency),
};
const int contract_rights_ntests = QL_NTESTS(contract_rights_tests);
