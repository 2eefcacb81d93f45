/*
 * Integration tests of quill-migrate's runner: up/down/status on a scratch directory,
 * refusal of an edited migration, two concurrent runners, and the project's own
 * migrations all up, all down and all up again.
 */
#include "err/err.h"
#include "itest.h"
#include "postgres/migrate.h"
#include "test.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *url;
static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
}

static void reset_db(void)
{
    ASSERT_NOT_NULL(itest_sql(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"));
}

static void scratch_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/quill-migrate-test-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ASSERT_INT_EQ(system(cmd), 0);
    ASSERT_INT_EQ(mkdir(dir, 0700), 0);
    write_file("0001_a.up.sql", "CREATE TABLE a (id int);\n");
    write_file("0001_a.down.sql", "DROP TABLE a;\n");
    write_file("0002_b.up.sql", "CREATE TABLE b (id int); INSERT INTO b VALUES (1);\n");
    write_file("0002_b.down.sql", "DROP TABLE b;\n");
}

static int run(enum ql_migrate_cmd c, int n, struct ql_error *e)
{
    ql_error_clear(e);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = ql_migrate_run(url, dir, c, n, devnull, e);
    fclose(devnull);
    return rc;
}

static void test_up_down_status(void)
{
    reset_db();
    scratch_dir();
    struct ql_error e;
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 1, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "1");
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT string_agg(name, ',' ORDER BY version) FROM "
                                 "schema_migrations"),
                  "0001_a,0002_b");
    ASSERT_STR_EQ(itest_sql(url, "SELECT length(checksum) FROM schema_migrations LIMIT 1"), "64");
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM b"), "1");
    ASSERT_INT_EQ(run(QL_MIGRATE_DOWN, 1, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT to_regclass('b') IS NULL"), "t");
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "2");
    ASSERT_INT_EQ(run(QL_MIGRATE_DOWN, 5, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "0");
}

static void test_edited_migration_is_refused(void)
{
    reset_db();
    scratch_dir();
    struct ql_error e;
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_OK);
    write_file("0001_a.up.sql", "CREATE TABLE a (id bigint);\n");
    write_file("0003_c.up.sql", "CREATE TABLE c (id int);\n");
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_ECONFLICT);
    ASSERT_TRUE(strstr(e.msg, "0001_a.up.sql was edited") != NULL);
    /* nothing ran: the pending migration was not applied */
    ASSERT_STR_EQ(itest_sql(url, "SELECT to_regclass('c') IS NULL"), "t");
}

static void test_failed_migration_rolls_back(void)
{
    reset_db();
    scratch_dir();
    write_file("0003_bad.up.sql", "CREATE TABLE c (id int); SELECT * FROM no_such_table;\n");
    struct ql_error e;
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_EINTERNAL);
    ASSERT_TRUE(strstr(e.msg, "0003_bad.up.sql failed") != NULL);
    ASSERT_STR_EQ(itest_sql(url, "SELECT to_regclass('c') IS NULL"), "t");
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "2");
}

static void *runner(void *arg)
{
    struct ql_error *e = arg;
    FILE *devnull = fopen("/dev/null", "w");
    intptr_t rc = ql_migrate_run(url, dir, QL_MIGRATE_UP, 0, devnull, e);
    fclose(devnull);
    return (void *)rc;
}

static void test_concurrent_runners_do_not_interleave(void)
{
    reset_db();
    scratch_dir();
    write_file("0001_a.up.sql", "SELECT pg_sleep(0.3); CREATE TABLE a (id int);\n");
    pthread_t t1, t2;
    struct ql_error e1, e2;
    pthread_create(&t1, NULL, runner, &e1);
    pthread_create(&t2, NULL, runner, &e2);
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    ASSERT_INT_EQ((intptr_t)r1, QL_OK);
    ASSERT_INT_EQ((intptr_t)r2, QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "2");
}

static void test_new_creates_next_pair(void)
{
    scratch_dir();
    struct ql_error e;
    FILE *devnull = fopen("/dev/null", "w");
    ASSERT_INT_EQ(ql_migrate_new(dir, "add_things", devnull, &e), QL_OK);
    ASSERT_INT_EQ(ql_migrate_new(dir, "Bad Name", devnull, &e), QL_EVALIDATION);
    fclose(devnull);
    char path[512];
    snprintf(path, sizeof(path), "%s/0003_add_things.up.sql", dir);
    ASSERT_INT_EQ(access(path, R_OK), 0);
    snprintf(path, sizeof(path), "%s/0003_add_things.down.sql", dir);
    ASSERT_INT_EQ(access(path, R_OK), 0);
}

/* The project's real migrations: all up, all down, all up again. */
static void test_project_migrations_up_down_up(void)
{
    reset_db();
    const char *root = getenv("QUILL_SOURCE_ROOT");
    ASSERT_NOT_NULL(root);
    snprintf(dir, sizeof(dir), "%s/migrations", root);
    struct ql_error e;
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_OK);
    const char *n = itest_sql(url, "SELECT count(*) FROM schema_migrations");
    ASSERT_NOT_NULL(n);
    int applied = atoi(n);
    ASSERT_INT_EQ(run(QL_MIGRATE_DOWN, 1000, &e), QL_OK);
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM schema_migrations"), "0");
    /* down leaves nothing behind but the bookkeeping table */
    ASSERT_STR_EQ(itest_sql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND "
                                 "tablename <> 'schema_migrations'"),
                  "0");
    ASSERT_INT_EQ(run(QL_MIGRATE_UP, 0, &e), QL_OK);
    ASSERT_INT_EQ(atoi(itest_sql(url, "SELECT count(*) FROM schema_migrations")), applied);
}

int main(int argc, char **argv)
{
    url = itest_url("QUILL_TEST_MIGRATE_URL");
    static const struct ql_test tests[] = {
        TEST(test_up_down_status),
        TEST(test_edited_migration_is_refused),
        TEST(test_failed_migration_rolls_back),
        TEST(test_concurrent_runners_do_not_interleave),
        TEST(test_new_creates_next_pair),
        TEST(test_project_migrations_up_down_up),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
