/*
 * internal.h - shared by the files of core/webhook only.
 */
#ifndef QL_WEBHOOK_INTERNAL_H
#define QL_WEBHOOK_INTERNAL_H

#include "ctx/ctx.h"
#include "store/store.h"
#include "store/store_webhooks.h"

struct ql_uuid;

/* The store's webhook table (no wrappers: core/webhook is its only user). */
#define QL__HOOKS(cx) ((cx)->ports.store->ops->webhooks)

/* One job per delivery, in the open transaction: attempts on the whole retry schedule. */
/*
 * Enqueue the webhook.deliver jobs of n deliveries in cx's transaction.  Job i continues the
 * trace context parents[i] (the change it carries), or cx's when parents is NULL.
 */
int ql__webhook_enqueue(struct ql_ctx *cx, const struct ql_uuid *deliveries,
                        const char *const *parents, int n);

#endif
