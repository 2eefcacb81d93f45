/*
 * quill-migrate - apply, revert and inspect the SQL migrations in migrations/.
 *
 *   quill-migrate up [N]      apply pending migrations (all, or the next N)
 *   quill-migrate down [N]    revert the last N applied migrations (default 1)
 *   quill-migrate status      list migrations and their state
 *   quill-migrate new NAME    create the next NNNN_NAME.up.sql / .down.sql pair
 *
 * DATABASE_URL names the database; QUILL_MIGRATIONS_DIR (default ./migrations) the files.
 */
#include "err/err.h"
#include "postgres/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: quill-migrate up [N] | down [N] | status | new NAME\n");
    return 2;
}

static int count_arg(const char *s, int *out)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || end == s || n < 1 || n > 1000000)
        return -1;
    *out = (int)n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return usage();
    const char *dir = getenv("QUILL_MIGRATIONS_DIR");
    if (dir == NULL || *dir == '\0')
        dir = "migrations";
    struct ql_error err;
    ql_error_clear(&err);
    const char *cmd = argv[1];
    if (strcmp(cmd, "new") == 0) {
        if (argc != 3)
            return usage();
        if (ql_migrate_new(dir, argv[2], stdout, &err) != QL_OK) {
            fprintf(stderr, "quill-migrate: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    enum ql_migrate_cmd c;
    int n = 0;
    if (strcmp(cmd, "up") == 0)
        c = QL_MIGRATE_UP;
    else if (strcmp(cmd, "down") == 0)
        c = QL_MIGRATE_DOWN, n = 1;
    else if (strcmp(cmd, "status") == 0 && argc == 2)
        c = QL_MIGRATE_STATUS;
    else
        return usage();
    if (argc == 3 && count_arg(argv[2], &n) != 0) {
        fprintf(stderr, "quill-migrate: N must be a positive integer, got '%s'\n", argv[2]);
        return 2;
    }
    const char *url = getenv("DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "quill-migrate: DATABASE_URL: required but not set\n");
        return 2;
    }
    if (ql_migrate_run(url, dir, c, n, stdout, &err) != QL_OK) {
        fprintf(stderr, "quill-migrate: %s\n", err.msg);
        return 1;
    }
    return 0;
}
