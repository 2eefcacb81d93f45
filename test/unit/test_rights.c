/*
 * Unit tests of data exports (core/rights) against the fakes: asking for one, the job that
 * builds the document (exactly the user's data, in parts, bounded), reading it back, its
 * webhook event and its expiry.
 */
#include "rights_world.h"

#include "changes/changes.h"
#include "webhook/webhook.h"

#include <cJSON.h>

/* Ask for an export as p; the export. */
static struct ql_export ask(struct world *w, struct ql_principal *p, int want_created)
{
    struct ql_export e;
    int created = -1;
    as(w, p);
    ASSERT_INT_EQ(ql_export_request(&w->f.cx, &e, &created), QL_OK);
    ASSERT_INT_EQ(created, want_created);
    return e;
}

/* Run every export.build job. */
static void build_all(struct world *w)
{
    for (int i; (i = job_of(w, "export.build")) >= 0;)
        ASSERT_INT_EQ(run_job(w, i, ql_export_build), QL_OK);
}

struct doc {
    char text[1 << 20];
    size_t n;
    int pieces;
};

static int collect(void *ud, const char *data, size_t n)
{
    struct doc *d = ud;
    if (d->n + n >= sizeof(d->text))
        return -1;
    memcpy(d->text + d->n, data, n);
    d->n += n;
    d->text[d->n] = '\0';
    d->pieces++;
    return 0;
}

/* Read export id as p into d; the result of ql_export_get. */
static int fetch(struct world *w, struct ql_principal *p, const struct ql_uuid *id,
                 struct ql_export *e, struct doc *d)
{
    d->n = 0;
    d->pieces = 0;
    d->text[0] = '\0';
    as(w, p);
    return ql_export_get(&w->f.cx, id, e, collect, d);
}

static int array_size(const cJSON *doc, const char *name)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, name));
}

static void test_asking_twice_gives_the_pending_export(void)
{
    static struct world w;
    world_init(&w);
    struct ql_export e = ask(&w, &w.pa, 1);
    ASSERT_INT_EQ(e.status, QL_EXPORT_PENDING);
    int j = job_of(&w, "export.build");
    ASSERT_TRUE(j >= 0);
    ASSERT_STR_EQ(w.f.queue.jobs[j].queue, "rights");
    ASSERT_INT_EQ(w.f.queue.jobs[j].in_tx, 1);
    ASSERT_INT_EQ(audits_of(&w, "export.request"), 1);
    struct ql_export again = ask(&w, &w.pa, 0);
    ASSERT_MEM_EQ(again.id.b, e.id.b, 16);
    ASSERT_INT_EQ(w.f.queue.n, j + 1); /* no second job */
    /* an API key cannot ask */
    struct ql_principal key = {.kind = QL_PRINCIPAL_API_KEY};
    as(&w, &key);
    struct ql_export x;
    int created;
    ASSERT_INT_EQ(ql_export_request(&w.f.cx, &x, &created), QL_EFORBIDDEN);
    fixture_cleanup(&w.f);
}

static void test_the_document_holds_exactly_the_users_data(void)
{
    static struct world w;
    static struct doc d;
    world_init(&w);
    /* Ada: a second entry she deletes, an API key; Bo: a second entry */
    struct ql_entry gone, more;
    write_entry(&w, &w.pa, "Ada's deleted entry", &gone);
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_entry_delete(&w.f.cx, &w.team.id, &gone.id, NULL, 0), QL_OK);
    write_entry(&w, &w.pb, "Bo's second entry", &more);
    struct ql_new_api_key k;
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_api_key_create(&w.f.cx, &w.team.id, "Ada's key", 9, "member", 6, NULL, 0, &k),
                  QL_OK);
    struct ql_export e = ask(&w, &w.pa, 1);
    build_all(&w);
    struct ql_export got;
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_READY);
    ASSERT_INT_EQ(got.bytes, (int64_t)d.n);
    cJSON *doc = cJSON_Parse(d.text);
    ASSERT_TRUE(doc != NULL);
    const cJSON *acct = cJSON_GetObjectItemCaseSensitive(doc, "account");
    ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(acct, "email")->valuestring, "ada@example.com");
    ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(acct, "displayName")->valuestring,
                  "Ada Lovelace");
    ASSERT_INT_EQ(array_size(doc, "memberships"), 1);
    ASSERT_INT_EQ(array_size(doc, "journalEntries"), 2); /* hers, the deleted one too */
    ASSERT_INT_EQ(array_size(doc, "apiKeys"), 1);
    ASSERT_INT_EQ(array_size(doc, "sessions"), 1);
    ASSERT_TRUE(array_size(doc, "auditLog") > 0);
    /* nobody else's data, and no secret */
    ASSERT_TRUE(strstr(d.text, "Bo's") == NULL);
    ASSERT_TRUE(strstr(d.text, "bo@example.com") == NULL);
    ASSERT_TRUE(strstr(d.text, "fake$") == NULL); /* the fake's password "hash" */
    ASSERT_TRUE(strstr(d.text, k.secret) == NULL);
    const cJSON *row;
    char ada[QL_UUID_STR_LEN + 1], actor[48];
    ql_uuid_format(&w.ada.user.id, ada);
    snprintf(actor, sizeof(actor), "User:%s", ada);
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(doc, "auditLog"))
    {
        const char *a = cJSON_GetObjectItemCaseSensitive(row, "actor")->valuestring;
        const char *t = cJSON_GetObjectItemCaseSensitive(row, "targetId")->valuestring;
        ASSERT_TRUE(strcmp(a, actor) == 0 || strcmp(t, ada) == 0);
    }
    cJSON_Delete(doc);
    /* Ada owns the team: its log says the export is ready (for its webhooks, not for sync) */
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_EXPORT_READY, &e.id), 1);
    ASSERT_INT_EQ(ql_change_kind_of(QL_EVENT_EXPORT_READY), QL_CHANGE_TEAM);
    ASSERT_INT_EQ(audits_of(&w, "export.ready"), 1);
    /* Bo is a member, not an admin: his export is announced nowhere */
    struct ql_export eb = ask(&w, &w.pb, 1);
    build_all(&w);
    ASSERT_INT_EQ(changes_of(&w, &w.team.id, QL_EVENT_EXPORT_READY, &eb.id), 0);
    fixture_cleanup(&w.f);
}

static void test_only_the_owner_reads_it_and_pending_has_no_data(void)
{
    static struct world w;
    static struct doc d;
    world_init(&w);
    struct ql_export e = ask(&w, &w.pa, 1), got;
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_PENDING);
    ASSERT_INT_EQ(d.pieces, 0);
    build_all(&w);
    ASSERT_INT_EQ(fetch(&w, &w.pb, &e.id, &got, &d), QL_ENOT_FOUND);
    struct ql_uuid none = {{1}};
    ASSERT_INT_EQ(fetch(&w, &w.pa, &none, &got, &d), QL_ENOT_FOUND);
    /* expired: gone for its owner, then purged */
    fake_clock_advance(&w.f.clock, w.f.cfg.export_retention_ms + 1);
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_ENOT_FOUND);
    ASSERT_INT_EQ(w.f.store.nexports, 1);
    struct ql_job job = {.kind = "purge.exports", .payload = "{}"};
    fixture_next(&w.f);
    ASSERT_INT_EQ(ql_exports_purge(&w.f.cx, &job), QL_OK);
    ASSERT_INT_EQ(w.f.store.nexports, 0);
    ASSERT_INT_EQ(w.f.store.nparts, 0);
    fixture_cleanup(&w.f);
}

static void test_an_export_that_expired_while_waiting_is_not_built(void)
{
    static struct world w;
    world_init(&w);
    struct ql_export e = ask(&w, &w.pa, 1), got;
    fake_clock_advance(&w.f.clock, w.f.cfg.export_retention_ms);
    build_all(&w);
    ASSERT_INT_EQ(w.f.store.nparts, 0);
    fixture_next(&w.f);
    ASSERT_INT_EQ(QL__RIGHTS(&w.f.store.base)->export_get(&w.f.store.base, &w.f.cx, &e.id, &got),
                  QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_PENDING);
    ask(&w, &w.pa, 1); /* and the user may ask again */
    fixture_cleanup(&w.f);
}

static void test_a_large_document_is_written_in_parts(void)
{
    static struct world w;
    static struct doc d;
    static char big[100001];
    world_init(&w);
    for (int i = 0; i < 4; i++) { /* 400 KB of entries: two parts at least */
        memset(big, 'a' + i, sizeof(big) - 1);
        struct ql_entry e;
        write_entry(&w, &w.pa, big, &e);
    }
    struct ql_export e = ask(&w, &w.pa, 1), got;
    build_all(&w);
    ASSERT_TRUE(w.f.store.nparts >= 2);
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
    ASSERT_INT_EQ(d.pieces, w.f.store.nparts);
    cJSON *doc = cJSON_Parse(d.text);
    ASSERT_TRUE(doc != NULL);
    ASSERT_INT_EQ(array_size(doc, "journalEntries"), 5);
    cJSON_Delete(doc);
    /* piece by piece, as a download reads it: the same text, and then no more */
    size_t at = 0;
    int part = -1, pieces = 0;
    for (;;) {
        const char *data;
        size_t n;
        ASSERT_INT_EQ(ql_export_piece(&w.f.cx, &got, &part, &data, &n), QL_OK);
        if (data == NULL)
            break;
        ASSERT_TRUE(at + n <= d.n && memcmp(d.text + at, data, n) == 0);
        at += n;
        pieces++;
    }
    ASSERT_INT_EQ(pieces, w.f.store.nparts);
    ASSERT_INT_EQ((int64_t)at, got.bytes);
    ASSERT_INT_EQ((int64_t)at, (int64_t)d.n);
    fixture_cleanup(&w.f);
}

static void test_too_large_fails_and_keeps_nothing(void)
{
    static struct world w;
    static struct doc d;
    world_init(&w);
    w.f.cfg.export_max_bytes = 300;
    struct ql_export e = ask(&w, &w.pa, 1), got;
    build_all(&w);
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_FAILED);
    ASSERT_TRUE(strstr(got.error, "QUILL_EXPORT_MAX_MB") != NULL);
    ASSERT_INT_EQ(d.pieces, 0);
    ASSERT_INT_EQ(w.f.store.nparts, 0);
    ASSERT_INT_EQ(audits_of(&w, "export.fail"), 1);
    /* a new one may be asked for at once: a failed export is not pending */
    ask(&w, &w.pa, 1);
    fixture_cleanup(&w.f);
}

static void test_a_build_runs_again_harmlessly(void)
{
    static struct world w;
    world_init(&w);
    struct ql_export e = ask(&w, &w.pa, 1);
    int j = job_of(&w, "export.build");
    /* an attempt that stops in the middle leaves parts; the next one starts over */
    w.f.store.fail_call = 12;
    w.f.store.fail_code = QL_EUNAVAILABLE;
    ASSERT_INT_EQ(run_job(&w, j, ql_export_build), QL_EUNAVAILABLE);
    ASSERT_INT_EQ(run_job(&w, j, ql_export_build), QL_OK);
    struct ql_export got;
    static struct doc d;
    ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
    cJSON *doc = cJSON_Parse(d.text);
    ASSERT_TRUE(doc != NULL);
    cJSON_Delete(doc);
    int parts = w.f.store.nparts, events = w.f.store.nchanges;
    /* once built, running it again changes nothing */
    w.f.queue.jobs[j].done = 0;
    ASSERT_INT_EQ(run_job(&w, j, ql_export_build), QL_OK);
    ASSERT_INT_EQ(w.f.store.nparts, parts);
    ASSERT_INT_EQ(w.f.store.nchanges, events);
    fixture_cleanup(&w.f);
}

static void test_at_most_five_live_exports(void)
{
    static struct world w;
    world_init(&w);
    for (int i = 0; i < QL_EXPORTS_LIVE_MAX; i++) {
        ask(&w, &w.pa, 1);
        build_all(&w);
        fake_clock_advance(&w.f.clock, 1000);
    }
    struct ql_export e;
    int created;
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_export_request(&w.f.cx, &e, &created), QL_ERATE_LIMITED);
    ASSERT_TRUE(w.f.cx.err.retry_after_ms > 0);
    fake_clock_advance(&w.f.clock, w.f.cfg.export_retention_ms);
    ask(&w, &w.pa, 1);
    fixture_cleanup(&w.f);
}

static void test_the_webhook_event_names_the_export_not_its_data(void)
{
    static struct world w;
    world_init(&w);
    w.f.cfg.webhook_allow_private = 1;
    const char *events[] = {"export.ready"};
    struct ql_webhook hook;
    char secret[QL_WEBHOOK_SECRET_LEN];
    as(&w, &w.pa);
    ASSERT_INT_EQ(ql_webhook_create(&w.f.cx, &w.team.id, "http://127.0.0.1:9/in", 21, events, 1,
                                    NULL, 0, &hook, secret),
                  QL_OK);
    struct ql_export e = ask(&w, &w.pa, 1);
    build_all(&w);
    int n = 0;
    do {
        fixture_next(&w.f);
        ASSERT_INT_EQ(ql_consume(&w.f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
    } while (n > 0);
    ASSERT_INT_EQ(w.f.store.ndeliveries, 1);
    const char *body = w.f.store.deliveries[0].d.body;
    char id[QL_UUID_STR_LEN + 1], want[80];
    ql_uuid_format(&e.id, id);
    snprintf(want, sizeof(want), "\"exportId\":\"%s\"", id);
    ASSERT_TRUE(strstr(body, "\"type\":\"export.ready\"") != NULL);
    ASSERT_TRUE(strstr(body, want) != NULL);
    ASSERT_TRUE(strstr(body, "ada@example.com") == NULL);
    ASSERT_TRUE(strstr(body, "Ada's first entry") == NULL);
    fixture_cleanup(&w.f);
}

/* Every store call of a build failing in turn: an error each time, then a whole document. */
static void test_every_failed_store_call_of_a_build_is_an_error(void)
{
    static struct world w;
    static struct doc d;
    int n;
    for (n = 1; n < 200; n++) {
        world_init(&w);
        struct ql_export e = ask(&w, &w.pa, 1), got;
        int j = job_of(&w, "export.build");
        w.f.store.fail_call = n;
        w.f.store.fail_code = QL_EUNAVAILABLE;
        int rc = run_job(&w, j, ql_export_build);
        int hit = w.f.store.fail_hits;
        ASSERT_INT_EQ(w.f.store.in_tx, 0);
        w.f.store.fail_call = 0;
        if (!hit) {
            ASSERT_INT_EQ(rc, QL_OK);
            fixture_cleanup(&w.f);
            break;
        }
        ASSERT_INT_EQ(rc, QL_EUNAVAILABLE);
        ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
        ASSERT_INT_EQ(got.status, QL_EXPORT_PENDING); /* and the next attempt builds it */
        ASSERT_INT_EQ(run_job(&w, j, ql_export_build), QL_OK);
        ASSERT_INT_EQ(fetch(&w, &w.pa, &e.id, &got, &d), QL_OK);
        ASSERT_INT_EQ(got.status, QL_EXPORT_READY);
        fixture_cleanup(&w.f);
    }
    ASSERT_TRUE(n > 10 && n < 200);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_asking_twice_gives_the_pending_export),
        TEST(test_the_document_holds_exactly_the_users_data),
        TEST(test_only_the_owner_reads_it_and_pending_has_no_data),
        TEST(test_an_export_that_expired_while_waiting_is_not_built),
        TEST(test_a_large_document_is_written_in_parts),
        TEST(test_too_large_fails_and_keeps_nothing),
        TEST(test_a_build_runs_again_harmlessly),
        TEST(test_at_most_five_live_exports),
        TEST(test_the_webhook_event_names_the_export_not_its_data),
        TEST(test_every_failed_store_call_of_a_build_is_an_error),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
