/*
 * fdlog.c - JSON lines to a file descriptor, optionally batched per thread.  A failed or
 * short write drops the rest of the batch: logging must never stall or crash the server.
 */
#include "fdlog.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#define FLUSH_AT (32 * 1024)

static void write_all(struct ql_fdlog *l, const char *p, size_t n)
{
    pthread_mutex_lock(l->lock);
    while (n > 0) {
        ssize_t w = write(l->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(l->lock);
}

/* Unbuffered: line and newline in one writev(2) under the lock, so threads may share it. */
static void write_line(struct ql_fdlog *l, const char *line, size_t n)
{
    struct iovec iov[2] = {{(void *)line, n}, {"\n", 1}};
    pthread_mutex_lock(l->lock);
    ssize_t w;
    do
        w = writev(l->fd, iov, 2);
    while (w < 0 && errno == EINTR);
    pthread_mutex_unlock(l->lock);
}

static void fd_write(struct ql_logger *self, const char *line, size_t n)
{
    struct ql_fdlog *l = (struct ql_fdlog *)self;
    if (!l->buffered) {
        write_line(l, line, n);
        return;
    }
    ql_buf_append(&l->pending, line, n);
    ql_buf_putc(&l->pending, '\n');
    if (l->pending.failed) {
        ql_buf_cleanup(&l->pending);
        ql_buf_init(&l->pending, NULL);
        return;
    }
    if (l->pending.len >= FLUSH_AT)
        ql_fdlog_flush(l);
}

static const struct ql_logger_ops ops = {.write = fd_write};

void ql_fdlog_init(struct ql_fdlog *l, int fd, int level, struct ql_clock *clock, int buffered,
                   pthread_mutex_t *lock)
{
    l->base.ops = &ops;
    l->base.level = level;
    l->base.clock = clock;
    l->fd = fd;
    l->buffered = buffered;
    l->lock = lock;
    ql_buf_init(&l->pending, NULL);
}

void ql_fdlog_flush(struct ql_fdlog *l)
{
    if (l->pending.len == 0)
        return;
    write_all(l, l->pending.data, l->pending.len);
    l->pending.len = 0;
}

void ql_fdlog_cleanup(struct ql_fdlog *l)
{
    ql_fdlog_flush(l);
    ql_buf_cleanup(&l->pending);
}
