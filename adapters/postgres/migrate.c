/*
 * migrate.c - the migration runner.  The directory is read and sorted first, every
 * applied migration is checked against its file, and only then does anything run, so a
 * refused run changes nothing.
 */
#include "migrate.h"

#include "b64/b64.h"
#include "err/err.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An arbitrary constant: the advisory lock key of quill-migrate ("QUILLMIG"). */
#define LOCK_KEY "5860868364066801991"

struct migration {
    int64_t version;
    char name[200];  /* "0001_identity" */
    char up[4096];   /* path of the up file */
    char down[4096]; /* path of the down file, "" if missing */
    char sum[65];    /* hex SHA-256 of the up file */
    int applied;
    char applied_sum[65];
    char applied_at[64];
};

struct plan {
    struct migration *m;
    int n;
    int cap;
};

static int read_file(const char *path, char **out, size_t *len, struct ql_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ql_error_set(err, QL_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > (64 << 20)) {
        fclose(f);
        return ql_error_set(err, QL_EIO, "cannot read %s", path);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        return ql_error_set(err, QL_ENOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size) {
        free(buf);
        return ql_error_set(err, QL_EIO, "short read on %s", path);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return QL_OK;
}

static int checksum(const char *path, char out[65], struct ql_error *err)
{
    char *sql = NULL;
    size_t len = 0;
    int rc = read_file(path, &sql, &len, err);
    if (rc)
        return rc;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)sql, len);
    ql_hex_encode(d, sizeof(d), out);
    free(sql);
    return QL_OK;
}

static int cmp_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Parse "NNNN_name.up.sql"; returns 1 and fills version/base on a match. */
static int parse_name(const char *fname, const char *suffix, int64_t *version, char *base,
                      size_t cap)
{
    size_t n = strlen(fname), sn = strlen(suffix);
    if (n <= sn || strcmp(fname + n - sn, suffix) != 0)
        return 0;
    size_t i = 0;
    int64_t v = 0;
    while (i < n - sn && isdigit((unsigned char)fname[i])) {
        if (v > INT64_MAX / 10 - 10)
            return 0;
        v = v * 10 + (fname[i] - '0');
        i++;
    }
    if (i == 0 || fname[i] != '_' || v <= 0 || n - sn >= cap)
        return 0;
    memcpy(base, fname, n - sn);
    base[n - sn] = '\0';
    *version = v;
    return 1;
}

static int scan(const char *dir, struct plan *p, struct ql_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return ql_error_set(err, QL_EIO, "cannot open migrations directory %s: %s", dir,
                            strerror(errno));
    struct dirent *e;
    int rc = QL_OK;
    while ((e = readdir(d)) != NULL) {
        int64_t v;
        char base[200];
        if (!parse_name(e->d_name, ".up.sql", &v, base, sizeof(base)))
            continue;
        for (int i = 0; i < p->n; i++) {
            if (p->m[i].version == v) {
                rc = ql_error_set(err, QL_EVALIDATION,
                                  "two migrations have version %" PRId64 ": %s and %s", v,
                                  p->m[i].name, base);
                goto out;
            }
        }
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 32;
            struct migration *m = realloc(p->m, (size_t)cap * sizeof(*m));
            if (m == NULL) {
                rc = ql_error_set(err, QL_ENOMEM, "out of memory");
                goto out;
            }
            p->m = m;
            p->cap = cap;
        }
        struct migration *m = &p->m[p->n++];
        memset(m, 0, sizeof(*m));
        m->version = v;
        snprintf(m->name, sizeof(m->name), "%s", base);
        snprintf(m->up, sizeof(m->up), "%s/%s.up.sql", dir, base);
        snprintf(m->down, sizeof(m->down), "%s/%s.down.sql", dir, base);
        if (access(m->down, R_OK) != 0)
            m->down[0] = '\0';
        rc = checksum(m->up, m->sum, err);
        if (rc)
            goto out;
    }
    if (p->n > 1)
        qsort(p->m, (size_t)p->n, sizeof(*p->m), cmp_version);
out:
    closedir(d);
    return rc;
}

static int exec_ok(PGconn *c, const char *sql, struct ql_error *err, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        ql_error_set(err, QL_EINTERNAL, "%s failed: %s", what, PQresultErrorMessage(r));
        PQclear(r);
        return QL_EINTERNAL;
    }
    PQclear(r);
    return QL_OK;
}

static int load_applied(PGconn *c, struct plan *p, struct migration **orphans, int *norphans,
                        struct ql_error *err)
{
    PGresult *r = PQexec(c, "SELECT version, name, checksum, "
                            "to_char(applied_at AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                            "FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ql_error_set(err, QL_EINTERNAL, "reading schema_migrations failed: %s",
                     PQresultErrorMessage(r));
        PQclear(r);
        return QL_EINTERNAL;
    }
    *orphans = NULL;
    *norphans = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t v = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        struct migration *m = NULL;
        for (int j = 0; j < p->n; j++)
            if (p->m[j].version == v)
                m = &p->m[j];
        if (m == NULL) {
            struct migration *o = realloc(*orphans, (size_t)(*norphans + 1) * sizeof(*o));
            if (o == NULL) {
                PQclear(r);
                return ql_error_set(err, QL_ENOMEM, "out of memory");
            }
            *orphans = o;
            m = &o[(*norphans)++];
            memset(m, 0, sizeof(*m));
            m->version = v;
            snprintf(m->name, sizeof(m->name), "%s", PQgetvalue(r, i, 1));
        }
        m->applied = 1;
        snprintf(m->applied_sum, sizeof(m->applied_sum), "%s", PQgetvalue(r, i, 2));
        snprintf(m->applied_at, sizeof(m->applied_at), "%s", PQgetvalue(r, i, 3));
    }
    PQclear(r);
    return QL_OK;
}

static int verify(const struct plan *p, struct ql_error *err)
{
    for (int i = 0; i < p->n; i++) {
        const struct migration *m = &p->m[i];
        if (m->applied && strcmp(m->sum, m->applied_sum) != 0)
            return ql_error_set(err, QL_ECONFLICT,
                                "%s was edited after it was applied (checksum %.12s..., applied "
                                "%.12s...); restore it and add a new migration instead",
                                m->up, m->sum, m->applied_sum);
    }
    return QL_OK;
}

static int apply(PGconn *c, const struct migration *m, int up, FILE *out, struct ql_error *err)
{
    const char *path = up ? m->up : m->down;
    if (!up && path[0] == '\0')
        return ql_error_set(err, QL_EIO, "%s has no .down.sql file; it cannot be reverted",
                            m->name);
    char *sql;
    size_t len;
    int rc = read_file(path, &sql, &len, err);
    if (rc)
        return rc;
    rc = exec_ok(c, "BEGIN", err, "BEGIN");
    if (rc)
        goto out;
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        rc = ql_error_set(err, QL_EINTERNAL, "%s failed: %s", path, PQresultErrorMessage(r));
        PQclear(r);
        exec_ok(c, "ROLLBACK", err, "ROLLBACK");
        goto out;
    }
    PQclear(r);
    char ver[32];
    snprintf(ver, sizeof(ver), "%" PRId64, m->version);
    if (up) {
        const char *vals[3] = {ver, m->name, m->sum};
        r = PQexecParams(c,
                         "INSERT INTO schema_migrations (version, name, checksum) "
                         "VALUES ($1, $2, $3)",
                         3, NULL, vals, NULL, NULL, 0);
    } else {
        const char *vals[1] = {ver};
        r = PQexecParams(c, "DELETE FROM schema_migrations WHERE version = $1", 1, NULL, vals, NULL,
                         NULL, 0);
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = ql_error_set(err, QL_EINTERNAL, "recording %s failed: %s", m->name,
                          PQresultErrorMessage(r));
        PQclear(r);
        exec_ok(c, "ROLLBACK", err, "ROLLBACK");
        goto out;
    }
    PQclear(r);
    rc = exec_ok(c, "COMMIT", err, "COMMIT");
    if (rc == QL_OK)
        fprintf(out, "%s %s\n", up ? "applied " : "reverted", m->name);
out:
    free(sql);
    return rc;
}

static void status(const struct plan *p, const struct migration *orphans, int norphans, FILE *out)
{
    for (int i = 0; i < p->n; i++) {
        const struct migration *m = &p->m[i];
        const char *state = !m->applied                      ? "pending"
                            : strcmp(m->sum, m->applied_sum) ? "MODIFIED"
                                                             : "applied";
        fprintf(out, "%-8s %s%s%s\n", state, m->name, m->applied ? "  " : "",
                m->applied ? m->applied_at : "");
    }
    for (int i = 0; i < norphans; i++)
        fprintf(out, "%-8s %s  %s (no file in this directory)\n", "applied", orphans[i].name,
                orphans[i].applied_at);
}

int ql_migrate_run(const char *conninfo, const char *dir, enum ql_migrate_cmd cmd, int n, FILE *out,
                   struct ql_error *err)
{
    struct plan p = {0};
    struct migration *orphans = NULL;
    int norphans = 0;
    PGconn *c = NULL;
    int rc;
    if (sodium_init() < 0)
        return ql_error_set(err, QL_EINTERNAL, "libsodium failed to initialise");
    rc = scan(dir, &p, err);
    if (rc)
        goto out;
    c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        rc = ql_error_set(err, QL_EUNAVAILABLE, "cannot connect to the database: %s",
                          PQerrorMessage(c));
        goto out;
    }
    rc = exec_ok(c, "SET client_min_messages = warning", err, "SET");
    if (rc == QL_OK)
        rc = exec_ok(c, "SELECT pg_advisory_lock(" LOCK_KEY ")", err, "taking the migration lock");
    if (rc == QL_OK)
        rc = exec_ok(c,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version bigint PRIMARY KEY,"
                     " name text NOT NULL,"
                     " checksum text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     err, "creating schema_migrations");
    if (rc == QL_OK)
        rc = load_applied(c, &p, &orphans, &norphans, err);
    if (rc)
        goto out;
    if (cmd == QL_MIGRATE_STATUS) {
        status(&p, orphans, norphans, out);
        goto out;
    }
    rc = verify(&p, err);
    if (rc)
        goto out;
    if (cmd == QL_MIGRATE_UP) {
        int done = 0;
        for (int i = 0; i < p.n && (n <= 0 || done < n); i++) {
            if (p.m[i].applied)
                continue;
            rc = apply(c, &p.m[i], 1, out, err);
            if (rc)
                goto out;
            done++;
        }
        if (done == 0)
            fprintf(out, "nothing to apply\n");
    } else {
        if (norphans > 0) {
            rc = ql_error_set(err, QL_EIO,
                              "version %" PRId64 " (%s) is applied but has no files in %s",
                              orphans[norphans - 1].version, orphans[norphans - 1].name, dir);
            goto out;
        }
        int done = 0;
        for (int i = p.n - 1; i >= 0 && done < (n <= 0 ? 1 : n); i--) {
            if (!p.m[i].applied)
                continue;
            rc = apply(c, &p.m[i], 0, out, err);
            if (rc)
                goto out;
            done++;
        }
        if (done == 0)
            fprintf(out, "nothing to revert\n");
    }
out:
    if (c) {
        if (PQstatus(c) == CONNECTION_OK)
            PQclear(PQexec(c, "SELECT pg_advisory_unlock(" LOCK_KEY ")"));
        PQfinish(c);
    }
    free(orphans);
    free(p.m);
    return rc;
}

int ql_migrate_new(const char *dir, const char *name, FILE *out, struct ql_error *err)
{
    if (name == NULL || *name == '\0' || strlen(name) > 100)
        return ql_error_set(err, QL_EVALIDATION, "a migration needs a name of 1-100 characters");
    for (const char *s = name; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return ql_error_set(err, QL_EVALIDATION,
                                "migration names use a-z, 0-9 and _ only: '%s'", name);
    struct plan p = {0};
    if (sodium_init() < 0)
        return ql_error_set(err, QL_EINTERNAL, "libsodium failed to initialise");
    int rc = scan(dir, &p, err);
    if (rc) {
        free(p.m);
        return rc;
    }
    int64_t next = p.n ? p.m[p.n - 1].version + 1 : 1;
    free(p.m);
    char up[4096], down[4096];
    snprintf(up, sizeof(up), "%s/%04" PRId64 "_%s.up.sql", dir, next, name);
    snprintf(down, sizeof(down), "%s/%04" PRId64 "_%s.down.sql", dir, next, name);
    FILE *f = fopen(up, "wx");
    if (f == NULL)
        return ql_error_set(err, QL_EIO, "cannot create %s: %s", up, strerror(errno));
    fprintf(f, "-- %s: what this migration does and why.\n", name);
    fclose(f);
    f = fopen(down, "wx");
    if (f == NULL)
        return ql_error_set(err, QL_EIO, "cannot create %s: %s", down, strerror(errno));
    fprintf(f, "-- Reverts %04" PRId64 "_%s.up.sql.\n", next, name);
    fclose(f);
    fprintf(out, "%s\n%s\n", up, down);
    return QL_OK;
}
