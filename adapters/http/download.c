/*
 * download.c - a ready export's document sent as it is read (GET /v1/me/exports/{exportId}):
 * a chunked response that reads the stored document from the database one part (about 256
 * KiB, see core/rights/export_build.c) at a time, on the pool, and writes each part as the
 * client takes the previous one.
 *
 * So a download holds one part and at most QL__STREAM_OUT_MAX of output not yet sent,
 * whatever the document's size (QUILL_EXPORT_MAX_MB), and a client that stops reading stops
 * the reads (backpressure) until it reads again or the write timeout closes its connection.
 * The next part is read while the last one drains.  A download that ends early (the client
 * went, the export was deleted meanwhile, the database failed) closes the connection without
 * the body's last chunk, so the client sees an incomplete response, never a short document.
 * A stopping server lets downloads finish until its shutdown timeout, as it does requests.
 *
 * Lifetime: a download is heap memory of its own, not its request's: a read may still run
 * on the pool when its client goes, and the request's memory goes with the connection.  It
 * is freed when its stream has ended and no read of it is on the pool.
 */
#include "internal.h"

#include "arena/arena.h"
#include "err/err.h"
#include "rights/rights.h"

#include <stdlib.h>
#include <string.h>

/* What a download waits for; only READ has a pool task in flight. */
enum dl_state {
    DL_READ,    /* a part is being read on the pool */
    DL_WRITE,   /* a part is read: written as the client takes what went before */
    DL_STALLED, /* the pool was full: the sweep asks again */
    DL_POUR,    /* inside a write (put): an end it causes leaves d to put */
};

struct ql__download {
    struct ql_http_req *r; /* NULL once the stream ended */
    struct ql__loop *loop;
    struct ql__download *next_stalled;
    enum dl_state state;
    struct ql_export e;
    const char *head; /* the export's fields and "data": (the request's arena) */
    size_t head_n;
    struct ql__task task;
    struct ql_ctx cx;
    struct ql_arena arena; /* the part read last */
    int part;              /* its number (-1: none yet) */
    const char *data;      /* its text (arena); NULL: the document ended */
    size_t n, off;         /* its length, and how much of it was written */
    int64_t sent;          /* bytes of the document written */
    int rc;
};

static void dl_free(struct ql__download *d)
{
    ql_arena_cleanup(&d->arena);
    free(d);
}

static void unstall(struct ql__download *d)
{
    for (struct ql__download **p = &d->loop->downloads.stalled; *p; p = &(*p)->next_stalled) {
        if (*p == d) {
            *p = d->next_stalled;
            break;
        }
    }
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static void read_run(struct ql__task *task, struct ql_ports *ports)
{
    struct ql__download *d =
        (struct ql__download *)((char *)task - offsetof(struct ql__download, task));
    ql_arena_reset(&d->arena);
    memset(&d->cx, 0, sizeof(d->cx));
    d->cx.arena = &d->arena;
    d->cx.ports = *ports;
    d->off = 0;
    d->rc = ql_export_piece(&d->cx, &d->e, &d->part, &d->data, &d->n);
}

static void read_done(struct ql__task *task);

/* Read the next part, or wait for the sweep when the pool is full. */
static void read_next(struct ql__download *d)
{
    d->task = (struct ql__task){NULL, read_run, read_done, d->loop};
    if (ql__pool_submit(&d->loop->server->pool, &d->task) != QL_OK) {
        d->state = DL_STALLED;
        d->next_stalled = d->loop->downloads.stalled;
        d->loop->downloads.stalled = d;
        return;
    }
    d->state = DL_READ;
    d->loop->downloads.reading++;
}

/* ---- writing ----------------------------------------------------------------------------------
 */

/*
 * Write n bytes to d's stream: 0, or -1 when the stream ended, and d is freed.  A write that
 * finds the socket gone ends the stream inside the call: on_close leaves d to this then.
 */
static int put(struct ql__download *d, const char *p, size_t n)
{
    d->state = DL_POUR;
    int rc = ql__req_stream_write(d->r, p, n);
    d->state = DL_WRITE;
    if (d->r == NULL) {
        dl_free(d);
        return -1;
    }
    if (rc != 0) {
        ql__exec_stream_abort(d->r); /* frees d */
        return -1;
    }
    return 0;
}

/*
 * Write what the client has room for of the part read last: pieces of at most
 * QL__STREAM_OUT_MAX while less than that waits unsent.  Once all of it is written, read the
 * next part while it drains; at the document's end, close its object and the body.  May end
 * the stream, and free d with it.
 */
static void pour(struct ql__download *d)
{
    while (d->data && d->off < d->n) {
        size_t k = d->n - d->off, unsent = ql__req_stream_unsent(d->r);
        if (k > QL__STREAM_OUT_MAX)
            k = QL__STREAM_OUT_MAX;
        if (unsent > 0 && unsent + k > QL__STREAM_OUT_MAX)
            return; /* on_drain comes back */
        if (put(d, d->data + d->off, k) != 0)
            return;
        d->off += k;
        d->sent += (int64_t)k;
    }
    if (d->data) {
        read_next(d);
        return;
    }
    if (ql__req_stream_unsent(d->r) + 1 > QL__STREAM_OUT_MAX)
        return; /* on_drain comes back for the last brace */
    /* a document that lost parts meanwhile (the export was deleted) is cut off */
    if (d->sent != d->e.bytes)
        ql__exec_stream_abort(d->r); /* frees d */
    else if (put(d, "}", 1) == 0)
        ql__req_stream_end(d->r); /* frees d */
}

static void read_done(struct ql__task *task)
{
    struct ql__download *d =
        (struct ql__download *)((char *)task - offsetof(struct ql__download, task));
    d->loop->downloads.reading--;
    if (d->r == NULL) { /* the client went while it read */
        dl_free(d);
        return;
    }
    d->state = DL_WRITE;
    if (d->rc != QL_OK) {
        ql__exec_stream_abort(d->r);
        return;
    }
    pour(d);
}

/* The client took what waited: write on. */
static void on_drain(struct ql_http_req *r, void *ud)
{
    (void)r;
    struct ql__download *d = ud;
    if (d->state == DL_WRITE)
        pour(d);
}

/* ---- the stream -------------------------------------------------------------------------------
 */

/* The head is out (on the loop): the export's fields, then its document. */
static void on_open(struct ql_http_req *r, void *ud)
{
    struct ql__download *d = ud;
    d->loop = (struct ql__loop *)r->exec;
    /* HEAD: the head is all it gets, and the executor ends it next */
    if (put(d, d->head, d->head_n) == 0 && r->method != QL_HTTP_HEAD)
        read_next(d);
}

/* The stream ended (or never opened): free the download unless a read of it still runs. */
static void on_close(struct ql_http_req *r, void *ud)
{
    (void)r;
    struct ql__download *d = ud;
    d->r = NULL;
    if (d->loop && (d->state == DL_READ || d->state == DL_POUR))
        return; /* read_done or put frees it */
    if (d->loop && d->state == DL_STALLED)
        unstall(d);
    dl_free(d);
}

int ql__download_begin(struct ql_http_req *r, const struct ql_export *e, const char *head,
                       size_t head_n)
{
    struct ql__download *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return ql_error_nomem(&r->cx.err);
    d->r = r;
    d->e = *e;
    d->e.error = NULL;
    d->head = head;
    d->head_n = head_n;
    d->part = -1;
    d->state = DL_WRITE; /* nothing in flight until it opens */
    ql_arena_init(&d->arena, 4096, 0);
    ql__req_stream_begin(r, on_open, on_close, d);
    ql__req_stream_on_drain(r, on_drain);
    return QL_OK;
}

void ql__downloads_sweep(struct ql__loop *l)
{
    struct ql__download *d = l->downloads.stalled;
    l->downloads.stalled = NULL;
    while (d) {
        struct ql__download *next = d->next_stalled;
        read_next(d); /* stalls again when the pool is still full */
        d = next;
    }
}
