/*
 * h1_out.c - the bytes of each response of an HTTP/1.1 connection (see h1.h): the status
 * line and the headers every response carries, a body whole or a stream of chunks, and
 * what follows an answer (the next request, or the end of the connection).
 */
#include "h1.h"
#include "req.h"

#include <stdio.h>
#include <string.h>

/* Status line, the headers every response carries, and the response's own. */
static void write_head(struct ql__h1 *c, const struct ql_http_req *r, int chunked)
{
    struct ql_buf *o = &c->out;
    ql_buf_puts(o, "HTTP/1.1 ");
    ql_buf_u64(o, (uint64_t)r->status);
    ql_buf_putc(o, ' ');
    ql_buf_puts(o, ql__http_reason(r->status));
    ql_buf_append(o, "\r\n", 2);
    ql_buf_append(o, c->date, *c->date_len);
    int bodyless = r->status == 204 || r->status == 304;
    if (!bodyless) {
        ql_buf_puts(o, "Content-Type: ");
        ql_buf_puts(o, r->content_type ? r->content_type : "application/json");
        if (chunked) {
            ql_buf_puts(o, "\r\nTransfer-Encoding: chunked\r\n");
        } else {
            ql_buf_puts(o, "\r\nContent-Length: ");
            ql_buf_u64(o, r->body_ref.p ? r->body_ref.n : r->res_body.len);
            ql_buf_append(o, "\r\n", 2);
        }
    }
    ql_buf_puts(o, "X-Request-Id: ");
    ql_buf_puts(o, r->cx.request_id);
    static const char sec[] = "\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: "
                              "no-referrer\r\nX-Frame-Options: DENY\r\n";
    ql_buf_append(o, sec, sizeof(sec) - 1);
    if (r->no_store)
        ql_buf_puts(o, "Cache-Control: no-store\r\n");
    if (c->lim->hsts)
        ql_buf_puts(o, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
    if (r->res_headers.len)
        ql_buf_append(o, r->res_headers.data, r->res_headers.len);
    if (!c->keepalive)
        ql_buf_puts(o, "Connection: close\r\n");
    ql_buf_append(o, "\r\n", 2);
}

/* After a response: the next request, or the end of the connection. */
static void next(struct ql__h1 *c)
{
    if (c->out.failed) {
        /* Out of memory for the output: nothing sensible can be sent on this connection. */
        c->out.failed = 0;
        c->out.len = 0;
        c->keepalive = 0;
    }
    /* The response is in out: the connection keeps none of its request's memory (a 1 MiB
     * body, say) while it idles until the next request, which may never come, or while it
     * sends the answer and lingers before it closes. CLOSING already: the socket went
     * (ql__h1_shutdown) while this was answered. */
    ql__h1_forget(c);
    if (c->state == QL__H1_CLOSING || !c->keepalive || c->error_status) {
        c->state = QL__H1_CLOSING;
        c->deadline_ms = 0;
    } else {
        c->state = QL__H1_IDLE;
        ql__h1_set_deadline(c, c->lim->idle_timeout_ms);
    }
    /* The owner sends first: what it writes at once no longer counts against QL__H1_OUT_MAX. */
    c->ops->output(c);
    if (c->state == QL__H1_IDLE)
        ql__h1_parse_held(c);
}

void ql__h1_no_more(struct ql__h1 *c)
{
    c->keepalive = 0;
}

void ql__h1_respond(struct ql__h1 *c)
{
    struct ql_http_req *r = c->req;
    if (r->close)
        c->keepalive = 0;
    write_head(c, r, 0);
    int bodyless = r->status == 204 || r->status == 304;
    if (!bodyless && r->method != QL_HTTP_HEAD && r->body_ref.p)
        ql_buf_append(&c->out, r->body_ref.p, r->body_ref.n);
    else if (!bodyless && r->method != QL_HTTP_HEAD && r->res_body.len)
        ql_buf_append(&c->out, r->res_body.data, r->res_body.len);
    next(c);
}

void ql__h1_stream_open(struct ql__h1 *c)
{
    struct ql_http_req *r = c->req;
    if (r->close)
        c->keepalive = 0;
    write_head(c, r, 1);
    c->state = QL__H1_STREAM;
    c->deadline_ms = 0;
    c->ops->output(c);
}

int ql__h1_stream_write(struct ql__h1 *c, const char *data, size_t n, size_t max)
{
    int idle = c->out.len == 0 && c->in_flight == 0; /* nothing waits: any n goes */
    if (c->state != QL__H1_STREAM || (!idle && c->out.len + c->in_flight + n > max))
        return -1;
    /* A zero-length chunk would end the body; a HEAD response has none (ql__h1_respond). */
    if (n == 0 || c->req->method == QL_HTTP_HEAD)
        return 0;
    char len[24];
    int ln = snprintf(len, sizeof(len), "%zx\r\n", n);
    const struct ql__h1_part parts[3] = {{len, (size_t)ln}, {data, n}, {"\r\n", 2}};
    size_t sent = idle && c->ops->send_now ? c->ops->send_now(c, parts, 3) : 0;
    if (sent == (size_t)ln + n + 2)
        return 0;
    for (int i = 0; i < 3; i++) { /* what the socket did not take, in order */
        size_t skip = sent < parts[i].n ? sent : parts[i].n;
        sent -= skip;
        ql_buf_append(&c->out, parts[i].p + skip, parts[i].n - skip);
    }
    c->ops->output(c);
    return c->out.failed ? -1 : 0;
}

void ql__h1_stream_close(struct ql__h1 *c)
{
    if (c->state != QL__H1_STREAM)
        return;
    if (c->req->method != QL_HTTP_HEAD)
        ql_buf_puts(&c->out, "0\r\n\r\n");
    next(c);
}

void ql__h1_sent(struct ql__h1 *c, size_t n)
{
    c->in_flight = n <= c->in_flight ? c->in_flight - n : 0;
    if (c->state == QL__H1_IDLE || c->state == QL__H1_HEAD || c->state == QL__H1_BODY) {
        if (c->out.len)
            c->ops->output(c); /* what waited for the socket may go out at once, as in next() */
        ql__h1_parse_held(c);
    }
    if (c->state == QL__H1_IDLE && c->out.len == 0 && c->in_flight == 0)
        ql__h1_set_deadline(c, c->lim->idle_timeout_ms);
}
