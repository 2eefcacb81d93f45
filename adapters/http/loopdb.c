/*
 * loopdb.c - the database session of one event loop (QUILL_LOOP_READS).
 *
 * Routes marked QL_ROUTE_LOOP run their handler on the loop with this session's ports: a
 * request whose principal is cached and whose reads the session can pipeline is answered
 * without the pool, its reads sent with the other reads of the same turn of the loop.
 * Anything the session refuses (QL_EWOULD_BLOCK) runs again on the pool, so the session is
 * an optimisation, never a requirement: while it is down every request takes the pool.
 *
 * States (enum ql__db_state): OFF (QUILL_LOOP_READS=0) -- DOWN -> (the loop starts, or a
 * request comes after the retry time) CONNECTING: the blocking connect runs as a pool task
 * -> UP: the socket is watched with a uv_poll and each turn's reads are sent from the
 * loop's check handle -> lost: back to DOWN, the waiting reads go to the pool.
 */
#include "internal.h"

#include "config/config.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"

#include <string.h>

#define RETRY_MS 1000

void ql__loopdb_init(struct ql__loop *l)
{
    l->db_state = QL__DB_OFF;
    l->db_events = -1;
    if (!l->server->env->cfg->loop_reads ||
        ql_db_open(l->server->env->db, QL_DB_LOOP, 0, &l->db) != QL_OK)
        return;
    l->db_state = QL__DB_DOWN;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct ql__loop *l = h->data;
    l->db_events = -1;
}

/* Stop watching the socket, then close the connection: its reads go to the pool. */
static void go_down(struct ql__loop *l, int64_t retry_in_ms)
{
    if (l->db_state != QL__DB_UP)
        return;
    l->db_state = QL__DB_DOWN;
    l->db_retry_ms = ql__loop_now_ms(l) + retry_in_ms;
    uv_close((uv_handle_t *)&l->db_poll, on_poll_closed); /* before the descriptor closes */
    ql_db_disconnect(l->db);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void watch(struct ql__loop *l, int writable)
{
    int want = UV_READABLE | (writable ? UV_WRITABLE : 0);
    if (want == l->db_events)
        return;
    l->db_events = want;
    uv_poll_start(&l->db_poll, want, on_poll);
}

void ql__loopdb_turn(struct ql__loop *l)
{
    if (l->db_state != QL__DB_UP)
        return;
    int more = ql_db_flush(l->db);
    if (more < 0)
        go_down(l, 0);
    else
        watch(l, more);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct ql__loop *l = h->data;
    if (l->db_state != QL__DB_UP)
        return;
    if (status < 0) {
        go_down(l, 0);
        return;
    }
    if (events & UV_WRITABLE)
        ql__loopdb_turn(l);
    if (l->db_state == QL__DB_UP && (events & UV_READABLE) && ql_db_input(l->db) < 0)
        go_down(l, 0);
}

static void connect_run(struct ql__task *t, struct ql_ports *ports)
{
    (void)ports;
    struct ql__loop *l = (struct ql__loop *)((char *)t - offsetof(struct ql__loop, db_task));
    struct ql_error err;
    ql_error_clear(&err);
    l->db_rc = ql_db_connect(l->db, &err);
    if (l->db_rc)
        ql_log(l->server->env->log, QL_LOG_WARN,
               "an event loop cannot open its database session; its reads use the pool", "error",
               err.msg, NULL);
}

static void connect_done(struct ql__task *t)
{
    struct ql__loop *l = (struct ql__loop *)((char *)t - offsetof(struct ql__loop, db_task));
    l->db_state = QL__DB_DOWN;
    if (l->db_rc == QL_OK && l->stop_deadline_ms == 0 &&
        uv_poll_init(&l->loop, &l->db_poll, ql_db_fd(l->db)) == 0) {
        l->db_poll.data = l;
        l->db_events = 0;
        watch(l, 0);
        l->db_state = QL__DB_UP;
        return;
    }
    if (l->db_rc == QL_OK)
        ql_db_disconnect(l->db);
    l->db_retry_ms = ql__loop_now_ms(l) + RETRY_MS;
    if (l->stop_deadline_ms)
        ql__loopdb_stop(l);
}

int ql__loopdb_ready(struct ql__loop *l)
{
    if (l->db_state == QL__DB_UP)
        return 1;
    if (l->db_state != QL__DB_DOWN || l->stop_deadline_ms || l->db_events != -1 ||
        ql__loop_now_ms(l) < l->db_retry_ms)
        return 0;
    l->db_state = QL__DB_CONNECTING;
    l->db_task = (struct ql__task){NULL, connect_run, connect_done, l};
    if (ql__pool_submit(&l->server->pool, &l->db_task) != QL_OK) {
        l->db_state = QL__DB_DOWN;
        l->db_retry_ms = ql__loop_now_ms(l) + RETRY_MS;
    }
    return 0;
}

int ql__loopdb_stop(struct ql__loop *l)
{
    if (l->db_state == QL__DB_CONNECTING)
        return 1; /* its completion comes through the loop's wake-up: keep that open */
    go_down(l, 0);
    if (l->db_state != QL__DB_OFF)
        l->db_state = QL__DB_DOWN;
    return 0;
}

void ql__loopdb_destroy(struct ql__loop *l)
{
    ql_db_session_destroy(l->db);
    l->db = NULL;
}
