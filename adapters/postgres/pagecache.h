/*
 * pagecache.h - the delta page cache of the PostgreSQL adapter (pagecache.c), for
 * repo_delta.c and db.c.  Not part of the adapter's public header.
 */
#ifndef QL_PG_PAGECACHE_H
#define QL_PG_PAGECACHE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "changes/changes.h"
#include "uuid/uuid.h"

/*
 * The delta page cache (pagecache.c): pages of changes_page_entries by team, cursor and
 * limit, for every session of a process, bounded by bytes.  get gives a page with a
 * reference (NULL: none), to be released; put keeps a copy of r, read below horizon, in
 * place of what key had (again: key had a page, which changed; otherwise only a page read
 * once before is kept); drop forgets key's page.  Why a page may be given again only
 * after the database says its team has not changed: see there.
 */
struct ql_pg_pages;
struct ql__pg_page_key {
    struct ql_uuid team;
    struct ql_change_pos after;
    int limit;
};
struct ql__pg_page {
    const PGresult *res; /* what changes_page_entries gave: header row and entries */
    uint64_t horizon;    /* of the snapshot that read it */
};
int ql__pg_pages_create(size_t max_bytes, struct ql_pg_pages **out);
void ql__pg_pages_destroy(struct ql_pg_pages *c);
const struct ql__pg_page *ql__pg_pages_get(struct ql_pg_pages *c, const struct ql__pg_page_key *k);
void ql__pg_pages_release(struct ql_pg_pages *c, const struct ql__pg_page *p);
void ql__pg_pages_put(struct ql_pg_pages *c, const struct ql__pg_page_key *k, uint64_t horizon,
                      const PGresult *r, int again);
void ql__pg_pages_drop(struct ql_pg_pages *c, const struct ql__pg_page_key *k);
/* Count a page answered from the cache (hit 1), or read because it had none or it changed. */
void ql__pg_pages_count(struct ql_pg_pages *c, int hit);
void ql__pg_pages_stats(struct ql_pg_pages *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes);

#endif
