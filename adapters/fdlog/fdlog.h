/*
 * fdlog.h - a logger port that writes JSON lines to a file descriptor (stdout).
 *
 * Lines are written at once, each with its newline in one writev(2), and batches of lines
 * (write_lines, from a ql_log_batch of core/log) in one write(2).  Every logger given the
 * same lock serialises its writes, so lines from different threads never interleave.  A
 * failed or short write drops the rest: logging must never stall or crash the server.
 */
#ifndef QL_FDLOG_H
#define QL_FDLOG_H

#include <pthread.h>

#include "log/log.h"

struct ql_fdlog {
    struct ql_logger base;
    int fd;
    pthread_mutex_t *lock; /* borrowed; shared by every logger of the process */
};

void ql_fdlog_init(struct ql_fdlog *l, int fd, int level, struct ql_clock *clock,
                   pthread_mutex_t *lock);

#endif
