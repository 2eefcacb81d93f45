/*
 * stream_writers.c - quill-stream-bench's writes: a thread and event loop of their own, so
 * that reading 100,000 events a second on the main loop does not delay them.  --writers
 * keep-alive connections POST entries to the team; a write goes out on a free connection
 * (taken round-robin, so every one stays in use and no idle one is closed by the server;
 * one that is closed anyway is opened again), and counts as late when it leaves more than
 * 2 ms after its time.
 */
#include "stream_bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_MAX 65536
#define CONTENT_LEN 150

int64_t *sent_ns;
int64_t *answered_ns;
atomic_int answered;
atomic_int write_errors, late;

/*
 * The writes run on a thread and loop of their own, so that reading 100,000 events a second
 * on the main loop does not delay them.  The main thread hands over a batch (writes first ..
 * first + count - 1, one every --interval-ms from t0) through `batch` and an async handle.
 */
struct wconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    int ready, busy, k, counted;
    size_t len;
    char resp[RESP_MAX];
    char req[1024];
};

static uv_loop_t wloop;
static uv_async_t wcmd;
static uv_timer_t wtick;
static pthread_t wthread;
static struct wconn *wc;
atomic_int writers_ready;
static atomic_int writer_stop;
static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int first, count;
    int64_t t0;
} batch, wb;            /* batch: handed over (under batch_lock); wb: the writer thread's copy */
static int next_write;  /* the writer thread's next k */
static int last_writer; /* the connection it used last */
int reconnects;         /* idle connections the server closed, opened again */

static void wbuf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void send_due(void);
static void writer_connect(struct wconn *w);

static void writer_closed(uv_handle_t *h)
{
    if (!atomic_load(&writer_stop))
        writer_connect(h->data);
}

static void writer_reconnect(struct wconn *w)
{
    w->ready = 0;
    reconnects++;
    uv_close((uv_handle_t *)&w->tcp, writer_closed);
}

static void writer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct wconn *w = s->data;
    if (n < 0 && !w->busy) {
        writer_reconnect(w); /* an idle keep-alive connection may be closed by the server */
        return;
    }
    if (n < 0)
        die("a writer connection ended while a POST was on it",
            n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
    if (!w->busy)
        return;
    size_t take = (size_t)n < sizeof(w->resp) - w->len ? (size_t)n : sizeof(w->resp) - w->len;
    memcpy(w->resp + w->len, buf->base, take);
    w->len += take;
    char *end = memmem(w->resp, w->len, "\r\n\r\n", 4);
    if (end == NULL)
        return;
    size_t head = (size_t)(end + 4 - w->resp);
    const char *cl = memmem(w->resp, head, "Content-Length: ", 16);
    size_t body = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
    if (w->len < head + body)
        return;
    int status = atoi(w->resp + 9);
    answered_ns[w->k] = now_ns();
    if (status != 201 && atomic_fetch_add(&write_errors, 1) < 3)
        fprintf(stderr, "# POST %d answered %d: %.200s\n", w->k, status, w->resp + head);
    w->busy = 0;
    w->len = 0;
    atomic_fetch_add(&answered, 1); /* after answered_ns[k]: the main thread reads below it */
    send_due();
}

static void writer_written(uv_write_t *req, int status)
{
    (void)req;
    if (status)
        die("a POST could not be sent", uv_strerror(status));
}

static void writer_connected(uv_connect_t *req, int status)
{
    struct wconn *w = req->data;
    if (status)
        die("a writer could not connect", uv_strerror(status));
    w->ready = 1;
    uv_read_start((uv_stream_t *)&w->tcp, wbuf_alloc, writer_read);
    if (!w->counted) {
        w->counted = 1;
        atomic_fetch_add(&writers_ready, 1);
    }
    send_due();
}

static void post(struct wconn *w, int k, int64_t due_ns)
{
    char content[CONTENT_LEN + 1];
    int n = snprintf(content, sizeof(content), "sb %d ", k);
    for (int i = n; i < CONTENT_LEN; i++)
        content[i] = (char)('a' + (k + i) % 26);
    content[CONTENT_LEN] = '\0';
    char body[CONTENT_LEN + 32];
    int bn = snprintf(body, sizeof(body), "{\"content\":\"%s\"}", content);
    int rn = snprintf(w->req, sizeof(w->req),
                      "POST /v1/teams/%s/journal-entries HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Authorization: Bearer peer-token-%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n\r\n%s",
                      o.team, o.port, o.writer, bn, body);
    w->busy = 1;
    w->k = k;
    w->len = 0;
    sent_ns[k] = now_ns();
    if (sent_ns[k] - due_ns > 2000000)
        atomic_fetch_add(&late, 1);
    uv_buf_t b = uv_buf_init(w->req, (unsigned)rn);
    w->write.data = w;
    if (uv_write(&w->write, (uv_stream_t *)&w->tcp, &b, 1, writer_written) != 0)
        die("a POST could not be sent", NULL);
}

/* Send every write of the batch that is due, on free connections. */
static void send_due(void)
{
    if (wb.count == 0)
        return;
    int64_t step = (int64_t)o.interval_ms * 1000000;
    int64_t due = (now_ns() - wb.t0) / step + 1;
    if (due > wb.count)
        due = wb.count;
    /* round-robin from the last one used, so every connection stays in use */
    for (int n = 0; n < o.writers && next_write < wb.first + due; n++) {
        struct wconn *w = &wc[(last_writer + 1 + n) % o.writers];
        if (w->ready && !w->busy) {
            int k = next_write++;
            last_writer = (int)(w - wc);
            post(w, k, wb.t0 + (int64_t)(k - wb.first) * step);
        }
    }
}

static void on_wtick(uv_timer_t *t)
{
    (void)t;
    send_due();
}

static void on_wcmd(uv_async_t *a)
{
    (void)a;
    if (atomic_load(&writer_stop)) {
        uv_timer_stop(&wtick);
        uv_close((uv_handle_t *)&wtick, NULL);
        uv_close((uv_handle_t *)&wcmd, NULL);
        for (int i = 0; i < o.writers; i++)
            if (!uv_is_closing((uv_handle_t *)&wc[i].tcp))
                uv_close((uv_handle_t *)&wc[i].tcp, NULL);
        return;
    }
    pthread_mutex_lock(&batch_lock);
    wb.first = batch.first;
    wb.count = batch.count;
    wb.t0 = batch.t0;
    pthread_mutex_unlock(&batch_lock);
    next_write = wb.first;
    send_due();
}

static void *writer_main(void *arg)
{
    (void)arg;
    uv_run(&wloop, UV_RUN_DEFAULT);
    uv_loop_close(&wloop);
    return NULL;
}

static void writer_connect(struct wconn *w)
{
    uv_tcp_init(&wloop, &w->tcp);
    uv_tcp_nodelay(&w->tcp, 1);
    w->tcp.data = w;
    w->connect.data = w;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", o.port, &addr);
    if (uv_tcp_connect(&w->connect, &w->tcp, (const struct sockaddr *)&addr, writer_connected) != 0)
        die("cannot connect a writer", NULL);
}

void writers_start(void)
{
    wc = calloc((size_t)o.writers, sizeof(*wc));
    if (wc == NULL)
        die("out of memory", NULL);
    uv_loop_init(&wloop);
    uv_async_init(&wloop, &wcmd, on_wcmd);
    uv_timer_init(&wloop, &wtick);
    uv_timer_start(&wtick, on_wtick, 1, 1);
    for (int i = 0; i < o.writers; i++)
        writer_connect(&wc[i]);
    if (pthread_create(&wthread, NULL, writer_main, NULL) != 0)
        die("cannot start the writer thread", NULL);
}

/* Writes first .. first + count - 1, one every --interval-ms from now. */
void writers_batch(int first, int count)
{
    pthread_mutex_lock(&batch_lock);
    batch.first = first;
    batch.count = count;
    batch.t0 = now_ns();
    pthread_mutex_unlock(&batch_lock);
    uv_async_send(&wcmd);
}

void writers_stop(void)
{
    atomic_store(&writer_stop, 1);
    uv_async_send(&wcmd);
    pthread_join(wthread, NULL);
}
