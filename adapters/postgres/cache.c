/*
 * cache.c - the principal cache: what principals.load returned, by token digest, shared
 * by every session of one process, kept coherent across processes with notifications.
 *
 * Writers that change a credential or a membership send NOTIFY quill_auth with a key
 * ("d:<digest hex>", "u:<user>", "k:<api key>", "t:<team>") in their transaction; the
 * process's notification port delivers them here and matching entries are evicted, and the
 * writing session also evicts locally right after its commit.  Three rules keep it from
 * serving a revoked credential:
 *   - a lookup that missed inserts its result only if no invalidation happened while it
 *     read the database (the generation counter), so a stale read cannot be cached;
 *   - while the port is not listening nothing is cached or served from the cache, and
 *     everything is flushed when it listens again (a notification may have been missed);
 *   - entries expire after QL_PG_CACHE_TTL_MS anyway.
 * Time comes from the clock port, so tests can age entries without sleeping.
 */
#include "internal.h"
#include "pg.h"

#include "arena/arena.h"
#include "b64/b64.h"
#include "err/err.h"
#include "log/log.h"
#include "model/model.h"
#include "notify/notify.h"
#include "uuid/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define PROBE 8

struct centry {
    int used;
    uint8_t digest[QL_DIGEST_LEN];
    int64_t born_ms;
    struct ql_principal p; /* p.teams points at teams below */
    struct ql_membership *teams;
};

struct stripe {
    pthread_mutex_t lock;
    struct centry *slots;
};

struct ql_pg_cache {
    struct stripe stripes[STRIPES];
    int per_stripe;
    atomic_uint_fast64_t gen;
    atomic_int enabled;
    struct ql_clock *clock;
    struct ql_notify *notify;
    int sub; /* the subscription to QL_NOTIFY_AUTH; 0: none */
};

static int64_t mono_ms(struct ql_pg_cache *c)
{
    return ql_clock_mono_ns(c->clock) / 1000000;
}

static uint32_t hash_digest(const uint8_t *d)
{
    uint32_t h;
    memcpy(&h, d, 4); /* the digest is already uniformly distributed */
    return h;
}

static void entry_clear(struct centry *e)
{
    free(e->teams);
    memset(e, 0, sizeof(*e));
}

static void flush_all(struct ql_pg_cache *c)
{
    atomic_fetch_add(&c->gen, 1);
    for (int s = 0; s < STRIPES; s++) {
        pthread_mutex_lock(&c->stripes[s].lock);
        for (int i = 0; i < c->per_stripe; i++)
            if (c->stripes[s].slots[i].used)
                entry_clear(&c->stripes[s].slots[i]);
        pthread_mutex_unlock(&c->stripes[s].lock);
    }
}

/* Evict every entry for which match() holds. */
static void evict_if(struct ql_pg_cache *c, int (*match)(const struct centry *, const void *),
                     const void *arg)
{
    atomic_fetch_add(&c->gen, 1);
    for (int s = 0; s < STRIPES; s++) {
        pthread_mutex_lock(&c->stripes[s].lock);
        for (int i = 0; i < c->per_stripe; i++) {
            struct centry *e = &c->stripes[s].slots[i];
            if (e->used && match(e, arg))
                entry_clear(e);
        }
        pthread_mutex_unlock(&c->stripes[s].lock);
    }
}

static int match_digest(const struct centry *e, const void *arg)
{
    return memcmp(e->digest, arg, QL_DIGEST_LEN) == 0;
}

static int match_user(const struct centry *e, const void *arg)
{
    return e->p.kind == QL_PRINCIPAL_USER && memcmp(e->p.user_id.b, arg, 16) == 0;
}

static int match_key(const struct centry *e, const void *arg)
{
    return e->p.kind == QL_PRINCIPAL_API_KEY && memcmp(e->p.credential_id.b, arg, 16) == 0;
}

static int match_team(const struct centry *e, const void *arg)
{
    if (e->p.kind == QL_PRINCIPAL_API_KEY)
        return memcmp(e->p.key_team_id.b, arg, 16) == 0;
    for (int i = 0; i < e->p.nteams; i++)
        if (memcmp(e->teams[i].team_id.b, arg, 16) == 0)
            return 1;
    return 0;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            int d = ql_hex_digit(s[2 * i + k]);
            if (d < 0)
                return -1;
            v = v << 4 | d;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

void ql__pg_cache_apply(struct ql_pg_cache *c, const char *key)
{
    if (c == NULL)
        return;
    size_t n = strlen(key);
    struct ql_uuid u;
    uint8_t d[QL_DIGEST_LEN];
    if (n == 2 + 2 * QL_DIGEST_LEN && key[0] == 'd' && key[1] == ':' &&
        unhex(key + 2, d, QL_DIGEST_LEN) == 0)
        evict_if(c, match_digest, d);
    else if (n == 2 + QL_UUID_STR_LEN && key[1] == ':' &&
             ql_uuid_parse(key + 2, QL_UUID_STR_LEN, &u) == QL_OK && key[0] == 'u')
        evict_if(c, match_user, u.b);
    else if (n == 2 + QL_UUID_STR_LEN && key[1] == ':' &&
             ql_uuid_parse(key + 2, QL_UUID_STR_LEN, &u) == QL_OK && key[0] == 'k')
        evict_if(c, match_key, u.b);
    else if (n == 2 + QL_UUID_STR_LEN && key[1] == ':' &&
             ql_uuid_parse(key + 2, QL_UUID_STR_LEN, &u) == QL_OK && key[0] == 't')
        evict_if(c, match_team, u.b);
    else
        flush_all(c);
}

uint64_t ql__pg_cache_gen(struct ql_pg_cache *c)
{
    return atomic_load(&c->gen);
}

int ql__pg_cache_get(struct ql_pg_cache *c, struct ql_arena *a, const uint8_t *digest,
                     struct ql_principal *out)
{
    if (c == NULL || !atomic_load(&c->enabled))
        return 0;
    struct stripe *s = &c->stripes[hash_digest(digest) % STRIPES];
    uint32_t h = hash_digest(digest + 4);
    int found = 0;
    int64_t now = mono_ms(c);
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < PROBE; k++) {
        struct centry *e = &s->slots[(h + (uint32_t)k) % (uint32_t)c->per_stripe];
        if (!e->used || memcmp(e->digest, digest, QL_DIGEST_LEN) != 0)
            continue;
        if (now - e->born_ms > QL_PG_CACHE_TTL_MS) {
            entry_clear(e);
            break;
        }
        struct ql_membership *teams = NULL;
        if (e->p.nteams > 0) {
            teams = ql_arena_alloc(a, sizeof(*teams) * (size_t)e->p.nteams);
            if (teams == NULL)
                break;
            memcpy(teams, e->teams, sizeof(*teams) * (size_t)e->p.nteams);
        }
        *out = e->p;
        out->teams = teams;
        found = 1;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void ql__pg_cache_put(struct ql_pg_cache *c, uint64_t gen, const uint8_t *digest,
                      const struct ql_principal *p)
{
    if (c == NULL || !atomic_load(&c->enabled))
        return;
    struct ql_membership *teams = NULL;
    if (p->nteams > 0) {
        teams = malloc(sizeof(*teams) * (size_t)p->nteams);
        if (teams == NULL)
            return;
        memcpy(teams, p->teams, sizeof(*teams) * (size_t)p->nteams);
    }
    struct stripe *s = &c->stripes[hash_digest(digest) % STRIPES];
    uint32_t h = hash_digest(digest + 4);
    int64_t now = mono_ms(c);
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&c->gen) != gen) {
        /* Something was invalidated while this principal was read: do not cache it. */
        pthread_mutex_unlock(&s->lock);
        free(teams);
        return;
    }
    struct centry *victim = NULL;
    for (int k = 0; k < PROBE; k++) {
        struct centry *e = &s->slots[(h + (uint32_t)k) % (uint32_t)c->per_stripe];
        if (!e->used || memcmp(e->digest, digest, QL_DIGEST_LEN) == 0) {
            victim = e;
            break;
        }
        if (victim == NULL || e->born_ms < victim->born_ms)
            victim = e;
    }
    if (victim->used)
        entry_clear(victim);
    victim->used = 1;
    memcpy(victim->digest, digest, QL_DIGEST_LEN);
    victim->born_ms = now;
    victim->p = *p;
    victim->teams = teams;
    victim->p.teams = teams;
    pthread_mutex_unlock(&s->lock);
}

static int match_touch_key(const struct centry *e, const void *arg)
{
    return match_key(e, arg);
}

void ql__pg_cache_touch(struct ql_pg_cache *c, const uint8_t *digest, const struct ql_uuid *key,
                        int64_t now_ms)
{
    if (c == NULL)
        return;
    for (int s = 0; s < STRIPES; s++) {
        if (digest && &c->stripes[s] != &c->stripes[hash_digest(digest) % STRIPES])
            continue;
        pthread_mutex_lock(&c->stripes[s].lock);
        for (int i = 0; i < c->per_stripe; i++) {
            struct centry *e = &c->stripes[s].slots[i];
            if (e->used &&
                ((digest && match_digest(e, digest)) || (key && match_touch_key(e, key->b))))
                e->p.last_seen_ms = now_ms;
        }
        pthread_mutex_unlock(&c->stripes[s].lock);
    }
}

/* ---- coherence ----------------------------------------------------------------------------- */

static void on_auth(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_pg_cache *c = ud;
    switch (ev) {
    case QL_NOTIFY_LISTENING: /* anything may have changed while nobody listened */
        flush_all(c);
        atomic_store(&c->enabled, 1);
        break;
    case QL_NOTIFY_LOST:
        atomic_store(&c->enabled, 0);
        flush_all(c);
        break;
    case QL_NOTIFY_MESSAGE:
        ql__pg_cache_apply(c, payload);
        break;
    }
}

int ql__pg_cache_create(struct ql_notify *notify, struct ql_clock *clock, int capacity,
                        struct ql_pg_cache **out)
{
    *out = NULL;
    struct ql_pg_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return QL_ENOMEM;
    c->per_stripe = capacity / STRIPES > PROBE ? capacity / STRIPES : PROBE;
    c->clock = clock;
    int rc = QL_OK;
    for (int s = 0; s < STRIPES && rc == QL_OK; s++) {
        pthread_mutex_init(&c->stripes[s].lock, NULL);
        c->stripes[s].slots = calloc((size_t)c->per_stripe, sizeof(struct centry));
        if (c->stripes[s].slots == NULL)
            rc = QL_ENOMEM;
    }
    /* Without notifications nothing could ever be invalidated: the cache stays off. */
    if (rc == QL_OK && notify) {
        rc = ql_notify_subscribe(notify, QL_NOTIFY_AUTH, on_auth, c, &c->sub);
        c->notify = rc == QL_OK ? notify : NULL;
    }
    if (rc) {
        ql__pg_cache_destroy(c);
        return rc;
    }
    *out = c;
    return QL_OK;
}

void ql__pg_cache_destroy(struct ql_pg_cache *c)
{
    if (c == NULL)
        return;
    if (c->notify)
        ql_notify_unsubscribe(c->notify, c->sub);
    for (int s = 0; s < STRIPES; s++) {
        if (c->stripes[s].slots == NULL)
            continue;
        for (int i = 0; i < c->per_stripe; i++)
            if (c->stripes[s].slots[i].used)
                entry_clear(&c->stripes[s].slots[i]);
        free(c->stripes[s].slots);
        pthread_mutex_destroy(&c->stripes[s].lock);
    }
    free(c);
}
