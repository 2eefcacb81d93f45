/*
 * stream_bench.h - what the parts of quill-stream-bench share (stream_bench.c: options,
 * phases and the report; stream_sse.c: the streams and their events; stream_writers.c: the
 * writer thread).  See stream_bench.c for what the program measures.
 */
#ifndef QL_STREAM_BENCH_H
#define QL_STREAM_BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LINE_MAX_LEN 16384

struct opts {
    int port, streams, users_from, users_to, writer, interval_ms, seconds, writers, warm_seconds;
    int drain_ms, timeout_s;
    long pid;
    const char *team;
};

extern struct opts o;
extern uv_loop_t *loop;            /* the main loop: the streams */
extern const char *volatile phase; /* for messages */
int64_t now_ns(void);
void die(const char *what, const char *detail);

/* ---- the writes (written by the writer thread) ---- */
extern int64_t *sent_ns;     /* per write k */
extern int64_t *answered_ns; /* per write k */
extern atomic_int answered;  /* answers so far (the arrays are complete below it) */
extern atomic_int write_errors, late, writers_ready;
extern int reconnects; /* read after writers_stop */
extern int write_base; /* first k of the measured phase (the warm-up's come before) */
extern int nwrites;    /* writes of the measured phase */

void writers_start(void);
void writers_batch(int first, int count); /* k = first .. first + count - 1, paced from now */
void writers_stop(void);

/* ---- the streams ---- */
struct event {
    int32_t k;
    int64_t at;
};

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

extern struct event *events;
extern size_t nevents, events_cap;
extern long events_dropped, stray;
extern struct sconn *sc;
extern int started, connecting, opened, closed_streams, failed_streams;
extern int stream_phase_target; /* how many to open in the current phase */

void open_more(void); /* connect streams up to stream_phase_target */
void close_streams(int from, int to);

#endif
