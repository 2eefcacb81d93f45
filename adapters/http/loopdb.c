/*
 * loopdb.c - the database session of one event loop (QUILL_LOOP_READS).
 *
 * Routes marked QL_ROUTE_LOOP run their handler on the loop with this session as the
 * store: a request whose principal is cached and whose read the session can pipeline is
 * answered without the pool, its read sent with the other reads of the same turn of the
 * loop.  Anything the session refuses (QL_EWOULD_BLOCK) runs again on the pool, so the
 * session is an optimisation, never a requirement: while it is down every request takes
 * the pool.
 *
 * States: DOWN -> (the loop starts, or a request comes after the retry time) CONNECTING: the
 * blocking connect runs as a pool task -> UP: the socket is watched with a uv_poll, a uv_check
 * sends each turn's reads -> lost: back to DOWN, the waiting reads go to the pool.
 */
#include "internal.h"

#include "config/config.h"
#include "db/db.h"
#include "err/err.h"
#include "log/log.h"

#include <string.h>

enum { DB_OFF, DB_DOWN, DB_CONNECTING, DB_UP };

#define RETRY_MS 1000

void ql__loopdb_init(struct ql__loop *l)
{
    l->db_state = DB_OFF;
    if (!l->server->env->cfg->loop_reads ||
        ql_db_open(l->server->env->db, QL_DB_LOOP, 0, &l->db) != QL_OK)
        return;
    uv_check_init(&l->loop, &l->db_check);
    l->db_check.data = l;
    l->db_check_open = 1;
    l->db_state = DB_DOWN;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct ql__loop *l = h->data;
    l->db_polling = 0;
}

/* Stop watching the socket, then close the connection: its reads go to the pool. */
static void go_down(struct ql__loop *l, uint64_t retry_in_ms)
{
    if (l->db_state != DB_UP)
        return;
    l->db_state = DB_DOWN;
    l->db_retry_ms = uv_now(&l->loop) + retry_in_ms;
    uv_check_stop(&l->db_check);
    uv_close((uv_handle_t *)&l->db_poll, on_poll_closed); /* before the descriptor closes */
    l->db_writing = 0;
    ql_db_disconnect(l->db);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void watch(struct ql__loop *l, int writable)
{
    if (writable == l->db_writing)
        return;
    l->db_writing = writable;
    uv_poll_start(&l->db_poll, UV_READABLE | (writable ? UV_WRITABLE : 0), on_poll);
}

static void send_turn(struct ql__loop *l);

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct ql__loop *l = h->data;
    if (l->db_state != DB_UP)
        return;
    if (status < 0) {
        go_down(l, 0);
        return;
    }
    if (events & UV_WRITABLE)
        send_turn(l);
    if (l->db_state == DB_UP && (events & UV_READABLE) && ql_db_input(l->db) < 0)
        go_down(l, 0);
}

static void send_turn(struct ql__loop *l)
{
    int more = ql_db_flush(l->db);
    if (more < 0)
        go_down(l, 0);
    else
        watch(l, more);
}

static void on_check(uv_check_t *h)
{
    struct ql__loop *l = h->data;
    if (l->db_state == DB_UP)
        send_turn(l);
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
    l->db_state = DB_DOWN;
    if (l->db_rc == QL_OK && !l->stopping &&
        uv_poll_init(&l->loop, &l->db_poll, ql_db_fd(l->db)) == 0) {
        l->db_poll.data = l;
        l->db_polling = 1;
        l->db_writing = -1;
        watch(l, 0);
        uv_check_start(&l->db_check, on_check);
        l->db_state = DB_UP;
        return;
    }
    if (l->db_rc == QL_OK)
        ql_db_disconnect(l->db);
    l->db_retry_ms = uv_now(&l->loop) + RETRY_MS;
    if (l->stopping)
        ql__loopdb_stop(l);
}

int ql__loopdb_ready(struct ql__loop *l)
{
    if (l->db_state == DB_UP)
        return 1;
    if (l->db_state != DB_DOWN || l->stopping || l->db_polling || uv_now(&l->loop) < l->db_retry_ms)
        return 0;
    l->db_state = DB_CONNECTING;
    l->db_task.run = connect_run;
    l->db_task.done = connect_done;
    l->db_task.owner = l;
    if (ql__pool_submit(&l->server->pool, &l->db_task) != QL_OK) {
        l->db_state = DB_DOWN;
        l->db_retry_ms = uv_now(&l->loop) + RETRY_MS;
    }
    return 0;
}

int ql__loopdb_stop(struct ql__loop *l)
{
    if (l->db_state == DB_CONNECTING)
        return 1; /* its completion comes through the loop's wake-up: keep that open */
    go_down(l, 0);
    if (l->db_check_open) {
        uv_close((uv_handle_t *)&l->db_check, NULL);
        l->db_check_open = 0;
    }
    if (l->db_state != DB_OFF)
        l->db_state = DB_DOWN;
    return 0;
}

void ql__loopdb_destroy(struct ql__loop *l)
{
    ql_db_session_destroy(l->db);
    l->db = NULL;
}
