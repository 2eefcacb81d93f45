/*
 * group_queue.h - the group-commit port (core/group/group.h) for threads: a queue of waiting
 * writes under a mutex, written in batches by the threads that join it, or by threads the
 * queue asks for when callers that must not sleep submit to it.
 */
#ifndef QL_GROUP_ADAPTER_H
#define QL_GROUP_ADAPTER_H

#include <stdint.h>

#include "group/group.h"

#define QL_GROUP_MAX_BATCH 64

struct ql_group_queue;

/*
 * A queue that lets at most `writers` batches of at most `batch` items (up to
 * QL_GROUP_MAX_BATCH) be written at once.  writers >= 1.
 */
int ql_group_queue_create(int writers, int batch, struct ql_group_queue **out);
void ql_group_queue_destroy(struct ql_group_queue *q);
/* The queue's port, safe to call from any thread. */
struct ql_group *ql_group_queue_port(struct ql_group_queue *q);

/*
 * Who runs a queue whose port takes submits from callers that must not sleep (an event
 * loop's):
 *  - lead(ud): have a thread call ql_group_lead on the port soon; 0, or -1 when none can be
 *    had.  Called with the queue's lock held: it must not call back into the queue.
 *  - notify(ud, item): a submitted item is done (item->rc): run item->then on its caller's
 *    thread, which item->wait names (the submitter sets it).  Called from the writing
 *    thread, without the lock.
 * Without a host, the port's submit joins (the caller sleeps) and defers the continuation.
 */
struct ql_group_async {
    int (*lead)(void *ud);
    void (*notify)(void *ud, struct ql_group_item *item);
    void *ud;
};

/* Set the host before the first submit that relies on it. */
void ql_group_queue_async(struct ql_group_queue *q, const struct ql_group_async *a);

#endif
