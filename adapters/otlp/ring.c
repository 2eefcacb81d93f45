/*
 * ring.c - the bounded queue between the threads that emit spans and the exporter.
 *
 * Slot i's sequence number says whose turn it is: equal to a position p (p % cap == i), the
 * slot is free for the producer that claims p; equal to p + 1, it holds p's span for the
 * consumer, which then sets it to p + cap, freeing it for the next lap.  A producer claims a
 * position by advancing head with a compare-and-swap, so two never fill one slot; it never
 * waits: when the slot at head still holds a span of the last lap, the queue is full and the
 * span is refused.  Only the consumer moves tail.
 */
#include "internal.h"

#include "err/err.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int ql__ring_init(struct ql__ring *r, uint64_t cap)
{
    memset(r, 0, sizeof(*r));
    r->slots = calloc((size_t)cap, sizeof(*r->slots));
    if (r->slots == NULL)
        return QL_ENOMEM;
    r->cap = cap;
    for (uint64_t i = 0; i < cap; i++)
        atomic_init(&r->slots[i].seq, i);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return QL_OK;
}

void ql__ring_cleanup(struct ql__ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

/* The bytes of a span worth copying: everything up to the end of its text in use. */
static size_t span_size(const struct ql_trace_span *sp)
{
    size_t used = sp->used <= QL_SPAN_TEXT ? sp->used : QL_SPAN_TEXT;
    return offsetof(struct ql_trace_span, text) + used;
}

int ql__ring_put(struct ql__ring *r, const struct ql_trace_span *sp)
{
    uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (;;) {
        struct ql__slot *s = &r->slots[pos % r->cap];
        uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                memcpy(&s->span, sp, span_size(sp));
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                return 0;
            }
            /* another producer took pos: pos now holds the new head */
        } else if (dif < 0) {
            return -1; /* the slot still holds a span of the last lap: full */
        } else {
            pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        }
    }
}

int ql__ring_take(struct ql__ring *r, struct ql_trace_span *out)
{
    uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
    struct ql__slot *s = &r->slots[pos % r->cap];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (seq != pos + 1)
        return 0; /* empty, or its producer is still filling it */
    memcpy(out, &s->span, span_size(&s->span));
    atomic_store_explicit(&s->seq, pos + r->cap, memory_order_release);
    atomic_store_explicit(&r->tail, pos + 1, memory_order_release);
    return 1;
}

uint64_t ql__ring_len(struct ql__ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head > tail ? head - tail : 0;
}
