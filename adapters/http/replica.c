/*
 * replica.c - which requests may read from the read replica (DATABASE_READ_URL), and
 * reading one's own writes.
 *
 * A request of a route marked QL_ROUTE_READ goes to the pool with its lag-tolerant reads
 * routed to the replica (the pool thread's session decides statement by statement: see
 * core/db/db.h route_reads), unless its caller wrote lately:
 *
 *   - in this process: every write request (any method but GET and HEAD, answered below
 *     400) marks its caller (the hash of its Authorization header, or of its cookies) with
 *     the time; the caller's reads for QUILL_READ_AFTER_WRITE_MS after it go to the
 *     primary.  The marks are a fixed table indexed by the hash: two callers sharing a
 *     slot only send each other to the primary sometimes, never to a stale replica.
 *   - across instances: a write's answer carries "Quill-Lsn: <the primary's WAL position
 *     after it>"; a client that sends it back as "Quill-Min-Lsn" on a read (to any
 *     instance) is answered by the replica only once the replica has replayed that far,
 *     by the primary until then.
 */
#include "internal.h"

#include "clock/clock.h"
#include "db/db.h"

#include <stdio.h>
#include <string.h>

static uint64_t fnv1a(const char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211u;
    }
    return h;
}

/* The caller as a hash of its credentials; 0 when it sent none. */
static uint64_t caller(const struct ql_http_req *r)
{
    const struct ql_span *a = ql__req_header(r, "authorization");
    if (a == NULL || a->n == 0)
        a = ql__req_header(r, "cookie");
    if (a == NULL || a->n == 0)
        return 0;
    return fnv1a(a->p, a->n, 14695981039346656037u);
}

static int64_t now_ms(const struct ql__exec *x)
{
    return ql_clock_mono_ns(x->env->clock) / 1000000;
}

static int is_write(const struct ql_http_req *r)
{
    return r->method != QL_HTTP_GET && r->method != QL_HTTP_HEAD;
}

void ql__replica_before(struct ql__exec *x, struct ql_http_req *r)
{
    struct ql_http_server *s = x->server;
    if (s == NULL || !s->replica) /* (the executor's tests run without a server) */
        return;
    if (is_write(r)) {
        r->task.want_lsn = 1;
        return;
    }
    if (!(x->routes[r->route].flags & QL_ROUTE_READ))
        return;
    uint64_t who = caller(r);
    if (who != 0) {
        int64_t at =
            atomic_load_explicit(&s->written[who % QL__WRITTEN_SLOTS], memory_order_relaxed);
        if (at != 0 && now_ms(x) - at < s->read_after_write_ms) {
            atomic_fetch_add_explicit(&s->reads_after_write, 1, memory_order_relaxed);
            return; /* it wrote lately: the primary answers */
        }
    }
    r->task.replica = 1;
    const struct ql_span *min = ql__req_header(r, "quill-min-lsn");
    r->task.min_lsn = min ? ql_db_lsn_parse(min->p, min->n) : 0;
}

void ql__replica_after(struct ql__exec *x, struct ql_http_req *r)
{
    struct ql_http_server *s = x->server;
    if (s == NULL || !s->replica || !is_write(r) || r->status >= 400 || r->status == 0)
        return;
    uint64_t who = caller(r);
    if (who != 0)
        atomic_store_explicit(&s->written[who % QL__WRITTEN_SLOTS], now_ms(x),
                              memory_order_relaxed);
    if (r->task.lsn != 0) {
        char v[40];
        snprintf(v, sizeof(v), "%X/%X", (unsigned)(r->task.lsn >> 32), (unsigned)r->task.lsn);
        ql__res_header(r, "Quill-Lsn", v);
    }
}
