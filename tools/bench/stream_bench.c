/*
 * quill-stream-bench - live sync streams under a steady write load, measured from the client
 * side (run by tools/bench/bench.sh, `streams`; not installed).
 *
 * Over loopback, against quill-api on --port (whose pid is --pid):
 *
 *   1. warm-up   10 streams open while --warm-seconds of writes go out at the measured pace
 *                (see 3) and reach them; then they close.  quill-api's one-time allocations
 *                (write pool threads, topics, buffers) happen here, not in the figures
 *                below.  Then quill-api's idle RSS (/proc/<pid>/status).
 *   2. open      --streams GET /v1/teams/<--team>/sync/stream, round-robin over the bearer
 *                tokens peer-token-<u> of --users A-B (members of the team), at most 64
 *                connects at a time.  A stream counts as open when its ": connected" comment
 *                arrives.  Then the RSS with the streams open.
 *   3. write     one POST /v1/teams/<--team>/journal-entries every --interval-ms for
 *                --seconds, as peer-token-<--writer>, from a thread and event loop of their
 *                own over --writers keep-alive connections (a POST goes out on a free one,
 *                and counts as late when it leaves more than 2 ms after its time).  The
 *                content of write k is "sb <k> " padded to 150 characters.  The RSS, and the
 *                CPU time quill-api and this program used, at the end of this phase.
 *   4. drain     until every stream has seen every write, or --drain-ms pass; then the
 *                streams close and, a second later, the RSS once more.
 *
 * The main loop reads every stream (chunked transfer coding, then Server-Sent Events) and
 * matches each "data:" line to its write by k.  Delivery latency is the arrival time minus
 * the time the POST was sent (sent_*), and minus the time its 201 arrived (answered_*;
 * negative when the event came first).  Everything is bounded in time (--timeout for the
 * whole run).  Output: progress on stderr, one line on stdout:
 *
 *   result streams=.. open=.. writes=.. events=.. expected=.. per_stream_open_b=.. ...
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_CONNECTING 64
#define LINE_MAX_LEN 16384
#define RESP_MAX 65536
#define CONTENT_LEN 150

struct opts {
    int port, streams, users_from, users_to, writer, interval_ms, seconds, writers, warm_seconds;
    int drain_ms, timeout_s;
    long pid;
    const char *team;
};

static struct opts o = {58091, 1000, 1, 10, 1, 10, 10, 8, 2, 3000, 120, 0, NULL};

static uv_loop_t *loop;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *volatile phase = "start"; /* for messages */

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "quill-stream-bench: %s%s%s (%s)\n", what, detail ? ": " : "",
            detail ? detail : "", phase);
    exit(1);
}

/* ---- what the server does: RSS and CPU of --pid -------------------------------------------- */

static long rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", o.pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* utime + stime of --pid, in seconds. */
static double cpu_s(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/stat", o.pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    unsigned long long ut = 0, st = 0;
    /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the writes (shared with the writer thread) ------------------------------------------- */

static int64_t *sent_ns;     /* per write k, set by the writer thread */
static int64_t *answered_ns; /* per write k, set by the writer thread */
static atomic_int answered;  /* answers so far (the arrays are complete below it) */
static atomic_int write_errors, late;
static int write_base; /* first k of the measured phase (the warm-up's come before) */
static int nwrites;    /* writes of the measured phase */

/* ---- the streams: events by (k, arrival) ------------------------------------------------- */

struct event {
    int32_t k;
    int64_t at;
};

static struct event *events;
static size_t nevents, events_cap;
static long events_dropped; /* beyond the array: counted, not timed */
static long events_warm;    /* of warm-up writes */
static long stray;          /* data lines that name no write of this run */

enum ch_state { CH_SIZE, CH_SIZE_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_DONE };

struct sconn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    int index;
    int head_done, open, closed, failed, status;
    size_t head_len;
    char head[4096];
    enum ch_state ch;
    size_t ch_left;
    size_t line_len;
    char line[LINE_MAX_LEN];
    int got;  /* events of measured writes */
    int warm; /* events of warm-up writes */
    char req[512];
};

static struct sconn *sc;
static int started, connecting, opened, closed_streams, failed_streams;
static int stream_phase_target; /* how many to open in the current phase */

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

static void open_more(void);

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

static void open_more(void)
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

static void close_streams(int from, int to)
{
    for (int i = from; i < to; i++)
        if (!uv_is_closing((uv_handle_t *)&sc[i].tcp))
            uv_close((uv_handle_t *)&sc[i].tcp, stream_closed);
}

/* ---- the writer thread: keep-alive connections that POST on a schedule ------------------- */

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
static atomic_int writers_ready, writer_stop;
static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int first, count;
    int64_t t0;
} batch, wb;            /* batch: handed over (under batch_lock); wb: the writer thread's copy */
static int next_write;  /* the writer thread's next k */
static int last_writer; /* the connection it used last */
static int reconnects;  /* idle connections the server closed, opened again */

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

static void writers_start(void)
{
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
static void writers_batch(int first, int count)
{
    pthread_mutex_lock(&batch_lock);
    batch.first = first;
    batch.count = count;
    batch.t0 = now_ns();
    pthread_mutex_unlock(&batch_lock);
    uv_async_send(&wcmd);
}

static void writers_stop(void)
{
    atomic_store(&writer_stop, 1);
    uv_async_send(&wcmd);
    pthread_join(wthread, NULL);
}

/* ---- phases: run the main loop until a condition holds or a deadline passes ----------------- */

static uv_timer_t tick;
static int (*phase_done)(void);
static int64_t phase_deadline;
static int64_t run_deadline;
static int answers_wanted;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    int64_t now = now_ns();
    if (phase_done() || now >= phase_deadline || now >= run_deadline)
        uv_stop(loop);
}

/* Run the loop until done() says so, or ms pass; 1 if done() held. */
static int run_until(int (*done)(void), int64_t ms)
{
    phase_done = done;
    phase_deadline = now_ns() + ms * 1000000;
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&tick);
    return done();
}

static int done_writers(void)
{
    return atomic_load(&writers_ready) == o.writers;
}
static int done_opened(void)
{
    return opened + failed_streams >= stream_phase_target;
}
static int done_answers(void)
{
    return atomic_load(&answered) >= answers_wanted;
}
static int done_warm_events(void)
{
    for (int i = 0; i < stream_phase_target; i++)
        if (!sc[i].failed && sc[i].open && sc[i].warm < write_base)
            return 0;
    return 1;
}
static int done_closed(void)
{
    return closed_streams >= started;
}
static int done_delivered(void)
{
    return nevents + (size_t)events_dropped >= (size_t)nwrites * (size_t)(opened - failed_streams);
}
static int never(void)
{
    return 0;
}

/* ---- percentiles -------------------------------------------------------------------------- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int num(int argc, char **argv, int *i, const char *name, int *v)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return 0;
    *v = atoi(argv[++*i]);
    if (*v < 0)
        die(name, "needs a number");
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (num(argc, argv, &i, "--port", &o.port) ||
            num(argc, argv, &i, "--streams", &o.streams) ||
            num(argc, argv, &i, "--writer", &o.writer) ||
            num(argc, argv, &i, "--interval-ms", &o.interval_ms) ||
            num(argc, argv, &i, "--seconds", &o.seconds) ||
            num(argc, argv, &i, "--writers", &o.writers) ||
            num(argc, argv, &i, "--warm-seconds", &o.warm_seconds) ||
            num(argc, argv, &i, "--drain-ms", &o.drain_ms) ||
            num(argc, argv, &i, "--timeout", &o.timeout_s))
            continue;
        if (strcmp(argv[i], "--team") == 0 && i + 1 < argc)
            o.team = argv[++i];
        else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc)
            o.pid = atol(argv[++i]);
        else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc &&
                 sscanf(argv[i + 1], "%d-%d", &o.users_from, &o.users_to) == 2)
            i++;
        else
            die("unknown option (see the comment at the top of stream_bench.c)", argv[i]);
    }
    if (o.team == NULL || o.pid <= 0 || o.streams < 1 || o.interval_ms < 1 || o.writers < 1 ||
        o.seconds < 1 || o.users_to < o.users_from)
        die("usage: quill-stream-bench --team UUID --pid API_PID [--port 58091] [--streams 1000] "
            "[--users 1-10] [--writer 1] [--interval-ms 10] [--seconds 10] [--writers 8] "
            "[--warm-seconds 2] [--drain-ms 3000] [--timeout 120]",
            NULL);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o.streams + 64)
        die("too few file descriptors for that many streams", NULL);

    loop = uv_default_loop();
    uv_timer_init(loop, &tick);
    run_deadline = now_ns() + (int64_t)o.timeout_s * 1000000000;
    int warm_writes = o.warm_seconds * 1000 / o.interval_ms;
    nwrites = o.seconds * 1000 / o.interval_ms;
    int total = warm_writes + nwrites;
    sent_ns = calloc((size_t)total + 1, sizeof(int64_t));
    answered_ns = calloc((size_t)total + 1, sizeof(int64_t));
    events_cap = (size_t)nwrites * (size_t)o.streams;
    events = malloc(events_cap * sizeof(*events) + 1);
    sc = calloc((size_t)o.streams, sizeof(*sc));
    wc = calloc((size_t)o.writers, sizeof(*wc));
    if (!sent_ns || !answered_ns || !events || !sc || !wc)
        die("out of memory", NULL);

    /* 1. warm-up: the writers, a few streams, paced writes that reach them */
    phase = "warm-up";
    write_base = warm_writes; /* data lines below it count as warm-up */
    writers_start();
    if (!run_until(done_writers, 5000))
        die("the writers did not connect", NULL);
    stream_phase_target = o.streams < 10 ? o.streams : 10;
    open_more();
    if (!run_until(done_opened, 10000) || failed_streams)
        die("the warm-up streams did not open", NULL);
    answers_wanted = warm_writes;
    if (warm_writes > 0) {
        writers_batch(0, warm_writes);
        run_until(done_answers, (int64_t)o.warm_seconds * 1000 + 10000);
        run_until(done_warm_events, 3000);
    }
    phase = "closing the warm-up streams";
    close_streams(0, started);
    run_until(done_closed, 3000);
    run_until(never, 500); /* the server lets the closed streams go */
    long rss_idle = rss_kib();

    /* 2. open the streams */
    phase = "opening the streams";
    started = connecting = opened = closed_streams = failed_streams = 0;
    stream_phase_target = o.streams;
    int64_t t_open = now_ns();
    open_more();
    run_until(done_opened, (int64_t)o.timeout_s * 1000 / 2);
    double open_s = (double)(now_ns() - t_open) / 1e9;
    fprintf(stderr, "# %d of %d streams open in %.1f s (%d failed)\n", opened, o.streams, open_s,
            failed_streams);
    run_until(never, 500);
    long rss_open = rss_kib();

    /* 3. write */
    phase = "writing";
    double api0 = cpu_s(), self0 = self_cpu_s();
    int64_t w0 = now_ns();
    answers_wanted = warm_writes + nwrites;
    writers_batch(warm_writes, nwrites);
    run_until(done_answers, (int64_t)o.seconds * 1000 + 10000);
    int64_t w1 = now_ns();
    double api_cpu = cpu_s() - api0, self_cpu = self_cpu_s() - self0;
    long rss_busy = rss_kib();

    /* 4. drain, then let the streams go */
    phase = "draining";
    run_until(done_delivered, o.drain_ms);
    int open_streams = opened - failed_streams;
    size_t expected = (size_t)nwrites * (size_t)(open_streams > 0 ? open_streams : 0);
    int short_streams = 0;
    for (int i = 0; i < started; i++)
        if (sc[i].open && !sc[i].failed && sc[i].got < nwrites)
            short_streams++;
    phase = "closing the streams";
    close_streams(0, started);
    run_until(done_closed, 3000);
    run_until(never, 1000);
    long rss_closed = rss_kib();
    writers_stop();
    int done_writes = atomic_load(&answered) - warm_writes;

    int64_t *by_sent = malloc(nevents * sizeof(int64_t) + 1);
    int64_t *by_answer = malloc(nevents * sizeof(int64_t) + 1);
    int64_t *post_lat = malloc((size_t)nwrites * sizeof(int64_t) + 1);
    if (!by_sent || !by_answer || !post_lat)
        die("out of memory", NULL);
    size_t na = 0, ns = 0;
    for (size_t i = 0; i < nevents; i++) {
        int k = write_base + events[i].k;
        if (sent_ns[k])
            by_sent[ns++] = events[i].at - sent_ns[k];
        if (answered_ns[k])
            by_answer[na++] = events[i].at - answered_ns[k];
    }
    size_t np = 0;
    for (int k = write_base; k < write_base + nwrites; k++)
        if (answered_ns[k] && sent_ns[k])
            post_lat[np++] = answered_ns[k] - sent_ns[k];
    qsort(by_sent, ns, sizeof(int64_t), cmp64);
    qsort(by_answer, na, sizeof(int64_t), cmp64);
    qsort(post_lat, np, sizeof(int64_t), cmp64);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);

    double secs = (double)(w1 - w0) / 1e9;
    long per_open = open_streams > 0 ? (rss_open - rss_idle) * 1024 / open_streams : 0;
    long per_busy = open_streams > 0 ? (rss_busy - rss_idle) * 1024 / open_streams : 0;
    fprintf(stderr,
            "# %d writes in %.2f s (%d late, %d errors); %zu of %zu events (%d streams short, "
            "%ld stray); quill-api RSS: idle %ld KiB, streams open %ld KiB, end of writes %ld "
            "KiB, streams closed %ld KiB\n",
            done_writes, secs, atomic_load(&late), atomic_load(&write_errors), nevents, expected,
            short_streams, stray, rss_idle, rss_open, rss_busy, rss_closed);
    printf("result streams=%d open=%d failed=%d open_s=%.2f writes=%d write_s=%.2f "
           "write_errors=%d late=%d reconnects=%d events=%zu expected=%zu dropped=%ld "
           "short_streams=%d rss_idle_kib=%ld rss_open_kib=%ld rss_busy_kib=%ld rss_closed_kib=%ld "
           "per_stream_open_b=%ld per_stream_busy_b=%ld sent_p50_ms=%.2f sent_p99_ms=%.2f "
           "sent_max_ms=%.2f answered_p50_ms=%.2f answered_p99_ms=%.2f post_p50_ms=%.2f "
           "post_p99_ms=%.2f api_cpu_s=%.2f client_cpu_s=%.2f\n",
           o.streams, opened, failed_streams, open_s, done_writes, secs, atomic_load(&write_errors),
           atomic_load(&late), reconnects, nevents, expected, events_dropped, short_streams,
           rss_idle, rss_open, rss_busy, rss_closed, per_open, per_busy, pct(by_sent, ns, 50),
           pct(by_sent, ns, 99), pct(by_sent, ns, 100), pct(by_answer, na, 50),
           pct(by_answer, na, 99), pct(post_lat, np, 50), pct(post_lat, np, 99), api_cpu, self_cpu);
    return 0;
}
