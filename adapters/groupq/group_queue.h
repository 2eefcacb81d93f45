/*
 * group_queue.h - the group-commit port (core/group/group.h) for threads: a queue of waiting
 * writes under a mutex, written in batches by the threads that join it.
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
struct ql_group *ql_group_queue_port(struct ql_group_queue *q);

#endif
