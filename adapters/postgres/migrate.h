/*
 * migrate.h - versioned SQL migrations (quill-migrate).
 *
 * A migration is a pair of files in one directory, NNNN_name.up.sql and NNNN_name.down.sql
 * (NNNN: a positive decimal version, any width).  Applied versions are recorded in
 * schema_migrations with their name, the SHA-256 of the up file and when they ran.
 * Every migration runs in its own transaction, and a session-level advisory lock keeps two
 * runners from interleaving.  An applied migration whose up file changed since is refused,
 * naming the file.
 */
#ifndef QL_PG_MIGRATE_H
#define QL_PG_MIGRATE_H

#include <stdio.h>

struct ql_error;

enum ql_migrate_cmd { QL_MIGRATE_UP, QL_MIGRATE_DOWN, QL_MIGRATE_STATUS };

/*
 * Run cmd against conninfo with the migrations in dir.  n limits how many migrations up or
 * down apply (0: all pending for up, 1 for down is the caller's default).  Progress lines
 * go to out.  Returns 0, or a QL_E* code with the reason in err.
 */
int ql_migrate_run(const char *conninfo, const char *dir, enum ql_migrate_cmd cmd, int n, FILE *out,
                   struct ql_error *err);

/*
 * Create NNNN_name.up.sql and .down.sql in dir with the next free version.  name must be
 * lower-case letters, digits and underscores.  Prints the two paths to out.
 */
int ql_migrate_new(const char *dir, const char *name, FILE *out, struct ql_error *err);

#endif
