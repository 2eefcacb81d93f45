/*
 * ratelimit.c - striped token buckets.  Tokens are kept as fixed-point micro-tokens so the
 * refill arithmetic is exact integer math.
 */
#include "ratelimit.h"

#include "err/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64
#define SLOTS 256 /* per stripe */
#define PROBE 8
#define MICRO 1000000LL

struct bucket {
    uint8_t key[16];
    int used;
    int64_t tokens_u; /* micro-tokens */
    int64_t last_ns;
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

void ql_ratelimit_take(struct ql_ratelimit *rl, const uint8_t key[16], int64_t now_ns,
                       struct ql_rate_result *out)
{
    uint32_t h;
    memcpy(&h, key + 12, 4); /* UUIDv7: the last bytes are random */
    h = h * 2654435761u;
    struct stripe *s = &rl->stripes[h % STRIPES];
    uint32_t base = (h >> 8) % SLOTS;
    int64_t cap_u = (int64_t)rl->burst * MICRO;
    pthread_mutex_lock(&s->lock);
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
        memcpy(b->key, key, 16);
        b->used = 1;
        b->tokens_u = cap_u;
        b->last_ns = now_ns;
    }
    int64_t elapsed = now_ns - b->last_ns;
    if (elapsed > 0) {
        /* rate tokens per second = rate micro-tokens per microsecond */
        int64_t add = elapsed / 1000 * rl->rate;
        b->tokens_u = b->tokens_u + add > cap_u ? cap_u : b->tokens_u + add;
        b->last_ns = now_ns;
    }
    out->limit = rl->burst;
    if (b->tokens_u >= MICRO) {
        b->tokens_u -= MICRO;
        out->allowed = 1;
        out->remaining = (int)(b->tokens_u / MICRO);
        out->reset_s = 0;
    } else {
        out->allowed = 0;
        out->remaining = 0;
        int64_t missing_u = MICRO - b->tokens_u;
        int64_t wait_us = (missing_u + rl->rate - 1) / rl->rate;
        out->reset_s = (int)((wait_us + 999999) / 1000000);
        if (out->reset_s < 1)
            out->reset_s = 1;
    }
    pthread_mutex_unlock(&s->lock);
}
