/*
 * flagcache.c - the flag cache: what flags.for_team read, by team, shared by every session
 * of one process and kept coherent across processes with notifications (see internal.h).
 *
 * Flags change seldom and every team's values depend on every flag, so any write empties
 * the whole cache rather than tracking which entries it touched.  The rules are the
 * principal cache's (cache.c): a read that missed keeps its result only if nothing was
 * emptied while it ran (the generation counter); nothing is cached or served while the
 * notification port is not listening, and everything goes when it listens again; entries
 * expire after QL_PG_CACHE_TTL_MS anyway.  One lock: lookups copy a few dozen bytes.
 */
#include "internal.h"
#include "pg.h"

#include "arena/arena.h"
#include "err/err.h"
#include "flag/flag.h"
#include "notify/notify.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 8

struct fentry {
    int used;
    struct ql_uuid team;
    int64_t born_ms;
    int n;
    struct ql_flag_state *rows; /* one block: the rows, then their keys */
};

struct ql_pg_flags_cache {
    pthread_mutex_t lock;
    struct fentry *slots;
    int nslots;
    atomic_uint_fast64_t gen;
    atomic_int enabled;
    struct ql_clock *clock;
    struct ql_notify *notify;
    int sub; /* the subscription to QL_NOTIFY_FLAGS */
};

static int64_t mono_ms(struct ql_pg_flags_cache *c)
{
    return ql_clock_mono_ns(c->clock) / 1000000;
}

static uint32_t slot_of(const struct ql_uuid *team)
{
    uint32_t h;
    memcpy(&h, team->b + 12, 4); /* the random end of a UUIDv7 */
    return h;
}

void ql__pg_flags_cache_flush(struct ql_pg_flags_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add(&c->gen, 1);
    for (int i = 0; i < c->nslots; i++) {
        free(c->slots[i].rows);
        memset(&c->slots[i], 0, sizeof(c->slots[i]));
    }
    pthread_mutex_unlock(&c->lock);
}

uint64_t ql__pg_flags_cache_gen(struct ql_pg_flags_cache *c)
{
    return c ? atomic_load(&c->gen) : 0;
}

int ql__pg_flags_cache_get(struct ql_pg_flags_cache *c, struct ql_arena *a,
                           const struct ql_uuid *team, struct ql_flag_state **out, int *n)
{
    if (c == NULL || !atomic_load(&c->enabled))
        return 0;
    int found = 0;
    int64_t now = mono_ms(c);
    uint32_t h = slot_of(team);
    pthread_mutex_lock(&c->lock);
    for (int k = 0; k < PROBE; k++) {
        struct fentry *e = &c->slots[(h + (uint32_t)k) % (uint32_t)c->nslots];
        if (!e->used || memcmp(e->team.b, team->b, 16) != 0)
            continue;
        if (now - e->born_ms > QL_PG_CACHE_TTL_MS)
            break;
        struct ql_flag_state *rows = NULL;
        if (e->n > 0) {
            rows = ql_arena_alloc(a, sizeof(*rows) * (size_t)e->n);
            for (int i = 0; rows && i < e->n; i++) {
                rows[i] = e->rows[i];
                rows[i].key = ql_arena_strdup(a, e->rows[i].key);
                if (rows[i].key == NULL)
                    rows = NULL;
            }
            if (rows == NULL)
                break; /* out of memory: read the database instead */
        }
        *out = rows;
        *n = e->n;
        found = 1;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void ql__pg_flags_cache_put(struct ql_pg_flags_cache *c, uint64_t gen, const struct ql_uuid *team,
                            const struct ql_flag_state *rows, int n)
{
    if (c == NULL || !atomic_load(&c->enabled))
        return;
    size_t size = sizeof(*rows) * (size_t)n;
    for (int i = 0; i < n; i++)
        size += strlen(rows[i].key) + 1;
    struct ql_flag_state *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return;
    char *text = (char *)(copy + n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(rows[i].key) + 1;
        copy[i] = rows[i];
        memcpy(text, rows[i].key, len);
        copy[i].key = text;
        text += len;
    }
    uint32_t h = slot_of(team);
    int64_t now = mono_ms(c);
    pthread_mutex_lock(&c->lock);
    if (atomic_load(&c->gen) != gen) {
        /* A flag changed while this was read: it may be stale. */
        pthread_mutex_unlock(&c->lock);
        free(copy);
        return;
    }
    struct fentry *victim = NULL;
    for (int k = 0; k < PROBE; k++) {
        struct fentry *e = &c->slots[(h + (uint32_t)k) % (uint32_t)c->nslots];
        if (!e->used || memcmp(e->team.b, team->b, 16) == 0) {
            victim = e;
            break;
        }
        if (victim == NULL || e->born_ms < victim->born_ms)
            victim = e;
    }
    free(victim->rows);
    *victim = (struct fentry){1, *team, now, n, copy};
    pthread_mutex_unlock(&c->lock);
}

static void on_flags(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_pg_flags_cache *c = ud;
    (void)payload; /* any flag: every team's values may change */
    switch (ev) {
    case QL_NOTIFY_LISTENING: /* anything may have changed while nobody listened */
        ql__pg_flags_cache_flush(c);
        atomic_store(&c->enabled, 1);
        break;
    case QL_NOTIFY_LOST:
        atomic_store(&c->enabled, 0);
        ql__pg_flags_cache_flush(c);
        break;
    case QL_NOTIFY_MESSAGE:
        ql__pg_flags_cache_flush(c);
        break;
    }
}

int ql__pg_flags_cache_create(struct ql_notify *notify, struct ql_clock *clock, int capacity,
                              struct ql_pg_flags_cache **out)
{
    *out = NULL;
    struct ql_pg_flags_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return QL_ENOMEM;
    c->nslots = capacity > PROBE ? capacity : PROBE;
    c->clock = clock;
    pthread_mutex_init(&c->lock, NULL);
    c->slots = calloc((size_t)c->nslots, sizeof(*c->slots));
    int rc = c->slots ? QL_OK : QL_ENOMEM;
    /* Without notifications nothing could ever be invalidated: the cache stays off. */
    if (rc == QL_OK && notify) {
        rc = ql_notify_subscribe(notify, QL_NOTIFY_FLAGS, on_flags, c, &c->sub);
        c->notify = rc == QL_OK ? notify : NULL;
    }
    if (rc) {
        ql__pg_flags_cache_destroy(c);
        return rc;
    }
    *out = c;
    return QL_OK;
}

void ql__pg_flags_cache_destroy(struct ql_pg_flags_cache *c)
{
    if (c == NULL)
        return;
    if (c->notify)
        ql_notify_unsubscribe(c->notify, c->sub);
    for (int i = 0; c->slots && i < c->nslots; i++)
        free(c->slots[i].rows);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
