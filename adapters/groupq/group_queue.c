/*
 * group_queue.c - group commit for the threads of a pool (LevelDB's write queue, with
 * more than one writer at a time).
 *
 * Joining threads append their item to one FIFO.  A thread that finds fewer than
 * `writers` batches in flight becomes a leader: it takes up to `batch` items of one write
 * function, oldest first (its own among them or not), writes them with its own context,
 * marks them done and wakes their threads, and one more thread to lead when a writer's
 * slot is free and items wait.  Every other thread sleeps on its own condition variable.
 * Items whose key a batch in flight holds stay queued: keys name what a write locks (a
 * team's audit chain), so batches in flight never wait for each other's locks.  There is
 * no timer: batches are made of the writes that arrived while earlier batches were in
 * flight, so a write that finds the database idle is written at once and a busy database
 * sees fewer, larger transactions.
 */
#include "group_queue.h"

#include "err/err.h"

#include <pthread.h>
#include <stdlib.h>

/* A batch being written, on its leader's stack. */
struct flight {
    struct ql_group_item *items[QL_GROUP_MAX_BATCH];
    int n;
    struct flight *next;
};

struct ql_group_queue {
    struct ql_group base;
    pthread_mutex_t lock;
    struct ql_group_item *head, *tail; /* waiting, not yet taken */
    int waiting;                       /* how many */
    struct flight *flying;             /* batches in flight */
    int writing;                       /* how many */
    int writers;                       /* at most this many in flight */
    int batch;                         /* items per batch at most */
    uint64_t batches, items;           /* written so far */
};

/* Is key in a batch in flight?  Two batches with one key would wait on each other's locks. */
static int flying(const struct ql_group_queue *g, uint64_t key)
{
    for (const struct flight *f = g->flying; f; f = f->next)
        for (int i = 0; i < f->n; i++)
            if (f->items[i]->key == key)
                return 1;
    return 0;
}

/*
 * Take into f up to g->batch waiting items, oldest first, that share the write function of
 * the first one taken and whose keys no batch in flight holds (lock held).
 */
static void take(struct ql_group_queue *g, struct flight *f)
{
    ql_group_write_fn write = NULL;
    struct ql_group_item **link = &g->head;
    f->n = 0;
    g->tail = NULL;
    while (*link) {
        struct ql_group_item *it = *link;
        if (f->n < g->batch && (write == NULL || it->write == write) && !flying(g, it->key)) {
            write = it->write;
            *link = it->next;
            f->items[f->n++] = it;
            g->waiting--;
        } else {
            g->tail = it;
            link = &it->next;
        }
    }
}

static void unlink_flight(struct ql_group_queue *g, struct flight *f)
{
    struct flight **link = &g->flying;
    while (*link != f)
        link = &(*link)->next;
    *link = f->next;
}

/*
 * Wake one waiting thread to lead, if a writer's slot is free and items wait (lock held).
 * One, not all: a broadcast would have every waiting thread fight for the lock only to find
 * nothing to do, and under load that fight cost more CPU than the writes themselves.
 */
static void wake_leader(struct ql_group_queue *g)
{
    if (g->head && g->writing < g->writers)
        pthread_cond_signal(g->head->wait);
}

static int join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                ql_group_write_fn write)
{
    struct ql_group_queue *g = (struct ql_group_queue *)self;
    pthread_cond_t wait; /* this thread's own: it is woken when its item is done */
    if (pthread_cond_init(&wait, NULL) != 0)
        return item->rc = QL_ERETRY; /* not grouped: the caller writes it alone */
    item->write = write;
    /* cppcheck-suppress autoVariables ; the item leaves the queue (done) before join returns */
    item->wait = &wait;
    item->rc = QL_ERETRY;
    item->done = 0;
    item->next = NULL;
    pthread_mutex_lock(&g->lock);
    if (g->tail)
        g->tail->next = item;
    else
        g->head = item;
    g->tail = item;
    g->waiting++;
    while (!item->done) {
        struct flight f;
        f.n = 0;
        if (g->head && g->writing < g->writers)
            take(g, &f);
        if (f.n == 0) {
            /* Nothing this thread may write now: a batch ending will wake it. */
            pthread_cond_wait(&wait, &g->lock);
            continue;
        }
        f.next = g->flying;
        g->flying = &f;
        g->writing++;
        wake_leader(g); /* another slot may be free for items this batch left */
        pthread_mutex_unlock(&g->lock);
        f.items[0]->write(cx, f.items, f.n);
        pthread_mutex_lock(&g->lock);
        unlink_flight(g, &f);
        g->writing--;
        g->batches++;
        g->items += (uint64_t)f.n;
        for (int i = 0; i < f.n; i++) {
            f.items[i]->done = 1;
            if (f.items[i] != item)
                pthread_cond_signal(f.items[i]->wait);
        }
        wake_leader(g);
    }
    item->wait = NULL;
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&wait);
    return item->rc;
}

static void stats(struct ql_group *self, struct ql_group_stats *out)
{
    struct ql_group_queue *g = (struct ql_group_queue *)self;
    pthread_mutex_lock(&g->lock);
    out->waiting = g->waiting;
    out->batches = g->batches;
    out->items = g->items;
    pthread_mutex_unlock(&g->lock);
}

static const struct ql_group_ops ops = {.join = join, .stats = stats};

int ql_group_queue_create(int writers, int batch, struct ql_group_queue **out)
{
    *out = NULL;
    if (writers < 1 || batch < 1)
        return QL_EINTERNAL;
    struct ql_group_queue *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return QL_ENOMEM;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return QL_ENOMEM;
    }
    g->base.ops = &ops;
    g->writers = writers;
    g->batch = batch < QL_GROUP_MAX_BATCH ? batch : QL_GROUP_MAX_BATCH;
    *out = g;
    return QL_OK;
}

void ql_group_queue_destroy(struct ql_group_queue *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g);
}

struct ql_group *ql_group_queue_port(struct ql_group_queue *g)
{
    return &g->base;
}
