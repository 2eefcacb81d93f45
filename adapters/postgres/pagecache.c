/*
 * pagecache.c - delta pages read before, kept so that a page asked for again is answered
 * from memory once the database has said that nothing of its team changed since.
 *
 * A delta page of entries (changes_page_entries, stmts_pages.h) is the team's entries whose
 * last change lies after the cursor, in position order, below the horizon of the snapshot
 * that read them (every transaction older than the horizon had finished).  Any change made
 * after that read belongs to a transaction at or past that horizon, so it gives its thing a
 * position at or past it: the page changes only when some thing of the team has such a
 * position now.  The statement asks exactly that, with two index probes, and gives the rows
 * again only when the answer is yes (repo_delta.c); otherwise the page kept here is the
 * page, as the database would give it, with the new horizon and floor from that statement.
 * So nothing is ever served that the database would not: the cache saves reading and
 * sending rows, never the question.
 *
 * A page is kept the second time it is read (a live stream's reads, or a client paging
 * through history once, would only push out the pages asked for again), and kept again
 * when it changed.  Shared by every session of a process, under one mutex (held for a
 * lookup or an insert, never across a statement).  A page is a copy of its libpq result,
 * read-only, with a count of readers, so an eviction never frees one being read.  Bounded
 * by bytes; least recently used goes first.
 */
#include "internal.h"
#include "pagecache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 8192
#define SEEN 8192 /* pages read once, by the hash of their key (see ql__pg_pages_put) */

struct slot {
    struct ql__pg_page page; /* first: what get hands out is a slot */
    struct ql__pg_page_key key;
    size_t bytes;
    int refs;          /* the cache's own (while listed) and each reader's */
    struct slot *next; /* in its bucket */
    struct slot *newer, *older;
};

struct ql_pg_pages {
    pthread_mutex_t lock;
    struct slot *bucket[BUCKETS];
    struct slot *newest, *oldest;
    size_t bytes, max_bytes;
    uint64_t seen[SEEN];
    _Atomic uint64_t hits, misses;
};

int ql__pg_pages_create(size_t max_bytes, struct ql_pg_pages **out)
{
    *out = NULL;
    struct ql_pg_pages *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return QL_ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return QL_ENOMEM;
    }
    c->max_bytes = max_bytes;
    *out = c;
    return QL_OK;
}

static void page_free(struct slot *p)
{
    PQclear((PGresult *)p->page.res);
    free(p);
}

void ql__pg_pages_destroy(struct ql_pg_pages *c)
{
    if (c == NULL)
        return;
    for (struct slot *p = c->newest, *next; p; p = next) {
        next = p->older;
        page_free(p); /* every reader released before the sessions were destroyed */
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static uint64_t key_hash64(const struct ql__pg_page_key *k)
{
    uint64_t h;
    memcpy(&h, k->team.b + 8, 8); /* random bits of a version 4 or 7 uuid */
    h ^= k->after.txid * 0x9e3779b97f4a7c15u;
    h ^= (uint64_t)k->after.seq * 0xc2b2ae3d27d4eb4fu;
    h ^= (uint64_t)k->limit * 0x165667b19e3779f9u;
    return h ^ h >> 29;
}

static uint32_t key_hash(const struct ql__pg_page_key *k)
{
    return (uint32_t)key_hash64(k) & (BUCKETS - 1);
}

/*
 * Whether to keep a page read for the first time: only when it was read once before (its
 * key's hash is in seen, a table that forgets on collision).  A live stream reads each
 * position once, and a client paging through history once; kept, their pages would only
 * push out the ones asked for again (and grow the process by the cache's size).
 */
static int admit(struct ql_pg_pages *c, const struct ql__pg_page_key *k)
{
    uint64_t h = key_hash64(k) | 1; /* never 0, an empty slot */
    uint64_t *at = &c->seen[h % SEEN];
    if (*at == h) {
        *at = 0;
        return 1;
    }
    *at = h;
    return 0;
}

static int key_eq(const struct ql__pg_page_key *a, const struct ql__pg_page_key *b)
{
    return memcmp(a->team.b, b->team.b, 16) == 0 && a->after.txid == b->after.txid &&
           a->after.seq == b->after.seq && a->limit == b->limit;
}

/*
 * Take p off its bucket and the LRU list, and drop the cache's reference (lock held).  When
 * no reader holds it either, it goes on *dead, for free_dead once the lock is let go.
 */
static void unlist(struct ql_pg_pages *c, struct slot *p, struct slot **dead)
{
    struct slot **at = &c->bucket[key_hash(&p->key)];
    while (*at != p)
        at = &(*at)->next;
    *at = p->next;
    if (p->newer)
        p->newer->older = p->older;
    else
        c->newest = p->older;
    if (p->older)
        p->older->newer = p->newer;
    else
        c->oldest = p->newer;
    c->bytes -= p->bytes;
    if (--p->refs == 0) {
        p->next = *dead;
        *dead = p;
    }
}

static void free_dead(struct slot *dead)
{
    for (struct slot *next; dead; dead = next) {
        next = dead->next;
        page_free(dead);
    }
}

static struct slot *find(struct ql_pg_pages *c, const struct ql__pg_page_key *k)
{
    struct slot *p = c->bucket[key_hash(k)];
    while (p && !key_eq(&p->key, k))
        p = p->next;
    return p;
}

/* Forget k's page, if there is one (lock held; see unlist). */
static void forget(struct ql_pg_pages *c, const struct ql__pg_page_key *k, struct slot **dead)
{
    struct slot *p = find(c, k);
    if (p)
        unlist(c, p, dead);
}

const struct ql__pg_page *ql__pg_pages_get(struct ql_pg_pages *c, const struct ql__pg_page_key *k)
{
    if (c == NULL)
        return NULL;
    pthread_mutex_lock(&c->lock);
    struct slot *p = find(c, k);
    if (p) {
        p->refs++;
        if (p->newer) { /* to the front of the LRU list */
            p->newer->older = p->older;
            if (p->older)
                p->older->newer = p->newer;
            else
                c->oldest = p->newer;
            p->newer = NULL;
            p->older = c->newest;
            c->newest->newer = p;
            c->newest = p;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return p ? &p->page : NULL;
}

void ql__pg_pages_release(struct ql_pg_pages *c, const struct ql__pg_page *page)
{
    if (page == NULL)
        return;
    struct slot *p = (struct slot *)page;
    pthread_mutex_lock(&c->lock);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last)
        page_free(p); /* evicted while this reader had it */
}

void ql__pg_pages_count(struct ql_pg_pages *c, int hit)
{
    if (c)
        atomic_fetch_add_explicit(hit ? &c->hits : &c->misses, 1, memory_order_relaxed);
}

void ql__pg_pages_drop(struct ql_pg_pages *c, const struct ql__pg_page_key *k)
{
    if (c == NULL)
        return;
    struct slot *dead = NULL;
    pthread_mutex_lock(&c->lock);
    forget(c, k, &dead);
    pthread_mutex_unlock(&c->lock);
    free_dead(dead);
}

/* What a result costs in memory, near enough: its values, their descriptors, its blocks. */
static size_t result_bytes(const PGresult *r)
{
    int rows = PQntuples(r), cols = PQnfields(r);
    size_t n = sizeof(struct slot) + 2048 + (size_t)cols * 64;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            n += (size_t)PQgetlength(r, i, j) + 1 + 16;
    return n;
}

void ql__pg_pages_put(struct ql_pg_pages *c, const struct ql__pg_page_key *k, uint64_t horizon,
                      const PGresult *r, int again)
{
    if (c == NULL)
        return;
    if (!again) {
        pthread_mutex_lock(&c->lock);
        int in = admit(c, k);
        pthread_mutex_unlock(&c->lock);
        if (!in)
            return;
    }
    size_t bytes = result_bytes(r);
    if (bytes > c->max_bytes / 4)
        return; /* a few pages that fill the cache would only push the rest out */
    struct slot *p = malloc(sizeof(*p));
    PGresult *copy = p ? PQcopyResult(r, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES) : NULL;
    if (copy == NULL) {
        free(p); /* not kept: the next read of this page reads the rows again */
        return;
    }
    *p = (struct slot){.page = {copy, horizon}, .key = *k, .bytes = bytes, .refs = 1};
    struct slot *dead = NULL;
    pthread_mutex_lock(&c->lock);
    forget(c, k, &dead);
    while (c->oldest && c->bytes + bytes > c->max_bytes)
        unlist(c, c->oldest, &dead);
    struct slot **b = &c->bucket[key_hash(k)];
    p->next = *b;
    *b = p;
    p->older = c->newest;
    if (c->newest)
        c->newest->newer = p;
    else
        c->oldest = p;
    c->newest = p;
    c->bytes += bytes;
    pthread_mutex_unlock(&c->lock);
    free_dead(dead);
}

void ql__pg_pages_stats(struct ql_pg_pages *c, uint64_t *hits, uint64_t *misses, uint64_t *bytes)
{
    *hits = *misses = *bytes = 0;
    if (c == NULL)
        return;
    *hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    *misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    pthread_mutex_lock(&c->lock);
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}
