/*
 * queue.c - names shared by every implementation of the queue port.
 */
#include "queue/queue.h"

const char *const ql_job_states[QL_QUEUE_STATES] = {"available", "running",   "failed",
                                                    "succeeded", "discarded", "cancelled"};
