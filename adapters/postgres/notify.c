/*
 * notify.c - the notification port (core/notify/notify.h) over LISTEN/NOTIFY.
 *
 * One thread and one connection per process carry every channel: the thread LISTENs on
 * the channels somebody subscribed to, hands each notification to the subscribers of its
 * channel, and sends what was posted.  So a process holds one extra connection for all of
 * its caches, wake-ups and streams, however many there are.
 *
 * Why posts are sent from here and not inside the caller's transaction: PostgreSQL
 * serialises the commits of transactions that notify (a database-wide lock held through
 * the commit's WAL flush), so one NOTIFY per write would end group commit for every
 * writer.  Callers post after their commit instead; posts that arrive while a batch is
 * being sent share the next one, so a burst of writes costs a few notifications, and a
 * post made after the thread took the waiting set is sent in the next round, after the
 * commit it announces.  When the database cannot be reached, posts are dropped: every
 * subscriber must be correct without them (workers poll, caches expire).
 *
 * The thread sleeps in poll(2) on the connection and on an eventfd that post() and
 * subscribe() write to.  Callbacks run with the dispatch lock held, which is what lets
 * unsubscribe() promise that a callback is not running once it returns.
 */
#include "internal.h"
#include "pg.h"

#include "err/err.h"
#include "log/log.h"
#include "notify/notify.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_SUBS 64
#define MAX_POSTS 64
#define RETRY_MS 250
#define POLL_MS 1000

struct sub {
    int id; /* 0: free slot */
    char channel[QL_NOTIFY_CHANNEL_MAX + 1];
    ql_notify_fn fn;
    void *ud;
    int listening; /* told QL_NOTIFY_LISTENING on the current connection */
};

struct post {
    char channel[QL_NOTIFY_CHANNEL_MAX + 1];
    char payload[QL_NOTIFY_PAYLOAD_MAX + 1];
};

struct ql_pg_notify {
    struct ql_notify base;
    char *conninfo;
    struct ql_logger *log;
    pthread_t thread;
    int wakefd;
    pthread_mutex_t lock;     /* subs' slots and ids, posts, stop */
    pthread_mutex_t dispatch; /* held while callbacks run */
    struct sub subs[MAX_SUBS];
    int next_id;
    struct post posts[MAX_POSTS];
    int nposts;
    int stop;
    /* the thread's own */
    PGconn *conn;
    char listening[MAX_SUBS][QL_NOTIFY_CHANNEL_MAX + 1];
    int nlistening;
};

/* Between connection attempts; posts do not cut it short, so a down database is not hammered. */
static void nap(void)
{
    struct timespec ts = {0, RETRY_MS * 1000000L};
    nanosleep(&ts, NULL);
}

static void wake(struct ql_pg_notify *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wakefd, &one, sizeof(one));
    (void)w; /* a full counter still wakes the thread */
}

static int valid_channel(const char *c)
{
    size_t len = strlen(c);
    if (len == 0 || len > QL_NOTIFY_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_'))
            return 0;
    return 1;
}

/* ---- the port ------------------------------------------------------------------------------- */

static int n_subscribe(struct ql_notify *self, const char *channel, ql_notify_fn fn, void *ud,
                       int *id)
{
    struct ql_pg_notify *n = (struct ql_pg_notify *)self;
    *id = 0;
    if (!valid_channel(channel))
        return QL_EVALIDATION;
    int rc = QL_ENOMEM;
    pthread_mutex_lock(&n->lock);
    for (int i = 0; i < MAX_SUBS; i++) {
        if (n->subs[i].id)
            continue;
        struct sub *s = &n->subs[i];
        s->id = ++n->next_id;
        snprintf(s->channel, sizeof(s->channel), "%s", channel);
        s->fn = fn;
        s->ud = ud;
        s->listening = 0;
        *id = s->id;
        rc = QL_OK;
        break;
    }
    pthread_mutex_unlock(&n->lock);
    if (rc == QL_OK)
        wake(n);
    return rc;
}

static void n_unsubscribe(struct ql_notify *self, int id)
{
    struct ql_pg_notify *n = (struct ql_pg_notify *)self;
    int on_thread = pthread_equal(pthread_self(), n->thread);
    if (!on_thread)
        pthread_mutex_lock(&n->dispatch);
    pthread_mutex_lock(&n->lock);
    for (int i = 0; i < MAX_SUBS; i++)
        if (n->subs[i].id == id && id != 0)
            memset(&n->subs[i], 0, sizeof(n->subs[i]));
    pthread_mutex_unlock(&n->lock);
    if (!on_thread)
        pthread_mutex_unlock(&n->dispatch);
}

/*
 * The posts of channel c become one that stands for anything on it ("*"), in the place of
 * the first; 1 when c had any.
 */
static int collapse(struct ql_pg_notify *n, const char *c)
{
    int w = 0, first = -1;
    for (int i = 0; i < n->nposts; i++) {
        if (strcmp(n->posts[i].channel, c) == 0) {
            if (first >= 0)
                continue;
            first = w;
            snprintf(n->posts[i].payload, sizeof(n->posts[0].payload), "*");
        }
        n->posts[w++] = n->posts[i];
    }
    n->nposts = w;
    return first >= 0;
}

/*
 * MAX_POSTS different posts wait and one for channel comes: channel's posts become one
 * that covers it too (1), or, when it has none, the channel with the most posts frees
 * room that way (0: add it).  No channel loses its wake-up: subscribers take "*" as
 * anything on the channel.  (Quill posts on a handful of channels, so some channel has
 * two posts whenever all slots are taken.)
 */
static int make_room(struct ql_pg_notify *n, const char *channel)
{
    if (collapse(n, channel))
        return 1;
    int most = 0, count = 0;
    for (int i = 0; i < n->nposts; i++) {
        int k = 0;
        for (int j = 0; j < n->nposts; j++)
            k += strcmp(n->posts[i].channel, n->posts[j].channel) == 0;
        if (k > count) {
            count = k;
            most = i;
        }
    }
    char c[QL_NOTIFY_CHANNEL_MAX + 1];
    snprintf(c, sizeof(c), "%s", n->posts[most].channel);
    collapse(n, c);
    if (n->nposts == MAX_POSTS) /* as many channels as slots: the last slot stands for it */
        n->nposts--;
    return 0;
}

static int n_post(struct ql_notify *self, const char *channel, const char *payload)
{
    struct ql_pg_notify *n = (struct ql_pg_notify *)self;
    if (!valid_channel(channel) || strlen(payload) > QL_NOTIFY_PAYLOAD_MAX)
        return QL_EVALIDATION;
    pthread_mutex_lock(&n->lock);
    int found = 0;
    for (int i = 0; i < n->nposts && !found; i++)
        found =
            strcmp(n->posts[i].channel, channel) == 0 &&
            (strcmp(n->posts[i].payload, payload) == 0 || strcmp(n->posts[i].payload, "*") == 0);
    if (!found && n->nposts == MAX_POSTS)
        found = make_room(n, channel);
    if (!found) {
        snprintf(n->posts[n->nposts].channel, sizeof(n->posts[0].channel), "%s", channel);
        snprintf(n->posts[n->nposts].payload, sizeof(n->posts[0].payload), "%s", payload);
        n->nposts++;
    }
    pthread_mutex_unlock(&n->lock);
    wake(n);
    return QL_OK;
}

static const struct ql_notify_ops ops = {
    .subscribe = n_subscribe,
    .unsubscribe = n_unsubscribe,
    .post = n_post,
};

/* ---- the thread ---------------------------------------------------------------------------- */

/*
 * Tell every subscriber of channel (NULL: all) about ev, in the order they subscribed (by id:
 * a freed slot may be taken by a later subscription).
 */
static void deliver(struct ql_pg_notify *n, const char *channel, enum ql_notify_event ev,
                    const char *payload)
{
    pthread_mutex_lock(&n->dispatch);
    for (int last = 0;;) {
        pthread_mutex_lock(&n->lock);
        int k = -1;
        for (int i = 0; i < MAX_SUBS; i++)
            if (n->subs[i].id > last && (k < 0 || n->subs[i].id < n->subs[k].id))
                k = i;
        struct sub s = {0};
        if (k >= 0) {
            s = n->subs[k];
            if (ev == QL_NOTIFY_LOST)
                n->subs[k].listening = 0;
            last = s.id;
        }
        pthread_mutex_unlock(&n->lock);
        if (k < 0)
            break;
        if (channel == NULL || strcmp(s.channel, channel) == 0)
            s.fn(s.ud, ev, payload);
    }
    pthread_mutex_unlock(&n->dispatch);
}

/* Give up the connection, tell everyone, and pause before the next attempt. */
static void drop_conn(struct ql_pg_notify *n)
{
    if (n->conn == NULL)
        return;
    PQfinish(n->conn);
    n->conn = NULL;
    n->nlistening = 0;
    ql_log(n->log, QL_LOG_WARN, "the notification connection was lost; reconnecting", NULL);
    deliver(n, NULL, QL_NOTIFY_LOST, "");
    nap();
}

static int command(struct ql_pg_notify *n, const char *sql)
{
    PGresult *r = PQexec(n->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok ? 0 : -1;
}

static int connect_conn(struct ql_pg_notify *n)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {n->conninfo, "3", "quill-notify", NULL};
    n->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(n->conn) != CONNECTION_OK) {
        PQfinish(n->conn);
        n->conn = NULL;
        return -1;
    }
    n->nlistening = 0;
    return 0;
}

static int is_listening(struct ql_pg_notify *n, const char *channel)
{
    for (int i = 0; i < n->nlistening; i++)
        if (strcmp(n->listening[i], channel) == 0)
            return 1;
    return 0;
}

/* LISTEN on the channels of new subscribers, then tell them they are covered. */
static int listen_new(struct ql_pg_notify *n)
{
    for (int i = 0; i < MAX_SUBS; i++) {
        pthread_mutex_lock(&n->lock);
        struct sub s = n->subs[i];
        pthread_mutex_unlock(&n->lock);
        if (s.id == 0 || s.listening)
            continue;
        if (!is_listening(n, s.channel)) {
            char sql[QL_NOTIFY_CHANNEL_MAX + 16];
            snprintf(sql, sizeof(sql), "LISTEN %s", s.channel); /* a checked name */
            if (command(n, sql) != 0)
                return -1;
            snprintf(n->listening[n->nlistening++], sizeof(n->listening[0]), "%s", s.channel);
        }
        pthread_mutex_lock(&n->lock);
        int still = n->subs[i].id == s.id;
        if (still)
            n->subs[i].listening = 1;
        pthread_mutex_unlock(&n->lock);
        pthread_mutex_lock(&n->dispatch);
        pthread_mutex_lock(&n->lock);
        still = n->subs[i].id == s.id;
        pthread_mutex_unlock(&n->lock);
        if (still)
            s.fn(s.ud, QL_NOTIFY_LISTENING, "");
        pthread_mutex_unlock(&n->dispatch);
    }
    return 0;
}

/* Append s to an array literal, quoted. */
static void lit_append(char *lit, size_t cap, size_t *len, const char *s, int first)
{
    if (!first && *len + 1 < cap)
        lit[(*len)++] = ',';
    if (*len + 1 < cap)
        lit[(*len)++] = '"';
    for (; *s && *len + 3 < cap; s++) {
        if (*s == '"' || *s == '\\')
            lit[(*len)++] = '\\';
        lit[(*len)++] = *s;
    }
    if (*len + 1 < cap)
        lit[(*len)++] = '"';
    lit[*len] = '\0';
}

static int send_posts(struct ql_pg_notify *n, const struct post *posts, int np)
{
    enum { CAP = MAX_POSTS * (QL_NOTIFY_PAYLOAD_MAX * 2 + 8) + 4 };
    char *chans = malloc(CAP), *loads = malloc(CAP);
    int rc = -1;
    if (chans && loads) {
        size_t cl = 1, pl = 1;
        chans[0] = loads[0] = '{';
        for (int i = 0; i < np; i++) {
            lit_append(chans, CAP, &cl, posts[i].channel, i == 0);
            lit_append(loads, CAP, &pl, posts[i].payload, i == 0);
        }
        snprintf(chans + cl, CAP - cl, "}");
        snprintf(loads + pl, CAP - pl, "}");
        const char *v[2] = {chans, loads};
        PGresult *r = PQexecParams(n->conn,
                                   "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) "
                                   "AS t(c, p)",
                                   2, NULL, v, NULL, NULL, 0);
        rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
        if (rc)
            ql_log(n->log, QL_LOG_WARN, "cannot send notifications", "error",
                   PQerrorMessage(n->conn), NULL);
        PQclear(r);
    }
    free(chans);
    free(loads);
    return rc;
}

/* Hand every notification that arrived to its subscribers. */
static int receive(struct ql_pg_notify *n)
{
    if (PQconsumeInput(n->conn) == 0)
        return -1;
    PGnotify *m;
    while ((m = PQnotifies(n->conn)) != NULL) {
        deliver(n, m->relname, QL_NOTIFY_MESSAGE, m->extra);
        PQfreemem(m);
    }
    return 0;
}

static void *notify_main(void *arg)
{
    struct ql_pg_notify *n = arg;
    struct post *batch = malloc(sizeof(struct post) * MAX_POSTS);
    if (batch == NULL) {
        ql_log(n->log, QL_LOG_ERROR, "notifications are off: out of memory", NULL);
        return NULL;
    }
    for (;;) {
        uint64_t v;
        ssize_t got = read(n->wakefd, &v, sizeof(v)); /* clear it: what woke us is below */
        (void)got;
        pthread_mutex_lock(&n->lock);
        int stop = n->stop, np = n->nposts;
        memcpy(batch, n->posts, sizeof(struct post) * (size_t)np);
        n->nposts = 0;
        pthread_mutex_unlock(&n->lock);
        if (n->conn == NULL && connect_conn(n) != 0) {
            if (stop)
                break; /* the posts are lost, as when the database is down */
            nap();
            continue;
        }
        if (listen_new(n) != 0 ||
            (np > 0 && send_posts(n, batch, np) != 0 && PQstatus(n->conn) != CONNECTION_OK)) {
            drop_conn(n);
            continue;
        }
        if (receive(n) != 0) {
            drop_conn(n);
            continue;
        }
        if (stop)
            break;
        struct pollfd pf[2] = {{n->wakefd, POLLIN, 0}, {PQsocket(n->conn), POLLIN, 0}};
        poll(pf, 2, POLL_MS);
    }
    free(batch);
    if (n->conn)
        PQfinish(n->conn);
    n->conn = NULL;
    return NULL;
}

int ql_pg_notify_create(const char *conninfo, struct ql_logger *log, struct ql_pg_notify **out)
{
    *out = NULL;
    struct ql_pg_notify *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return QL_ENOMEM;
    n->base.ops = &ops;
    n->log = log;
    n->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    n->conninfo = strdup(conninfo);
    if (n->conninfo == NULL || n->wakefd < 0)
        goto fail;
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->dispatch, NULL);
    if (pthread_create(&n->thread, NULL, notify_main, n) != 0) {
        pthread_mutex_destroy(&n->lock);
        pthread_mutex_destroy(&n->dispatch);
        goto fail;
    }
    *out = n;
    return QL_OK;
fail:
    if (n->wakefd >= 0)
        close(n->wakefd);
    free(n->conninfo);
    free(n);
    return QL_ENOMEM;
}

void ql_pg_notify_destroy(struct ql_pg_notify *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    n->stop = 1;
    pthread_mutex_unlock(&n->lock);
    wake(n);
    pthread_join(n->thread, NULL); /* sends what was posted first, when it can */
    pthread_mutex_destroy(&n->lock);
    pthread_mutex_destroy(&n->dispatch);
    close(n->wakefd);
    free(n->conninfo);
    free(n);
}

struct ql_notify *ql_pg_notify_port(struct ql_pg_notify *n)
{
    return &n->base;
}
