/*
 * Fault injection over the write use cases: for n = 1, 2, ... a fresh world has its store fail
 * the nth call from the start of the use case (or its auth port the nth request for random
 * bytes).  While the fault fires (the fakes count it in fail_hits), the use case must fail with
 * the injected code, leave no transaction open and leave every table and job as it was; once
 * n passes the last call it must succeed.  Each loop ends by checking that the fault fired
 * exactly once per call of the use case, listed above it, so a loop cannot pass without
 * reaching its faults.
 */
#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "prompt/prompt.h"
#include "team/team.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

struct world {
    struct fixture f;
    struct ql_auth_result owner, member, outsider;
    struct ql_principal po, pm;
    struct ql_team team;
    struct ql_prompt prompt;
    struct ql_entry entry; /* the member's */
    struct ql_new_api_key key;
};

static const char PW[] = "correct horse battery";

static struct ql_credentials creds(const char *email, const char *name)
{
    struct ql_credentials c = {email, strlen(email), PW,           strlen(PW),
                               name,  strlen(name),  "203.0.113.7"};
    return c;
}

static void signup(struct world *w, const char *email, struct ql_auth_result *out)
{
    struct ql_credentials c = creds(email, "Someone");
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, out), QL_OK);
    fixture_next(&w->f);
}

/* Resolve who's token into p (store calls) and make p the caller. */
static void as(struct world *w, struct ql_auth_result *who, struct ql_principal *p)
{
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, who->session.token, 46, QL_VIA_BEARER, p), QL_OK);
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

/* A new request by p, resolved before: no store call. */
static void by(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

/* Three users, a team of two with a prompt, an entry by the member and an API key. */
static void world_init(struct world *w)
{
    fixture_init(&w->f);
    signup(w, "owner@example.com", &w->owner);
    signup(w, "member@example.com", &w->member);
    signup(w, "outsider@example.com", &w->outsider);
    as(w, &w->owner, &w->po);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "Team", 4, &w->team), QL_OK);
    struct ql_member m;
    as(w, &w->owner, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "member@example.com", 18, "member", 6, &m),
                  QL_OK);
    as(w, &w->owner, &w->po);
    ASSERT_INT_EQ(ql_prompt_create(&w->f.cx, &w->team.id, "Why?", 4, "goals", 5, &w->prompt),
                  QL_OK);
    as(w, &w->owner, &w->po);
    ASSERT_INT_EQ(ql_api_key_create(&w->f.cx, &w->team.id, "ci", 2, "member", 6, NULL, 0, &w->key),
                  QL_OK);
    as(w, &w->member, &w->pm);
    struct ql_entry_input in = {"first draft", 11, 0, NULL, 0};
    ASSERT_INT_EQ(ql_entry_create(&w->f.cx, &w->team.id, &in, &w->entry), QL_OK);
    /* the principals as they are now, so the use cases under test need not load them */
    as(w, &w->owner, &w->po);
    as(w, &w->member, &w->pm);
    fixture_next(&w->f);
    fake_clock_advance(&w->f.clock, 1000);
}

/* What a use case may change: the tables of the fake store and the jobs of the fake queue (the
 * change log is a table). */
struct rows {
    int nusers, nsessions, nteams, nmembers, nkeys, naudit, nentries, nprompts, nidem, njobs,
        nchanges;
    struct fake_user users[FAKE_MAX];
    struct fake_session sessions[FAKE_MAX];
    struct fake_team teams[FAKE_MAX];
    struct fake_member members[FAKE_MAX];
    struct fake_key keys[FAKE_MAX];
    struct fake_audit audit[FAKE_MAX];
    struct fake_entry entries[FAKE_MAX];
    struct fake_prompt prompts[FAKE_MAX];
};

/*
 * Login throttles are left out: signup counts its address's attempt before its transaction,
 * on purpose, and that count stays whatever happens next.
 */
static void rows_take(const struct world *w, struct rows *r)
{
    const struct fake_store *s = &w->f.store;
    memset(r, 0, sizeof(*r)); /* padding too: rows are compared with memcmp */
    r->nusers = s->nusers;
    r->nsessions = s->nsessions;
    r->nteams = s->nteams;
    r->nmembers = s->nmembers;
    r->nkeys = s->nkeys;
    r->naudit = s->naudit;
    r->nentries = s->nentries;
    r->nprompts = s->nprompts;
    r->nidem = s->nidem;
    r->njobs = w->f.queue.n;
    r->nchanges = s->nchanges;
    memcpy(r->users, s->users, sizeof(r->users));
    memcpy(r->sessions, s->sessions, sizeof(r->sessions));
    memcpy(r->teams, s->teams, sizeof(r->teams));
    memcpy(r->members, s->members, sizeof(r->members));
    memcpy(r->keys, s->keys, sizeof(r->keys));
    memcpy(r->audit, s->audit, sizeof(r->audit));
    memcpy(r->entries, s->entries, sizeof(r->entries));
    memcpy(r->prompts, s->prompts, sizeof(r->prompts));
}

/* got and want hold the same rows (a failure names the first table that differs). */
static void assert_rows_unchanged(const struct rows *got, const struct rows *want)
{
    const struct rows *a = got, *b = want;
    ASSERT_INT_EQ(a->nusers, b->nusers);
    ASSERT_INT_EQ(a->nsessions, b->nsessions);
    ASSERT_INT_EQ(a->nteams, b->nteams);
    ASSERT_INT_EQ(a->nmembers, b->nmembers);
    ASSERT_INT_EQ(a->nkeys, b->nkeys);
    ASSERT_INT_EQ(a->naudit, b->naudit);
    ASSERT_INT_EQ(a->nentries, b->nentries);
    ASSERT_INT_EQ(a->nprompts, b->nprompts);
    ASSERT_INT_EQ(a->nidem, b->nidem);
    ASSERT_INT_EQ(a->njobs, b->njobs);
    ASSERT_TRUE(memcmp(a->users, b->users, sizeof(a->users)) == 0);
    ASSERT_TRUE(memcmp(a->sessions, b->sessions, sizeof(a->sessions)) == 0);
    ASSERT_TRUE(memcmp(a->teams, b->teams, sizeof(a->teams)) == 0);
    ASSERT_TRUE(memcmp(a->members, b->members, sizeof(a->members)) == 0);
    ASSERT_TRUE(memcmp(a->keys, b->keys, sizeof(a->keys)) == 0);
    ASSERT_TRUE(memcmp(a->audit, b->audit, sizeof(a->audit)) == 0);
    ASSERT_TRUE(memcmp(a->entries, b->entries, sizeof(a->entries)) == 0);
    ASSERT_TRUE(memcmp(a->prompts, b->prompts, sizeof(a->prompts)) == 0);
}

/* A use case run as one request of w; returns its result. */
typedef int (*use_case_fn)(struct world *w);

/* Where the fault is injected: the nth store call, or the nth call for random bytes. */
enum fault { STORE, RANDOM };

/*
 * The loop of this file's comment for run, which makes `calls` calls of the kind that fails.
 * A failed assertion has a line before it that says which call failed.
 */
static void walk_faults(const char *name, enum fault kind, use_case_fn run, int calls)
{
    static struct world w; /* large: kept off the stack */
    static struct rows before, after;
    const int code = kind == STORE ? QL_EUNAVAILABLE : QL_EINTERNAL;
    int fired = 0;
    for (int n = 1; n <= calls + 1; n++) {
        world_init(&w);
        rows_take(&w, &before);
        if (kind == STORE) {
            w.f.store.fail_call = n;
            w.f.store.fail_code = code;
        } else {
            w.f.auth.fail_random = n;
        }
        int commits = w.f.store.commits;
        int rc = run(&w);
        int hit = kind == STORE ? w.f.store.fail_hits : w.f.auth.fail_hits;
        rows_take(&w, &after);
        if (rc != (hit ? code : QL_OK) || w.f.store.in_tx ||
            (hit && memcmp(&before, &after, sizeof(before)) != 0))
            printf("# %s with %s call %d failing: rc %d, the fault fired %d times\n", name,
                   kind == STORE ? "store" : "random", n, rc, hit);
        ASSERT_INT_EQ(w.f.store.in_tx, 0);
        if (hit == 0) { /* past the last call: the use case runs whole */
            ASSERT_INT_EQ(rc, QL_OK);
            ASSERT_INT_EQ(w.f.store.commits, commits + 1);
            fixture_cleanup(&w.f);
            break;
        }
        fired++;
        ASSERT_INT_EQ(hit, 1);
        ASSERT_INT_EQ(rc, code);
        ASSERT_INT_EQ(w.f.cx.err.code, code);
        ASSERT_INT_EQ(w.f.store.commits, commits);
        assert_rows_unchanged(&after, &before);
        fixture_cleanup(&w.f);
    }
    ASSERT_INT_EQ(fired, calls);
}

/* ---- the use cases, with their store calls -------------------------------------------------- */

/* throttle hit, BEGIN, user insert, session insert, audit append, COMMIT */
static int signup_carol(struct world *w)
{
    struct ql_auth_result r;
    struct ql_credentials c = creds("carol@example.com", "Carol");
    return ql_account_signup(&w->f.cx, &c, &r);
}

static void test_signup_failure_at_any_step_writes_nothing(void)
{
    walk_faults("signup", STORE, signup_carol, 6);
    /* random bytes for: the user id, the session token, the session id, the audit row id */
    walk_faults("signup", RANDOM, signup_carol, 4);
}

/*
 * users by id, the attempt counted (failure recorded, failures counted) and taken back, BEGIN,
 * set password, remove the user's other sessions, audit append, COMMIT
 */
static int change_password(struct world *w)
{
    by(w, &w->pm);
    return ql_account_change_password(&w->f.cx, PW, strlen(PW), "a brand new password", 20);
}

static void test_password_change_failure_at_any_step_writes_nothing(void)
{
    walk_faults("change password", STORE, change_password, 9);
}

/* BEGIN, team insert (with its owner), change (owner added), audit append, COMMIT */
static int create_team(struct world *w)
{
    struct ql_team t;
    by(w, &w->pm);
    return ql_team_create(&w->f.cx, "Another", 7, &t);
}

static void test_team_create_failure_at_any_step_writes_nothing(void)
{
    walk_faults("team create", STORE, create_team, 5);
    walk_faults("team create", RANDOM, create_team, 2); /* the team id, the audit row id */
}

/*
 * users by email, BEGIN, team lock, the caller's member row, member insert, change, audit
 * append, member get, COMMIT
 */
static int add_member(struct world *w)
{
    struct ql_member m;
    by(w, &w->po);
    return ql_member_add(&w->f.cx, &w->team.id, "outsider@example.com", 20, "viewer", 6, &m);
}

static void test_member_add_failure_at_any_step_writes_nothing(void)
{
    walk_faults("member add", STORE, add_member, 9);
}

/* BEGIN, team lock, the caller's member row, member get, set role, change, audit append, COMMIT */
static int demote_member(struct world *w)
{
    struct ql_member m;
    by(w, &w->po);
    return ql_member_set_role(&w->f.cx, &w->team.id, &w->member.user.id, "viewer", 6, &m);
}

static void test_member_role_failure_at_any_step_writes_nothing(void)
{
    walk_faults("member set role", STORE, demote_member, 8);
}

/* BEGIN, team lock, the caller's member row, member get, member remove, change, audit append,
 * COMMIT */
static int remove_member(struct world *w)
{
    by(w, &w->po);
    return ql_member_remove(&w->f.cx, &w->team.id, &w->member.user.id);
}

static void test_member_remove_failure_at_any_step_writes_nothing(void)
{
    walk_faults("member remove", STORE, remove_member, 8);
}

/* BEGIN, team lock, the caller's member row, key insert, audit append, COMMIT */
static int create_key(struct world *w)
{
    struct ql_new_api_key k;
    by(w, &w->po);
    return ql_api_key_create(&w->f.cx, &w->team.id, "deploy", 6, "viewer", 6, NULL, 0, &k);
}

static void test_api_key_create_failure_at_any_step_writes_nothing(void)
{
    walk_faults("api key create", STORE, create_key, 6);
    /* random bytes for: the secret, the key id, the audit row id */
    walk_faults("api key create", RANDOM, create_key, 3);
}

/* BEGIN, team lock, the caller's member row, key revoke, audit append, COMMIT */
static int revoke_key(struct world *w)
{
    by(w, &w->po);
    return ql_api_key_revoke(&w->f.cx, &w->team.id, &w->key.key.id);
}

static void test_api_key_revoke_failure_at_any_step_writes_nothing(void)
{
    walk_faults("api key revoke", STORE, revoke_key, 6);
}

/* prompt get, BEGIN, entry insert, change, audit append, COMMIT (no group port: alone) */
static int create_entry(struct world *w)
{
    char pid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&w->prompt.id, pid);
    struct ql_entry_input in = {"an answer", 9, 1, pid, QL_UUID_STR_LEN};
    struct ql_entry e;
    by(w, &w->pm);
    return ql_entry_create(&w->f.cx, &w->team.id, &in, &e);
}

static void test_entry_create_failure_at_any_step_writes_nothing(void)
{
    walk_faults("entry create", STORE, create_entry, 6);
    walk_faults("entry create", RANDOM, create_entry, 2); /* the entry id, the audit row id */
}

/* BEGIN, entry lock, prompt get, entry update, change, audit append, COMMIT */
static int update_entry(struct world *w)
{
    char pid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&w->prompt.id, pid);
    struct ql_entry_input in = {"second draft", 12, 1, pid, QL_UUID_STR_LEN};
    struct ql_entry e;
    by(w, &w->pm);
    return ql_entry_update(&w->f.cx, &w->team.id, &w->entry.id, &in, "\"1\"", 3, &e);
}

static void test_entry_update_failure_at_any_step_writes_nothing(void)
{
    walk_faults("entry update", STORE, update_entry, 7);
    walk_faults("entry update", RANDOM, update_entry, 1); /* the audit row id */
}

/* BEGIN, entry lock, entry remove, change, audit append, COMMIT */
static int delete_entry(struct world *w)
{
    by(w, &w->pm);
    return ql_entry_delete(&w->f.cx, &w->team.id, &w->entry.id, "*", 1);
}

static void test_entry_delete_failure_at_any_step_writes_nothing(void)
{
    walk_faults("entry delete", STORE, delete_entry, 6);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_signup_failure_at_any_step_writes_nothing),
        TEST(test_password_change_failure_at_any_step_writes_nothing),
        TEST(test_team_create_failure_at_any_step_writes_nothing),
        TEST(test_member_add_failure_at_any_step_writes_nothing),
        TEST(test_member_role_failure_at_any_step_writes_nothing),
        TEST(test_member_remove_failure_at_any_step_writes_nothing),
        TEST(test_api_key_create_failure_at_any_step_writes_nothing),
        TEST(test_api_key_revoke_failure_at_any_step_writes_nothing),
        TEST(test_entry_create_failure_at_any_step_writes_nothing),
        TEST(test_entry_update_failure_at_any_step_writes_nothing),
        TEST(test_entry_delete_failure_at_any_step_writes_nothing),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
