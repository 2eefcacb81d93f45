/*
 * stream_sse.c - quill-stream-bench's streams: connecting them (at most MAX_CONNECTING at
 * a time), the response head, the chunked transfer coding, and the Server-Sent Events in
 * it.  Each "data:" line is matched to its write by the number the entry's content starts
 * with ("sb <k> "), and its arrival time is kept.  Runs on the main loop.
 */
#include "stream_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNECTING 64

/* ---- the streams: events by (k, arrival) ------------------------------------------------- */

struct event *events;
size_t nevents, events_cap;
long events_dropped;     /* beyond the array: counted, not timed */
static long events_warm; /* of warm-up writes */
long stray;              /* data lines that name no write of this run */

struct sconn *sc;
int started, connecting, opened, closed_streams, failed_streams;
int stream_phase_target;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    static char slab[65536];
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab)); /* one loop thread, read synchronously */
}

static void sse_line(struct sconn *c, const char *line, size_t n)
{
    if (n && line[n - 1] == '\r')
        n--;
    if (n >= 11 && memcmp(line, ": connected", 11) == 0) {
        if (!c->open) {
            c->open = 1;
            opened++;
        }
        return;
    }
    if (n < 6 || memcmp(line, "data: ", 6) != 0)
        return;
    static const char key[] = "\"content\":\"sb ";
    const char *p = NULL;
    for (size_t i = 6; i + sizeof(key) - 1 <= n; i++) {
        if (line[i] == '"' && memcmp(line + i, key, sizeof(key) - 1) == 0) {
            p = line + i + sizeof(key) - 1;
            break;
        }
    }
    if (p == NULL) {
        stray++;
        return;
    }
    long k = strtol(p, NULL, 10);
    if (k < 0 || k >= nwrites + write_base) {
        stray++;
        return;
    }
    if (k < write_base) {
        events_warm++;
        c->warm++;
        return;
    }
    c->got++;
    if (nevents == events_cap) {
        events_dropped++;
        return;
    }
    events[nevents].k = (int32_t)(k - write_base);
    events[nevents].at = now_ns();
    nevents++;
}

static void sse_bytes(struct sconn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            sse_line(c, c->line, c->line_len);
            c->line_len = 0;
        } else if (c->line_len < sizeof(c->line)) {
            c->line[c->line_len++] = p[i];
        }
    }
}

/* The chunked body: sizes in hex, data, CRLF; the data goes to the event parser. */
static void chunked(struct sconn *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && c->ch != CH_DONE) {
        switch (c->ch) {
        case CH_SIZE: {
            char ch = p[i++];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d >= 0)
                c->ch_left = c->ch_left * 16 + (size_t)d;
            else if (ch == '\n')
                c->ch = c->ch_left ? CH_DATA : CH_DONE;
            else
                c->ch = CH_SIZE_EXT;
            break;
        }
        case CH_SIZE_EXT:
            if (p[i++] == '\n')
                c->ch = c->ch_left ? CH_DATA : CH_DONE;
            break;
        case CH_DATA: {
            size_t take = n - i < c->ch_left ? n - i : c->ch_left;
            sse_bytes(c, p + i, take);
            i += take;
            c->ch_left -= take;
            if (c->ch_left == 0)
                c->ch = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (p[i++] == '\n')
                c->ch = CH_SIZE;
            break;
        case CH_DONE:
            break;
        }
    }
}

static void stream_closed(uv_handle_t *h)
{
    struct sconn *c = h->data;
    c->closed = 1;
    closed_streams++;
}

static void stream_fail(struct sconn *c, const char *why)
{
    if (!c->failed) {
        c->failed = 1;
        failed_streams++;
        if (failed_streams <= 3)
            fprintf(stderr, "# stream %d: %s (status %d)\n", c->index, why, c->status);
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, stream_closed);
}

static void stream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct sconn *c = s->data;
    if (n < 0) {
        stream_fail(c, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
        return;
    }
    const char *p = buf->base;
    size_t len = (size_t)n;
    if (!c->head_done) {
        size_t take =
            len < sizeof(c->head) - 1 - c->head_len ? len : sizeof(c->head) - 1 - c->head_len;
        memcpy(c->head + c->head_len, p, take);
        c->head_len += take;
        c->head[c->head_len] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (end == NULL) {
            if (c->head_len == sizeof(c->head) - 1)
                stream_fail(c, "response head too long");
            return;
        }
        c->head_done = 1;
        c->status = atoi(c->head + 9);
        if (c->status != 200 || strstr(c->head, "chunked") == NULL) {
            stream_fail(c, "not a chunked 200");
            return;
        }
        size_t used = (size_t)(end + 4 - c->head) - (c->head_len - take);
        p += used;
        len -= used;
    }
    chunked(c, p, len);
}

static void stream_written(uv_write_t *w, int status)
{
    struct sconn *c = w->data;
    if (status)
        stream_fail(c, uv_strerror(status));
}

static void stream_connected(uv_connect_t *req, int status)
{
    struct sconn *c = req->data;
    connecting--;
    if (status) {
        stream_fail(c, uv_strerror(status));
    } else {
        int u = o.users_from + c->index % (o.users_to - o.users_from + 1);
        int n = snprintf(c->req, sizeof(c->req),
                         "GET /v1/teams/%s/sync/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         "Authorization: Bearer peer-token-%d\r\nAccept: text/event-stream\r\n\r\n",
                         o.team, o.port, u);
        uv_buf_t b = uv_buf_init(c->req, (unsigned)n);
        c->write.data = c;
        uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, stream_written);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, stream_read);
    }
    open_more();
}

void open_more(void)
{
    while (connecting < MAX_CONNECTING && started < stream_phase_target) {
        struct sconn *c = &sc[started];
        memset(c, 0, sizeof(*c));
        c->index = started++;
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        struct sockaddr_in addr;
        uv_ip4_addr("127.0.0.1", o.port, &addr);
        connecting++;
        int rc =
            uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, stream_connected);
        if (rc) {
            connecting--;
            stream_fail(c, uv_strerror(rc));
        }
    }
}

void close_streams(int from, int to)
{
    for (int i = from; i < to; i++)
        if (!uv_is_closing((uv_handle_t *)&sc[i].tcp))
            uv_close((uv_handle_t *)&sc[i].tcp, stream_closed);
}
