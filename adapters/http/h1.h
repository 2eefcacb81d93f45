/*
 * h1.h - one HTTP/1.1 connection without I/O (internal to adapters/http).
 *
 * A connection is fed the bytes that arrive (ql__h1_input) and hands out the bytes to send
 * (its `out` buffer); it never touches a socket, so tests drive it byte by byte.  It parses
 * with llhttp, assembles one request at a time, enforces the limits on the header block and
 * the body, writes each response into `out` in request order, and keeps the deadline of the
 * phase it is in.  conn.c moves its bytes over a libuv socket; exec.c answers its requests.
 *
 * Pipelining: the parser pauses after every complete request, which is handed to
 * ops->request; bytes that arrive while it is answered wait in `held`.  When the answer
 * comes (ql__h1_respond, always later, never inside ops->request) the owner gets its turn to
 * send (ops->output), then the next held request is parsed, unless the output not yet sent
 * has passed QL__H1_OUT_MAX: then parsing waits until the owner reports the output sent
 * (ql__h1_sent).  What the owner takes from `out` inside ops->output is sent as far as the
 * connection knows, less what it counts in `in_flight`; what it writes later it reports.
 * So a client that pipelines without reading costs at most QL__H1_HELD_MAX of input and
 * QL__H1_OUT_MAX of output.
 *
 * States (enum ql__h1_state) and what moves between them:
 *   IDLE  --first byte-->  HEAD  --headers-->  BODY  --complete-->  BUSY  (ops->request)
 *   BUSY  --ql__h1_respond-->  IDLE (keep-alive) or CLOSING
 *   BUSY  --ql__h1_stream_open-->  STREAM  --ql__h1_stream_close-->  IDLE or CLOSING
 *   any   --parse error, limit, timeout-->  CLOSING (after an error response when one fits)
 * CLOSING means: send what is in `out`, then close; nothing more is parsed.
 */
#ifndef QL_HTTP_H1_H
#define QL_HTTP_H1_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"

struct ql_clock;
struct ql_http_req;

enum ql__h1_state {
    QL__H1_IDLE,    /* between requests: the idle timeout runs */
    QL__H1_HEAD,    /* inside a request's head: the header timeout runs */
    QL__H1_BODY,    /* inside its body: the body timeout runs */
    QL__H1_BUSY,    /* the request is being answered; bytes that arrive are held */
    QL__H1_STREAM,  /* a streaming response is open; bytes that arrive are held */
    QL__H1_CLOSING, /* no more requests: send what is in out, then close */
};

/*
 * Input held while a request is answered, and output not yet sent, past which we wait.  The
 * kernel's send buffer is the real output buffer; what waits here beyond it is only memory,
 * which a hundred clients that do not read multiply (test/e2e/hostile.test.mjs).
 */
#define QL__H1_HELD_MAX (256 * 1024)
#define QL__H1_OUT_MAX (64 * 1024)
#define QL__H1_HEAD_MAX (16 * 1024)
#define QL__H1_MAX_HEADERS 64

struct ql__h1_limits {
    size_t max_body;
    int header_timeout_ms;
    int body_timeout_ms;
    int idle_timeout_ms;
    int write_timeout_ms;
    int hsts; /* send Strict-Transport-Security (the public URL is https) */
};

struct ql__h1;

/* A run of bytes to send, borrowed (see send_now). */
struct ql__h1_part {
    const char *p;
    size_t n;
};

struct ql__h1_ops {
    /* A request is complete in c->req: answer it later with ql__h1_respond (or a stream). */
    void (*request)(struct ql__h1 *c);
    /* There are new bytes in c->out, or the state changed: send, or close when CLOSING. */
    void (*output)(struct ql__h1 *c);
    /*
     * Optional: write parts[0..n) to the socket now, as far as it takes them without
     * waiting, and return how many bytes it took (0 when it took none or is broken: the
     * rest goes through out, where a broken socket shows).  Called only when nothing waits
     * in out or in flight, so the bytes keep their order.  A stream's chunks go this way:
     * a chunk the socket takes whole is never copied, and out does not grow to its size
     * on every one of a thousand streams.
     */
    size_t (*send_now)(struct ql__h1 *c, const struct ql__h1_part *parts, int n);
};

struct ql__h1_hoff {
    uint32_t no, nl, vo, vl;
};

struct ql__h1 {
    enum ql__h1_state state;
    const struct ql__h1_ops *ops;
    const struct ql__h1_limits *lim;
    struct ql_clock *clock;
    const char *date; /* "Date: ...\r\n", kept current by the owner (borrowed) */
    const size_t *date_len;
    llhttp_t parser;
    struct ql_arena arena;   /* the current request's memory, reset per request */
    struct ql_http_req *req; /* the owner's request record, filled per request */
    struct ql_buf head;      /* URL, then header names and values (arena) */
    uint32_t url_len;
    int nh;
    int last_was_value;
    const char *exec_start; /* the data of the llhttp_execute running now */
    const char *scan;       /* in it, where the bytes not yet checked for a bare LF begin */
    size_t head_before;     /* bytes of the current head that earlier executes consumed */
    char last_byte;         /* the last byte an earlier llhttp_execute consumed */
    int lf_after_span;      /* an earlier execute consumed an LF after the last span */
    struct ql__h1_hoff hoff[QL__H1_MAX_HEADERS];
    int error_status; /* 400, 413, 431, 501 decided inside a parser callback */
    struct ql_buf body;
    size_t ext_len;     /* bytes of chunk extensions in the body: they count as its bytes */
    struct ql_buf held; /* input that arrived while a request was answered (heap) */
    size_t held_off;
    struct ql_buf out;   /* bytes to send, in order (heap) */
    size_t in_flight;    /* bytes handed to the socket, not yet written (the owner's count) */
    int keepalive;       /* the current request allows another after it */
    int64_t deadline_ms; /* monotonic; 0: none */
};

/*
 * Start a connection: req (borrowed) is where requests are assembled; date and date_len
 * point at the owner's current Date header line.  On failure (QL_ENOMEM) nothing is left to
 * clean up.
 */
int ql__h1_init(struct ql__h1 *c, const struct ql__h1_ops *ops, const struct ql__h1_limits *lim,
                struct ql_clock *clock, const char *date, const size_t *date_len,
                struct ql_http_req *req);
void ql__h1_cleanup(struct ql__h1 *c);

/* Bytes arrived.  Complete requests go to ops->request, one at a time. */
void ql__h1_input(struct ql__h1 *c, const char *data, size_t n);

/*
 * Answer the current request with c->req's response (status, headers, body), and go on with
 * held input.  Call it later than ops->request, never inside it.
 */
void ql__h1_respond(struct ql__h1 *c);

/*
 * Instead of ql__h1_respond: send the response head of c->req with a chunked body that
 * stays open.  Writes are chunks; close ends the body (and, after that, the connection
 * goes on like after any response).  write returns -1 (and writes nothing) when output
 * not yet sent waits and n more bytes would take it past max: the reader is too slow, close
 * the stream (with nothing waiting, any n goes: one event may be larger).  The stream of
 * a HEAD request sends its head only: its writes and its end add nothing.
 */
void ql__h1_stream_open(struct ql__h1 *c);
int ql__h1_stream_write(struct ql__h1 *c, const char *data, size_t n, size_t max);
void ql__h1_stream_close(struct ql__h1 *c);

/*
 * The owner wrote n bytes of what it took from out: it gets its turn to send what waited in
 * out meanwhile, and parsing resumes if output was the limit.  Not inside ops->output.
 */
void ql__h1_sent(struct ql__h1 *c, size_t n);

/* 1 when the owner should read from the socket now. */
int ql__h1_wants_input(const struct ql__h1 *c);

/* The peer closed its side, or now_ms passed the deadline: go to CLOSING. */
void ql__h1_shutdown(struct ql__h1 *c);
/* 1 when the deadline has passed at monotonic time now_ms. */
int ql__h1_expired(const struct ql__h1 *c, int64_t now_ms);

/* While answering, stop further requests: the response says Connection: close. */
void ql__h1_no_more(struct ql__h1 *c);

/*
 * Between h1.c and h1_out.c.  ql__h1_forget: let go of the last request's memory (the
 * arena back to its first chunk and its usual limit).  ql__h1_set_deadline: the deadline
 * ms from now (0: none).  ql__h1_parse_held: parse what waits in held, as far as the state
 * allows.
 */
void ql__h1_forget(struct ql__h1 *c);
void ql__h1_set_deadline(struct ql__h1 *c, int ms);
void ql__h1_parse_held(struct ql__h1 *c);

/*
 * h1_strict.c, for h1.c: what a proxy in front might read otherwise (request smuggling).
 * ql__h1_folded: 1 when the header value span at `at` follows a folded line (obs-fold).
 * ql__h1_strict: the status to refuse a complete head with (400, 501), or 0.
 */
int ql__h1_folded(const struct ql__h1 *c, const char *at);
int ql__h1_strict(const llhttp_t *p, const struct ql_http_req *r);

/* "Bad Request" for 400 and the like (for status lines and problem titles). */
const char *ql__http_reason(int status);

#endif
