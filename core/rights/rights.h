/*
 * rights.h - data rights: a user's export of everything they wrote or own, and the erasure
 * of their account.
 *
 *   export    POST /v1/me/exports asks for one (ql_export_request): a pending export and
 *             a job "export.build" in one transaction.  The job (ql_export_build) reads the
 *             user's data page by page and writes the JSON document in parts of a few
 *             hundred KiB, so neither it nor the database ever holds the document in one
 *             piece; then it marks the export ready and records an `export.ready` change
 *             in the log of every team the user administers, for their webhooks.  GET
 *             serves the document (ql_export_get) until it expires (QUILL_EXPORT_RETENTION_
 *             HOURS; the cron job "purge.exports" deletes it).  A document larger than
 *             QUILL_EXPORT_MAX_MB is not kept: the export fails and says so.
 *   erasure   DELETE /v1/me (ql_account_erase) checks the password, refuses while the user
 *             is the last owner of a team (naming the teams), and in one transaction: removes
 *             every membership (with its change and audit row), ends every session (every
 *             instance forgets them at once), clears the login failures of the email, and
 *             replaces the users row's email, name, password and OpenID Connect identity,
 *             marking it erased; then the job "account.erase" (ql_account_erase_run) deletes
 *             the entries the user wrote, with tombstones in the change log, the user's
 *             exports and idempotency records, and every stored webhook body or response that
 *             shows the user.  Audit rows stay as they are: they name the user by id only,
 *             and that id now leads to no personal data (the chain still verifies).
 */
#ifndef QL_RIGHTS_H
#define QL_RIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store_rights.h"

struct ql_ctx;
struct ql_job;
struct ql_jw;
struct ql_change;

/* "pending", "ready", "failed". */
const char *ql_export_status_name(int status);

/* A user has at most this many exports that have not expired. */
#define QL_EXPORTS_LIVE_MAX 5

/*
 * Ask for an export of the caller's data (users only).  *out is the pending export: a new
 * one (*created 1), or the one already pending (*created 0).  QL_ERATE_LIMITED (with
 * cx->err.retry_after_ms) when the user has QL_EXPORTS_LIVE_MAX exports that have not
 * expired.
 */
int ql_export_request(struct ql_ctx *cx, struct ql_export *out, int *created);

/* Where an export's document goes, piece by piece; non-zero stops reading. */
typedef int (*ql_export_sink)(void *ud, const char *data, size_t n);

/*
 * One of the caller's exports into *out; QL_ENOT_FOUND when it is not theirs (or gone).
 * When it is ready, sink then receives its document in order (a JSON object), in pieces
 * read through a scratch arena, so the document is never in cx's arena unless sink puts it
 * there.  While sink runs, cx->arena is that scratch arena, emptied between pieces: sink
 * keeps what it needs in memory of its own (the pieces are borrowed for the call).
 */
int ql_export_get(struct ql_ctx *cx, const struct ql_uuid *id, struct ql_export *out,
                  ql_export_sink sink, void *ud);

/*
 * One piece of ready export e's document, for a caller that sends it as it reads it: the
 * part after part number *part (-1: the first), its text in *data (cx's arena) and *n, and
 * *part becomes its number; *data is NULL when no part follows (the document ended, or the
 * export is gone: the bytes read so far against e->bytes say which).  e comes from
 * ql_export_get, which checked whose it is: this reads by its id alone.
 */
int ql_export_piece(struct ql_ctx *cx, const struct ql_export *e, int *part, const char **data,
                    size_t *n);

/* The job "export.build" (payload {"exportId"}). */
int ql_export_build(struct ql_ctx *cx, const struct ql_job *job);

/* The cron job "purge.exports": delete expired exports. */
int ql_exports_purge(struct ql_ctx *cx, const struct ql_job *job);

/*
 * The data of an `export.ready` webhook delivery for change c (its id is the export):
 * {teamId, exportId, userId, expiresAt}, or {teamId, exportId} when the export is gone.
 * Never the document: only the user's own session can read it.
 */
int ql_export_event_data(struct ql_ctx *cx, const struct ql_change *c, struct ql_jw *w);

/* What DELETE /v1/me takes; strings borrowed, with lengths.  code may be NULL. */
struct ql_erase_request {
    const char *password;
    size_t password_n;
    const char *code; /* a TOTP or recovery code (see ql__erase_reauth) */
    size_t code_n;
};

/*
 * Erase the caller's account (users only).  QL_EVALIDATION (field "password", "mismatch")
 * when the password is wrong; QL_ECONFLICT while the user is the last owner of a live team,
 * with detail naming them and one field error per team (field: its id, code "last_owner",
 * message: its name).  On success the sessions are gone and the job is enqueued.
 */
int ql_account_erase(struct ql_ctx *cx, const struct ql_erase_request *in);

/* The job "account.erase" (payload {"userId"}). */
int ql_account_erase_run(struct ql_ctx *cx, const struct ql_job *job);

#endif
