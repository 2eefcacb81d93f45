/*
 * quill-admin - operator commands that are not part of the HTTP API.
 *
 *   quill-admin audit-verify [--anchor FILE]
 *                                recompute every audit hash chain; names the first broken
 *                                row and exits 1 when one does not verify.  With --anchor,
 *                                also check the rows FILE names (if it exists) and then
 *                                write each chain's last row to it (core/audit/anchor.h)
 *   quill-admin digest-tokens    read tokens (one per line) on stdin, print their keyed
 *                                digests in hex (needs QUILL_SECRET); used to seed data sets
 *   quill-admin hash-password    read a password on stdin, print its argon2id hash (the
 *                                staging password of tools/quill copy-anonymised)
 *
 * DATABASE_URL names the database.
 */
#include "audit/anchor.h"
#include "buf/buf.h"
#include "config/config.h"
#include "err/err.h"
#include "postgres/pg.h"
#include "sodium/sodium_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* Read the anchors in path into a (sorted); a missing file is an empty set.  0, or 2 with a
 * message naming the file. */
static int read_anchors(const char *path, struct ql_audit_anchors *a)
{
    FILE *f = fopen(path, "r");
    if (f == NULL && errno == ENOENT) {
        printf("no anchors yet in %s: this run writes the first\n", path);
        return 0;
    }
    struct ql_buf text;
    ql_buf_init(&text, NULL);
    char chunk[8192];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ql_buf_append(&text, chunk, n);
    struct ql_error err;
    ql_error_clear(&err);
    int rc = 0;
    if (f == NULL || ferror(f)) {
        fprintf(stderr, "quill-admin: --anchor %s: cannot read: %s\n", path, strerror(errno));
        rc = 2;
    } else if (ql_buf_ok(&text)) {
        fprintf(stderr, "quill-admin: --anchor %s: out of memory\n", path);
        rc = 2;
    } else if (ql_audit_anchors_parse(a, text.data, text.len, &err)) {
        fprintf(stderr, "quill-admin: --anchor %s: %s\n", path, err.msg);
        rc = 2;
    }
    if (f)
        fclose(f);
    ql_buf_cleanup(&text);
    return rc;
}

/* Replace path with the anchors of heads: a new file beside it, flushed, then renamed over
 * it, so a crash leaves the old anchors or the new ones, never half of them. */
static int write_anchors(const char *path, struct ql_audit_anchors *heads)
{
    struct ql_error err;
    ql_error_clear(&err);
    struct ql_buf text, tmp;
    ql_buf_init(&text, NULL);
    ql_buf_init(&tmp, NULL);
    ql_audit_anchors_sort(heads, &err); /* one per chain: cannot fail */
    ql_audit_anchors_format(heads, &text);
    ql_buf_puts(&tmp, path);
    ql_buf_puts(&tmp, ".new");
    int rc = 1;
    const char *tmp_path = ql_buf_cstr(&tmp);
    FILE *f = ql_buf_ok(&text) || tmp_path == NULL ? NULL : fopen(tmp_path, "w");
    if (f == NULL || fwrite(text.data, 1, text.len, f) != text.len || fflush(f) || fsync(fileno(f)))
        fprintf(stderr, "quill-admin: --anchor %s: cannot write: %s\n", path, strerror(errno));
    else
        rc = 0;
    if (f && fclose(f))
        rc = 1;
    if (rc == 0 && rename(tmp_path, path)) {
        fprintf(stderr, "quill-admin: --anchor %s: cannot replace: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (rc == 0)
        printf("anchors of %zu chains written to %s\n", heads->n, path);
    else if (f)
        remove(tmp_path);
    ql_buf_cleanup(&text);
    ql_buf_cleanup(&tmp);
    return rc;
}

static int audit_verify(const char *anchor_path)
{
    const char *url = getenv("DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "quill-admin: DATABASE_URL: required but not set\n");
        return 2;
    }
    struct ql_audit_anchors anchors, heads;
    ql_audit_anchors_init(&anchors);
    ql_audit_anchors_init(&heads);
    int rc = anchor_path ? read_anchors(anchor_path, &anchors) : 0;
    if (rc == 0) {
        struct ql_error err;
        ql_error_clear(&err);
        if (ql_pg_audit_verify(url, anchor_path ? &anchors : NULL, anchor_path ? &heads : NULL,
                               stdout, &err)) {
            fprintf(stderr, "quill-admin: %s\n", err.msg);
            rc = 1; /* the old anchors stay: the next run checks them again */
        } else if (anchor_path) {
            rc = write_anchors(anchor_path, &heads);
        }
    }
    ql_audit_anchors_cleanup(&anchors);
    ql_audit_anchors_cleanup(&heads);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "digest-tokens") == 0)
        return digest_tokens();
    if (argc == 2 && strcmp(argv[1], "hash-password") == 0)
        return hash_password();
    if (argc == 2 && strcmp(argv[1], "audit-verify") == 0)
        return audit_verify(NULL);
    if (argc == 4 && strcmp(argv[1], "audit-verify") == 0 && strcmp(argv[2], "--anchor") == 0 &&
        argv[3][0] != '\0')
        return audit_verify(argv[3]);
    fprintf(stderr,
            "usage: quill-admin audit-verify [--anchor FILE] | digest-tokens | hash-password\n");
    return 2;
}
