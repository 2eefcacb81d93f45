/*
 * store_usage.h - the store's repository of plans, usage counts, the request log of API keys
 * and the rate-limit counts that API instances share (core/usage/usage.h says how they are
 * used).  Part of the store port (store.h): a store's ops table points at one of these as
 * `usage`, and the core calls it only through the wrappers below (store_usage.c).
 */
#ifndef QL_STORE_USAGE_H
#define QL_STORE_USAGE_H

#include <stdint.h>

struct ql_ctx;
struct ql_store;
struct ql_uuid;
struct ql_usage_state;
struct ql_usage_grant;
struct ql_usage_return;
struct ql_usage_tally;
struct ql_request_row;
struct ql_rate_count;
struct ql_usage_flush;

struct ql_usage_ops {
    /*
     * The team's plan (plan NULL when none was set) and the used count of its period that
     * starts at period_ms (0 when none).  QL_ENOT_FOUND when the team does not exist.
     */
    int (*state)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 int64_t period_ms, struct ql_usage_state *out);
    /* Set the team's plan and quota; QL_ENOT_FOUND when the team does not exist. */
    int (*subscribe)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                     const char *plan, int64_t quota, int64_t now_ms);
    /*
     * Reserve units of the period by ql_usage_grant_rule, atomically, against the team's
     * quota now (default_quota when no plan was set), creating the period's row when needed.
     * out->granted is 0 when nothing is left, or when the team does not exist.
     */
    int (*reserve)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                   int64_t period_ms, int64_t want, int64_t default_quota,
                   struct ql_usage_grant *out);
    /* Give back rows[i].n units of each period, in one statement. */
    int (*release)(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_return *rows,
                   int n);
    /* Insert rows[0..n) into the request log, in one statement. */
    int (*log)(struct ql_store *self, struct ql_ctx *cx, const struct ql_request_row *rows, int n);
    /*
     * Add t[i].n to the used count of each period, in one statement, and fill each tally's
     * used (after; -1 when the period has no row), quota (default_quota when no plan was
     * set) and alerted.  In a transaction: the rows stay locked until it ends.
     */
    int (*add_used)(struct ql_store *self, struct ql_ctx *cx, struct ql_usage_tally *t, int n,
                    int64_t default_quota);
    /* Mark the period's alert raised; *raised is 1 when it was not before, else 0. */
    int (*alert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 int64_t period_ms, int *raised);
    /*
     * Store f as its instance's last flush, at now_ms; *fresh is 0 (and nothing changes) when
     * a flush of that instance numbered f->seq or more is stored.  Before the flush's writes.
     */
    int (*flushed)(struct ql_store *self, struct ql_ctx *cx, const struct ql_usage_flush *f,
                   int64_t now_ms, int *fresh);
    /* Delete the request log's rows, and the flush marks, older than before_ms; *n: rows. */
    int (*purge)(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int64_t *n);
    /*
     * Rate limits across instances: store instance's counts mine[0..n) (each replaces the
     * count stored for its principal and second), forget counts of seconds more than a
     * minute before since, and read the other instances' counts of the seconds from since
     * on, summed per principal and second, into *out (arena), *nout of them.
     */
    int (*rates_share)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *instance,
                       const struct ql_rate_count *mine, int n, int64_t since,
                       struct ql_rate_count **out, int *nout);
};

/* The wrappers: each does what the method of the same name does, after checking arguments. */
int ql_store_usage_state(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         int64_t period_ms, struct ql_usage_state *out);
int ql_store_usage_subscribe(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                             const char *plan, int64_t quota, int64_t now_ms);
int ql_store_usage_reserve(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                           int64_t period_ms, int64_t want, int64_t default_quota,
                           struct ql_usage_grant *out);
int ql_store_usage_release(struct ql_store *s, struct ql_ctx *cx,
                           const struct ql_usage_return *rows, int n);
int ql_store_usage_log(struct ql_store *s, struct ql_ctx *cx, const struct ql_request_row *rows,
                       int n);
int ql_store_usage_add_used(struct ql_store *s, struct ql_ctx *cx, struct ql_usage_tally *t, int n,
                            int64_t default_quota);
int ql_store_usage_alert(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                         int64_t period_ms, int *raised);
int ql_store_usage_flushed(struct ql_store *s, struct ql_ctx *cx, const struct ql_usage_flush *f,
                           int64_t now_ms, int *fresh);
int ql_store_usage_purge(struct ql_store *s, struct ql_ctx *cx, int64_t before_ms, int64_t *n);
int ql_store_usage_rates_share(struct ql_store *s, struct ql_ctx *cx,
                               const struct ql_uuid *instance, const struct ql_rate_count *mine,
                               int n, int64_t since, struct ql_rate_count **out, int *nout);

#endif
