/*
 * Unit tests of the HTTP/1.1 connection (adapters/http/h1.c) without sockets: bytes in,
 * requests handed over, responses out.  Split reads, pipelining order, the limits, keep-alive,
 * timeouts on a manual clock and backpressure when the client does not read (streams:
 * test_h1_stream.c).
 */
#include "h1_world.h"

static void test_a_request_split_into_single_bytes(void)
{
    struct tconn t;
    open_conn(&t, 1024);
    const char *req = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Long-Name: v a l\r\n\r\n";
    for (size_t i = 0; req[i]; i++) {
        ASSERT_INT_EQ(t.requests, 0);
        ql__h1_input(&t.h1, req + i, 1);
    }
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_STR_EQ(t.paths[0], "/a");
    ASSERT_INT_EQ(t.req.query.n, 3);
    ASSERT_INT_EQ(t.req.method, QL_HTTP_GET);
    const struct ql_span *v = ql__req_header(&t.req, "x-long-name");
    ASSERT_NOT_NULL(v);
    ASSERT_INT_EQ(v->n, 5);
    ASSERT_INT_EQ(memcmp(v->p, "v a l", 5), 0);
    ASSERT_INT_EQ(t.h1.state, QL__H1_BUSY);
    ASSERT_STR_EQ(out(&t), ""); /* nothing until the answer */
    answer(&t, 200, "hi");
    ASSERT_TRUE(strncmp(out(&t), "HTTP/1.1 200 OK\r\n", 17) == 0);
    ASSERT_NOT_NULL(strstr(out(&t), "\r\nContent-Length: 2\r\n"));
    ASSERT_NOT_NULL(strstr(out(&t), "\r\nX-Request-Id: rid\r\n"));
    ASSERT_NOT_NULL(strstr(out(&t), "\r\nX-Content-Type-Options: nosniff\r\n"));
    ASSERT_NULL(strstr(out(&t), "Connection: close"));
    ASSERT_TRUE(strcmp(out(&t) + t.h1.out.len - 6, "\r\n\r\nhi") == 0);
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ql__h1_cleanup(&t.h1);
}

static void test_a_body_in_pieces_and_chunked(void)
{
    struct tconn t;
    open_conn(&t, 1024);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234");
    ASSERT_INT_EQ(t.requests, 0);
    ASSERT_INT_EQ(t.h1.state, QL__H1_BODY);
    feed(&t, "56789");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.req.body.n, 10);
    ASSERT_INT_EQ(memcmp(t.req.body.p, "0123456789", 10), 0);
    answer(&t, 204, "");
    feed(&t, "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    feed(&t, "2\r\nde\r\n0\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_INT_EQ(t.req.body.n, 5);
    ASSERT_INT_EQ(memcmp(t.req.body.p, "abcde", 5), 0);
    ql__h1_cleanup(&t.h1);
}

static void test_pipelined_requests_are_answered_in_order(void)
{
    struct tconn t;
    open_conn(&t, 1024);
    feed(&t, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
             "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    /* one at a time: the others wait until the first is answered */
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_STR_EQ(t.paths[0], "/1");
    answer(&t, 200, "one");
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_STR_EQ(t.paths[1], "/2");
    answer(&t, 200, "two");
    ASSERT_INT_EQ(t.requests, 3);
    answer(&t, 200, "three");
    const char *o = out(&t), *a = strstr(o, "one"), *b = strstr(o, "two"), *c = strstr(o, "three");
    ASSERT_TRUE(a && b && c && a < b && b < c);
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ql__h1_cleanup(&t.h1);
}

static void test_limits_are_answered_and_close(void)
{
    struct tconn t;
    /* a body over the limit announced by Content-Length */
    open_conn(&t, 16);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 413);
    answer(&t, 413, "too large");
    ASSERT_NOT_NULL(strstr(out(&t), "Connection: close"));
    ASSERT_INT_EQ(t.h1.state, QL__H1_CLOSING);
    feed(&t, "GET /more HTTP/1.1\r\n\r\n"); /* nothing more is parsed */
    ASSERT_INT_EQ(t.requests, 1);
    ql__h1_cleanup(&t.h1);
    /* a chunked body that passes the limit over several chunks is a 413 too */
    open_conn(&t, 16);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "a\r\n0123456789\r\n");
    ASSERT_INT_EQ(t.requests, 0);
    feed(&t, "a\r\n0123456789\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 413);
    ql__h1_cleanup(&t.h1);
    /* chunk extensions are ignored, but what they take counts as the body's */
    open_conn(&t, 16);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "1;a=b\r\nx\r\n1;name=0123456789\r\ny\r\n0\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 413);
    ql__h1_cleanup(&t.h1);
    open_conn(&t, 16);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "1;a=b\r\nx\r\n1;c\r\ny\r\n0\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 0);
    ASSERT_INT_EQ(t.req.body.n, 2);
    ql__h1_cleanup(&t.h1);
    /* the ';' and '=' count too: 16 bytes of extensions (not the 8 named) and 4 of body */
    open_conn(&t, 16);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "1;a=b\r\nw\r\n1;c=d\r\nx\r\n1;e=f\r\ny\r\n1;g=h\r\nz\r\n0\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 413);
    ql__h1_cleanup(&t.h1);
    /* a header block over 16 KiB */
    open_conn(&t, 16);
    feed(&t, "GET / HTTP/1.1\r\nX-Big: ");
    char big[QL__H1_HEAD_MAX + 10];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    feed(&t, big);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 431);
    ql__h1_cleanup(&t.h1);
    /* so is one of whitespace, which llhttp skips and hands to no callback */
    open_conn(&t, 16);
    feed(&t, "GET / HTTP/1.1\r\nHost: h\r\nX-A:");
    memset(big, ' ', sizeof(big) - 1);
    feed(&t, big);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 431);
    ql__h1_cleanup(&t.h1);
    open_conn(&t, 16); /* in pieces, each parsed on its own */
    feed(&t, "GET / HTTP/1.1\r\nHost: h\r\nX-A:");
    for (int i = 0; i < 20 && t.requests == 0; i++)
        ql__h1_input(&t.h1, big, 1000);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 431);
    ql__h1_cleanup(&t.h1);
    /* more than 64 headers */
    open_conn(&t, 16);
    feed(&t, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= QL__H1_MAX_HEADERS; i++)
        feed(&t, "X-H: 1\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 431);
    ql__h1_cleanup(&t.h1);
    /* a request line that is not HTTP */
    open_conn(&t, 16);
    feed(&t, "NOT A REQUEST\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 400);
    ql__h1_cleanup(&t.h1);
}

/* Feed a chunked body of n chunks of `size` bytes each, then its end. */
static void feed_chunked(struct tconn *t, int n, size_t size)
{
    static char chunk[65536 + 16];
    feed(t, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    int hn = snprintf(chunk, sizeof(chunk), "%zx\r\n", size);
    memset(chunk + hn, 'x', size);
    memcpy(chunk + hn + size, "\r\n", 2);
    for (int i = 0; i < n && t->requests == 0; i++)
        ql__h1_input(&t->h1, chunk, (size_t)hn + size + 2);
    feed(t, "0\r\n\r\n");
}

/* A chunked body grows as it comes; one of exactly the limit fits, one byte more is a 413. */
static void test_a_chunked_body_of_exactly_the_limit(void)
{
    struct tconn t;
    open_conn(&t, 1 << 20);
    feed_chunked(&t, 16, 65536);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 0);
    ASSERT_INT_EQ(t.req.body.n, 1 << 20);
    ql__h1_cleanup(&t.h1);
    open_conn(&t, (1 << 20) - 1);
    feed_chunked(&t, 16, 65536);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 413);
    ql__h1_cleanup(&t.h1);
    /* trailers after it do not count its bytes as the head's */
    static char req[65536 + 256];
    int n = snprintf(req, sizeof(req),
                     "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n10000\r\n");
    memset(req + n, 'x', 65536);
    static const char end[] = "\r\n0\r\nX-T: 1\r\n\r\n";
    memcpy(req + n + 65536, end, sizeof(end) - 1);
    open_conn(&t, 1 << 20);
    ql__h1_input(&t.h1, req, (size_t)n + 65536 + sizeof(end) - 1);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 0);
    ql__h1_cleanup(&t.h1);
}

/*
 * Once answered, a request's memory (its body, say) is not kept while the connection idles,
 * nor a limit its handler lifted.
 */
static void test_an_idle_connection_keeps_nothing_of_its_request(void)
{
    struct tconn t;
    open_conn(&t, 1 << 20);
    feed_chunked(&t, 8, 65536);
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_TRUE(ql_arena_held(&t.h1.arena) > (512 << 10));
    size_t limit = t.h1.arena.limit;
    ql__req_room(&t.req, (size_t)64 << 20); /* as a page of large entries does */
    ASSERT_TRUE(t.h1.arena.limit >= ((size_t)64 << 20));
    answer(&t, 422, "no");
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ASSERT_TRUE(ql_arena_held(&t.h1.arena) <= 4096);
    ASSERT_INT_EQ(t.h1.arena.limit, limit); /* the lifted limit was the request's only */
    /* and the next request on it is read as usual */
    feed(&t, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_STR_EQ(t.paths[1], "/next");
    ql__h1_cleanup(&t.h1);
    /* nor while it closes after refusing a body that grew too large */
    open_conn(&t, 1 << 20);
    feed_chunked(&t, 20, 65536);
    ASSERT_INT_EQ(t.errors[0], 413);
    ASSERT_TRUE(ql_arena_held(&t.h1.arena) > (1 << 20));
    answer(&t, 413, "too large");
    ASSERT_INT_EQ(t.h1.state, QL__H1_CLOSING);
    ASSERT_TRUE(ql_arena_held(&t.h1.arena) <= 4096);
    ql__h1_cleanup(&t.h1);
}

static void test_http_1_0_closes_unless_kept_alive(void)
{
    struct tconn t;
    open_conn(&t, 16);
    feed(&t, "GET /x HTTP/1.0\r\n\r\n");
    answer(&t, 200, "x");
    ASSERT_NOT_NULL(strstr(out(&t), "Connection: close"));
    ASSERT_INT_EQ(t.h1.state, QL__H1_CLOSING);
    ql__h1_cleanup(&t.h1);
    open_conn(&t, 16);
    feed(&t, "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    answer(&t, 200, "x");
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ql__h1_cleanup(&t.h1);
}

static void test_deadlines_follow_the_phase(void)
{
    struct tconn t;
    open_conn(&t, 16);
    /* a new connection must send its head within the header timeout */
    ASSERT_INT_EQ(ql__h1_expired(&t.h1, t.clock.mono_ns / 1000000 + 999), 0);
    ASSERT_INT_EQ(ql__h1_expired(&t.h1, t.clock.mono_ns / 1000000 + 1000), 1);
    fake_clock_advance(&t.clock, 500);
    feed(&t, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n");
    /* in the body: the body timeout, from now */
    int64_t now = t.clock.mono_ns / 1000000;
    ASSERT_INT_EQ(t.h1.deadline_ms, now + 2000);
    feed(&t, "abcd");
    ASSERT_INT_EQ(t.h1.deadline_ms, 0); /* answering has no deadline */
    fake_clock_advance(&t.clock, 100000);
    ASSERT_INT_EQ(ql__h1_expired(&t.h1, t.clock.mono_ns / 1000000), 0);
    answer(&t, 204, "");
    ASSERT_INT_EQ(t.h1.deadline_ms, t.clock.mono_ns / 1000000 + 3000); /* idle */
    ql__h1_cleanup(&t.h1);
}

/*
 * Empty lines between requests are skipped (RFC 9112 2.2) but begin nothing: they do not
 * move the deadline, or a client could hold a connection for good with one every second.
 */
static void test_bare_line_ends_do_not_keep_a_connection(void)
{
    struct tconn t;
    open_conn(&t, 16);
    feed(&t, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    answer(&t, 204, "");
    int64_t idle_end = t.clock.mono_ns / 1000000 + t.lim.idle_timeout_ms;
    while (t.clock.mono_ns / 1000000 < idle_end + 900) {
        fake_clock_advance(&t.clock, 900);
        feed(&t, "\r\n");
    }
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ASSERT_INT_EQ(ql__h1_expired(&t.h1, t.clock.mono_ns / 1000000), 1);
    ql__h1_cleanup(&t.h1);
    /* nor on a new connection, whose first request's head is due within the header timeout */
    open_conn(&t, 16);
    for (int i = 0; i < 3; i++) {
        fake_clock_advance(&t.clock, 400);
        feed(&t, "\r\n");
    }
    ASSERT_INT_EQ(ql__h1_expired(&t.h1, t.clock.mono_ns / 1000000), 1);
    ql__h1_cleanup(&t.h1);
    /* a request that does begin gets the whole header timeout from its first byte */
    open_conn(&t, 16);
    feed(&t, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    answer(&t, 204, "");
    fake_clock_advance(&t.clock, 2500);
    feed(&t, "\r\nG");
    ASSERT_INT_EQ(t.h1.state, QL__H1_HEAD);
    ASSERT_INT_EQ(t.h1.deadline_ms, t.clock.mono_ns / 1000000 + t.lim.header_timeout_ms);
    ql__h1_cleanup(&t.h1);
}

/* A client that pipelines and never reads: output and held input stay bounded. */
static void test_unread_output_stops_parsing_until_sent(void)
{
    struct tconn t;
    open_conn(&t, 16);
    char body[60001]; /* with its head, a little over 60,000 bytes per response */
    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    for (int i = 0; i < 20; i++)
        feed(&t, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    int answered = 0;
    while (t.requests > answered) {
        answer(&t, 200, body);
        answered++;
        /* the owner hands everything to the socket, which takes nothing */
        t.h1.in_flight += t.h1.out.len;
        t.h1.out.len = 0;
    }
    /* it stopped once more than QL__H1_OUT_MAX was unsent, with requests still held */
    ASSERT_INT_EQ(answered, (int)(QL__H1_OUT_MAX / sizeof(body)) + 1);
    ASSERT_TRUE(t.h1.held.len > t.h1.held_off);
    ASSERT_INT_EQ(ql__h1_wants_input(&t.h1), 0);
    /* the socket drains: parsing goes on */
    ql__h1_sent(&t.h1, t.h1.in_flight);
    ASSERT_INT_EQ(t.requests, answered + 1);
    ASSERT_INT_EQ(ql__h1_wants_input(&t.h1), 1);
    ql__h1_cleanup(&t.h1);
}

/*
 * A response past QL__H1_OUT_MAX pauses parsing; an owner that writes it all inside
 * ops->output (as conn.c does when the socket takes it) reports nothing, and the requests
 * held behind it must still be parsed: after the answer, and after a write that finished.
 */
static void test_output_written_at_once_lets_parsing_go_on(void)
{
    static char big[QL__H1_OUT_MAX + 1];
    memset(big, 'b', sizeof(big) - 1);
    struct tconn t;
    open_conn(&t, sizeof(big)); /* an arena with room for the response */
    t.h1.ops = &writing_ops;
    for (int i = 0; i < 3; i++)
        feed(&t, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    answer(&t, 200, big); /* written at once */
    ASSERT_INT_EQ(t.requests, 2);
    /* a write is in flight: the next response waits in out, past the bound */
    t.socket_busy = 1;
    t.h1.in_flight = 10;
    answer(&t, 200, big);
    ASSERT_INT_EQ(t.requests, 2);
    t.socket_busy = 0;
    ql__h1_sent(&t.h1, 10); /* the write finished: what waited goes out at once */
    ASSERT_INT_EQ(t.requests, 3);
    ql__h1_cleanup(&t.h1);
}

static void test_input_held_while_answering_is_bounded(void)
{
    struct tconn t;
    open_conn(&t, 16);
    feed(&t, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(ql__h1_wants_input(&t.h1), 1);
    char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    size_t fed = 0;
    while (ql__h1_wants_input(&t.h1)) {
        ql__h1_input(&t.h1, chunk, sizeof(chunk));
        fed += sizeof(chunk);
        ASSERT_TRUE(fed <= QL__H1_HELD_MAX + sizeof(chunk));
    }
    ASSERT_INT_EQ(t.requests, 1);
    ql__h1_cleanup(&t.h1);
}

/*
 * A client that always has more requests queued: the input parsed is dropped as it goes, so
 * what is held stays within its bound however long the pipeline runs.
 */
static void test_steady_pipelining_holds_no_parsed_input(void)
{
    struct tconn t;
    open_conn(&t, 16);
    t.h1.ops = &writing_ops;
    static const char req[] = "GET /p HTTP/1.1\r\nHost: h\r\n\r\n";
    for (int i = 0; i < 3; i++)
        feed(&t, req);
    ASSERT_INT_EQ(t.requests, 1);
    for (int i = 0; i < 100000; i++) {
        answer(&t, 200, "ok");
        feed(&t, req);
        ASSERT_TRUE(t.h1.held.cap <= 2 * QL__H1_HELD_MAX);
    }
    ASSERT_INT_EQ(t.requests, 100001);
    ASSERT_INT_EQ(t.h1.held.len - t.h1.held_off, 2 * (sizeof(req) - 1)); /* two still queued */
    ql__h1_cleanup(&t.h1);
}

/* The socket closes while a request is answered: its answer is the last, nothing more is parsed. */
static void test_nothing_is_parsed_after_a_shutdown(void)
{
    struct tconn t;
    open_conn(&t, 16);
    feed(&t, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ql__h1_shutdown(&t.h1);
    ASSERT_INT_EQ(t.h1.state, QL__H1_CLOSING);
    answer(&t, 200, "one");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.h1.state, QL__H1_CLOSING);
    ql__h1_cleanup(&t.h1);
}

/*
 * Upgrade is ignored (curl --http2 on http:// asks for h2c): the request is answered as any
 * other, and the connection goes on with HTTP/1.1, whether the next request came later or
 * was sent right behind it.
 */
static void test_an_upgrade_request_is_answered_and_the_connection_goes_on(void)
{
    struct tconn t;
    open_conn(&t, 1024);
    feed(&t, "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 0);
    answer(&t, 200, "up");
    feed(&t, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_INT_EQ(t.errors[1], 0);
    ASSERT_STR_EQ(t.paths[1], "/next");
    answer(&t, 200, "next");
    const char *o = out(&t), *second = strstr(o + 1, "HTTP/1.1 ");
    ASSERT_NOT_NULL(second);
    ASSERT_TRUE(strncmp(second, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ASSERT_NULL(strstr(o, "Connection: close"));
    ASSERT_INT_EQ(t.h1.state, QL__H1_IDLE);
    ql__h1_cleanup(&t.h1);
    /* with a body, and the next request pipelined behind it */
    open_conn(&t, 1024);
    feed(&t, "POST /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
             "Content-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.req.body.n, 3);
    answer(&t, 200, "up");
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_INT_EQ(t.errors[1], 0);
    ASSERT_STR_EQ(t.paths[1], "/next");
    ql__h1_cleanup(&t.h1);
}

/* What a lenient parser lets through, and a proxy in front may read otherwise (smuggling). */
static void test_ambiguous_requests_are_refused(void)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        /* a folded (obs-fold) Transfer-Encoding */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n", 400},
        /* a coding other than chunked: not implemented (RFC 9112 6.1) */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
        /* chunked not last: the length cannot be known (RFC 9112 6.3) */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400},
        /* a space in a header name */
        {"GET / HTTP/1.1\r\nHost: h\r\nX Bad: 1\r\n\r\n", 400},
        /* HTTP/1.1 without Host, or with two */
        {"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        /* an HTTP/0.9 request line */
        {"GET /\r\n\r\n", 400},
        /* two Authorization headers, two Content-Lengths, both lengths and chunked */
        {"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         400},
        /* a control byte in a header value */
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", 400},
        /* a chunk's data not followed by CRLF: a lenient parser skips any two bytes */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
         400},
        /* a line ended by a bare LF: llhttp 8.1 reads it as CRLF, even in strict mode */
        {"GET / HTTP/1.1\nHost: h\r\n\r\n", 400}, /* the request line */
        {"GET / HTTP/1.1\r\nHost: h\r\n\n", 400}, /* the empty line that ends the head */
        {"GET / HTTP/1.0\n\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n", 400}, /* between headers: llhttp's */
        {"GET / HTTP/1.1\r\nHost: h\r\nX-A:\nX-B: 1\r\n\r\n", 400},
        {"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400}, /* an empty line before it */
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\nx", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", 400},
        /* CONNECT: llhttp reads what follows its head as a tunnel, not as its body */
        {"CONNECT /p HTTP/1.1\r\nHost: h\r\nContent-Length: 27\r\n\r\nGET /s HTTP/1.1\r\nHost: "
         "h\r\n\r\n",
         400},
        {"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 400},
        /* a fragment is not part of a request target (RFC 9112 3.2) */
        {"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a?x=1#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* HTTP/1.0 with Transfer-Encoding: faulty framing (RFC 9112 6.1) */
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    };
    int wrong = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tconn t;
        open_conn(&t, 1024);
        feed(&t, cases[i].req);
        if (t.requests != 1 || t.errors[0] != cases[i].status || t.h1.keepalive) {
            printf("# case %zu: %d requests, status %d, keep-alive %d\n", i, t.requests,
                   t.errors[0], t.h1.keepalive);
            wrong++;
        }
        ql__h1_cleanup(&t.h1);
    }
    ASSERT_INT_EQ(wrong, 0); /* each is answered with its status, and the connection closes */
    /* a fold is found when it arrives a byte at a time, too */
    struct tconn f;
    open_conn(&f, 1024);
    const char *fold = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a,\r\n\tb\r\n\r\n";
    for (size_t i = 0; fold[i]; i++)
        ql__h1_input(&f.h1, fold + i, 1);
    ASSERT_INT_EQ(f.requests, 1);
    ASSERT_INT_EQ(f.errors[0], 400);
    ql__h1_cleanup(&f.h1);
    /* a bare LF is found when it arrives a byte at a time, and CRLF split in two is fine */
    const char *bare = "GET / HTTP/1.1\r\nHost: h\r\n\n";
    open_conn(&f, 1024);
    for (size_t i = 0; bare[i]; i++)
        ql__h1_input(&f.h1, bare + i, 1);
    ASSERT_INT_EQ(f.requests, 1);
    ASSERT_INT_EQ(f.errors[0], 400);
    ql__h1_cleanup(&f.h1);
    /* HTTP/1.0 may leave Host out; one Authorization is fine */
    struct tconn t;
    open_conn(&t, 1024);
    feed(&t, "GET / HTTP/1.0\r\nAuthorization: Bearer a\r\n\r\n");
    ASSERT_INT_EQ(t.requests, 1);
    ASSERT_INT_EQ(t.errors[0], 0);
    ql__h1_cleanup(&t.h1);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_request_split_into_single_bytes),
        TEST(test_ambiguous_requests_are_refused),
        TEST(test_a_body_in_pieces_and_chunked),
        TEST(test_pipelined_requests_are_answered_in_order),
        TEST(test_limits_are_answered_and_close),
        TEST(test_a_chunked_body_of_exactly_the_limit),
        TEST(test_an_idle_connection_keeps_nothing_of_its_request),
        TEST(test_http_1_0_closes_unless_kept_alive),
        TEST(test_deadlines_follow_the_phase),
        TEST(test_bare_line_ends_do_not_keep_a_connection),
        TEST(test_unread_output_stops_parsing_until_sent),
        TEST(test_output_written_at_once_lets_parsing_go_on),
        TEST(test_input_held_while_answering_is_bounded),
        TEST(test_steady_pipelining_holds_no_parsed_input),
        TEST(test_nothing_is_parsed_after_a_shutdown),
        TEST(test_an_upgrade_request_is_answered_and_the_connection_goes_on),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
