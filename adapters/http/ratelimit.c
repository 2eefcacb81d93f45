/*
 * ratelimit.c - striped token buckets, shared across instances by charging each bucket with
 * what the other instances handed out (ratelimit.h).  Tokens are kept as fixed-point
 * micro-tokens so the refill arithmetic is exact integer math; a bucket may go into debt
 * (negative tokens) when the others' counts arrive, down to DEBT_BURSTS bursts.
 */
#include "ratelimit.h"

#include "err/err.h"
#include "usage/usage.h"
#include "uuid/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define SLOTS 256 /* per stripe */
#define PROBE 8
#define MICRO 1000000LL
#define DEBT_BURSTS 8

struct bucket {
    uint8_t key[16];
    int used;
    int64_t tokens_u; /* micro-tokens; negative: debt */
    int64_t last_ns;
    /* what this instance handed out per second (slot second & 1), and what was published */
    int64_t mine_s[2];
    int32_t mine_n[2];
    uint8_t mine_dirty[2];
    /* the other instances' totals already charged, per second (slot second & 3) */
    int64_t seen_s[4];
    int64_t seen_n[4];
};

struct stripe {
    pthread_mutex_t lock;
    struct bucket slots[SLOTS];
};

struct ql_ratelimit {
    int rate;
    int burst;
    struct stripe stripes[STRIPES];
};

int ql_ratelimit_create(int rate, struct ql_ratelimit **out)
{
    *out = NULL;
    struct ql_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return QL_ENOMEM;
    rl->rate = rate > 0 ? rate : 1;
    rl->burst = rl->rate * 2;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->stripes[i].lock, NULL);
    *out = rl;
    return QL_OK;
}

void ql_ratelimit_destroy(struct ql_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->stripes[i].lock);
    free(rl);
}

/* The stripe and first slot of key (ql_uuid_hash: all 16 bytes count, ids made by hand too). */
static struct stripe *stripe_of(struct ql_ratelimit *rl, const uint8_t key[16], uint32_t *base)
{
    struct ql_uuid u;
    memcpy(u.b, key, 16);
    uint64_t h = ql_uuid_hash(&u);
    *base = (uint32_t)(h >> 32) % SLOTS;
    return &rl->stripes[h % STRIPES];
}

/* The bucket of key (made full, or recycled from the least recently used), refilled to now. */
static struct bucket *bucket_of(struct ql_ratelimit *rl, struct stripe *s, uint32_t base,
                                const uint8_t key[16], int64_t now_ns)
{
    int64_t cap_u = (int64_t)rl->burst * MICRO;
    struct bucket *b = NULL, *oldest = NULL;
    for (int k = 0; k < PROBE; k++) {
        struct bucket *c = &s->slots[(base + (uint32_t)k) % SLOTS];
        if (c->used && memcmp(c->key, key, 16) == 0) {
            b = c;
            break;
        }
        if (oldest == NULL || !c->used || (oldest->used && c->last_ns < oldest->last_ns))
            oldest = c;
    }
    if (b == NULL) {
        b = oldest;
        memset(b, 0, sizeof(*b));
        memcpy(b->key, key, 16);
        b->used = 1;
        b->tokens_u = cap_u;
        b->last_ns = now_ns;
    }
    int64_t elapsed = now_ns - b->last_ns;
    if (elapsed > 0) {
        /* rate tokens per second = rate micro-tokens per microsecond, up to the burst; the
         * product is only formed below the room left, so months of idleness cannot overflow */
        int64_t us = elapsed / 1000, room_u = cap_u - b->tokens_u;
        b->tokens_u += us > room_u / rl->rate ? room_u : us * rl->rate;
        b->last_ns = now_ns;
    }
    return b;
}

/* Whole seconds until the bucket holds a whole token again: 0 when it does now. */
static int reset_of(const struct ql_ratelimit *rl, const struct bucket *b)
{
    if (b->tokens_u >= MICRO)
        return 0;
    int64_t missing_u = MICRO - b->tokens_u;
    int64_t wait_us = (missing_u + rl->rate - 1) / rl->rate;
    int64_t reset = (wait_us + 999999) / 1000000;
    return reset < 1 ? 1 : reset > 86400 ? 86400 : (int)reset;
}

void ql_ratelimit_take(struct ql_ratelimit *rl, const uint8_t key[16], int64_t now_ns,
                       int64_t second, struct ql_rate_result *out)
{
    uint32_t base;
    struct stripe *s = stripe_of(rl, key, &base);
    pthread_mutex_lock(&s->lock);
    struct bucket *b = bucket_of(rl, s, base, key, now_ns);
    out->limit = rl->burst;
    if (b->tokens_u >= MICRO) {
        b->tokens_u -= MICRO;
        out->allowed = 1;
        out->remaining = (int)(b->tokens_u / MICRO);
        out->reset_s = reset_of(rl, b); /* the last token taken: when the next one comes */
        int slot = (int)(second & 1);
        if (b->mine_s[slot] != second) {
            b->mine_s[slot] = second;
            b->mine_n[slot] = 0;
        }
        b->mine_n[slot]++;
        b->mine_dirty[slot] = 1;
    } else {
        out->allowed = 0;
        out->remaining = 0;
        out->reset_s = reset_of(rl, b);
    }
    pthread_mutex_unlock(&s->lock);
}

int ql_ratelimit_collect(struct ql_ratelimit *rl, struct ql_rate_count *out, int cap)
{
    int n = 0;
    for (int i = 0; i < STRIPES && n < cap; i++) {
        struct stripe *s = &rl->stripes[i];
        pthread_mutex_lock(&s->lock);
        for (int j = 0; j < SLOTS && n < cap; j++) {
            struct bucket *b = &s->slots[j];
            for (int k = 0; b->used && k < 2 && n < cap; k++) {
                if (!b->mine_dirty[k])
                    continue;
                memcpy(out[n].principal.b, b->key, 16);
                out[n].second = b->mine_s[k];
                out[n].n = b->mine_n[k];
                b->mine_dirty[k] = 0;
                n++;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

void ql_ratelimit_charge(struct ql_ratelimit *rl, const uint8_t key[16], int64_t second,
                         int64_t total, int64_t now_ns)
{
    uint32_t base;
    struct stripe *s = stripe_of(rl, key, &base);
    pthread_mutex_lock(&s->lock);
    struct bucket *b = bucket_of(rl, s, base, key, now_ns);
    int slot = (int)(second & 3);
    if (b->seen_s[slot] > second) {
        pthread_mutex_unlock(&s->lock); /* a second long gone: its slot moved on */
        return;
    }
    if (b->seen_s[slot] != second) {
        b->seen_s[slot] = second;
        b->seen_n[slot] = 0;
    }
    int64_t fresh = total - b->seen_n[slot];
    if (fresh > 0) {
        int64_t floor_u = -(int64_t)DEBT_BURSTS * rl->burst * MICRO;
        int64_t debt_u = fresh > (int64_t)DEBT_BURSTS * rl->burst ? -floor_u : fresh * MICRO;
        b->tokens_u = b->tokens_u - debt_u < floor_u ? floor_u : b->tokens_u - debt_u;
        b->seen_n[slot] = total;
    }
    pthread_mutex_unlock(&s->lock);
}
