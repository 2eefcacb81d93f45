/*
 * log.h - structured JSON log lines.
 *
 * A line is one JSON object: {"time","level","msg", then fields}.  Lines are built by the
 * caller (on the stack or in an arena) and handed whole to a sink, the logger port, which
 * decides where they go (stdout, buffered per thread, in quill-api and quill-worker; a
 * memory buffer in tests).  Never log secrets or personal data: identifiers only.
 */
#ifndef QL_LOG_H
#define QL_LOG_H

#include <stddef.h>

#include "buf/buf.h"

enum ql_log_level { QL_LOG_DEBUG, QL_LOG_INFO, QL_LOG_WARN, QL_LOG_ERROR };

struct ql_clock;
struct ql_logger;

struct ql_logger_ops {
    /* Take one complete line (no trailing newline); must not fail loudly. */
    void (*write)(struct ql_logger *self, const char *line, size_t n);
    /* Take many lines at once, each ending in '\n' (NULL: write is called per line). */
    void (*write_lines)(struct ql_logger *self, const char *text, size_t n);
};

struct ql_logger {
    const struct ql_logger_ops *ops;
    int level;              /* lines below this level are dropped */
    struct ql_clock *clock; /* for the "time" field */
};

/* "debug", "info", ... into a level; returns 0 or QL_EVALIDATION. */
int ql_log_level_parse(const char *s, int *out);
const char *ql_log_level_name(int level);

/* 1 when a line of this level would be written. */
static inline int ql_log_enabled(const struct ql_logger *l, int level)
{
    return l != NULL && level >= l->level;
}

/*
 * Start a line in w (over b): writes {"time":…,"level":…,"msg":… and leaves the object
 * open for fields added with ql_jw_key/ql_jw_*.  Finish with ql_log_end.
 */
void ql_log_begin(struct ql_logger *l, struct ql_jw *w, struct ql_buf *b, int level,
                  const char *msg);
/* Close the object and hand the line to the sink (dropped if b failed). */
void ql_log_end(struct ql_logger *l, struct ql_jw *w);

/*
 * One-call form: msg plus NULL-terminated key/value string pairs, e.g.
 * ql_log(l, QL_LOG_INFO, "listening", "addr", "127.0.0.1:8080", NULL).
 */
void ql_log(struct ql_logger *l, int level, const char *msg, ...);

/*
 * A logger that batches: the lines it takes are collected and handed to sink in one
 * write_lines call when ql_log_batch_flush runs or 32 KiB are pending, so an event loop that
 * logs a line per request pays one write per batch.  It belongs to one thread; sink (borrowed)
 * may be shared.  A line that cannot be kept (out of memory) is dropped, never blocked on.
 * A zeroed ql_log_batch may be cleaned up.
 */
struct ql_log_batch {
    struct ql_logger base;
    struct ql_logger *sink;
    struct ql_buf pending;
};

void ql_log_batch_init(struct ql_log_batch *b, struct ql_logger *sink);
void ql_log_batch_flush(struct ql_log_batch *b);
/* Flush, then free the buffer. */
void ql_log_batch_cleanup(struct ql_log_batch *b);

#endif
