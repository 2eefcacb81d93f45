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
 *
 * Submitted items (an event loop's) have no thread waiting in the queue: when one of them
 * is first in line and a writer's slot is free, the queue asks its owner for a thread
 * (async.lead), which writes batches until nothing may be taken; each submitted item done
 * goes back to its caller through async.notify.  Joined and submitted items share batches.
 * So a loop's write costs no thread of its own: under load a leader writes batch after
 * batch without sleeping, where each joining thread used to sleep and wake once per write.
 */
#include "group_queue.h"

#include "ctx/ctx.h"
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
    int leads;                         /* async.lead() asked, its thread not yet leading */
    struct ql_group_async async;       /* for submitted items; lead NULL: none */
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
 * Have one more batch written, if a writer's slot is free and items wait (lock held): wake
 * the first waiting thread to lead, or, when the first item was submitted, ask for a thread.
 * One, not all: a broadcast would have every waiting thread fight for the lock only to find
 * nothing to do, and under load that fight cost more CPU than the writes themselves.
 * -1 when a thread was needed and none could be had.
 */
static int kick(struct ql_group_queue *g)
{
    if (g->head == NULL || g->writing + g->leads >= g->writers)
        return 0;
    if (!g->head->submitted) {
        pthread_cond_signal(g->head->wait);
        return 0;
    }
    if (g->async.lead == NULL || g->async.lead(g->async.ud) != 0)
        return -1;
    g->leads++;
    return 0;
}

/*
 * Write f, taken and in flight, with cx's session; then mark its items done, wake the
 * threads joined to them but self's, and hand the submitted ones back.  Enters and leaves
 * with the lock held; the caller hands over (hand_over) once it takes no more batches
 * itself (an extra thread asked for after every batch would only find the slot taken).
 */
static void write_flight(struct ql_group_queue *g, struct flight *f, struct ql_ctx *cx,
                         const struct ql_group_item *self)
{
    f->next = g->flying;
    g->flying = f;
    g->writing++;
    kick(g); /* another slot may be free for items this batch left */
    pthread_mutex_unlock(&g->lock);
    f->items[0]->write(cx, f->items, f->n);
    pthread_mutex_lock(&g->lock);
    unlink_flight(g, f);
    g->writing--;
    g->batches++;
    g->items += (uint64_t)f->n;
    int nsub = 0;
    for (int i = 0; i < f->n; i++) {
        struct ql_group_item *it = f->items[i];
        it->done = 1;
        if (it->submitted)
            f->items[nsub++] = it; /* a joined item is not touched again: its thread owns it */
        else if (it != self)
            pthread_cond_signal(it->wait);
    }
    if (nsub == 0)
        return;
    /* Their callers own them again once notified: nothing of the queue's touches them after. */
    pthread_mutex_unlock(&g->lock);
    for (int i = 0; i < nsub; i++)
        g->async.notify(g->async.ud, f->items[i]);
    pthread_mutex_lock(&g->lock);
}

/*
 * A leader leaves (lock held): have the next batch written by another, or, when no thread
 * can be had for the submitted items first in line, write on with cx itself, so they are
 * never left without a writer.  What it cannot take waits for a batch in flight, whose
 * leader hands over in turn.
 */
static void hand_over(struct ql_group_queue *g, struct ql_ctx *cx)
{
    while (kick(g) != 0) {
        struct flight f;
        f.n = 0;
        if (g->writing < g->writers)
            take(g, &f);
        if (f.n == 0)
            return;
        write_flight(g, &f, cx, NULL);
    }
}

static void enqueue(struct ql_group_queue *g, struct ql_group_item *item, ql_group_write_fn write)
{
    item->write = write;
    item->rc = QL_ERETRY;
    item->done = 0;
    item->next = NULL;
    if (g->tail)
        g->tail->next = item;
    else
        g->head = item;
    g->tail = item;
    g->waiting++;
}

static int join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                ql_group_write_fn write)
{
    struct ql_group_queue *g = (struct ql_group_queue *)self;
    pthread_cond_t wait; /* this thread's own: it is woken when its item is done */
    if (pthread_cond_init(&wait, NULL) != 0)
        return item->rc = QL_ERETRY; /* not grouped: the caller writes it alone */
    item->submitted = 0;
    /* cppcheck-suppress autoVariables ; the item leaves the queue (done) before join returns */
    item->wait = &wait;
    pthread_mutex_lock(&g->lock);
    enqueue(g, item, write);
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
        write_flight(g, &f, cx, item);
    }
    hand_over(g, cx);
    item->wait = NULL;
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&wait);
    return item->rc;
}

/*
 * Without a host nobody would write a submitted item but its caller: join, then answer as a
 * port that answers at once does.  With one, queue it; QL_EUNAVAILABLE (nothing queued)
 * when no thread could be had to write it.
 */
static int submit(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                  ql_group_write_fn write, ql_done_fn then, void *arg)
{
    struct ql_group_queue *g = (struct ql_group_queue *)self;
    pthread_mutex_lock(&g->lock);
    if (g->async.lead == NULL) {
        pthread_mutex_unlock(&g->lock);
        int rc = join(self, cx, item, write);
        return ql_ctx_defer(cx, then, rc, arg);
    }
    item->submitted = 1;
    item->then = then;
    item->then_arg = arg;
    enqueue(g, item, write);
    if (kick(g) != 0 && g->writing == 0 && g->leads == 0) {
        /* Nobody would ever write it: it is the newest, so the last in the queue. */
        struct ql_group_item **link = &g->head;
        while (*link != item)
            link = &(*link)->next;
        *link = NULL;
        g->tail = NULL;
        for (struct ql_group_item *it = g->head; it; it = it->next)
            g->tail = it;
        g->waiting--;
        pthread_mutex_unlock(&g->lock);
        return ql_error_set(&cx->err, QL_EUNAVAILABLE, "no thread can write the group");
    }
    pthread_mutex_unlock(&g->lock);
    return QL_OK;
}

static void lead(struct ql_group *self, struct ql_ctx *cx, void (*after)(struct ql_ctx *cx))
{
    struct ql_group_queue *g = (struct ql_group_queue *)self;
    pthread_mutex_lock(&g->lock);
    g->leads--;
    for (;;) {
        struct flight f;
        f.n = 0;
        if (g->head && g->writing < g->writers)
            take(g, &f);
        if (f.n == 0)
            break;
        write_flight(g, &f, cx, NULL);
        if (after) {
            pthread_mutex_unlock(&g->lock);
            after(cx);
            pthread_mutex_lock(&g->lock);
        }
    }
    hand_over(g, cx);
    pthread_mutex_unlock(&g->lock);
}

void ql_group_queue_async(struct ql_group_queue *g, const struct ql_group_async *a)
{
    pthread_mutex_lock(&g->lock);
    g->async = *a;
    pthread_mutex_unlock(&g->lock);
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

static const struct ql_group_ops ops = {
    .join = join, .submit = submit, .lead = lead, .stats = stats};

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
