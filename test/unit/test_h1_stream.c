/*
 * Unit tests of streaming responses on the HTTP/1.1 connection (adapters/http/h1.c):
 * chunks, the end of a stream, HEAD, and chunks going straight to the socket (send_now)
 * without ever overtaking the bytes that wait before them.
 */
#include "h1_world.h"

/* Open t with owner o, feed it requests, and answer the first with a stream. */
static void open_stream(struct tconn *t, const struct ql__h1_ops *o, const char *requests)
{
    open_conn(t, 16);
    t->h1.ops = o;
    feed(t, requests);
    t->req.status = 200;
    t->req.content_type = "text/event-stream";
    ql__h1_stream_open(&t->h1);
}

static void test_a_stream_is_chunked_and_the_connection_goes_on(void)
{
    struct tconn t;
    open_stream(&t, &ops,
                "GET /s HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_INT_EQ(t.h1.state, QL__H1_STREAM);
    ASSERT_NOT_NULL(strstr(out(&t), "Transfer-Encoding: chunked\r\n"));
    ASSERT_NULL(strstr(out(&t), "Content-Length"));
    t.h1.out.len = 0;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 1\n\n", 9, QL__H1_OUT_MAX), 0);
    ASSERT_STR_EQ(out(&t), "9\r\ndata: 1\n\n\r\n");
    ASSERT_INT_EQ(t.requests, 1); /* the next request waits for the stream's end */
    /* a reader too slow for the bound: the write is refused, nothing is added */
    t.h1.in_flight = QL__H1_OUT_MAX;
    size_t before = t.h1.out.len;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "x", 1, QL__H1_OUT_MAX), -1);
    ASSERT_INT_EQ(t.h1.out.len, before);
    t.h1.in_flight = 0;
    t.h1.out.len = 0;
    ql__h1_stream_close(&t.h1);
    ASSERT_TRUE(strncmp(out(&t), "0\r\n\r\n", 5) == 0);
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_STR_EQ(t.paths[1], "/after");
    ql__h1_cleanup(&t.h1);
}

/* HEAD maps to GET routes, so a stream may answer one: its head goes out, never a body. */
static void test_a_stream_answering_head_sends_no_body(void)
{
    struct tconn t;
    open_stream(&t, &ops,
                "HEAD /s HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_NOT_NULL(strstr(out(&t), "Transfer-Encoding: chunked\r\n")); /* the head a GET gets */
    size_t head = t.h1.out.len;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 1\n\n", 9, QL__H1_OUT_MAX), 0);
    ql__h1_stream_close(&t.h1);
    ASSERT_INT_EQ(t.h1.out.len, head); /* no chunk and no last chunk */
    ASSERT_INT_EQ(t.requests, 2);
    ASSERT_STR_EQ(t.paths[1], "/after");
    ql__h1_cleanup(&t.h1);
}

/* Open a stream on t with sending_ops, its head taken by the socket. */
static void open_sending_stream(struct tconn *t)
{
    open_stream(t, &sending_ops, "GET /s HTTP/1.1\r\nHost: h\r\n\r\n");
    t->h1.out.len = 0;
    t->sock_len = 0;
    t->send_nows = 0;
}

/* A chunk the socket takes whole goes straight to it: nothing is copied into out. */
static void test_a_stream_chunk_the_socket_takes_is_not_copied(void)
{
    struct tconn t;
    open_sending_stream(&t);
    t.sock_room = sizeof(t.sock);
    size_t cap = t.h1.out.cap;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 1\n\n", 9, QL__H1_OUT_MAX), 0);
    ASSERT_INT_EQ(t.send_nows, 1);
    ASSERT_INT_EQ(t.h1.out.len, 0);
    ASSERT_INT_EQ(t.h1.out.cap, cap); /* out did not grow */
    ASSERT_INT_EQ(t.sock_len, 14);
    ASSERT_TRUE(memcmp(t.sock, "9\r\ndata: 1\n\n\r\n", 14) == 0);
    ql__h1_cleanup(&t.h1);
}

/*
 * The socket takes part of a chunk: the rest waits in out, in order, and the next chunk
 * queues behind it instead of overtaking it on the socket.
 */
static void test_a_stream_chunk_the_socket_takes_in_part_keeps_its_order(void)
{
    for (size_t room = 0; room < 14; room++) {
        struct tconn t;
        open_sending_stream(&t);
        t.sock_room = room;
        ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 1\n\n", 9, QL__H1_OUT_MAX), 0);
        ASSERT_INT_EQ(t.sock_len, room);
        t.sock_room = sizeof(t.sock);
        ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 2\n\n", 9, QL__H1_OUT_MAX), 0);
        ASSERT_INT_EQ(t.send_nows, 1); /* out was not empty: the second chunk was not offered */
        char all[64];
        memcpy(all, t.sock, t.sock_len);
        memcpy(all + t.sock_len, t.h1.out.data, t.h1.out.len);
        ASSERT_INT_EQ(t.sock_len + t.h1.out.len, 28);
        ASSERT_TRUE(memcmp(all, "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n", 28) == 0);
        ql__h1_cleanup(&t.h1);
    }
}

/* While a write is in flight nothing is offered to the socket: it would overtake it. */
static void test_a_stream_chunk_waits_behind_a_write_in_flight(void)
{
    struct tconn t;
    open_sending_stream(&t);
    t.sock_room = sizeof(t.sock);
    t.h1.in_flight = 10;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "data: 1\n\n", 9, QL__H1_OUT_MAX), 0);
    ASSERT_INT_EQ(t.send_nows, 0);
    ASSERT_STR_EQ(out(&t), "9\r\ndata: 1\n\n\r\n");
    t.h1.in_flight = 0;
    ql__h1_cleanup(&t.h1);
}

/*
 * A reader that takes nothing holds at most the bound: a write that would take what
 * waits past it is refused whole, however large; with nothing waiting, one larger than
 * the bound still goes (a single event may be).
 */
static void test_a_stream_write_is_refused_past_the_bound_whatever_its_size(void)
{
    struct tconn t;
    open_sending_stream(&t);
    t.sock_room = 0; /* the client reads nothing */
    size_t big = 4 << 20;
    char *chunk = malloc(big);
    ASSERT_NOT_NULL(chunk);
    memset(chunk, 'x', big);
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, chunk, 60 * 1024, QL__H1_OUT_MAX), 0);
    size_t waiting = t.h1.out.len;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, chunk, big, QL__H1_OUT_MAX), -1);
    ASSERT_INT_EQ(t.h1.out.len, waiting);
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, chunk, QL__H1_OUT_MAX - waiting + 1, QL__H1_OUT_MAX),
                  -1);
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, chunk, 1000, QL__H1_OUT_MAX), 0); /* fits */
    ql__h1_cleanup(&t.h1);

    open_sending_stream(&t);
    t.sock_room = 0;
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, chunk, big, QL__H1_OUT_MAX), 0);
    ASSERT_TRUE(t.h1.out.len > big);
    ASSERT_INT_EQ(ql__h1_stream_write(&t.h1, "x", 1, QL__H1_OUT_MAX), -1);
    ql__h1_cleanup(&t.h1);
    free(chunk);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_a_stream_is_chunked_and_the_connection_goes_on),
        TEST(test_a_stream_answering_head_sends_no_body),
        TEST(test_a_stream_chunk_the_socket_takes_is_not_copied),
        TEST(test_a_stream_chunk_the_socket_takes_in_part_keeps_its_order),
        TEST(test_a_stream_write_is_refused_past_the_bound_whatever_its_size),
        TEST(test_a_stream_chunk_waits_behind_a_write_in_flight),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
