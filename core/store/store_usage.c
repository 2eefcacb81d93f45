/*
 * store_usage.c - the wrappers of the store's usage repository (store_usage.h): the one
 * place for what every call shares.  A store without the repository answers QL_EINTERNAL;
 * batch calls with nothing in them answer at once without a round trip.
 */
#include "store/store_usage.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store.h"
#include "usage/usage.h"

static int missing(struct ql_store *s, struct ql_ctx *cx)
{
    if (s->ops->usage)
        return QL_OK;
    return ql_error_set(&cx->err, QL_EINTERNAL, "this store keeps no usage");
}

int ql_store_usage_state(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         int64_t period_ms, struct ql_usage_state *out)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->usage->state(s, cx, team, period_ms, out);
}

int ql_store_usage_subscribe(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             const char *plan, int64_t quota, int64_t now_ms)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->usage->subscribe(s, cx, team, plan, quota, now_ms);
}

int ql_store_usage_reserve(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                           int64_t period_ms, int64_t want, int64_t default_quota,
                           struct ql_usage_grant *out)
{
    int rc = missing(s, cx);
    if (rc)
        return rc;
    if (want < 1)
        want = 1;
    return s->ops->usage->reserve(s, cx, team, period_ms, want, default_quota, out);
}

int ql_store_usage_release(struct ql_store *s, struct ql_ctx *cx,
                           const struct ql_usage_return *rows, int n)
{
    int rc = missing(s, cx);
    return rc || n <= 0 ? rc : s->ops->usage->release(s, cx, rows, n);
}

int ql_store_usage_log(struct ql_store *s, struct ql_ctx *cx, const struct ql_request_row *rows,
                       int n)
{
    int rc = missing(s, cx);
    return rc || n <= 0 ? rc : s->ops->usage->log(s, cx, rows, n);
}

int ql_store_usage_add_used(struct ql_store *s, struct ql_ctx *cx, struct ql_usage_tally *t, int n,
                            int64_t default_quota)
{
    int rc = missing(s, cx);
    return rc || n <= 0 ? rc : s->ops->usage->add_used(s, cx, t, n, default_quota);
}

int ql_store_usage_alert(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         int64_t period_ms, int *raised)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->usage->alert(s, cx, team, period_ms, raised);
}

int ql_store_usage_flushed(struct ql_store *s, struct ql_ctx *cx, const struct ql_usage_flush *f,
                           int64_t now_ms, int *fresh)
{
    *fresh = 1;
    int rc = missing(s, cx);
    return rc ? rc : s->ops->usage->flushed(s, cx, f, now_ms, fresh);
}

int ql_store_usage_purge(struct ql_store *s, struct ql_ctx *cx, int64_t before_ms, int64_t *n)
{
    int rc = missing(s, cx);
    return rc ? rc : s->ops->usage->purge(s, cx, before_ms, n);
}

int ql_store_usage_rates_share(struct ql_store *s, struct ql_ctx *cx,
                               const struct ql_uuid *instance, const struct ql_rate_count *mine,
                               int n, int64_t since, struct ql_rate_count **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    int rc = missing(s, cx);
    return rc ? rc
              : s->ops->usage->rates_share(s, cx, instance, mine, n < 0 ? 0 : n, since, out, nout);
}
