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
