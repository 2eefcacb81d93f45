/*
 * store_webhooks.h - the store's repository of webhook endpoints, their deliveries and
 * every attempt.  Part of the store port (store.h): a store's ops table points at one of
 * these as `webhooks`, and core/webhook calls it through that table, without wrappers.
 */
#ifndef QL_STORE_WEBHOOKS_H
#define QL_STORE_WEBHOOKS_H

#include "store/store.h"

/*
 * Webhook endpoints, their deliveries and every attempt (core/webhook calls these through
 * the table, without wrappers).  Team-scoped methods find nothing outside their team.
 */
struct ql_webhooks_ops {
    /* Add an endpoint; secret is its signing secret sealed by the auth port (n bytes). */
    int (*insert)(struct ql_store *self, struct ql_ctx *cx, const struct ql_webhook *w,
                  const uint8_t *secret, size_t n);
    /* A team's endpoints, newest first, after (after_ms, after) (after NULL: the first). */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                int64_t after_ms, const struct ql_uuid *after, int limit, struct ql_webhook **out,
                int *n, int *more);
    /* How many endpoints of a team are not deleted (disabled ones count). */
    int (*count)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int64_t *n);
    /* One endpoint that is not deleted; QL_ENOT_FOUND otherwise. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
               const struct ql_uuid *id, struct ql_webhook *out);
    /* Delete (soft: its deliveries stay readable by nobody); QL_ENOT_FOUND. */
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *id, int64_t now_ms);
    /* The enabled endpoints of teams[0..nteams). */
    int (*subscribed)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *teams,
                      int nteams, struct ql_webhook **out, int *n);
    /* Record deliveries made by the fan-out (in the caller's transaction). */
    int (*deliveries_add)(struct ql_store *self, struct ql_ctx *cx, const struct ql_delivery *d,
                          int n);
    /*
     * A delivery with its endpoint (deleted ones too: *deleted when the endpoint or its team
     * was deleted) and the endpoint's sealed secret (*secret arena, *secret_n bytes);
     * d->succeeded tells whether its state is succeeded.
     * QL_ENOT_FOUND when the delivery is gone.
     */
    int (*target)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *delivery,
                  struct ql_delivery *d, struct ql_webhook *w, int *deleted, uint8_t **secret,
                  size_t *secret_n);
    /*
     * Record an attempt: its row, the delivery's attempts and state (succeeded when ok,
     * failed when final, else pending; a success stands until a redelivery reopens it), and
     * the endpoint's failures in a row (0 when ok); *failures gets that count.  The attempt
     * is numbered a->attempt, or the delivery's next number when another attempt made at
     * the same time took that one, so that every attempt has a row.
     */
    int (*attempt_add)(struct ql_store *self, struct ql_ctx *cx,
                       const struct ql_delivery_attempt *a, int final, int *failures);
    /*
     * Disable an endpoint (too many failures in a row).  QL_ENOT_FOUND when no live,
     * enabled endpoint changed: another delivery disabled it first, or it was deleted.
     */
    int (*disable)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *webhook,
                   int64_t now_ms);
    /*
     * The attempts of a team's endpoint, newest first, in keyset pages after *after (the
     * last one of the previous page; NULL: the first page).
     */
    int (*attempts)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    const struct ql_uuid *webhook, const struct ql_delivery_attempt *after,
                    int limit, struct ql_delivery_attempt **out, int *n, int *more);
    /* Put a delivery of a team's endpoint back to pending, for a redelivery; QL_ENOT_FOUND. */
    int (*reopen)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_uuid *webhook, const struct ql_uuid *delivery);
    /* The newest failed attempts of every team (the operators' dashboard). */
    int (*failures)(struct ql_store *self, struct ql_ctx *cx, int limit,
                    struct ql_delivery_attempt **out, int *n);
    /*
     * Retention: delete up to limit finished deliveries (succeeded or failed; never pending)
     * made before before_ms and not attempted since, with their attempts; *n gets how many.
     */
    int (*purge)(struct ql_store *self, struct ql_ctx *cx, int64_t before_ms, int limit,
                 int64_t *n);
    /*
     * End failed up to limit pending deliveries that no job will attempt any more (none of
     * their "webhook.deliver" jobs is waiting, running or due for a retry: the rescuer
     * discarded the last one after its worker died, an operator cancelled it, or it was
     * purged).  Each gets an attempt at now_ms that failed with error, without an answer,
     * and not counted among its endpoint's failures in a row; *n gets how many.
     */
    int (*fail_orphans)(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, const char *error,
                        int limit, int64_t *n);
};

#endif
