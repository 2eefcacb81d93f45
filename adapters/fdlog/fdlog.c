/*
 * fdlog.c - JSON lines to a file descriptor (see fdlog.h).
 */
#include "fdlog.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

static void fd_write_lines(struct ql_logger *self, const char *p, size_t n)
{
    struct ql_fdlog *l = (struct ql_fdlog *)self;
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

/* One line and its newline in one writev(2) under the lock, so threads may share it. */
static void fd_write(struct ql_logger *self, const char *line, size_t n)
{
    struct ql_fdlog *l = (struct ql_fdlog *)self;
    struct iovec iov[2] = {{(void *)line, n}, {"\n", 1}};
    pthread_mutex_lock(l->lock);
    ssize_t w;
    do
        w = writev(l->fd, iov, 2);
    while (w < 0 && errno == EINTR);
    pthread_mutex_unlock(l->lock);
}

static const struct ql_logger_ops ops = {.write = fd_write, .write_lines = fd_write_lines};

void ql_fdlog_init(struct ql_fdlog *l, int fd, int level, struct ql_clock *clock,
                   pthread_mutex_t *lock)
{
    l->base.ops = &ops;
    l->base.level = level;
    l->base.clock = clock;
    l->fd = fd;
    l->lock = lock;
}
