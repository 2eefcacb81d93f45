/* Unit tests of core/config: defaults, and one message naming each bad variable. */
#include "config/config.h"
#include "err/err.h"
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

static void test_defaults(void)
{
    struct env e = {{"DATABASE_URL=postgres://x/y", SECRET, NULL}};
    struct ql_config c;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(ql_config_load(&c, get, &e, QL_NEED_DATABASE | QL_NEED_SECRET, 2, &errs), QL_OK);
    ASSERT_STR_EQ(c.listen_host, "127.0.0.1");
    ASSERT_INT_EQ(c.listen_port, 8080);
    ASSERT_INT_EQ(c.secret_len, 32);
    ASSERT_INT_EQ(c.threads, 2);
    ASSERT_INT_EQ(c.db_pool, 8);
    ASSERT_INT_EQ(c.write_pool, 48);
    ASSERT_INT_EQ(c.group_commit, 2);
    ASSERT_INT_EQ(c.worker_concurrency, 10);
    ASSERT_INT_EQ(c.auth_ip_limit, 30);
    ASSERT_INT_EQ(c.rate_limit, 50);
    ASSERT_INT_EQ(c.max_body, 1 << 20);
    ASSERT_INT_EQ(c.log_level, QL_LOG_INFO);
    ASSERT_INT_EQ(c.public_https, 0);
    ASSERT_STR_EQ(c.admin_token, "");
}

static void test_required_variables_named(void)
{
    struct env e = {{NULL}};
    struct ql_config c;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(ql_config_load(&c, get, &e, QL_NEED_DATABASE | QL_NEED_SECRET, 1, &errs),
                  QL_ECONFIG);
    ASSERT_INT_EQ(errs.n, 2);
    ASSERT_TRUE(has_message(&errs, "DATABASE_URL: required"));
    ASSERT_TRUE(has_message(&errs, "QUILL_SECRET: required"));
}

static void test_every_bad_value_reported(void)
{
    struct env e = {{"DATABASE_URL=x", "QUILL_SECRET=c2hvcnQ=", "QUILL_LISTEN=nohostport",
                     "QUILL_DB_POOL=zero", "QUILL_THREADS=0", "QUILL_LOG_LEVEL=loud",
                     "QUILL_PUBLIC_URL=ftp://x", "QUILL_WEBHOOK_ALLOW_PRIVATE=yes",
                     "QUILL_OIDC_ISSUER=https://idp", "QUILL_ADMIN_TOKEN=short",
                     "QUILL_WRITE_POOL=-1", "QUILL_GROUP_COMMIT=lots", "QUILL_LOOP_READS=yes",
                     NULL}};
    struct ql_config c;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(ql_config_load(&c, get, &e, QL_NEED_DATABASE | QL_NEED_SECRET, 1, &errs),
                  QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_SECRET: decodes to 5 bytes"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LISTEN: expected host:port"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_DB_POOL: expected an integer from 1 to 1000, got 'zero'"));
    ASSERT_TRUE(has_message(&errs, "QUILL_THREADS"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LOG_LEVEL"));
    ASSERT_TRUE(has_message(&errs, "QUILL_PUBLIC_URL"));
    ASSERT_TRUE(has_message(&errs, "QUILL_WEBHOOK_ALLOW_PRIVATE"));
    ASSERT_TRUE(has_message(&errs, "QUILL_OIDC_ISSUER, QUILL_OIDC_AUDIENCE"));
    ASSERT_TRUE(has_message(&errs, "QUILL_ADMIN_TOKEN"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_WRITE_POOL: expected an integer from 0 to 1000, got '-1'"));
    ASSERT_TRUE(
        has_message(&errs, "QUILL_GROUP_COMMIT: expected an integer from 0 to 1000, got 'lots'"));
    ASSERT_TRUE(has_message(&errs, "QUILL_LOOP_READS: expected an integer from 0 to 1, got 'yes'"));
    ASSERT_INT_EQ(errs.n, 12);
}

static void test_listen_forms(void)
{
    struct env e = {{"QUILL_LISTEN=[::1]:9000", "QUILL_PUBLIC_URL=https://quill.example", NULL}};
    struct ql_config c;
    struct ql_config_errors errs;
    ASSERT_INT_EQ(ql_config_load(&c, get, &e, 0, 1, &errs), QL_OK);
    ASSERT_STR_EQ(c.listen_host, "::1");
    ASSERT_INT_EQ(c.listen_port, 9000);
    ASSERT_INT_EQ(c.public_https, 1);
    struct env bad = {{"QUILL_LISTEN=127.0.0.1:99999", NULL}};
    ASSERT_INT_EQ(ql_config_load(&c, get, &bad, 0, 1, &errs), QL_ECONFIG);
    ASSERT_TRUE(has_message(&errs, "QUILL_LISTEN"));
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_defaults),
        TEST(test_required_variables_named),
        TEST(test_every_bad_value_reported),
        TEST(test_listen_forms),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
