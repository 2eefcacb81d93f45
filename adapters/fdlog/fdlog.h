/*
 * fdlog.h - a logger port that writes JSON lines to a file descriptor (stdout).
 *
 * A buffered logger belongs to one thread (an event loop) and collects lines until
 * ql_fdlog_flush() or until 32 KiB are pending, so a busy loop pays one write(2) per batch
 * rather than one per request.  An unbuffered logger writes each line at once and may be
 * shared between threads.  All loggers given the same lock serialise their write(2)
 * calls, so lines from different threads never interleave.
 */
#ifndef QL_FDLOG_H
#define QL_FDLOG_H

#include <pthread.h>

#include "buf/buf.h"
#include "log/log.h"

struct ql_fdlog {
    struct ql_logger base;
    int fd;
    int buffered;
    pthread_mutex_t *lock; /* borrowed; shared by every logger of the process */
    struct ql_buf pending;
};

void ql_fdlog_init(struct ql_fdlog *l, int fd, int level, struct ql_clock *clock, int buffered,
                   pthread_mutex_t *lock);
/* Write pending lines. */
void ql_fdlog_flush(struct ql_fdlog *l);
/* Flush, then free the buffer. */
void ql_fdlog_cleanup(struct ql_fdlog *l);

#endif
