/*
 * test_rights.c - data rights against the real PostgreSQL: an export built by its job and
 * read back, and an erasure run whole (the request, then its job), after which the user's
 * email and name are in no column of any table, their entries are gone with tombstones in
 * the change log, their sessions are gone, and every audit chain still verifies.
 */
#include "account/account.h"
#include "arena/arena.h"
#include "changes/changes.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "entry/entry.h"
#include "err/err.h"
#include "idem/idem.h"
#include "integration/itest.h"
#include "integration/uc_world.h"
#include "jobs/jobs.h"
#include "rights/rights.h"
#include "sodium/sodium_auth.h"
#include "store/store.h"
#include "team/team.h"
#include "test.h"
#include "uuid/uuid.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *url;

struct world {
    struct uc_world u;
    char tag[40]; /* makes this run's emails and names unique */
};

static void world_open(struct world *w)
{
    memset(w, 0, sizeof(*w));
    uc_world_open(&w->u, url, 7);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(w->tag, sizeof(w->tag), "%lx%lx", (long)ts.tv_sec, (long)ts.tv_nsec);
}

static void world_close(struct world *w)
{
    uc_world_close(&w->u);
}

static void as(struct world *w, const struct ql_principal *p)
{
    ql_error_clear(&w->u.cx.err);
    w->u.cx.principal = p;
}

static void person(struct world *w, const char *email, const char *name, struct ql_auth_result *r,
                   struct ql_principal *p)
{
    as(w, NULL);
    struct ql_credentials c = {email,        strlen(email), "correct horse battery", 21, name,
                               strlen(name), NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->u.cx, &c, r), QL_OK);
    as(w, NULL);
    ASSERT_INT_EQ(
        ql_account_resolve(&w->u.cx, r->session.token, strlen(r->session.token), QL_VIA_BEARER, p),
        QL_OK);
}

/* Run the newest job of kind that names id in its payload, as the worker would. */
static int run_job(struct world *w, const char *kind, const char *id, ql_job_fn fn)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT payload::text FROM jobs WHERE kind = '%s' AND payload::text LIKE '%%%s%%' "
             "ORDER BY job_id DESC LIMIT 1",
             kind, id);
    const char *payload = itest_sql(url, sql);
    ASSERT_TRUE(payload != NULL && payload[0] != '\0');
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", payload);
    struct ql_job job = {.kind = kind, .payload = copy, .attempts = 1, .max_attempts = 5};
    as(w, NULL);
    return fn(&w->u.cx, &job);
}

/* How many rows of every table of the schema hold s anywhere in their text. */
static long rows_holding(const char *s)
{
    PGconn *c = PQconnectdb(url);
    ASSERT_INT_EQ(PQstatus(c), CONNECTION_OK);
    PGresult *t = PQexec(c, "SELECT quote_ident(table_name) FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'");
    ASSERT_INT_EQ(PQresultStatus(t), PGRES_TUPLES_OK);
    long found = 0;
    for (int i = 0; i < PQntuples(t); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s x WHERE strpos(x::text, $1) > 0",
                 PQgetvalue(t, i, 0));
        const char *v[1] = {s};
        PGresult *r = PQexecParams(c, sql, 1, NULL, v, NULL, NULL, 0);
        ASSERT_INT_EQ(PQresultStatus(r), PGRES_TUPLES_OK);
        long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (n)
            printf("# %s: %ld rows hold '%s'\n", PQgetvalue(t, i, 0), n, s);
        found += n;
        PQclear(r);
    }
    PQclear(t);
    PQfinish(c);
    return found;
}

static long count(const char *fmt, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof(sql), fmt, id);
    const char *v = itest_sql(url, sql);
    ASSERT_TRUE(v != NULL);
    return strtol(v, NULL, 10);
}

static void test_export_is_built_in_parts_and_read_back(void)
{
    static struct world w;
    world_open(&w);
    char email[96], other[96];
    snprintf(email, sizeof(email), "ada-%s@rights.test", w.tag);
    snprintf(other, sizeof(other), "bo-%s@rights.test", w.tag);
    struct ql_auth_result ada, bo;
    struct ql_principal pa, pb;
    person(&w, email, "Ada", &ada, &pa);
    person(&w, other, "Bo", &bo, &pb);
    struct ql_team t;
    as(&w, &pa);
    ASSERT_INT_EQ(ql_team_create(&w.u.cx, "Exported", 8, &t), QL_OK);
    as(&w, NULL);
    ASSERT_INT_EQ(ql_account_resolve(&w.u.cx, ada.session.token, strlen(ada.session.token),
                                     QL_VIA_BEARER, &pa),
                  QL_OK);
    static char big[90001];
    for (int i = 0; i < 4; i++) { /* about 360 KB: more than one part */
        memset(big, 'k' + i, sizeof(big) - 1);
        struct ql_entry_input in = {big, sizeof(big) - 1, 0, NULL, 0};
        struct ql_entry e;
        as(&w, &pa);
        ASSERT_INT_EQ(ql_entry_create(&w.u.cx, &t.id, &in, &e), QL_OK);
    }
    struct ql_export e;
    int created;
    as(&w, &pa);
    ASSERT_INT_EQ(ql_export_request(&w.u.cx, &e, &created), QL_OK);
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&e.id, id);
    ASSERT_INT_EQ(run_job(&w, "export.build", id, ql_export_build), QL_OK);
    ASSERT_TRUE(count("SELECT count(*) FROM export_parts WHERE export_id = '%s'", id) >= 2);
    ASSERT_INT_EQ(
        count("SELECT count(*) FROM exports WHERE export_id = '%s' AND status = 'ready'", id), 1);
    /* its owner sees it ready; its team's log says so for the webhooks */
    as(&w, &pa);
    struct ql_export got;
    ASSERT_INT_EQ(ql_export_get(&w.u.cx, &e.id, &got, NULL, NULL), QL_OK);
    ASSERT_INT_EQ(got.status, QL_EXPORT_READY);
    ASSERT_TRUE(got.bytes > 360000);
    ASSERT_INT_EQ(count("SELECT count(*) FROM changes WHERE entity_id = '%s' AND event = 10", id),
                  1);
    as(&w, &pb);
    ASSERT_INT_EQ(ql_export_get(&w.u.cx, &e.id, &got, NULL, NULL), QL_ENOT_FOUND);
    world_close(&w);
}

/* The pages of entries the build read: how many, and the most content one held before its
 * last entry (what the page had when it took that one) and in all. */
static struct {
    const struct ql_rights_ops *real;
    int pages;
    size_t most_before_last, most;
} seen;

static int entries_seen(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        const struct ql_uuid *after, int limit, struct ql_entry **out, int *n,
                        int *more)
{
    int rc = seen.real->entries(self, cx, user, after, limit, out, n, more);
    size_t bytes = 0;
    for (int i = 0; rc == QL_OK && i < *n; i++) {
        if (i == *n - 1 && bytes > seen.most_before_last)
            seen.most_before_last = bytes;
        bytes += (*out)[i].content_n;
    }
    if (bytes > seen.most)
        seen.most = bytes;
    seen.pages++;
    return rc;
}

struct whole {
    char *text;
    size_t n, cap;
};

static int keep(void *ud, const char *data, size_t n)
{
    struct whole *d = ud;
    if (d->n + n + 1 > d->cap)
        return -1;
    memcpy(d->text + d->n, data, n);
    d->n += n;
    d->text[d->n] = '\0';
    return 0;
}

/* An entry made by the export test, and the letter its content repeats. */
struct made {
    struct ql_uuid id;
    char letter;
};

static int by_id(const void *a, const void *b)
{
    return memcmp(((const struct made *)a)->id.b, ((const struct made *)b)->id.b, 16);
}

/*
 * An export of 25 entries of 100,000 characters reads them in pages of at most about
 * QL_PAGE_CONTENT_MAX of content (it read them 50 at a time: 2.5 MB in one page, 20 MB with
 * four-byte characters), and its document still holds every one once, in order of id.
 */
static void test_an_export_reads_large_entries_in_pages_bounded_by_bytes(void)
{
    static struct world w;
    world_open(&w);
    char email[96];
    snprintf(email, sizeof(email), "cy-%s@rights.test", w.tag);
    struct ql_auth_result cy;
    struct ql_principal pc;
    person(&w, email, "Cy", &cy, &pc);
    struct ql_team t;
    as(&w, &pc);
    ASSERT_INT_EQ(ql_team_create(&w.u.cx, "Large", 5, &t), QL_OK);
    as(&w, NULL);
    ASSERT_INT_EQ(
        ql_account_resolve(&w.u.cx, cy.session.token, strlen(cy.session.token), QL_VIA_BEARER, &pc),
        QL_OK);
    static char big[100001];
    struct made ids[25];
    for (int i = 0; i < 25; i++) {
        memset(big, 'A' + i, sizeof(big) - 1);
        struct ql_entry_input in = {big, sizeof(big) - 1, 0, NULL, 0};
        struct ql_entry e;
        as(&w, &pc);
        ASSERT_INT_EQ(ql_entry_create(&w.u.cx, &t.id, &in, &e), QL_OK);
        ids[i] = (struct made){e.id, (char)('A' + i)};
    }
    /* The export is in order of id; two entries made in one millisecond may be in either. */
    qsort(ids, 25, sizeof(ids[0]), by_id);
    struct ql_export e;
    int created;
    as(&w, &pc);
    ASSERT_INT_EQ(ql_export_request(&w.u.cx, &e, &created), QL_OK);
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&e.id, id);
    struct ql_store *st = w.u.cx.ports.store;
    const struct ql_store_ops *ops = st->ops;
    struct ql_store_ops spied = *ops;
    struct ql_rights_ops rights = *ops->rights;
    memset(&seen, 0, sizeof(seen));
    seen.real = ops->rights;
    rights.entries = entries_seen;
    spied.rights = &rights;
    st->ops = &spied;
    int rc = run_job(&w, "export.build", id, ql_export_build);
    st->ops = ops;
    ASSERT_INT_EQ(rc, QL_OK);
    printf("# %d pages of entries, at most %zu bytes\n", seen.pages, seen.most);
    ASSERT_TRUE(seen.pages >= 3);
    ASSERT_TRUE(seen.most_before_last < QL_PAGE_CONTENT_MAX);
    ASSERT_TRUE(seen.most < QL_PAGE_CONTENT_MAX + 100000);
    /* the document: every entry once, in order of id, whole */
    static struct whole d;
    d.cap = 4 << 20;
    d.n = 0;
    d.text = malloc(d.cap);
    ASSERT_NOT_NULL(d.text);
    struct ql_export got;
    as(&w, &pc);
    ASSERT_INT_EQ(ql_export_get(&w.u.cx, &e.id, &got, keep, &d), QL_OK);
    cJSON *doc = cJSON_Parse(d.text);
    ASSERT_NOT_NULL(doc);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "journalEntries");
    ASSERT_INT_EQ(cJSON_GetArraySize(list), 25);
    for (int i = 0; i < 25 && i < cJSON_GetArraySize(list); i++) {
        const cJSON *x = cJSON_GetArrayItem(list, i);
        char want[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&ids[i].id, want);
        ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(x, "journalEntryId")->valuestring, want);
        const char *content = cJSON_GetObjectItemCaseSensitive(x, "content")->valuestring;
        ASSERT_INT_EQ(strlen(content), 100000);
        ASSERT_INT_EQ(content[0], ids[i].letter);
        ASSERT_INT_EQ(content[99999], ids[i].letter);
    }
    cJSON_Delete(doc);
    free(d.text);
    world_close(&w);
}

/* The pages of idempotency records the erasure read, as seen counts entries' pages. */
static struct {
    const struct ql_rights_ops *real;
    int pages;
    size_t most_before_last;
} idem_seen;

static int idem_page_seen(struct ql_store *self, struct ql_ctx *cx, const char *after_scope,
                          const char *after_key, int limit, struct ql_idem_row **out, int *n,
                          int *more)
{
    int rc = idem_seen.real->idem_page(self, cx, after_scope, after_key, limit, out, n, more);
    size_t bytes = 0;
    for (int i = 0; rc == QL_OK && i + 1 < *n; i++)
        bytes += (*out)[i].r.sealed_n;
    if (bytes > idem_seen.most_before_last)
        idem_seen.most_before_last = bytes;
    idem_seen.pages++;
    return rc;
}

/*
 * The erasure looks through every stored answer in pages of at most about
 * QL_PAGE_CONTENT_MAX of sealed bytes (it read 500 at a time: 500 answers of an entry of
 * 100,000 characters are 50 MB to 200 MB), and still finds the answer that shows the person
 * after a page that ended at its bytes.
 */
static void test_erasure_reads_stored_answers_in_pages_bounded_by_bytes(void)
{
    static struct world w;
    world_open(&w);
    char email[96];
    snprintf(email, sizeof(email), "large-%s@rights.test", w.tag);
    struct ql_auth_result dee;
    struct ql_principal pd;
    person(&w, email, "Dee", &dee, &pd);
    char scope[64];
    snprintf(scope, sizeof(scope), "user:%s-large", w.tag);
    static char big[500001];
    memset(big, 'x', sizeof(big) - 1);
    char did[QL_UUID_STR_LEN + 1], shows[256];
    ql_uuid_format(&dee.user.id, did);
    snprintf(shows, sizeof(shows), "{\"userId\":\"%s\",\"email\":\"%s\"}", did, email);
    static const char *const keys[4] = {"a1", "a2", "a3", "a4"};
    for (int i = 0; i < 4; i++) { /* three of 500 KB, then one that shows her */
        const char *body = i < 3 ? big : shows;
        struct ql_idem_record rec;
        as(&w, &pd);
        ASSERT_INT_EQ(ql_idem_pack(&w.u.cx, 201, "", 0, body, strlen(body), &rec), QL_OK);
        ASSERT_INT_EQ(ql_store_idem_put(w.u.cx.ports.store, &w.u.cx, scope, keys[i], &rec), QL_OK);
    }
    struct ql_erase_request er = {"correct horse battery", 21, NULL, 0};
    as(&w, &pd);
    ASSERT_INT_EQ(ql_account_erase(&w.u.cx, &er), QL_OK);
    struct ql_store *st = w.u.cx.ports.store;
    const struct ql_store_ops *ops = st->ops;
    struct ql_store_ops spied = *ops;
    struct ql_rights_ops rights = *ops->rights;
    memset(&idem_seen, 0, sizeof(idem_seen));
    idem_seen.real = ops->rights;
    rights.idem_page = idem_page_seen;
    spied.rights = &rights;
    st->ops = &spied;
    int rc = run_job(&w, "account.erase", did, ql_account_erase_run);
    st->ops = ops;
    ASSERT_INT_EQ(rc, QL_OK);
    printf("# %d pages of stored answers, at most %zu bytes before a page's last\n",
           idem_seen.pages, idem_seen.most_before_last);
    ASSERT_TRUE(idem_seen.pages >= 2);
    ASSERT_TRUE(idem_seen.most_before_last < QL_PAGE_CONTENT_MAX);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys "
             "WHERE scope = '%s'",
             scope);
    const char *left = itest_sql(url, sql);
    ASSERT_NOT_NULL(left);
    ASSERT_STR_EQ(left, "a1,a2,a3"); /* the one that showed her is gone */
    snprintf(sql, sizeof(sql), "DELETE FROM idempotency_keys WHERE scope = '%s'", scope);
    ASSERT_NOT_NULL(itest_sql(url, sql)); /* 1.5 MB the next runs need not read */
    world_close(&w);
}

static void test_erasure_leaves_nothing_of_the_person_and_the_chain_verifies(void)
{
    static struct world w;
    world_open(&w);
    char email[96], name[64], other[96];
    snprintf(email, sizeof(email), "erased-%s@rights.test", w.tag);
    snprintf(name, sizeof(name), "Erasable %s", w.tag);
    snprintf(other, sizeof(other), "owner-%s@rights.test", w.tag);
    struct ql_auth_result own, bo;
    struct ql_principal po, pb;
    person(&w, other, "Owner", &own, &po);
    person(&w, email, name, &bo, &pb);
    struct ql_team t;
    as(&w, &po);
    ASSERT_INT_EQ(ql_team_create(&w.u.cx, "Shared", 6, &t), QL_OK);
    as(&w, NULL);
    ASSERT_INT_EQ(ql_account_resolve(&w.u.cx, own.session.token, strlen(own.session.token),
                                     QL_VIA_BEARER, &po),
                  QL_OK);
    struct ql_member m;
    as(&w, &po);
    ASSERT_INT_EQ(ql_member_add(&w.u.cx, &t.id, email, strlen(email), "member", 6, &m), QL_OK);
    /* the admin's stored answer shows him, and so does a webhook body */
    struct ql_idem_record rec;
    char body[512], bid[QL_UUID_STR_LEN + 1], tid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&bo.user.id, bid);
    ql_uuid_format(&t.id, tid);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"email\":\"%s\",\"displayName\":\"%s\"}", bid,
             email, name);
    as(&w, &po);
    ASSERT_INT_EQ(ql_idem_pack(&w.u.cx, 201, "", 0, body, strlen(body), &rec), QL_OK);
    char scope[64];
    snprintf(scope, sizeof(scope), "user:%s", w.tag);
    ASSERT_INT_EQ(ql_store_idem_put(w.u.cx.ports.store, &w.u.cx, scope, "add-bo", &rec), QL_OK);
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "WITH h AS (INSERT INTO webhooks (webhook_id, team_id, url, events, secret, "
             "created_at) VALUES (gen_random_uuid(), '%s', 'https://x.example.com', "
             "'{member.added}', '\\x00', now()) RETURNING webhook_id) INSERT INTO "
             "webhook_deliveries (delivery_id, webhook_id, team_id, event, body, created_at) "
             "SELECT gen_random_uuid(), webhook_id, '%s', 'member.added', '{\"data\":%s}', now() "
             "FROM h",
             tid, tid, body);
    ASSERT_TRUE(itest_sql(url, sql) != NULL);
    /* his entries: one live, one he deleted; an export of his */
    as(&w, NULL);
    ASSERT_INT_EQ(
        ql_account_resolve(&w.u.cx, bo.session.token, strlen(bo.session.token), QL_VIA_BEARER, &pb),
        QL_OK);
    struct ql_entry live, gone;
    struct ql_entry_input in = {name, strlen(name), 0, NULL, 0};
    as(&w, &pb);
    ASSERT_INT_EQ(ql_entry_create(&w.u.cx, &t.id, &in, &live), QL_OK);
    as(&w, &pb);
    ASSERT_INT_EQ(ql_entry_create(&w.u.cx, &t.id, &in, &gone), QL_OK);
    as(&w, &pb);
    ASSERT_INT_EQ(ql_entry_delete(&w.u.cx, &t.id, &gone.id, NULL, 0), QL_OK);
    struct ql_export e;
    int created;
    as(&w, &pb);
    ASSERT_INT_EQ(ql_export_request(&w.u.cx, &e, &created), QL_OK);
    char eid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&e.id, eid);
    ASSERT_INT_EQ(run_job(&w, "export.build", eid, ql_export_build), QL_OK);
    ASSERT_TRUE(rows_holding(email) > 0);
    /* the erasure: the request, then its job */
    struct ql_erase_request er = {"correct horse battery", 21, NULL, 0};
    as(&w, &pb);
    ASSERT_INT_EQ(ql_account_erase(&w.u.cx, &er), QL_OK);
    ASSERT_INT_EQ(count("SELECT count(*) FROM sessions WHERE user_id = '%s'", bid), 0);
    ASSERT_INT_EQ(run_job(&w, "account.erase", bid, ql_account_erase_run), QL_OK);
    ASSERT_INT_EQ(rows_holding(email), 0);
    ASSERT_INT_EQ(rows_holding(name), 0);
    ASSERT_INT_EQ(count("SELECT count(*) FROM journal_entries WHERE author_user_id = '%s'", bid),
                  0);
    char lid[QL_UUID_STR_LEN + 1], gid[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&live.id, lid);
    ql_uuid_format(&gone.id, gid);
    /* tombstones: the live entry's delete now, the deleted one's earlier; no second one */
    ASSERT_INT_EQ(count("SELECT count(*) FROM changes WHERE entity_id = '%s' AND event = 3", lid),
                  1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM changes WHERE entity_id = '%s' AND event = 3", gid),
                  1);
    ASSERT_INT_EQ(count("SELECT count(*) FROM team_members WHERE user_id = '%s'", bid), 0);
    ASSERT_INT_EQ(count("SELECT count(*) FROM idempotency_keys WHERE scope = '%s'", scope), 0);
    ASSERT_INT_EQ(
        count("SELECT count(*) FROM users WHERE user_id = '%s' AND erased_at IS NOT NULL", bid), 1);
    /* the rows that name him by id stay, and every chain verifies */
    char actor[64];
    snprintf(actor, sizeof(actor), "User:%s", bid);
    ASSERT_TRUE(count("SELECT count(*) FROM audit_log WHERE actor = '%s'", actor) > 0);
    struct ql_error err;
    ql_error_clear(&err);
    FILE *out = tmpfile();
    ASSERT_INT_EQ(ql_pg_audit_verify(url, NULL, NULL, out, &err), QL_OK);
    fclose(out);
    world_close(&w);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_DATABASE_URL");
    static const struct ql_test tests[] = {
        TEST(test_export_is_built_in_parts_and_read_back),
        TEST(test_an_export_reads_large_entries_in_pages_bounded_by_bytes),
        TEST(test_erasure_leaves_nothing_of_the_person_and_the_chain_verifies),
        TEST(test_erasure_reads_stored_answers_in_pages_bounded_by_bytes),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
