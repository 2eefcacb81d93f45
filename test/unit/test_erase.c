/*
 * Unit tests of account erasure (core/rights) against the fakes: re-authentication, the
 * last-owner refusal, what the request does at once, and what the job "account.erase"
 * erases and leaves.
 */
#include "rights_world.h"

#include "changes/changes.h"
#include "idem/idem.h"

static int erase(struct world *w, struct ql_principal *p, const char *password)
{
    as(w, p);
    struct ql_erase_request in = {password, password ? strlen(password) : 0, NULL, 0};
    return ql_account_erase(&w->f.cx, &in);
}

static const struct fake_user *user_row(struct world *w, const struct ql_uuid *id)
{
    for (int i = 0; i < w->f.store.nusers; i++)
        if (memcmp(w->f.store.users[i].u.id.b, id->b, 16) == 0)
            return &w->f.store.users[i];
    return NULL;
}

static int resolves(struct world *w, const struct ql_auth_result *who)
{
    struct ql_principal p;
    fixture_next(&w->f);
    return ql_account_resolve(&w->f.cx, who->session.token, strlen(who->session.token),
                              QL_VIA_BEARER, &p);
}

static void test_the_last_owner_is_refused_naming_the_team(void)
{
    static struct world w;
    world_init(&w);
    int naudit = w.f.store.naudit;
    ASSERT_INT_EQ(erase(&w, &w.pa, "correct horse battery"), QL_ECONFLICT);
    ASSERT_TRUE(strstr(w.f.cx.err.msg, "Poets") != NULL);
    ASSERT_INT_EQ(w.f.cx.err.nfields, 1);
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&w.team.id, id);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].field, id);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "last_owner");
    ASSERT_STR_EQ(w.f.cx.err.fields[0].message, "Poets");
    /* nothing changed */
    ASSERT_INT_EQ(resolves(&w, &w.ada), QL_OK);
    ASSERT_STR_EQ(user_row(&w, &w.ada.user.id)->u.email, "ada@example.com");
    ASSERT_INT_EQ(w.f.store.naudit, naudit);
    ASSERT_INT_EQ(job_of(&w, "account.erase"), -1);
    /* with a second owner she may go */
    struct ql_member m;
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_member_set_role(&w.f.cx, &w.team.id, &w.bo.user.id, "owner", 5, &m), QL_OK);
    ASSERT_INT_EQ(erase(&w, &w.pa, "correct horse battery"), QL_OK);
    fixture_cleanup(&w.f);
}

static void test_a_long_team_name_is_cut_between_characters(void)
{
    static struct world w;
    world_init(&w);
    static char name[401];
    for (int i = 0; i < 100; i++)
        memcpy(name + 4 * i, "\xf0\x9f\x93\x9d", 4); /* U+1F4DD, 100 times: 400 bytes */
    struct ql_team t;
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_team_create(&w.f.cx, name, 400, &t), QL_OK);
    reload(&w, &w.ada, &w.pa);
    ASSERT_INT_EQ(erase(&w, &w.pa, "correct horse battery"), QL_ECONFLICT);
    ASSERT_INT_EQ(w.f.cx.err.nfields, 2);
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(w.f.cx.err.fields[i].message);
        ASSERT_TRUE(n % 4 == 0 || strcmp(w.f.cx.err.fields[i].message, "Poets") == 0);
    }
    ASSERT_TRUE(strlen(w.f.cx.err.msg) < sizeof(w.f.cx.err.msg) - 1); /* not cut off */
    fixture_cleanup(&w.f);
}

static void test_the_password_is_checked_and_guesses_are_limited(void)
{
    static struct world w;
    world_init(&w);
    ASSERT_INT_EQ(erase(&w, &w.pb, NULL), QL_EVALIDATION);
    ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "required");
    for (int i = 0; i < QL_LOGIN_MAX_FAILURES; i++) {
        ASSERT_INT_EQ(erase(&w, &w.pb, "wrong password!!"), QL_EVALIDATION);
        ASSERT_STR_EQ(w.f.cx.err.fields[0].field, "password");
        ASSERT_STR_EQ(w.f.cx.err.fields[0].code, "mismatch");
    }
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_ERATE_LIMITED);
    ASSERT_INT_EQ(resolves(&w, &w.bo), QL_OK);
    fake_clock_advance(&w.f.clock, QL_LOGIN_WINDOW_MS);
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_OK);
    fixture_cleanup(&w.f);
}

static void test_the_request_ends_sessions_and_identity_at_once(void)
{
    static struct world w;
    world_init(&w);
    struct ql_auth_result second;
    struct ql_credentials c = {"bo@example.com", 14, "correct horse battery", 21, NULL, 0, NULL};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_login(&w.f.cx, &c, &second), QL_OK);
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_OK);
    /* every session, this one and the other */
    ASSERT_INT_EQ(resolves(&w, &w.bo), QL_EUNAUTHENTICATED);
    ASSERT_INT_EQ(resolves(&w, &second), QL_EUNAUTHENTICATED);
    /* nothing finds him by email, and the row says nothing about him */
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_login(&w.f.cx, &c, &second), QL_EINVALID_CREDENTIALS);
    const struct fake_user *u = user_row(&w, &w.bo.user.id);
    ASSERT_TRUE(u->erased);
    ASSERT_TRUE(strstr(u->u.email, "bo@") == NULL);
    ASSERT_STR_EQ(u->u.display_name, "");
    ASSERT_TRUE(u->u.password_hash == NULL);
    /* his membership is gone, with its change and audit row in the team */
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_MEMBER_REMOVED, &w.bo.user.id), 1);
    ASSERT_INT_EQ(audits_of(&w, "member.erase"), 1);
    ASSERT_INT_EQ(audits_of(&w, "user.erase"), 1);
    for (int i = 0; i < w.f.store.nmembers; i++)
        ASSERT_TRUE(memcmp(w.f.store.members[i].user.b, w.bo.user.id.b, 16) != 0);
    /* his entries wait for the job, which is enqueued in the same transaction */
    int j = job_of(&w, "account.erase");
    ASSERT_TRUE(j >= 0);
    ASSERT_INT_EQ(w.f.queue.jobs[j].in_tx, 1);
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_EUNAUTHENTICATED);
    /* the email is free again */
    struct ql_auth_result again;
    struct ql_credentials s = {"bo@example.com", 14, "another good password", 21, "Bo", 2, NULL};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_signup(&w.f.cx, &s, &again), QL_OK);
    ASSERT_TRUE(memcmp(again.user.id.b, w.bo.user.id.b, 16) != 0);
    fixture_cleanup(&w.f);
}

/* Store an idempotent response for scope: a body with text in it. */
static void stored(struct world *w, const char *scope, const char *key, const char *text)
{
    struct ql_idem_record r;
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_idem_pack(&w->f.cx, 201, "", 0, text, strlen(text), &r), QL_OK);
    ASSERT_INT_EQ(ql_store_idem_put(w->f.cx.ports.store, &w->f.cx, scope, key, &r), QL_OK);
}

static void test_the_job_erases_entries_bodies_and_records_and_keeps_the_rest(void)
{
    static struct world w;
    world_init(&w);
    char bo[QL_UUID_STR_LEN + 1], ada[QL_UUID_STR_LEN + 1], text[256];
    ql_uuid_format(&w.bo.user.id, bo);
    ql_uuid_format(&w.ada.user.id, ada);
    /* a second entry of Bo's that he deleted himself: no second tombstone */
    struct ql_entry gone;
    write_entry(&w, &w.pb, "Bo's deleted entry", &gone);
    as(&w, &w.pb);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &gone.id, NULL, 0), QL_OK);
    /* an export of his, and stored responses: his own, an admin's showing him, another */
    struct ql_export e;
    int created;
    as(&w, &w.pb);
    ASSERT_INT_EQ(ql_export_request(&w.f.cx, &e, &created), QL_OK);
    snprintf(text, sizeof(text), "{\"teamId\":\"x\"}");
    char mine[64];
    snprintf(mine, sizeof(mine), "user:%s", bo);
    stored(&w, mine, "k1", text);
    snprintf(text, sizeof(text), "{\"userId\":\"%s\",\"email\":\"bo@example.com\"}", bo);
    char admin[64];
    snprintf(admin, sizeof(admin), "user:%s", ada);
    stored(&w, admin, "k2", text);
    snprintf(text, sizeof(text), "{\"userId\":\"%s\",\"email\":\"ada@example.com\"}", ada);
    stored(&w, admin, "k3", text);
    /* webhook bodies: one showing him, one showing his entry, one of Ada's */
    w.f.store.ndeliveries = 3;
    const char *bodies[3];
    bodies[0] =
        ql_arena_sprintf(&w.f.store.mem, "{\"member\":{\"userId\":\"%s\",\"email\":\"b\"}}", bo);
    bodies[1] = ql_arena_sprintf(&w.f.store.mem, "{\"authorUserId\":\"%s\",\"content\":\"x\"}", bo);
    bodies[2] =
        ql_arena_sprintf(&w.f.store.mem, "{\"authorUserId\":\"%s\",\"content\":\"y\"}", ada);
    for (int i = 0; i < 3; i++) {
        memset(&w.f.store.deliveries[i], 0, sizeof(w.f.store.deliveries[i]));
        w.f.store.deliveries[i].d.id.b[15] = (uint8_t)(i + 1);
        w.f.store.deliveries[i].d.body = bodies[i];
        memset(&w.f.store.attempts[i], 0, sizeof(w.f.store.attempts[i])); /* one attempt each */
        w.f.store.attempts[i].delivery_id = w.f.store.deliveries[i].d.id;
        w.f.store.attempts[i].attempt = 1;
    }
    w.f.store.nattempts = 3;
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_OK);
    int j = job_of(&w, "account.erase");
    ASSERT_INT_EQ(run_job(&w, j, ql_account_erase_run), QL_OK);
    /* his entries are gone, the live one with a tombstone; Ada's stays */
    for (int i = 0; i < w.f.store.nentries; i++)
        ASSERT_TRUE(memcmp(w.f.store.entries[i].e.author_user.b, w.bo.user.id.b, 16) != 0);
    ASSERT_INT_EQ(w.f.store.nentries, 1);
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_ENTRY_DELETED, &w.bo_entry.id), 1);
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_ENTRY_DELETED, &gone.id), 1); /* his own */
    ASSERT_INT_EQ(audits_of(&w, "journal_entry.erase"), 2);
    ASSERT_INT_EQ(audits_of(&w, "user.erased"), 1);
    /* his export, his records and the bodies that show him are gone; the rest stays */
    ASSERT_INT_EQ(w.f.store.nexports, 0);
    ASSERT_INT_EQ(w.f.store.nidem, 1);
    ASSERT_STR_EQ(w.f.store.idem[0].key, "k3");
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    ASSERT_TRUE(strstr(w.f.store.deliveries[0].d.body, ada) != NULL);
    ASSERT_INT_EQ(w.f.store.nattempts, 1); /* the others' attempts went with them */
    ASSERT_INT_EQ(w.f.store.attempts[0].delivery_id.b[15], 3);
    /* the audit rows that name him are still there, unchanged */
    char actor[48];
    snprintf(actor, sizeof(actor), "User:%s", bo);
    int his = 0;
    for (int i = 0; i < w.f.store.naudit && i < FAKE_MAX; i++)
        his += strcmp(w.f.store.audit[i].e.actor, actor) == 0;
    ASSERT_TRUE(his > 0);
    /* running it again finds nothing more to do */
    int entries = w.f.store.nentries, changes = w.f.store.nchanges;
    w.f.queue.jobs[j].done = 0;
    ASSERT_INT_EQ(run_job(&w, j, ql_account_erase_run), QL_OK);
    ASSERT_INT_EQ(w.f.store.nentries, entries);
    ASSERT_INT_EQ(w.f.store.nchanges, changes);
    fixture_cleanup(&w.f);
}

static void test_the_job_refuses_an_account_that_is_not_erased(void)
{
    static struct world w;
    world_init(&w);
    char payload[80], bo[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&w.bo.user.id, bo);
    snprintf(payload, sizeof(payload), "{\"userId\":\"%s\"}", bo);
    struct ql_job job = {.kind = "account.erase", .payload = payload};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_erase_run(&w.f.cx, &job), QL_ECONFLICT);
    ASSERT_INT_EQ(w.f.store.nentries, 2);
    struct ql_job bad = {.kind = "account.erase", .payload = "{}"};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_account_erase_run(&w.f.cx, &bad), QL_EVALIDATION);
    fixture_cleanup(&w.f);
}

static void test_a_membership_or_session_added_meanwhile_is_removed_by_the_job(void)
{
    static struct world w;
    world_init(&w);
    ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_OK);
    /* as if an admin's insert, and a login, had waited on the users row and committed after
     * the erasure */
    w.f.store.members[w.f.store.nmembers++] =
        (struct fake_member){w.team.id, w.bo.user.id, QL_ROLE_VIEWER, T0};
    struct fake_session *late = &w.f.store.sessions[w.f.store.nsessions++];
    memset(late, 0, sizeof(*late));
    late->user = w.bo.user.id;
    late->live = 1;
    ASSERT_INT_EQ(run_job(&w, job_of(&w, "account.erase"), ql_account_erase_run), QL_OK);
    for (int i = 0; i < w.f.store.nmembers; i++)
        ASSERT_TRUE(memcmp(w.f.store.members[i].user.b, w.bo.user.id.b, 16) != 0);
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_MEMBER_REMOVED, &w.bo.user.id), 2);
    for (int i = 0; i < w.f.store.nsessions; i++)
        ASSERT_TRUE(!w.f.store.sessions[i].live ||
                    memcmp(w.f.store.sessions[i].user.b, w.bo.user.id.b, 16) != 0);
    fixture_cleanup(&w.f);
}

/* Each store call of the request failing in turn: an error, and nothing changed. */
static void test_every_failed_store_call_of_the_request_changes_nothing(void)
{
    static struct world w;
    int n;
    for (n = 1; n < 100; n++) {
        world_init(&w);
        int members = w.f.store.nmembers, naudit = w.f.store.naudit, jobs = w.f.queue.n;
        w.f.store.fail_call = n;
        w.f.store.fail_code = QL_EUNAVAILABLE;
        int rc = erase(&w, &w.pb, "correct horse battery");
        int hit = w.f.store.fail_hits;
        w.f.store.fail_call = 0;
        ASSERT_INT_EQ(w.f.store.in_tx, 0);
        if (!hit) {
            ASSERT_INT_EQ(rc, QL_OK);
            fixture_cleanup(&w.f);
            break;
        }
        ASSERT_INT_EQ(rc, QL_EUNAVAILABLE);
        ASSERT_INT_EQ(resolves(&w, &w.bo), QL_OK);
        ASSERT_TRUE(!user_row(&w, &w.bo.user.id)->erased);
        ASSERT_INT_EQ(w.f.store.nmembers, members);
        ASSERT_INT_EQ(w.f.store.naudit, naudit);
        ASSERT_INT_EQ(w.f.queue.n, jobs);
        fixture_cleanup(&w.f);
    }
    ASSERT_TRUE(n > 5 && n < 100);
}

/* Each store call of the job failing in turn: an error, and the next run finishes. */
static void test_every_failed_store_call_of_the_job_is_retried_to_the_end(void)
{
    static struct world w;
    int n;
    for (n = 1; n < 200; n++) {
        world_init(&w);
        ASSERT_INT_EQ(erase(&w, &w.pb, "correct horse battery"), QL_OK);
        int j = job_of(&w, "account.erase");
        w.f.store.fail_call = n;
        w.f.store.fail_code = QL_EUNAVAILABLE;
        int rc = run_job(&w, j, ql_account_erase_run);
        int hit = w.f.store.fail_hits;
        w.f.store.fail_call = 0;
        ASSERT_INT_EQ(w.f.store.in_tx, 0);
        if (!hit) {
            ASSERT_INT_EQ(rc, QL_OK);
            fixture_cleanup(&w.f);
            break;
        }
        ASSERT_INT_EQ(rc, QL_EUNAVAILABLE);
        ASSERT_INT_EQ(run_job(&w, j, ql_account_erase_run), QL_OK);
        ASSERT_INT_EQ(w.f.store.nentries, 1);
        ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_ENTRY_DELETED, &w.bo_entry.id), 1);
        fixture_cleanup(&w.f);
    }
    ASSERT_TRUE(n > 5 && n < 200);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_the_last_owner_is_refused_naming_the_team),
        TEST(test_a_long_team_name_is_cut_between_characters),
        TEST(test_the_password_is_checked_and_guesses_are_limited),
        TEST(test_the_request_ends_sessions_and_identity_at_once),
        TEST(test_the_job_erases_entries_bodies_and_records_and_keeps_the_rest),
        TEST(test_the_job_refuses_an_account_that_is_not_erased),
        TEST(test_a_membership_or_session_added_meanwhile_is_removed_by_the_job),
        TEST(test_every_failed_store_call_of_the_request_changes_nothing),
        TEST(test_every_failed_store_call_of_the_job_is_retried_to_the_end),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
