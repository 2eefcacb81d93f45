/*
 * internal.h - shared by the files of core/rights only.
 */
#ifndef QL_RIGHTS_INTERNAL_H
#define QL_RIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ctx/ctx.h"
#include "store/store.h"
#include "store/store_rights.h"

struct ql_arena;
struct ql_job;
struct ql_uuid;

/* The store's rights table of cx. */
#define QL__RT(cx) QL__RIGHTS((cx)->ports.store)

/* The UUID member name of a job's JSON payload into *out; QL_EVALIDATION when absent. */
int ql__rights_job_uuid(struct ql_ctx *cx, const struct ql_job *job, const char *name,
                        struct ql_uuid *out);

/*
 * Scratch memory for one page of a long read: while it is open, cx's arena is the page's
 * own, and every page_next drops what the page before allocated.  close puts cx's arena
 * back.  open fails only with QL_ENOMEM.
 */
struct ql__page {
    struct ql_ctx *cx;
    struct ql_arena *saved;
    struct ql_arena *arena; /* heap */
};
int ql__page_open(struct ql__page *p, struct ql_ctx *cx);
void ql__page_next(struct ql__page *p);
void ql__page_close(struct ql__page *p);

/* 1 once the attempt's deadline has passed (a job stops between pages, and runs again). */
int ql__rights_late(struct ql_ctx *cx);

/*
 * Remove the user's memberships m[0..n) (erase.c): each with a change and an audit row
 * (actor; NULL: the principal) in its team's chain when the team is live.
 */
struct ql_rights_membership;
int ql__erase_memberships(struct ql_ctx *cx, const struct ql_uuid *user,
                          const struct ql_rights_membership *m, int n, const char *actor);

/* "Job:<kind>" of the job cx runs, or of kind when cx runs none (tests). */
const char *ql__rights_actor(struct ql_ctx *cx, const char *kind);

#endif
