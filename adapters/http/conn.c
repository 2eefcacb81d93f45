/*
 * conn.c - a client connection's socket: accepting it, reading into its HTTP/1.1 protocol
 * (h1.c), writing what that produces, timeouts, and the connection's lifetime.
 *
 * Output is written with uv_try_write, falling back to uv_write (from `wbuf`, one write in
 * flight at a time) only when the socket is full; the protocol is told how much is in
 * flight so it stops parsing pipelined requests while a client does not read.  Reading
 * stops whenever the protocol does not want input (a request is being answered and enough
 * is held, or too much output waits) and starts again when it does.  A stream's chunk is
 * offered to the socket before it is copied anywhere (on_send_now), so a chunk fanned out
 * to a thousand streams is not copied a thousand times, nor does every stream's buffer
 * grow to its size.
 *
 * A connection closed because its request was refused unread (413, a parse error) lingers
 * first, as nginx's lingering close does: its write side is shut down after the answer and
 * whatever the client still sends is read and dropped, for at most LINGER_MS and
 * LINGER_MAX bytes.  Otherwise a client still sending its body would get a reset instead of
 * the answer.
 *
 * Lifetime: the socket is OPEN, then CLOSING (uv_close called), then CLOSED.  A connection
 * is freed only when its socket is CLOSED and its request is settled (not running on a
 * pool thread, not waiting for the loop's session, no stream open), so nothing ever writes
 * into freed memory when a client goes away mid-request.
 */
#include "internal.h"

#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sock_state { SOCK_OPEN, SOCK_LINGER, SOCK_CLOSING, SOCK_CLOSED };

#define LINGER_MS 2000
#define LINGER_MAX (8u << 20)

struct ql__conn {
    struct ql__h1 h1;
    struct ql_http_req req;
    uv_tcp_t tcp;
    struct ql__loop *loop;
    struct ql__conn *prev, *next;
    enum sock_state sock;
    struct ql_buf wbuf; /* the bytes of the write in flight (heap); empty: none */
    uv_write_t wreq;
    int64_t write_deadline_ms; /* when the write in flight must be done (the write timeout) */
    uv_shutdown_t shut;
    size_t lingered; /* bytes dropped while lingering */
    char peer[64];
};

static void sock_close(struct ql__conn *c);
static void pump(struct ql__conn *c);

static struct ql__conn *of_h1(struct ql__h1 *h)
{
    return (struct ql__conn *)((char *)h - offsetof(struct ql__conn, h1));
}

/* ---- the protocol's callbacks ------------------------------------------------------------- */

static void on_request(struct ql__h1 *h)
{
    struct ql__conn *c = of_h1(h);
    ql__exec_request(&c->loop->exec, &c->req);
}

static void on_output(struct ql__h1 *h)
{
    pump(of_h1(h));
}

/* A stream's chunk, straight to the socket when nothing waits before it (see h1.h). */
static size_t on_send_now(struct ql__h1 *h, const struct ql__h1_part *parts, int n)
{
    struct ql__conn *c = of_h1(h);
    uv_buf_t b[4];
    if (c->sock != SOCK_OPEN || c->wbuf.len > 0 || n > 4)
        return 0;
    for (int i = 0; i < n; i++)
        b[i] = uv_buf_init((char *)parts[i].p, (unsigned)parts[i].n);
    int k = uv_try_write((uv_stream_t *)&c->tcp, b, (unsigned)n);
    return k > 0 ? (size_t)k : 0;
}

static const struct ql__h1_ops h1_ops = {
    .request = on_request, .output = on_output, .send_now = on_send_now};

/* ---- reading -------------------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ql__conn *c = h->data;
    (void)suggested;
    buf->base = c->loop->readbuf;
    buf->len = sizeof(c->loop->readbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ql__conn *c = s->data;
    if (nread < 0) {
        sock_close(c); /* the client went away (or, lingering, finished sending) */
        return;
    }
    if (c->sock == SOCK_LINGER) {
        c->lingered += (size_t)nread;
        if (c->lingered > LINGER_MAX)
            sock_close(c);
        return;
    }
    if (nread > 0)
        ql__h1_input(&c->h1, buf->base, (size_t)nread);
    pump(c);
}

/* ---- writing -------------------------------------------------------------------------------- */

static void write_cb(uv_write_t *w, int status)
{
    struct ql__conn *c = w->data;
    size_t n = c->wbuf.len;
    c->wbuf.len = 0;
    if (status < 0 || c->sock != SOCK_OPEN) {
        sock_close(c);
        return;
    }
    ql__h1_sent(&c->h1, n);
    pump(c);
    if (c->sock == SOCK_OPEN && c->h1.state == QL__H1_STREAM && c->h1.out.len == 0 &&
        c->wbuf.len == 0)
        ql__exec_stream_drained(&c->req); /* a download writes on */
}

/* Write what the protocol produced; returns -1 when the socket broke (and is closing). */
static int flush(struct ql__conn *c)
{
    struct ql_buf *out = &c->h1.out;
    if (out->len == 0 || c->wbuf.len > 0)
        return 0; /* nothing to send, or a write in flight: its callback comes back here */
    uv_buf_t b = uv_buf_init(out->data, (unsigned)out->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN)
        return -1;
    size_t done = n > 0 ? (size_t)n : 0;
    if (done == out->len) {
        out->len = 0;
        return 0;
    }
    /* The socket is full: hand the rest to uv_write from a buffer of its own. */
    struct ql_buf tmp = c->wbuf;
    c->wbuf = *out;
    *out = tmp;
    out->len = 0;
    ql_buf_consume(&c->wbuf, done);
    uv_buf_t wb = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, write_cb) != 0) {
        c->wbuf.len = 0;
        return -1;
    }
    c->h1.in_flight = c->wbuf.len;
    c->write_deadline_ms = ql__loop_now_ms(c->loop) + c->h1.lim->write_timeout_ms;
    return 0;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* UV_ECANCELED when the socket closed first: nothing to do either way */
}

/* The answer is sent: say so (FIN), and read what the client still sends, then close. */
static void linger(struct ql__conn *c)
{
    c->sock = SOCK_LINGER;
    c->h1.deadline_ms = ql__loop_now_ms(c->loop) + LINGER_MS;
    int rc = uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, shutdown_cb);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc != 0 && rc != UV_EALREADY)
        sock_close(c);
}

/* Send what is pending, close when the protocol is done, read when it wants input. */
static void pump(struct ql__conn *c)
{
    if (c->sock != SOCK_OPEN)
        return;
    if (flush(c) != 0) {
        sock_close(c);
        return;
    }
    /* Waiting for the client to take a write: the write timeout, counted from the write's
     * start, whatever deadline the protocol set since (the idle one after a pipelined
     * answer, none when closing), or a client that stops reading would be kept for good. */
    if (c->wbuf.len > 0 && (c->h1.state == QL__H1_IDLE || c->h1.state == QL__H1_CLOSING))
        c->h1.deadline_ms = c->write_deadline_ms;
    else if (c->h1.state == QL__H1_STREAM && c->req.stream_drain) /* a download's client */
        c->h1.deadline_ms = c->wbuf.len > 0 ? c->write_deadline_ms : 0;
    if (c->h1.state == QL__H1_CLOSING) {
        if (c->h1.out.len != 0 || c->wbuf.len != 0)
            uv_read_stop((uv_stream_t *)&c->tcp);
        else if (c->h1.error_status)
            linger(c);
        else
            sock_close(c);
        return;
    }
    if (ql__h1_wants_input(&c->h1))
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb); /* EALREADY when reading */
    else
        uv_read_stop((uv_stream_t *)&c->tcp);
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static void unlink_conn(struct ql__conn *c)
{
    struct ql__loop *l = c->loop;
    if (c->prev)
        c->prev->next = c->next;
    else if (l->conns == c)
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    l->nconns--;
}

static void maybe_free(struct ql__conn *c)
{
    if (c->sock != SOCK_CLOSED || c->req.state != QL__REQ_IDLE)
        return;
    atomic_fetch_sub(&c->loop->server->nconns, 1);
    ql__h1_cleanup(&c->h1);
    ql_buf_cleanup(&c->wbuf);
    free(c);
}

/* The executor settled the connection's request: free it if its socket is gone. */
void ql__conn_settled(struct ql_http_req *r);
void ql__conn_settled(struct ql_http_req *r)
{
    struct ql__conn *c = (struct ql__conn *)((char *)r - offsetof(struct ql__conn, req));
    if (c->sock == SOCK_OPEN)
        pump(c);
    else
        maybe_free(c);
}

static void on_close(uv_handle_t *h)
{
    struct ql__conn *c = h->data;
    c->sock = SOCK_CLOSED;
    unlink_conn(c);
    maybe_free(c);
}

/* Close the socket.  An open stream ends with it; a request in flight finishes first. */
static void sock_close(struct ql__conn *c)
{
    if (c->sock != SOCK_OPEN && c->sock != SOCK_LINGER)
        return;
    c->sock = SOCK_CLOSING; /* from here the protocol's output callback is a no-op */
    ql__exec_stream_abort(&c->req);
    ql__h1_shutdown(&c->h1);
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Past QUILL_MAX_CONNECTIONS: a fixed 503, written once, then close. */
static void refuse(struct ql__conn *c)
{
    static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
                               "\"status\":503,\"detail\":\"Too many open connections.\","
                               "\"code\":\"unavailable\"}";
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json"
                     "\r\nContent-Length: %zu\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    uv_buf_t b = uv_buf_init(msg, (unsigned)n);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1); /* best effort: the socket is new and empty */
    sock_close(c);
}

void ql__conn_accept(struct ql__loop *l)
{
    struct ql_http_server *s = l->server;
    struct ql__conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return; /* the pending connection stays in the backlog and is retried */
    c->loop = l;
    c->req.env = s->env;
    c->req.server = s;
    c->req.exec = &l->exec;
    c->req.conn = &c->h1;
    c->req.peer = c->peer;
    ql__h1_init(&c->h1, &h1_ops, &l->limits, s->env->clock, l->date, &l->date_len, &c->req);
    ql_buf_init(&c->wbuf, NULL);
    uv_tcp_init(&l->loop, &c->tcp);
    c->tcp.data = c;
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    atomic_fetch_add(&s->nconns, 1);
    if (uv_accept((uv_stream_t *)&l->listener, (uv_stream_t *)&c->tcp) != 0) {
        sock_close(c);
        return;
    }
    if (atomic_load(&s->nconns) > s->env->cfg->max_connections) {
        refuse(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
    }
    pump(c);
}

void ql__conn_drain_all(struct ql__loop *l, int force)
{
    for (struct ql__conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->sock == SOCK_LINGER && force)
            sock_close(c);
        if (c->sock != SOCK_OPEN)
            continue;
        /* SIGTERM ends live streams cleanly; a download finishes first, or is cut off */
        if (c->req.state == QL__REQ_STREAM && c->req.stream_drain == NULL)
            ql__req_stream_end(&c->req);
        if (force || (c->h1.state == QL__H1_IDLE && c->h1.out.len == 0 && c->wbuf.len == 0))
            sock_close(c);
        else
            ql__h1_no_more(&c->h1);
    }
}

void ql__conn_sweep(struct ql__loop *l, int64_t now_ms)
{
    for (struct ql__conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if ((c->sock == SOCK_OPEN || c->sock == SOCK_LINGER) && ql__h1_expired(&c->h1, now_ms))
            sock_close(c);
    }
}
