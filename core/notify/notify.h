/*
 * notify.h - the notification port: messages between the processes of one deployment.
 *
 * Every quill-api and quill-worker of a deployment shares one PostgreSQL, and that is how
 * they tell each other that something changed: a credential was revoked (the principal
 * caches drop it), jobs were committed (idle workers claim them), a team's data changed
 * (its live streams read the change log).  The port is built once per process in
 * apps/x/main.c; the PostgreSQL adapter implements it with LISTEN/NOTIFY on one connection
 * of its own and one thread.
 *
 * A notification only says "look again": it carries a short text (a queue's name, a
 * cache key), never the data, and it may be lost (a dropped connection) or late.  Whoever
 * subscribes must therefore be correct without it, and learns when it may have missed some:
 *
 *   QL_NOTIFY_LISTENING  from now on every message on the channel reaches fn.  Sent when
 *                        the subscription starts and again after every reconnection:
 *                        messages sent in between were missed, so look again now.
 *   QL_NOTIFY_LOST       the connection is gone; messages may be missed until the next
 *                        QL_NOTIFY_LISTENING.
 *   QL_NOTIFY_MESSAGE    a message (payload) arrived.
 *
 * fn runs on the port's thread: it must be quick, must not block, and must be safe to
 * run beside the subscriber's own threads (typically it sets a flag and wakes a loop).
 * The subscribers of a channel hear of each event one after another, in the order they
 * subscribed: one that subscribed later may count on the earlier ones having seen it.
 */
#ifndef QL_NOTIFY_H
#define QL_NOTIFY_H

struct ql_notify;

enum ql_notify_event { QL_NOTIFY_LISTENING, QL_NOTIFY_LOST, QL_NOTIFY_MESSAGE };

typedef void (*ql_notify_fn)(void *ud, enum ql_notify_event ev, const char *payload);

/* The channels of a deployment and what their payloads name. */
#define QL_NOTIFY_JOBS "quill_jobs"       /* jobs committed: the queue's name ("*": any) */
#define QL_NOTIFY_AUTH "quill_auth"       /* credentials changed: a principal-cache key */
#define QL_NOTIFY_CHANGES "quill_changes" /* a team's log grew: its id ("*": any team) */
#define QL_NOTIFY_USAGE "quill_usage"     /* a team's plan changed: its id */
#define QL_NOTIFY_FLAGS "quill_flags"     /* feature flags changed: a flag key ("*": any) */

/* Longest channel name and payload the port carries, NUL excluded. */
#define QL_NOTIFY_CHANNEL_MAX 63
#define QL_NOTIFY_PAYLOAD_MAX 127

struct ql_notify_ops {
    /*
     * Deliver the events of channel to fn(ud, ...) from now until unsubscribe.  *id names
     * the subscription.  QL_EVALIDATION for a name that is too long, QL_ENOMEM.
     */
    int (*subscribe)(struct ql_notify *self, const char *channel, ql_notify_fn fn, void *ud,
                     int *id);
    /* After this returns, fn is not running and never runs again for id. */
    void (*unsubscribe)(struct ql_notify *self, int id);
    /*
     * Send payload on channel to every subscriber of every process, soon and without
     * waiting: for things that happened already (call it after the commit it announces).
     * Posts of the same channel and payload that wait together are sent once.
     */
    int (*post)(struct ql_notify *self, const char *channel, const char *payload);
};

struct ql_notify {
    const struct ql_notify_ops *ops;
};

static inline int ql_notify_subscribe(struct ql_notify *n, const char *channel, ql_notify_fn fn,
                                      void *ud, int *id)
{
    return n->ops->subscribe(n, channel, fn, ud, id);
}

static inline void ql_notify_unsubscribe(struct ql_notify *n, int id)
{
    n->ops->unsubscribe(n, id);
}

static inline int ql_notify_post(struct ql_notify *n, const char *channel, const char *payload)
{
    return n->ops->post(n, channel, payload);
}

#endif
