/*
 * h1_world.h - a connection of adapters/http/h1.c with fake owners and no socket, for
 * test_h1.c and test_h1_stream.c: bytes in, requests counted, output read back.  Each
 * test program includes it once.
 */
#ifndef QL_TEST_H1_WORLD_H
#define QL_TEST_H1_WORLD_H

#include "fakes/fakes.h"
#include "http/h1.h"
#include "http/req.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

const char date[] = "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n";
const size_t date_len = sizeof(date) - 1;

struct tconn {
    struct ql__h1 h1;
    struct ql_http_req req;
    struct fake_clock clock;
    struct ql__h1_limits lim;
    int socket_busy; /* for writing_ops: a write is in flight, new output waits in out */
    int requests;    /* ops->request calls */
    int outputs;     /* ops->output calls */
    int in_request;  /* inside ops->request now */
    char paths[16][64];
    int errors[16];
    char sock[64]; /* for sending_ops: what the socket took, at most sock_room more */
    size_t sock_len, sock_room;
    int send_nows; /* send_now calls */
};

static inline struct tconn *of(struct ql__h1 *h)
{
    return (struct tconn *)h;
}

static inline void t_request(struct ql__h1 *h)
{
    struct tconn *t = of(h);
    ASSERT_INT_EQ(t->in_request, 0); /* never re-entered */
    t->in_request = 1;
    if (t->requests < 16) {
        snprintf(t->paths[t->requests], sizeof(t->paths[0]), "%.*s", (int)t->req.path.n,
                 t->req.path.p);
        t->errors[t->requests] = h->error_status;
    }
    t->requests++;
    t->in_request = 0;
}

static inline void t_output(struct ql__h1 *h)
{
    of(h)->outputs++;
}

const struct ql__h1_ops ops = {.request = t_request, .output = t_output};

/* An owner like conn.c: inside ops->output the socket takes all there is, unless busy. */
static inline void t_output_writes(struct ql__h1 *h)
{
    of(h)->outputs++;
    if (!of(h)->socket_busy)
        h->out.len = 0;
}

const struct ql__h1_ops writing_ops = {.request = t_request, .output = t_output_writes};

/* An owner whose socket takes at most sock_room bytes at once, into sock (send_now). */
static inline size_t t_send_now(struct ql__h1 *h, const struct ql__h1_part *parts, int n)
{
    struct tconn *t = of(h);
    t->send_nows++;
    size_t took = 0;
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < parts[i].n && took < t->sock_room; j++, took++)
            t->sock[t->sock_len++] = parts[i].p[j];
    t->sock_room -= took;
    return took;
}

const struct ql__h1_ops sending_ops = {
    .request = t_request, .output = t_output, .send_now = t_send_now};

static inline void open_conn(struct tconn *t, size_t max_body)
{
    memset(t, 0, sizeof(*t));
    fake_clock_init(&t->clock, 1767225600000LL);
    t->lim = (struct ql__h1_limits){max_body, 1000, 2000, 3000, 4000, 0};
    ASSERT_INT_EQ(ql__h1_init(&t->h1, &ops, &t->lim, &t->clock.base, date, &date_len, &t->req), 0);
}

static inline void feed(struct tconn *t, const char *s)
{
    ql__h1_input(&t->h1, s, strlen(s));
}

/* Answer the current request with a text body. */
static inline void answer(struct tconn *t, int status, const char *body)
{
    t->req.status = status;
    t->req.content_type = "text/plain";
    memcpy(t->req.cx.request_id, "rid", 4);
    ql_buf_puts(&t->req.res_body, body);
    ql__h1_respond(&t->h1);
}

/* The output so far as a string (the connection keeps it). */
static inline const char *out(struct tconn *t)
{
    ql_buf_cstr(&t->h1.out);
    return t->h1.out.data ? t->h1.out.data : "";
}

#endif
