/*
 * quill-webhook-sink - the receiver of the webhooks benchmark (run by tools/bench/bench.sh,
 * `webhooks`; not installed): a loopback HTTP/1.1 server that answers every request at once
 * with 204 and no body, and counts the POSTs and those that carried a webhook-signature
 * header.  One libuv loop.
 *
 * Every answer says "Connection: close" and the sink closes first (quill-worker's outbound
 * adapter opens a connection per delivery anyway), so the TIME_WAIT of each of those
 * thousands of connections stays on the sink's side.  Were the client to close first, each
 * would hold its ephemeral port for 60 s, and the benchmark's fixed ports lie in that range.
 *
 *   quill-webhook-sink [--port 58095]
 *
 * Prints "listening" on stderr once bound; on SIGTERM or SIGINT prints one line on stdout
 * and exits:
 *
 *   result posts=.. signed=.. other=.. bad=.. connections=..
 *
 * (other: requests that were not POSTs, such as the bench's readiness probe; bad: requests
 * it could not read, whose connection it closed.)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define REQ_MAX 262144

static const char answer[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

static long posts, signed_posts, other, bad, connections;
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm, sigint;

struct conn {
    uv_tcp_t tcp;
    size_t len;
    int closing;
    int continued; /* "100 Continue" sent for the request in the buffer */
    char buf[REQ_MAX];
};

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct conn *c)
{
    if (!c->closing) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

/* The value of header name (lower case, with the colon) in head, or NULL. */
static const char *header(const char *head, size_t n, const char *name)
{
    size_t k = strlen(name);
    for (const char *p = head; p + k < head + n; p++) {
        if ((p == head || p[-1] == '\n') && strncasecmp(p, name, k) == 0) {
            p += k;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

static void written(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    free(w);
    if (status)
        conn_close(c);
}

static int send_text(struct conn *c, const char *text, size_t n)
{
    uv_write_t *w = malloc(sizeof(*w));
    if (w == NULL)
        return -1;
    w->data = c;
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)n);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, written) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/*
 * Answer the request in the buffer: 0 when more bytes are needed, 1 when it was answered
 * (the connection then ends), -1 when it cannot be read.
 */
static int serve(struct conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL)
        return c->len == sizeof(c->buf) ? -1 : 0;
    size_t head = (size_t)(end + 4 - c->buf);
    const char *cl = header(c->buf, head, "content-length:");
    size_t body = cl && isdigit((unsigned char)*cl) ? strtoul(cl, NULL, 10) : 0;
    if (body > sizeof(c->buf) - head)
        return -1;
    if (c->len < head + body) {
        const char *ex = header(c->buf, head, "expect:");
        if (ex && strncasecmp(ex, "100-continue", 12) == 0 && !c->continued) {
            c->continued = 1;
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (send_text(c, cont, sizeof(cont) - 1) != 0)
                return -1;
        }
        return 0;
    }
    if (strncmp(c->buf, "POST ", 5) == 0) {
        posts++;
        if (header(c->buf, head, "webhook-signature:"))
            signed_posts++;
    } else {
        other++;
    }
    if (send_text(c, answer, sizeof(answer) - 1))
        return -1;
    return 1; /* the rest, if any, is not read: the connection ends */
}

static void shut_down(uv_shutdown_t *sh, int status)
{
    (void)status;
    conn_close(sh->handle->data);
    free(sh);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    int rc = serve(c);
    if (rc < 0) {
        bad++;
        conn_close(c);
    } else if (rc > 0) {
        /* the answers queued go out first, then the connection ends */
        uv_read_stop(s);
        uv_shutdown_t *sh = malloc(sizeof(*sh));
        if (sh == NULL || uv_shutdown(sh, s, shut_down) != 0) {
            free(sh);
            conn_close(c);
        }
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof(*c));
    if (c == NULL)
        return;
    c->len = 0;
    c->closing = 0;
    c->continued = 0;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    printf("result posts=%ld signed=%ld other=%ld bad=%ld connections=%ld\n", posts, signed_posts,
           other, bad, connections);
    fflush(stdout);
    exit(0);
}

int main(int argc, char **argv)
{
    int port = 58095;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            port = (int)strtol(argv[++i], &end, 10);
            if (*end != '\0')
                port = 0;
        } else {
            fprintf(stderr, "usage: quill-webhook-sink [--port 58095]\n");
            return 2;
        }
    }
    if (port < 1 || port > 65535) {
        fprintf(stderr, "quill-webhook-sink: --port must be 1 to 65535\n");
        return 2;
    }
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "quill-webhook-sink: cannot listen on 127.0.0.1:%d: %s\n", port,
                uv_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    fprintf(stderr, "listening\n");
    return uv_run(loop, UV_RUN_DEFAULT);
}
