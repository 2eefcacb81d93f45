/*
 * Unit tests of configuration: the reader of core/config, the settings every binary and the
 * core read, and those of quill-api (adapters/http) and quill-worker (adapters/engine):
 * defaults, and one message naming each bad variable.
 */
#include "config/config.h"
#include "engine/engine.h"
#include "err/err.h"
#include "http/http.h"
#include "log/log.h"
#include "test.h"

struct env {
    const char *kv[32];
};

static const char *get(void *ud, const char *name)
{
    struct env *e = ud;
    size_t n = strlen(name);
    for (int i = 0; e->kv[i]; i++)
        if (strncmp(e->kv[i], name, n) == 0 && e->kv[i][n] == '=')
            return e->kv[i] + n + 1;
    return NULL;
}

#define SECRET "QUILL_SECRET=MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="

static int has_message(const struct ql_config_errors *errs, const char *needle)
{
    for (int i = 0; i < errs->n; i++)
        if (strstr(errs->msg[i], needle))
            return 1;
    return 0;
}

/* Everything quill-api reads, as its main reads it. */
struct api {
    struct ql_config_common common;
    struct ql_config core;
    struct ql_http_config http;
};

static int read_api(struct env *e, int need, struct api *a, struct ql_config_errors *errs)
{
    struct ql_env r;
    ql_env_init(&r, get, e, errs);
    ql_config_common_read(&r, need, &a->common);
    ql_config_read(&r, &a->core);
    ql_http_config_read(&r, 2, &a->http);
    return ql_env_status(&r);
}

static void test_defaults(void)
{
    struct env e = {{"DATABASE_URL=postgres://x/y", SECRET, NULL}};
    struct api a;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(read_api(&e, QL_NEED_DATABASE | QL_NEED_SECRET, &a, &errs), QL_OK);
    ASSERT_STR_EQ(a.common.database_url, "postgres://x/y");
    ASSERT_INT_EQ(a.common.secret_len, 32);
    ASSERT_INT_EQ(a.common.log_level, QL_LOG_INFO);
    ASSERT_INT_EQ(a.core.auth_ip_limit, 30);
    ASSERT_INT_EQ(a.core.session_ttl_ms, 720LL * 3600000);
    ASSERT_INT_EQ(a.core.session_idle_ms, 168LL * 3600000);
    ASSERT_INT_EQ(a.core.webhook_retention_ms, 720LL * 3600000);
    ASSERT_STR_EQ(a.http.listen_host, "127.0.0.1");
    ASSERT_INT_EQ(a.http.listen_port, 8080);
    ASSERT_INT_EQ(a.http.threads, 2);
    ASSERT_INT_EQ(a.http.db_pool, 8);
    ASSERT_INT_EQ(a.http.write_pool, 48);
    ASSERT_INT_EQ(a.http.group_commit, 1);
    ASSERT_INT_EQ(a.http.rate_limit, 50);
    ASSERT_INT_EQ(a.http.max_body, 1 << 20);
    ASSERT_INT_EQ(a.http.public_https, 0);
    ASSERT_INT_EQ(a.http.shutdown_timeout_ms, 10000);
    ASSERT_STR_EQ(a.http.admin_token, "");
}

static void test_required_variables_named(void)
{
    struct env e = {{NULL}};
    struct api a;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(read_api(&e, QL_NEED_DATABASE | QL_NEED_SECRET, &a, &errs), QL_ECONFIG);
    ASSERT_INT_EQ(errs.n, 2);
    ASSERT_TRUE(has_message(&errs, "DATABASE_URL: required"));
    ASSERT_TRUE(has_message(&errs, "QUILL_SECRET: required"));
    /* what a binary does not need may be unset */
    ASSERT_INT_EQ(read_api(&e, 0, &a, &errs), QL_OK);
}

static void test_every_bad_value_reported(void)
{
    struct env e = {{"DATABASE_URL=x", "QUILL_SECRET=c2hvcnQ=", "QUILL_LISTEN=nohostport",
                     "QUILL_DB_POOL=zero", "QUILL_THREADS=0", "QUILL_LOG_LEVEL=loud",
                     "QUILL_PUBLIC_URL=ftp://x", "QUILL_ADMIN_TOKEN=short", "QUILL_WRITE_POOL=-1",
                     "QUILL_GROUP_COMMIT=lots", "QUILL_LOOP_READS=yes", "QUILL_SESSION_TTL_HOURS=0",
                     "QUILL_ACCESS_LOG=maybe", "QUILL_WEBHOOK_RETENTION_HOURS=0", NULL}};
    struct api a;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(read_api(&e, QL_NEED_DATABASE | QL_NEED_SECRET, &a, &errs), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_SECRET: decodes to 5 bytes"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LISTEN: expected host:port"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_DB_POOL: expected an integer from 1 to 1000, got 'zero'"));
    ASSERT_TRUE(has_message(&errs, "QUILL_THREADS"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LOG_LEVEL"));
    ASSERT_TRUE(has_message(&errs, "QUILL_PUBLIC_URL"));
    ASSERT_TRUE(has_message(&errs, "QUILL_ADMIN_TOKEN"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_WRITE_POOL: expected an integer from 0 to 1000, got '-1'"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_GROUP_COMMIT: expected an integer from 0 to 1000, got 'lots'"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LOOP_READS: expected an integer from 0 to 1, got 'yes'"));
    ASSERT_TRUE(has_message(&errs, "QUILL_SESSION_TTL_HOURS"));
    ASSERT_TRUE(has_message(&errs, "QUILL_ACCESS_LOG: expected 0 or 1"));
    ASSERT_TRUE(has_message(&errs, "QUILL_WEBHOOK_RETENTION_HOURS: expected an integer from 1 to "
                                   "87600, got '0'"));
    ASSERT_INT_EQ(errs.n, 13);
}

static void test_listen_forms(void)
{
    struct env e = {{"QUILL_LISTEN=[::1]:9000", "QUILL_PUBLIC_URL=https://quill.example", NULL}};
    struct api a;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(read_api(&e, 0, &a, &errs), QL_OK);
    ASSERT_STR_EQ(a.http.listen_host, "::1");
    ASSERT_INT_EQ(a.http.listen_port, 9000);
    ASSERT_INT_EQ(a.http.public_https, 1);
    struct env bad = {{"QUILL_LISTEN=127.0.0.1:99999", NULL}};
    ASSERT_INT_EQ(read_api(&bad, 0, &a, &errs), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_LISTEN"));
}

static void test_the_worker_reads_its_own(void)
{
    struct env e = {{"QUILL_WORKER_LISTEN=off", "QUILL_JOB_QUEUES=mail,events",
                     "QUILL_JOB_RETENTION_HOURS=2", NULL}};
    struct ql_engine_config c;
    struct ql_config_errors errs;
    struct ql_env r;
    ql_env_init(&r, get, &e, &errs);
    ql_engine_config_read(&r, &c);
    ASSERT_INT_EQ(ql_env_status(&r), QL_OK);
    ASSERT_STR_EQ(c.worker_listen_host, "");
    ASSERT_STR_EQ(c.job_queues, "mail,events");
    ASSERT_INT_EQ(c.job_retention_ms, 2LL * 3600000);
    ASSERT_INT_EQ(c.worker_concurrency, 10);
    ASSERT_INT_EQ(c.job_batch, 100);
    struct env bad = {{"QUILL_JOB_HEARTBEAT_MS=5000", "QUILL_JOB_RESCUE_AFTER_MS=4000",
                       "QUILL_WORKER_LISTEN=nowhere", "QUILL_WORKER_CONCURRENCY=0", NULL}};
    ql_env_init(&r, get, &bad, &errs);
    ql_engine_config_read(&r, &c);
    ASSERT_INT_EQ(ql_env_status(&r), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_JOB_RESCUE_AFTER_MS: must be longer"));
    ASSERT_TRUE(has_message(&errs, "QUILL_WORKER_LISTEN: expected host:port"));
    ASSERT_TRUE(has_message(&errs, "QUILL_WORKER_CONCURRENCY"));
    ASSERT_INT_EQ(errs.n, 3);
}

/* A list of queues that names none would be read as "every queue", the opposite of a limit;
 * past 32 names the rest would be dropped without a word. */
static void test_the_worker_refuses_a_queue_list_it_cannot_honour(void)
{
    char many[512] = "QUILL_JOB_QUEUES=q0";
    for (int i = 1; i <= 32; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",q%d", i);
    const char *bad[] = {"QUILL_JOB_QUEUES=,", "QUILL_JOB_QUEUES= ", many};
    for (int i = 0; i < 3; i++) {
        struct env e = {{bad[i], NULL}};
        struct ql_engine_config c;
        struct ql_config_errors errs;
        struct ql_env r;
        ql_env_init(&r, get, &e, &errs);
        ql_engine_config_read(&r, &c);
        ASSERT_INT_EQ(ql_env_status(&r), QL_ECONFIG);
        ASSERT_TRUE(has_message(&errs, "QUILL_JOB_QUEUES"));
    }
    struct env fine = {{"QUILL_JOB_QUEUES=", NULL}}; /* empty: every queue, as unset */
    struct ql_engine_config c;
    struct ql_config_errors errs;
    struct ql_env r;
    ql_env_init(&r, get, &fine, &errs);
    ql_engine_config_read(&r, &c);
    ASSERT_INT_EQ(ql_env_status(&r), QL_OK);
}

static void test_pooler(void)
{
    struct api a;
    struct ql_config_errors errs;
    struct env plain = {{"DATABASE_URL=postgres://x/y", SECRET, NULL}};
    ASSERT_INT_EQ(read_api(&plain, QL_NEED_DATABASE, &a, &errs), QL_OK);
    ASSERT_INT_EQ(a.common.db_pooler, QL_POOLER_NONE);
    ASSERT_STR_EQ(a.common.database_direct_url, "postgres://x/y"); /* the same by default */
    struct env pooled = {{"DATABASE_URL=postgres://bouncer/y", "QUILL_DB_POOLER=pgbouncer",
                          "DATABASE_DIRECT_URL=postgres://pg/y", SECRET, NULL}};
    ASSERT_INT_EQ(read_api(&pooled, QL_NEED_DATABASE, &a, &errs), QL_OK);
    ASSERT_INT_EQ(a.common.db_pooler, QL_POOLER_PGBOUNCER);
    ASSERT_STR_EQ(a.common.database_direct_url, "postgres://pg/y");
    struct env bad = {{"DATABASE_URL=postgres://bouncer/y", "QUILL_DB_POOLER=pgbouncer", NULL}};
    ASSERT_INT_EQ(read_api(&bad, QL_NEED_DATABASE, &a, &errs), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "DATABASE_DIRECT_URL: required with QUILL_DB_POOLER"));
    struct env odd = {{"DATABASE_URL=postgres://x/y", "QUILL_DB_POOLER=pgpool", NULL}};
    ASSERT_INT_EQ(read_api(&odd, QL_NEED_DATABASE, &a, &errs), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_DB_POOLER: expected none or pgbouncer, got 'pgpool'"));
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_defaults),
        TEST(test_required_variables_named),
        TEST(test_every_bad_value_reported),
        TEST(test_listen_forms),
        TEST(test_the_worker_reads_its_own),
        TEST(test_the_worker_refuses_a_queue_list_it_cannot_honour),
        TEST(test_pooler),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
