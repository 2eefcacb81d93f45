/*
 * ctx.c - the deferred continuations of a context.  A FIFO in the context's arena: it is
 * short (one or two entries per request) and lives exactly as long as the request.
 */
#include "ctx/ctx.h"

#include "arena/arena.h"
#include "err/err.h"

int ql_ctx_defer(struct ql_ctx *cx, ql_done_fn fn, int rc, void *arg)
{
    struct ql_deferred *d = ql_arena_alloc(cx->arena, sizeof(*d));
    if (d == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *d = (struct ql_deferred){NULL, fn, rc, arg};
    struct ql_deferred **tail = &cx->deferred;
    while (*tail)
        tail = &(*tail)->next;
    *tail = d;
    return QL_OK;
}

int ql_ctx_run_deferred(struct ql_ctx *cx)
{
    int n = 0;
    while (cx->deferred) {
        struct ql_deferred *d = cx->deferred;
        cx->deferred = d->next;
        d->fn(cx, d->rc, d->arg);
        n++;
    }
    return n;
}

void ql_ctx_wait_done(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    *(int *)arg = rc;
}

int ql_ctx_wait(struct ql_ctx *cx, int started, const int *rc)
{
    if (started)
        return started;
    ql_ctx_run_deferred(cx);
    return *rc;
}
