/* Unit tests of journal entries and prompts against the fakes. */
#include "account/account.h"
#include "changes/changes.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "group/group.h"
#include "prompt/prompt.h"
#include "team/team.h"
#include "tx/tx.h"
#include "test.h"

struct world {
    struct fixture f;
    struct ql_auth_result owner, member, viewer;
    struct ql_principal po, pm, pv;
    struct ql_team team;
};

static void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static void person(struct world *w, const char *email, struct ql_auth_result *r)
{
    struct ql_credentials c = {email, strlen(email), "correct horse battery", 21, "P", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, r), QL_OK);
    fixture_next(&w->f);
}

static void resolve(struct world *w, struct ql_auth_result *r, struct ql_principal *p)
{
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, r->session.token, 46, QL_VIA_BEARER, p), QL_OK);
}

static void setup(struct world *w)
{
    fixture_init(&w->f);
    person(w, "own@example.com", &w->owner);
    person(w, "mem@example.com", &w->member);
    person(w, "vie@example.com", &w->viewer);
    resolve(w, &w->owner, &w->po);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "T", 1, &w->team), QL_OK);
    struct ql_member m;
    resolve(w, &w->owner, &w->po);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "mem@example.com", 15, "member", 6, &m),
                  QL_OK);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "vie@example.com", 15, "viewer", 6, &m),
                  QL_OK);
    resolve(w, &w->member, &w->pm);
    resolve(w, &w->viewer, &w->pv);
}

static struct ql_entry_input text(const char *s)
{
    struct ql_entry_input in = {s, strlen(s), 0, NULL, 0};
    return in;
}

static void test_create_writes_entry_audit_and_event_together(void)
{
    struct world w;
    setup(&w);
    as(&w, &w.pm);
    struct ql_entry e;
    struct ql_entry_input in = text("Dear diary");
    int audits = w.f.store.naudit, changes = w.f.store.nchanges;
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    ASSERT_INT_EQ(e.version, 1);
    ASSERT_TRUE(e.has_author_user && !e.has_author_key);
    ASSERT_MEM_EQ(e.author_user.b, w.member.user.id.b, 16);
    ASSERT_INT_EQ(e.created_ms, T0);
    ASSERT_INT_EQ(w.f.store.nentries, 1);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    ASSERT_STR_EQ(w.f.store.audit[audits].e.action, "journal_entry.create");
    ASSERT_INT_EQ(w.f.store.nchanges, changes + 1);
    const struct fake_change *c = &w.f.store.changes[changes];
    ASSERT_INT_EQ(c->event, QL_EVENT_ENTRY_CREATED);
    ASSERT_MEM_EQ(c->team.b, w.team.id.b, 16);
    ASSERT_MEM_EQ(c->id.b, e.id.b, 16);
    ASSERT_INT_EQ(c->in_tx, 1);
    fixture_cleanup(&w.f);
}

/*
 * A group port for tests: the items in `waiting` stand for creations joined by other
 * threads; the next join writes them together with its own item, as a leader would.
 */
struct test_group {
    struct ql_group base;
    struct ql_group_item *waiting[4];
    int nwaiting;
    int joins;
    int last_n;
};

static int tg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    struct test_group *g = (struct test_group *)self;
    struct ql_group_item *batch[5];
    int n = 0;
    for (int i = 0; i < g->nwaiting; i++)
        batch[n++] = g->waiting[i];
    batch[n++] = item;
    g->nwaiting = 0;
    g->joins++;
    g->last_n = n;
    write(cx, batch, n);
    return item->rc;
}

static const struct ql_group_ops tg_ops = {tg_join};

/* An entry another thread prepared: what ql_entry_create hands to the group. */
static void peer_entry(struct ql_entry *e, const struct ql_uuid *team, const struct ql_uuid *user,
                       uint8_t id, const char *content)
{
    memset(e, 0, sizeof(*e));
    ql_uuid7_from(&e->id, T0, (const uint8_t[10]){id});
    e->team_id = *team;
    e->has_author_user = 1;
    e->author_user = *user;
    e->content = content;
    e->content_n = strlen(content);
    e->version = 1;
    e->created_ms = e->updated_ms = T0;
}

static void test_group_writes_concurrent_creations_in_one_transaction(void)
{
    struct world w;
    setup(&w);
    struct ql_team other;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_team_create(&w.f.cx, "U", 1, &other), QL_OK);
    resolve(&w, &w.owner, &w.po);
    struct test_group g = {.base = {&tg_ops}};
    w.f.cx.ports.group = &g.base;
    /* Two creations by the owner, in the other team and in ours, wait for a leader. */
    struct ql_ctx peer = w.f.cx;
    peer.principal = &w.po;
    memcpy(peer.trace_id, "fedcba9876543210fedcba9876543210", 33);
    struct ql_entry e1, e2, mine;
    peer_entry(&e1, &other.id, &w.owner.user.id, 1, "first \"quoted\" \\ one");
    peer_entry(&e2, &w.team.id, &w.owner.user.id, 2, "second");
    struct ql_group_item i1 = {.cx = &peer, .arg = &e1}, i2 = {.cx = &peer, .arg = &e2};
    /* The greater team first, so that only sorting puts the rows in team order. */
    int other_first = memcmp(other.id.b, w.team.id.b, 16) > 0;
    g.waiting[g.nwaiting++] = other_first ? &i1 : &i2;
    g.waiting[g.nwaiting++] = other_first ? &i2 : &i1;
    int entries = w.f.store.nentries, audits = w.f.store.naudit, changes = w.f.store.nchanges;
    as(&w, &w.pm);
    struct ql_entry_input in = text("mine");
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(g.joins, 1);
    ASSERT_INT_EQ(g.last_n, 3);
    ASSERT_INT_EQ(i1.rc, QL_OK);
    ASSERT_INT_EQ(i2.rc, QL_OK);
    ASSERT_INT_EQ(w.f.store.nentries, entries + 3);
    ASSERT_INT_EQ(w.f.store.nchanges, changes + 3); /* one statement, in the transaction */
    for (int i = changes; i < changes + 3; i++) {
        ASSERT_INT_EQ(w.f.store.changes[i].in_tx, 1);
        ASSERT_INT_EQ(w.f.store.changes[i].event, QL_EVENT_ENTRY_CREATED);
        ASSERT_TRUE(w.f.store.changes[i].pos.txid == w.f.store.changes[changes].pos.txid);
    }
    ASSERT_INT_EQ(w.f.store.naudit, audits + 3);
    /* Audit rows in team order (what keeps concurrent groups from deadlocking), each with
     * the actor of its own request. */
    int owner_rows = 0, member_rows = 0;
    char owner_actor[64], member_actor[64];
    ql_principal_actor(&w.po, owner_actor, sizeof(owner_actor));
    ql_principal_actor(&w.pm, member_actor, sizeof(member_actor));
    for (int i = audits; i < audits + 3; i++) {
        const struct fake_audit *a = &w.f.store.audit[i];
        ASSERT_STR_EQ(a->e.action, "journal_entry.create");
        ASSERT_INT_EQ(a->in_tx, 1);
        if (i > audits)
            ASSERT_TRUE(memcmp(w.f.store.audit[i - 1].team.b, a->team.b, 16) <= 0);
        owner_rows += strcmp(a->e.actor, owner_actor) == 0;
        member_rows += strcmp(a->e.actor, member_actor) == 0;
    }
    ASSERT_INT_EQ(owner_rows, 2);
    ASSERT_INT_EQ(member_rows, 1);
    fixture_cleanup(&w.f);
}

static void test_group_that_fails_leaves_nothing_and_each_writes_alone(void)
{
    struct world w;
    setup(&w);
    struct test_group g = {.base = {&tg_ops}};
    w.f.cx.ports.group = &g.base;
    struct ql_ctx peer = w.f.cx;
    peer.principal = &w.po;
    struct ql_entry e1, mine;
    peer_entry(&e1, &w.team.id, &w.owner.user.id, 1, "peer");
    struct ql_group_item i1 = {.cx = &peer, .arg = &e1};
    g.waiting[g.nwaiting++] = &i1;
    int entries = w.f.store.nentries, audits = w.f.store.naudit, changes = w.f.store.nchanges;
    as(&w, &w.pm);
    w.f.store.fail_call = 3; /* BEGIN, the entries, then the audit rows fail */
    struct ql_entry_input in = text("mine");
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &mine), QL_OK);
    ASSERT_INT_EQ(w.f.store.fail_hits, 1);
    ASSERT_INT_EQ(g.last_n, 2);
    ASSERT_INT_EQ(i1.rc, QL_ERETRY); /* its own thread writes it again, alone */
    ASSERT_INT_EQ(w.f.cx.err.code, QL_OK);
    /* Only the joiner's entry, written alone after the group rolled back. */
    ASSERT_INT_EQ(w.f.store.nentries, entries + 1);
    ASSERT_MEM_EQ(w.f.store.entries[entries].e.id.b, mine.id.b, 16);
    ASSERT_INT_EQ(w.f.store.naudit, audits + 1);
    ASSERT_INT_EQ(w.f.store.nchanges, changes + 1);
    fixture_cleanup(&w.f);
}

static int no_hook(struct ql_ctx *cx, void *ud)
{
    (void)cx;
    (void)ud;
    return QL_OK;
}

static void test_creation_with_hooks_is_not_grouped(void)
{
    struct world w;
    setup(&w);
    struct test_group g = {.base = {&tg_ops}};
    w.f.cx.ports.group = &g.base;
    struct ql_tx_hooks hooks = {no_hook, no_hook, NULL, 0};
    as(&w, &w.pm);
    w.f.cx.tx = &hooks; /* an idempotency record shares this request's transaction */
    struct ql_entry e;
    struct ql_entry_input in = text("keyed");
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    ASSERT_INT_EQ(g.joins, 0);
    ASSERT_INT_EQ(hooks.committed, 1);
    w.f.cx.tx = NULL;
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    ASSERT_INT_EQ(g.joins, 1);
    ASSERT_INT_EQ(g.last_n, 1);
    fixture_cleanup(&w.f);
}

static void test_create_rules(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e;
    struct ql_entry_input in = text("x");
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_EFORBIDDEN);
    struct ql_uuid other = {{1}};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &other, &in, &e), QL_ENOT_FOUND);
    struct ql_entry_input empty = text("");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &empty, &e), QL_EVALIDATION);
    static char big[QL_ENTRY_MAX_CHARS + 2];
    memset(big, 'a', QL_ENTRY_MAX_CHARS + 1);
    struct ql_entry_input too_long = {big, QL_ENTRY_MAX_CHARS + 1, 0, NULL, 0};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &too_long, &e), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "too_long");
    struct ql_entry_input exact = {big, QL_ENTRY_MAX_CHARS, 0, NULL, 0};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &exact, &e), QL_OK);
    struct ql_entry_input bad_utf8 = {"\xff\xfe", 2, 0, NULL, 0};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &bad_utf8, &e), QL_EVALIDATION);
    struct ql_entry_input nul = {"a\0b", 3, 0, NULL, 0};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &nul, &e), QL_EVALIDATION);
    struct ql_entry_input bad_prompt = {"x", 1, 1, "01a22e21-c682-73c6-8d7f-e0cd0688b7b4", 36};
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &bad_prompt, &e), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "promptId");
    fixture_cleanup(&w.f);
}

static void test_etags_and_preconditions(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e, got;
    struct ql_entry_input in = text("v1");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get(&w.f.cx, &w.team.id, &e.id, "\"1\"", 3, &got), QL_ENOT_MODIFIED);
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get(&w.f.cx, &w.team.id, &e.id, "W/\"1\", \"9\"", 10, &got),
                  QL_ENOT_MODIFIED);
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get(&w.f.cx, &w.team.id, &e.id, "\"2\"", 3, &got), QL_OK);
    struct ql_entry_input v2 = text("v2");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &e.id, &v2, "\"7\"", 3, &got),
                  QL_EPRECONDITION);
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &e.id, &v2, "\"1\"", 3, &got), QL_OK);
    ASSERT_INT_EQ(got.version, 2);
    /* the clock has not moved since the entry was created: one millisecond later still */
    ASSERT_INT_EQ(got.updated_ms, e.updated_ms + 1);
    /* the old ETag no longer matches */
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &e.id, "\"1\"", 3), QL_EPRECONDITION);
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &e.id, "*", 1), QL_OK);
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get(&w.f.cx, &w.team.id, &e.id, NULL, 0, &got), QL_ENOT_FOUND);
    fixture_cleanup(&w.f);
}

static void test_author_or_admin_edits(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e, got;
    struct ql_entry_input in = text("mine");
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    struct ql_entry_input edit = text("not yours");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &e.id, &edit, NULL, 0, &got), QL_EFORBIDDEN);
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &e.id, NULL, 0), QL_EFORBIDDEN);
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    as(&w, &w.po); /* owners (and admins) may edit anyone's */
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &e.id, &edit, NULL, 0, &got), QL_OK);
    struct ql_entry_input nothing = {NULL, 0, 0, NULL, 0};
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_entry_update(&w.f.cx, &w.team.id, &e.id, &nothing, NULL, 0, &got),
                  QL_EVALIDATION);
    fixture_cleanup(&w.f);
}

static void test_pages_and_filters(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e;
    for (int i = 0; i < 7; i++) {
        struct ql_entry_input in = text("entry");
        as(&w, i % 2 ? &w.po : &w.pm);
        fake_clock_advance(&w.f.clock, 1000);
        ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    }
    struct ql_entry_filter f = {.limit = 3};
    struct ql_entry_page pg;
    int total = 0, pages = 0;
    const char *next = NULL;
    do {
        as(&w, &w.pv);
        f.cursor = next;
        f.cursor_n = next ? strlen(next) : 0;
        ASSERT_INT_EQ(ql_entry_list(&w.f.cx, &w.team.id, &f, &pg), QL_OK);
        ASSERT_INT_EQ(pg.n, pages < 2 ? 3 : 1);
        next = pg.next;
        /* newest first: entry i was created at T0 + 1000 * (i + 1) */
        for (int i = 0; i < pg.n; i++, total++)
            ASSERT_INT_EQ(pg.items[i].created_ms, T0 + 1000 * (7 - total));
        pages++;
    } while (next);
    ASSERT_INT_EQ(pages, 3);
    ASSERT_INT_EQ(total, 7);
    char author[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&w.member.user.id, author);
    struct ql_entry_filter by = {.limit = 50, .author = author, .author_n = 36};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_list(&w.f.cx, &w.team.id, &by, &pg), QL_OK);
    ASSERT_INT_EQ(pg.n, 4);
    struct ql_entry_filter bad = {.limit = 50, .author = "nope", .author_n = 4};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_list(&w.f.cx, &w.team.id, &bad, &pg), QL_EVALIDATION);
    struct ql_entry_filter badc = {.limit = 50, .cursor = "AAAA", .cursor_n = 4};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_list(&w.f.cx, &w.team.id, &badc, &pg), QL_EVALIDATION);
    fixture_cleanup(&w.f);
}

static void test_prompts(void)
{
    struct world w;
    setup(&w);
    struct ql_prompt global = {.text = "Global?", .category = "reflection", .created_ms = 1};
    global.id.b[0] = 7;
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_store_prompts_insert(&w.f.store.base, &w.f.cx, &global), QL_OK);
    struct ql_prompt p;
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_prompt_create(&w.f.cx, &w.team.id, "Q?", 2, "goals", 5, &p), QL_EFORBIDDEN);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_prompt_create(&w.f.cx, &w.team.id, "Q?", 2, "goals", 5, &p), QL_OK);
    struct ql_prompt *items;
    int n;
    const char *next;
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_prompt_list(&w.f.cx, &w.team.id, NULL, 0, NULL, 0, 50, &items, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 2);
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_prompt_list(&w.f.cx, &w.team.id, "goals", 5, NULL, 0, 50, &items, &n, &next),
                  QL_OK);
    ASSERT_INT_EQ(n, 1);
    /* an entry may use the team's prompt and a global one */
    char pid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&p.id, pid);
    struct ql_entry_input in = {"x", 1, 1, pid, 36};
    struct ql_entry e;
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    ASSERT_TRUE(e.has_prompt);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_prompt_delete(&w.f.cx, &w.team.id, &global.id), QL_EFORBIDDEN);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_prompt_delete(&w.f.cx, &w.team.id, &p.id), QL_OK);
    as(&w, &w.po);
    ASSERT_INT_EQ(ql_prompt_delete(&w.f.cx, &w.team.id, &p.id), QL_ENOT_FOUND);
    fixture_cleanup(&w.f);
}

static void test_etag_matching(void)
{
    ASSERT_TRUE(ql_etag_matches("\"3\"", 3, "\"3\"", 0));
    ASSERT_TRUE(ql_etag_matches(" \"1\" , \"3\"", 10, "\"3\"", 0));
    ASSERT_TRUE(ql_etag_matches("*", 1, "\"3\"", 0));
    ASSERT_TRUE(!ql_etag_matches("W/\"3\"", 5, "\"3\"", 0));
    ASSERT_TRUE(ql_etag_matches("W/\"3\"", 5, "\"3\"", 1));
    ASSERT_TRUE(!ql_etag_matches("\"33\"", 4, "\"3\"", 1));
    ASSERT_TRUE(!ql_etag_matches("", 0, "\"3\"", 1));
    /* the whitespace around list members (OWS) is spaces and tabs */
    ASSERT_TRUE(ql_etag_matches("\"1\",\t\"3\"\t", 9, "\"3\"", 0));
    ASSERT_TRUE(ql_etag_matches("\tW/\"3\" ", 7, "\"3\"", 1));
}

/* A store that answers entry reads later, as an event loop's session does. */
struct later {
    struct ql_store *store;
    struct ql_ctx *cx;
    struct ql_uuid team, id;
    struct ql_entry *out;
    ql_done_fn done;
    void *arg;
    int asked;
    int refuse; /* answer the next call with this error now */
};
static struct later later;

static int get_later(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     const struct ql_uuid *id, struct ql_entry *out, ql_done_fn done, void *arg)
{
    if (later.refuse) {
        int rc = later.refuse;
        later.refuse = 0;
        return rc;
    }
    later = (struct later){self, cx, *team, *id, out, done, arg, later.asked + 1, 0};
    return QL_OK;
}

static void answer_later(void)
{
    later.done(
        later.cx,
        later.store->ops->entries->get(later.store, later.cx, &later.team, &later.id, later.out),
        later.arg);
}

struct got {
    int calls, rc;
};

static void record(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct got *g = arg;
    g->calls++;
    g->rc = rc;
}

static void test_get_async_answers_once_when_the_store_does(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e, got;
    struct ql_entry_input in = text("later");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    struct ql_auth_result out;
    struct ql_principal po;
    person(&w, "out@example.com", &out);
    resolve(&w, &out, &po);
    struct ql_entries_ops ops = *w.f.store.ops.entries;
    ops.get_async = get_later;
    w.f.store.ops.entries = &ops;
    memset(&later, 0, sizeof(later));
    /* the read waits for the store; the ETag is checked when the row comes */
    struct got g = {0};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &e.id, "\"1\"", 3, &got, record, &g),
                  QL_OK);
    ASSERT_INT_EQ(later.asked, 1);
    ASSERT_INT_EQ(g.calls, 0);
    answer_later();
    ASSERT_INT_EQ(g.calls, 1);
    ASSERT_INT_EQ(g.rc, QL_ENOT_MODIFIED);
    ASSERT_MEM_EQ(got.id.b, e.id.b, 16);
    /* a missing entry gets the use case's message */
    struct ql_uuid other = e.id;
    other.b[15] ^= 1;
    g = (struct got){0};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &other, NULL, 0, &got, record, &g),
                  QL_OK);
    answer_later();
    ASSERT_INT_EQ(g.rc, QL_ENOT_FOUND);
    ASSERT_STR_EQ(w.f.cx.err.msg, "No such journal entry.");
    /* someone outside the team is refused at once: the store is never asked, and the
     * continuation never runs */
    g = (struct got){0};
    as(&w, &po);
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &e.id, NULL, 0, &got, record, &g),
                  QL_ENOT_FOUND);
    ASSERT_INT_EQ(g.calls, 0);
    ASSERT_INT_EQ(later.asked, 2);
    /* a store that cannot take the read refuses now, and the caller sees it unchanged */
    g = (struct got){0};
    as(&w, &w.pv);
    later.refuse = QL_EWOULD_BLOCK;
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &e.id, NULL, 0, &got, record, &g),
                  QL_EWOULD_BLOCK);
    ASSERT_INT_EQ(g.calls, 0);
    /* a read that failed where it ran answers later, and the caller sees that unchanged */
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &e.id, NULL, 0, &got, record, &g), QL_OK);
    later.done(later.cx, QL_EWOULD_BLOCK, later.arg);
    ASSERT_INT_EQ(g.calls, 1);
    ASSERT_INT_EQ(g.rc, QL_EWOULD_BLOCK);
    fixture_cleanup(&w.f);
}

/* A store without get_async: the wrapper runs get and the answer still comes later. */
static void test_get_async_over_a_store_that_answers_at_once_defers(void)
{
    struct world w;
    setup(&w);
    struct ql_entry e, got;
    struct ql_entry_input in = text("now");
    as(&w, &w.pm);
    ASSERT_INT_EQ(ql_entry_create(&w.f.cx, &w.team.id, &in, &e), QL_OK);
    struct got g = {0};
    as(&w, &w.pv);
    ASSERT_INT_EQ(ql_entry_get_async(&w.f.cx, &w.team.id, &e.id, NULL, 0, &got, record, &g), QL_OK);
    ASSERT_INT_EQ(g.calls, 0); /* not inside the call */
    ASSERT_INT_EQ(ql_ctx_run_deferred(&w.f.cx), 1);
    ASSERT_INT_EQ(g.calls, 1);
    ASSERT_INT_EQ(g.rc, QL_OK);
    ASSERT_MEM_EQ(got.id.b, e.id.b, 16);
    ASSERT_INT_EQ(ql_ctx_run_deferred(&w.f.cx), 0);
    fixture_cleanup(&w.f);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_create_writes_entry_audit_and_event_together),
        TEST(test_group_writes_concurrent_creations_in_one_transaction),
        TEST(test_group_that_fails_leaves_nothing_and_each_writes_alone),
        TEST(test_creation_with_hooks_is_not_grouped),
        TEST(test_create_rules),
        TEST(test_etags_and_preconditions),
        TEST(test_get_async_answers_once_when_the_store_does),
        TEST(test_get_async_over_a_store_that_answers_at_once_defers),
        TEST(test_author_or_admin_edits),
        TEST(test_pages_and_filters),
        TEST(test_prompts),
        TEST(test_etag_matching),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
