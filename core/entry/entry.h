/*
 * entry.h - journal entries: the core product.
 *
 * Entries belong to a team, are written by a user or an API key, and are soft-deleted.
 * Each carries a version that is its ETag: If-None-Match on reads and If-Match on writes
 * compare against it.  Lists are keyset pages, newest first, on (created_at, id), which
 * stays stable while other clients insert.
 */
#ifndef QL_ENTRY_H
#define QL_ENTRY_H

#include <stddef.h>

#include "model/model.h"
#include "store/store.h"

struct ql_ctx;

#define QL_ENTRY_MAX_CHARS 100000

/* The strong ETag of an entry version into out (at least 16 bytes): "\"<version>\"". */
void ql_entry_etag(const struct ql_entry *e, char *out, size_t cap);

/*
 * 1 when an If-None-Match / If-Match header value (n bytes) matches etag: "*", or a
 * comma-separated list containing it (weak "W/" forms match for If-None-Match only).
 */
int ql_etag_matches(const char *header, size_t n, const char *etag, int weak_ok);

struct ql_entry_input {
    const char *content; /* NULL: not given (patch) */
    size_t content_n;
    int prompt_given;      /* promptId present in the request */
    const char *prompt_id; /* NULL with prompt_given: clear it */
    size_t prompt_id_n;
};

int ql_entry_create(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_input *in,
                    struct ql_entry *out);

/*
 * ql_entry_create for a caller that must not wait (an event loop): the entry is prepared
 * now and handed to the group port's submit, and done(cx, rc, arg) runs once it is written
 * (see ql_done_fn); or the error now.  QL_EWOULD_BLOCK, now or in done, when it must be
 * written by ql_entry_create instead, where a session may wait: no group port, hooks on
 * the context, a store call that would wait (a promptId to check), or a group that did
 * not commit (it wrote nothing).
 */
int ql_entry_create_async(struct ql_ctx *cx, const struct ql_uuid *team,
                          const struct ql_entry_input *in, struct ql_entry *out, ql_done_fn done,
                          void *arg);

/*
 * One entry.  if_none_match may be NULL; QL_ENOT_MODIFIED (with *out filled) when it
 * matches.  The store must answer at once (see ql_entry_get_async otherwise).
 */
int ql_entry_get(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                 const char *if_none_match, size_t inm_n, struct ql_entry *out);

/*
 * ql_entry_get with its answer in a continuation (see ql_done_fn): 0 when done will run
 * later with what ql_entry_get would return, or the error now (authorization, or a store
 * that cannot take the read) and done never runs.  A store that answers at once defers its
 * answer on cx (ql_ctx_run_deferred).  if_none_match and *out must stay valid until done
 * runs; they live in cx's arena typically.
 */
int ql_entry_get_async(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                       const char *if_none_match, size_t inm_n, struct ql_entry *out,
                       ql_done_fn done, void *arg);

struct ql_entry_filter {
    const char *author; /* authorUserId text, or NULL */
    size_t author_n;
    const char *prompt; /* promptId text, or NULL */
    size_t prompt_n;
    const char *cursor;
    size_t cursor_n;
    int limit;
};

/* A page of entries, newest first; next is the cursor of the page after it, or NULL. */
struct ql_entry_page {
    struct ql_entry *items;
    int n;
    const char *next;
    int more; /* the store's: a row beyond the page */
};

/* A page of the team's entries as f asks.  The store must answer at once. */
int ql_entry_list(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_entry_filter *f,
                  struct ql_entry_page *out);

/* ql_entry_list with its answer in a continuation, as ql_entry_get_async; *out lives on. */
int ql_entry_list_async(struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_entry_filter *f, struct ql_entry_page *out, ql_done_fn done,
                        void *arg);

/* if_match may be NULL; QL_EPRECONDITION when it does not match the current version. */
int ql_entry_update(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                    const struct ql_entry_input *in, const char *if_match, size_t im_n,
                    struct ql_entry *out);

int ql_entry_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id,
                    const char *if_match, size_t im_n);

#endif
