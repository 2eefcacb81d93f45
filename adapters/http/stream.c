/*
 * stream.c - live sync streams (GET /v1/teams/{teamId}/sync/stream): Server-Sent Events
 * fed from the change log.
 *
 * Each event loop keeps its own streams, grouped by team into topics.  A notification on
 * QL_NOTIFY_CHANGES (a team's log grew, on any instance) marks the team's topic dirty; the
 * topic then reads the log once, on a pool thread, from the position of its slowest stream,
 * renders each change once, and writes to every stream the changes it has not seen, in one
 * chunk.  The notification only wakes: the data always comes from the log, so a lost
 * notification delays a change and never drops it (a reconnected notification port marks
 * every topic dirty, and every topic reads the log at each heartbeat anyway).  When
 * committed changes wait behind an older transaction that is still running (see
 * core/changes/changes.h), the topic reads again after a short, growing delay.
 *
 * A stream ends (and its client reconnects with Last-Event-ID, losing nothing) when its
 * credential or its user's memberships change (QL_NOTIFY_AUTH), when its client leaves
 * more than QL__STREAM_OUT_MAX unread, when the log no longer holds its position, or when
 * the server stops.  A comment line goes out whenever a stream was quiet for the heartbeat
 * period, so proxies and clients know it is alive.
 *
 * Notifications reach the loop through its inbox (inbox.c), which also says which streams
 * a revocation names, including those whose handler ran before it arrived.
 */
#include "internal.h"

#include "arena/arena.h"
#include "changes/changes.h"
#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "model/model.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_LIMIT 100
#define RETRY_FIRST_MS 2
#define RETRY_MAX_MS 1000

/* A stream: lives in its request's arena, as long as the request does. */
struct ql__stream {
    struct ql_http_req *r;
    struct ql__topic *topic;
    struct ql__stream *prev, *next;
    struct ql__reader who;    /* whose stream, for revocations (inbox.c) */
    struct ql_change_pos pos; /* the last change it was sent */
    int64_t last_write_ms;
};

enum topic_state { TOPIC_IDLE, TOPIC_FETCHING, TOPIC_FETCHING_AGAIN };

/* The streams of one team on one loop, and its read of the log. */
struct ql__topic {
    struct ql__topic *next;
    struct ql__loop *loop;
    struct ql_uuid team;
    struct ql__stream *streams;
    int nstreams;
    enum topic_state state;
    int pending;          /* the pool was full: read at the next sweep */
    int64_t last_read_ms; /* when the last read began */
    int64_t retry_ms;     /* the next delay while changes are held; 0: none held */
    int64_t retry_at;     /* when to read again for them; 0: not due */
    struct ql__task task;
    struct ql_arena arena; /* the read and its rendering; reset once they went out */
    size_t noted;          /* what the arena held when last counted in the hub's topic_bytes */
    struct ql_ctx cx;
    struct ql_change_pos from;
    struct ql_sync_page page;
    int rc;
};

/* ---- writing -----------------------------------------------------------------------------------
 */

static int64_t now_ms(struct ql__loop *l)
{
    return ql__loop_now_ms(l);
}

/*
 * Send text to the stream; a client too slow to keep up loses the stream (it resumes).
 * The write may find the socket gone and end the stream inside the call (leave() clears
 * st->topic; st itself lives until the connection closes): that is a failed write too.
 */
static int send_text(struct ql__stream *st, const char *text, size_t n)
{
    struct ql__loop *l = st->topic->loop;
    if (ql__req_stream_write(st->r, text, n) != 0 || st->topic == NULL)
        return -1;
    st->last_write_ms = now_ms(l);
    return 0;
}

/*
 * Events i to n of a rendered page (off: render's), in writes of at most
 * QL__STREAM_OUT_MAX bytes or one event: a write is refused while the client leaves
 * anything unread and the write would take that over QL__STREAM_OUT_MAX, so a client
 * that reads nothing holds at most that much, or one event, however long the page.
 */
static int send_events(struct ql__stream *st, const char *text, const size_t *off, int i, int n)
{
    while (i < n) {
        int j = i + 1;
        while (j < n && off[j + 1] - off[i] <= QL__STREAM_OUT_MAX)
            j++;
        if (send_text(st, text + off[i], off[j] - off[i]) != 0)
            return -1;
        i = j;
    }
    return 0;
}

static void stream_end(struct ql__stream *st)
{
    ql__exec_stream_abort(st->r); /* calls leave() through the request's on_close */
}

/* ---- topics ------------------------------------------------------------------------------------
 */

static void fetch(struct ql__topic *t);
static void on_retry(uv_timer_t *timer);

static void topic_free(struct ql__topic *t)
{
    struct ql__hub *h = &t->loop->hub;
    for (struct ql__topic **p = &h->topics; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    atomic_fetch_sub_explicit(&h->topic_bytes, t->noted, memory_order_relaxed);
    ql_arena_cleanup(&t->arena);
    free(t);
}

static struct ql__topic *topic_of(struct ql__loop *l, const struct ql_uuid *team)
{
    for (struct ql__topic *t = l->hub.topics; t; t = t->next)
        if (memcmp(t->team.b, team->b, 16) == 0)
            return t;
    struct ql__topic *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->loop = l;
    t->team = *team;
    ql_arena_init(&t->arena, 16384, 0);
    t->next = l->hub.topics;
    l->hub.topics = t;
    return t;
}

/*
 * Each change of the page as one event ("id: <cursor>\nevent: change\ndata: <json>\n\n"),
 * all in one text: off[i] is where event i starts (off[n]: the end).  NULL when out of memory.
 */
static const char *render(struct ql__topic *t, size_t **off)
{
    const struct ql_sync_page *pg = &t->page;
    struct ql_buf b;
    ql_buf_init(&b, &t->arena);
    *off = ql_arena_alloc(&t->arena, sizeof(**off) * (size_t)(pg->n + 1));
    if (*off == NULL)
        return NULL;
    for (int i = 0; i < pg->n; i++) {
        (*off)[i] = b.len;
        char cursor[QL_SYNC_CURSOR_MAX];
        ql_sync_cursor(&pg->items[i].pos, cursor);
        ql_buf_puts(&b, "id: ");
        ql_buf_puts(&b, cursor);
        ql_buf_puts(&b, "\nevent: change\ndata: ");
        struct ql_jw w;
        ql_jw_init(&w, &b);
        ql__jw_sync_item(&w, &pg->items[i]);
        ql_buf_puts(&b, "\n\n");
    }
    (*off)[pg->n] = b.len;
    return ql_buf_ok(&b) == QL_OK ? b.data : NULL;
}

/* Give every stream of the topic the changes of its page it has not seen. */
static void deliver(struct ql__topic *t)
{
    const struct ql_sync_page *pg = &t->page;
    size_t *off = NULL;
    const char *text = t->rc == QL_OK && pg->n > 0 ? render(t, &off) : NULL;
    /* the read reached the team's end: it holds every change before pg->next */
    int whole = t->rc == QL_OK && !pg->more && !pg->held;
    for (struct ql__stream *st = t->streams, *next; st; st = next) {
        next = st->next;
        int cmp = ql_change_pos_cmp(&st->pos, &t->from);
        if (t->rc == QL_ECURSOR_EXPIRED && cmp <= 0) {
            stream_end(st); /* the log moved past it: the client takes a new snapshot */
            continue;
        }
        /*
         * One that joined during the read from further back is not covered by it: the
         * page lacks what lies between its position and the read's.  The read that its
         * join asked for starts from it.
         */
        if (t->rc != QL_OK || cmp < 0)
            continue;
        int i = 0;
        while (i < pg->n && ql_change_pos_cmp(&pg->items[i].pos, &st->pos) <= 0)
            i++;
        if (i < pg->n) {
            if (text == NULL || send_events(st, text, off, i, pg->n) != 0) {
                stream_end(st); /* too slow, or out of memory: it resumes from where it was */
                continue;
            }
            st->pos = pg->items[pg->n - 1].pos;
            atomic_fetch_add_explicit(&t->loop->hub.events, (uint64_t)(pg->n - i),
                                      memory_order_relaxed);
        }
        /* A quiet team's streams move on with the log (the heartbeat tells the client), so
         * their position does not expire while other teams' changes are compacted. */
        if (whole && ql_change_pos_cmp(&st->pos, &pg->next) < 0)
            st->pos = pg->next;
    }
}

static void fetch_run(struct ql__task *task, struct ql_ports *ports)
{
    struct ql__topic *t = (struct ql__topic *)((char *)task - offsetof(struct ql__topic, task));
    ql_arena_reset(&t->arena);
    memset(&t->cx, 0, sizeof(t->cx));
    t->cx.arena = &t->arena;
    t->cx.ports = *ports;
    t->rc = ql_sync_changes(&t->cx, &t->team, &t->from, FETCH_LIMIT, &t->page);
}

static void arm(struct ql__hub *h, int64_t at, int64_t now)
{
    if (h->retry_at != 0 && h->retry_at <= at)
        return;
    h->retry_at = at;
    uv_timer_start(&h->retry, on_retry, (uint64_t)(at > now ? at - now : 0), 0);
}

/* The retry timer: read the topics whose held changes are due, and arm for the next. */
static void on_retry(uv_timer_t *timer)
{
    struct ql__loop *l = timer->data;
    int64_t now = now_ms(l), next = 0;
    l->hub.retry_at = 0;
    for (struct ql__topic *t = l->hub.topics, *n; t; t = n) {
        n = t->next;
        if (t->retry_at && t->retry_at <= now)
            fetch(t); /* may free t when it has no streams left: n was taken first */
        else if (t->retry_at && (next == 0 || t->retry_at < next))
            next = t->retry_at;
    }
    if (next)
        arm(&l->hub, next, now);
}

/* Changes wait behind an older transaction: read again after a delay that grows. */
static void hold(struct ql__topic *t)
{
    t->retry_ms = t->retry_ms ? t->retry_ms * 2 : RETRY_FIRST_MS;
    if (t->retry_ms > RETRY_MAX_MS)
        t->retry_ms = RETRY_MAX_MS;
    int64_t now = now_ms(t->loop);
    t->retry_at = now + t->retry_ms;
    arm(&t->loop->hub, t->retry_at, now);
}

static void fetch_done(struct ql__task *task)
{
    struct ql__topic *t = (struct ql__topic *)((char *)task - offsetof(struct ql__topic, task));
    struct ql__hub *h = &t->loop->hub;
    /* after an expiry, the streams past the read's position read on from theirs */
    int again = t->state == TOPIC_FETCHING_AGAIN || (t->rc == QL_OK && t->page.more) ||
                t->rc == QL_ECURSOR_EXPIRED;
    t->state = TOPIC_IDLE;
    h->fetching--;
    if (t->nstreams > 0)
        deliver(t);
    if (t->nstreams == 0) {
        topic_free(t);
        return;
    }
    int held = t->rc == QL_OK && t->page.held;
    /*
     * What the read gave has gone out (each stream's connection keeps what its client has
     * not read yet, QL__STREAM_OUT_MAX): the topic lets go of the page and its rendering, so
     * that a topic holds one page (at most QL_PAGE_CONTENT_MAX of content and its JSON) only
     * while it reads and delivers, and one chunk of its arena between reads, however many
     * teams have streams.
     */
    ql_arena_reset(&t->arena);
    memset(&t->page, 0, sizeof(t->page));
    size_t now = ql_arena_held(&t->arena);
    atomic_fetch_add_explicit(&h->topic_bytes, now - t->noted, memory_order_relaxed);
    t->noted = now;
    if (held && !again)
        hold(t);
    else if (t->rc == QL_OK && !held)
        t->retry_ms = t->retry_at = 0;
    if (again)
        fetch(t);
    else if (t->rc == QL_EUNAVAILABLE)
        t->pending = 1; /* the database is down: the sweep tries again */
}

/* Read the log for the topic from its slowest stream, unless a read is on its way already. */
static void fetch(struct ql__topic *t)
{
    if (t->state != TOPIC_IDLE) {
        t->state = TOPIC_FETCHING_AGAIN;
        return;
    }
    if (t->streams == NULL || t->loop->stop_deadline_ms)
        return;
    t->from = t->streams->pos;
    for (struct ql__stream *st = t->streams; st; st = st->next)
        if (ql_change_pos_cmp(&st->pos, &t->from) < 0)
            t->from = st->pos;
    t->task = (struct ql__task){NULL, fetch_run, fetch_done, t->loop};
    t->pending = 0;
    t->retry_at = 0;
    t->last_read_ms = now_ms(t->loop);
    if (ql__pool_submit(&t->loop->server->pool, &t->task) != QL_OK) {
        t->pending = 1; /* the pool is full: the sweep tries again */
        return;
    }
    t->state = TOPIC_FETCHING;
    t->loop->hub.fetching++;
}

/* ---- joining and leaving -----------------------------------------------------------------------
 */

static void leave(struct ql_http_req *r, void *ud)
{
    (void)r;
    struct ql__stream *st = ud;
    struct ql__topic *t = st->topic;
    atomic_fetch_sub(&r->server->nstreams, 1);
    if (t == NULL)
        return; /* it never joined */
    if (st->prev)
        st->prev->next = st->next;
    else
        t->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->topic = NULL;
    t->nstreams--;
    t->loop->hub.nstreams--; /* an empty topic goes at the next sweep, not under a walk */
}

/* The head is out (on the loop): join the team's topic and send what it has not seen. */
static void join(struct ql_http_req *r, void *ud)
{
    struct ql__stream *st = ud;
    struct ql__loop *l = (struct ql__loop *)r->exec;
    struct ql__topic *t = l->stop_deadline_ms || ql__revoked_since(&l->hub, &st->who)
                              ? NULL
                              : topic_of(l, &st->who.team);
    if (t == NULL) {
        ql__exec_stream_abort(r);
        return;
    }
    st->topic = t;
    st->prev = NULL;
    st->next = t->streams;
    if (t->streams)
        t->streams->prev = st;
    t->streams = st;
    t->nstreams++;
    l->hub.nstreams++;
    /*
     * The hello names where the stream starts in an id without data, which a browser keeps
     * as the last event id: a client that saw no change before the stream ended resumes
     * from there, not from its reconnection (what came between would be lost).
     */
    char cursor[QL_SYNC_CURSOR_MAX], hello[QL_SYNC_CURSOR_MAX + 64];
    ql_sync_cursor(&st->pos, cursor);
    int n = snprintf(hello, sizeof(hello), "retry: 1000\n: connected\nid: %s\n\n", cursor);
    if (send_text(st, hello, (size_t)n) != 0) {
        stream_end(st);
        return;
    }
    fetch(t); /* what happened since its position */
}

/* ---- the handler --------------------------------------------------------------------------------
 */

void ql__h_sync_stream(struct ql_http_req *r);
void ql__h_sync_stream(struct ql_http_req *r)
{
    struct ql_http_server *s = r->server;
    struct ql__stream *st = ql_arena_calloc(r->cx.arena, 1, sizeof(*st));
    if (st == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    st->who.auth_seq = atomic_load(&s->auth_seq); /* before the credential is checked */
    struct ql_principal p;
    if (ql__authenticate_team(r, &p, &st->who.team, NULL, NULL))
        return;
    /* A reconnect's Last-Event-ID wins over the since a client opened the stream with
     * (browsers cannot set the header on the first request, only the address). */
    size_t n = 0;
    const char *from = NULL, *field = "Last-Event-ID";
    const struct ql_span *last = ql__req_header(r, "last-event-id");
    if (last) {
        from = last->p;
        n = last->n;
    } else if ((from = ql__query(r, "since", &n)) != NULL) {
        field = "since";
    }
    int rc = ql_sync_stream_start(&r->cx, &st->who.team, from, n, field, &st->pos);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    if (s->env->notify == NULL || atomic_fetch_add(&s->nstreams, 1) >= s->env->cfg->max_streams) {
        if (s->env->notify)
            atomic_fetch_sub(&s->nstreams, 1);
        ql__res_header(r, "Retry-After", "5");
        ql_error_set(&r->cx.err, QL_EUNAVAILABLE, "Too many live streams on this server.");
        ql__res_problem(r, QL_EUNAVAILABLE);
        return;
    }
    st->r = r;
    st->who.kind = p.kind;
    st->who.user = p.user_id;
    st->who.credential = p.credential_id;
    memcpy(st->who.digest, p.digest, sizeof(st->who.digest));
    r->content_type = "text/event-stream";
    ql__res_header(r, "X-Accel-Buffering", "no");
    ql__req_stream_begin(r, join, leave, st); /* counted in nstreams until leave() */
}

/* ---- what the loop does -------------------------------------------------------------------------
 */

void ql__streams_init(struct ql__loop *l)
{
    pthread_mutex_init(&l->inbox_lock, NULL);
    uv_timer_init(&l->loop, &l->hub.retry);
    l->hub.retry.data = l;
}

void ql__streams_wake(struct ql__loop *l)
{
    struct ql__inbox changes, auth;
    ql__inbox_take(l, &changes, &auth);
    struct ql__hub *h = &l->hub;
    for (struct ql__topic *t = h->topics; t && (auth.n || auth.overflow); t = t->next) {
        for (struct ql__stream *st = t->streams, *next; st; st = next) {
            next = st->next;
            int end = auth.overflow;
            for (int i = 0; !end && i < auth.n; i++)
                end = ql__revoked(&st->who, auth.keys[i]);
            if (end)
                stream_end(st);
        }
    }
    if (changes.n == 0 && !changes.overflow)
        return;
    for (struct ql__topic *t = h->topics, *next; t; t = next) {
        next = t->next;
        int dirty = changes.overflow;
        char id[QL_UUID_STR_LEN + 1];
        ql_uuid_format(&t->team, id);
        for (int i = 0; !dirty && i < changes.n; i++)
            dirty = strcmp(changes.keys[i], "*") == 0 || strcmp(changes.keys[i], id) == 0;
        if (dirty)
            fetch(t);
    }
}

/*
 * A comment, and the stream's position as its id with no data: a client keeps the id as
 * its Last-Event-ID (browsers do) without seeing an event.
 */
static int heartbeat(struct ql__stream *st)
{
    char text[32 + QL_SYNC_CURSOR_MAX];
    char cursor[QL_SYNC_CURSOR_MAX];
    ql_sync_cursor(&st->pos, cursor);
    int n = snprintf(text, sizeof(text), ": keep-alive\nid: %s\n\n", cursor);
    return send_text(st, text, (size_t)n);
}

void ql__streams_sweep(struct ql__loop *l)
{
    int64_t now = now_ms(l);
    int every = l->server->env->cfg->sse_heartbeat_ms;
    int quiet = every - every / 10; /* the sweep's period is a fraction of it */
    for (struct ql__topic *t = l->hub.topics, *next; t; t = next) {
        next = t->next;
        if (t->nstreams == 0 && t->state == TOPIC_IDLE) {
            topic_free(t);
            continue;
        }
        for (struct ql__stream *st = t->streams, *n2; st; st = n2) {
            n2 = st->next;
            if (now - st->last_write_ms >= quiet && heartbeat(st) != 0)
                stream_end(st);
        }
        if (t->pending || now - t->last_read_ms >= every)
            fetch(t); /* the pool was full, or a notification was lost */
    }
}

void ql__streams_close(struct ql__loop *l)
{
    pthread_mutex_lock(&l->inbox_lock);
    l->inbox_closed = 1;
    pthread_mutex_unlock(&l->inbox_lock);
    uv_timer_stop(&l->hub.retry);
    if (!uv_is_closing((uv_handle_t *)&l->hub.retry))
        uv_close((uv_handle_t *)&l->hub.retry, NULL);
}

/* After the loop ended: topics left by streams that never settled (none in a clean stop). */
void ql__streams_cleanup(struct ql__loop *l)
{
    for (struct ql__topic *t = l->hub.topics, *next; t; t = next) {
        next = t->next;
        ql_arena_cleanup(&t->arena);
        free(t);
    }
    l->hub.topics = NULL;
    pthread_mutex_destroy(&l->inbox_lock);
}
