/*
 * quill-admin - operator commands that are not part of the HTTP API.
 *
 *   quill-admin audit-verify     recompute every audit hash chain; names the first broken
 *                                row and exits 1 when one does not verify
 *   quill-admin digest-tokens    read tokens (one per line) on stdin, print their keyed
 *                                digests in hex (needs QUILL_SECRET); used to seed data sets
 *   quill-admin hash-password    read a password on stdin, print its argon2id hash (the
 *                                staging password of tools/quill copy-anonymised)
 *
 * DATABASE_URL names the database.
 */
#include "config/config.h"
#include "err/err.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(void *ud, const char *name)
{
    (void)ud;
    return getenv(name);
}

static int digest_tokens(void)
{
    struct ql_config_common cfg;
    struct ql_config_errors errs;
    struct ql_env env;
    ql_env_init(&env, env_get, NULL, &errs);
    ql_config_common_read(&env, QL_NEED_SECRET, &cfg);
    if (ql_env_status(&env)) {
        for (int i = 0; i < errs.n; i++)
            fprintf(stderr, "quill-admin: %s\n", errs.msg[i]);
        return 2;
    }
    struct ql_auth *auth;
    if (ql_sodium_auth_create(cfg.secret, cfg.secret_len, 0, 0, 0, &auth) != QL_OK) {
        fprintf(stderr, "quill-admin: cannot initialise libsodium\n");
        return 1;
    }
    char line[1024];
    while (fgets(line, sizeof(line), stdin)) {
        size_t n = strcspn(line, "\r\n");
        uint8_t d[QL_DIGEST_LEN];
        ql_auth_token_digest(auth, line, n, d);
        for (int i = 0; i < QL_DIGEST_LEN; i++)
            printf("%02x", d[i]);
        putchar('\n');
    }
    ql_sodium_auth_destroy(auth);
    return 0;
}

static int hash_password(void)
{
    /* Hashing uses no key; the port wants one all the same. */
    static const uint8_t unused[32];
    struct ql_auth *auth;
    if (ql_sodium_auth_create(unused, sizeof(unused), 0, 0, 0, &auth) != QL_OK) {
        fprintf(stderr, "quill-admin: cannot initialise libsodium\n");
        return 1;
    }
    char line[1024], hash[QL_PWHASH_LEN];
    int rc = 1;
    if (fgets(line, sizeof(line), stdin) == NULL || strcspn(line, "\r\n") == 0)
        fprintf(stderr, "quill-admin: hash-password reads one line (the password) on stdin\n");
    else if (ql_auth_password_hash(auth, line, strcspn(line, "\r\n"), hash) != QL_OK)
        fprintf(stderr, "quill-admin: cannot hash the password\n");
    else
        rc = printf("%s\n", hash) < 0;
    ql_sodium_auth_destroy(auth);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "digest-tokens") == 0)
        return digest_tokens();
    if (argc == 2 && strcmp(argv[1], "hash-password") == 0)
        return hash_password();
    if (argc != 2 || strcmp(argv[1], "audit-verify") != 0) {
        fprintf(stderr, "usage: quill-admin audit-verify | digest-tokens | hash-password\n");
        return 2;
    }
    const char *url = getenv("DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "quill-admin: DATABASE_URL: required but not set\n");
        return 2;
    }
    struct ql_error err;
    ql_error_clear(&err);
    int rc = ql_pg_audit_verify(url, stdout, &err);
    if (rc) {
        fprintf(stderr, "quill-admin: %s\n", err.msg);
        return 1;
    }
    return 0;
}
