/*
 * log.c - assembling JSON log lines.  A line is built in a stack buffer for the common
 * short case; the buffer grows on the heap only for long lines.
 */
#include "log/log.h"

#include "clock/clock.h"
#include "err/err.h"

#include <stdarg.h>
#include <string.h>

static const char *const names[] = {"debug", "info", "warn", "error"};

int ql_log_level_parse(const char *s, int *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return QL_OK;
        }
    }
    return QL_EVALIDATION;
}

const char *ql_log_level_name(int level)
{
    return level >= 0 && level < 4 ? names[level] : "info";
}

void ql_log_begin(struct ql_logger *l, struct ql_jw *w, struct ql_buf *b, int level,
                  const char *msg)
{
    char ts[QL_TIME_LEN + 1];
    ql_time_format(l->clock ? ql_clock_now_ms(l->clock) : 0, ts);
    ql_jw_init(w, b);
    ql_jw_obj(w);
    ql_jw_key(w, "time");
    ql_jw_strn(w, ts, QL_TIME_LEN);
    ql_jw_key(w, "level");
    ql_jw_str(w, ql_log_level_name(level));
    ql_jw_key(w, "msg");
    ql_jw_str(w, msg);
}

void ql_log_end(struct ql_logger *l, struct ql_jw *w)
{
    ql_jw_obj_end(w);
    if (ql_buf_ok(w->b) == QL_OK)
        l->ops->write(l, w->b->data, w->b->len);
}

void ql_log(struct ql_logger *l, int level, const char *msg, ...)
{
    if (!ql_log_enabled(l, level))
        return;
    struct ql_buf b;
    struct ql_jw w;
    ql_buf_init(&b, NULL);
    ql_log_begin(l, &w, &b, level, msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        ql_jw_key(&w, k);
        ql_jw_str_or_null(&w, v);
    }
    va_end(ap);
    ql_log_end(l, &w);
    ql_buf_cleanup(&b);
}

/* ---- batches ------------------------------------------------------------------------------- */

#define BATCH_FLUSH_AT (32 * 1024)

static void batch_write(struct ql_logger *self, const char *line, size_t n)
{
    struct ql_log_batch *b = (struct ql_log_batch *)self;
    ql_buf_append(&b->pending, line, n);
    ql_buf_putc(&b->pending, '\n');
    if (b->pending.failed) {
        ql_buf_cleanup(&b->pending);
        ql_buf_init(&b->pending, NULL);
        return;
    }
    if (b->pending.len >= BATCH_FLUSH_AT)
        ql_log_batch_flush(b);
}

static const struct ql_logger_ops batch_ops = {.write = batch_write};

void ql_log_batch_init(struct ql_log_batch *b, struct ql_logger *sink)
{
    b->base.ops = &batch_ops;
    b->base.level = sink ? sink->level : QL_LOG_ERROR + 1;
    b->base.clock = sink ? sink->clock : NULL;
    b->sink = sink;
    ql_buf_init(&b->pending, NULL);
}

void ql_log_batch_flush(struct ql_log_batch *b)
{
    if (b->pending.len == 0 || b->sink == NULL) {
        b->pending.len = 0;
        return;
    }
    const struct ql_logger_ops *o = b->sink->ops;
    if (o->write_lines) {
        o->write_lines(b->sink, b->pending.data, b->pending.len);
    } else {
        const char *p = b->pending.data, *end = p + b->pending.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            o->write(b->sink, p, n);
            p += n + 1;
        }
    }
    b->pending.len = 0;
}

void ql_log_batch_cleanup(struct ql_log_batch *b)
{
    ql_log_batch_flush(b);
    ql_buf_cleanup(&b->pending);
}
