/*
 * exec_world.h - the fake loop of test_exec.c: an executor whose pool runs when the test
 * says, and an HTTP/1 connection whose output the test reads.  Included once, after the
 * routes and handlers it serves.
 */
#ifndef QL_TEST_EXEC_WORLD_H
#define QL_TEST_EXEC_WORLD_H

/* ---- a fake loop ----------------------------------------------------------------------------- */

struct world {
    struct ql__exec x; /* first, as in a loop */
    struct fake_clock clock;
    struct ql_http_env env;
    struct ql__h1 h1;
    struct ql_http_req req;
    struct ql__h1_limits lim;
    struct ql__task *queued; /* the fake pool: one task at a time */
    int pool_full;
    int loop_ready; /* the loop's session is up */
    int readies, finished, settled;
    int in_call; /* inside ql__exec_request or a handler's call */
    uint64_t seed;
};

static struct world *of(struct ql__exec *x)
{
    return (struct world *)x;
}

static int w_submit(struct ql__exec *x, struct ql__task *t, int grouped)
{
    (void)grouped;
    struct world *w = of(x);
    if (w->pool_full)
        return QL_EUNAVAILABLE;
    ASSERT_NULL(w->queued);
    w->queued = t;
    return QL_OK;
}

static int w_loop_ports(struct ql__exec *x, struct ql_ports *out)
{
    struct world *w = of(x);
    if (!w->loop_ready)
        return 0;
    *out = (struct ql_ports){.store = &loop_store, .clock = &w->clock.base};
    return 1;
}

static void w_ready(struct ql__exec *x)
{
    of(x)->readies++;
}

static void w_finished(struct ql__exec *x, struct ql_http_req *r, int64_t ns)
{
    ASSERT_TRUE(ns >= 0);
    of(x)->finished++;
    ql__span_request(routes, r, ns); /* as loop.c does */
}

static void w_settled(struct ql__exec *x, struct ql_http_req *r)
{
    (void)r;
    of(x)->settled++;
}

static uint64_t w_rand(struct ql__exec *x)
{
    return ++of(x)->seed * 0x9e3779b97f4a7c15ull;
}

static const struct ql__exec_ops xops = {w_submit,   w_loop_ports, w_ready,
                                         w_finished, w_settled,    w_rand};

static void c_request(struct ql__h1 *h)
{
    struct world *w = (struct world *)((char *)h - offsetof(struct world, h1));
    w->in_call = 1;
    ql__exec_request(&w->x, &w->req);
    w->in_call = 0;
}

static void c_output(struct ql__h1 *h)
{
    struct world *w = (struct world *)((char *)h - offsetof(struct world, h1));
    ASSERT_INT_EQ(w->in_call, 0); /* a response is never written inside the call */
}

static const struct ql__h1_ops cops = {c_request, c_output};

static void setup(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fake_clock_init(&w->clock, 1767225600000LL);
    w->env.clock = &w->clock.base;
    w->lim = (struct ql__h1_limits){1024, 1000, 1000, 1000, 1000, 0};
    ql__exec_init(&w->x, &xops, &w->env, NULL, routes, QL_NTESTS(routes));
    w->req.env = &w->env;
    w->req.exec = &w->x;
    w->req.conn = &w->h1;
    ql__h1_init(&w->h1, &cops, &w->lim, &w->clock.base, date, &date_len, &w->req);
    parked = NULL;
    stream_opened = stream_closed = 0;
}

static void get(struct world *w, const char *path)
{
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path);
    ql__h1_input(&w->h1, req, strlen(req));
}

/* Run the queued pool task as a pool thread would, then its completion on the loop. */
static void run_pool(struct world *w)
{
    struct ql__task *t = w->queued;
    ASSERT_NOT_NULL(t);
    w->queued = NULL;
    struct ql_ports ports = {.store = &pool_store, .clock = &w->clock.base};
    t->run(t, &ports);
    t->done(t);
}

static const char *out(struct world *w)
{
    ql_buf_cstr(&w->h1.out);
    return w->h1.out.data ? w->h1.out.data : "";
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}
#endif
