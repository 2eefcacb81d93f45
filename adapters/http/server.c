/*
 * server.c - listeners, event-loop threads, the sweep timer and graceful shutdown.
 *
 * Every loop thread has its own listening socket bound to the same address with
 * SO_REUSEPORT (libuv 1.44 has no flag for it, so the socket is made here and handed to
 * uv_tcp_open), and the kernel spreads connections across them.  The main thread only
 * waits for SIGTERM/SIGINT.  On a signal each loop stops accepting, closes idle
 * connections, lets in-flight requests finish (their responses carry Connection: close)
 * and exits when it has no connection and no pool task left, or force-closes everything
 * once QUILL_SHUTDOWN_TIMEOUT_MS has passed.
 */
#include "internal.h"

#include "clock/clock.h"
#include "config/config.h"
#include "err/err.h"
#include "log/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_MS 250

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ql__loop_rand(struct ql__loop *l)
{
    uint64_t *s = l->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static void update_date(struct ql__loop *l)
{
    time_t now = time(NULL);
    if (now == l->date_sec)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    l->date_len = strftime(l->date, sizeof(l->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    l->date_sec = now;
}

static void close_loop_handles(struct ql__loop *l)
{
    if (!uv_is_closing((uv_handle_t *)&l->wake))
        uv_close((uv_handle_t *)&l->wake, NULL);
    if (!uv_is_closing((uv_handle_t *)&l->sweep))
        uv_close((uv_handle_t *)&l->sweep, NULL);
}

static void check_stop(struct ql__loop *l)
{
    if (!l->stopping)
        return;
    uint64_t now = uv_now(&l->loop);
    int late = now >= (uint64_t)l->stop_deadline_ms;
    ql__conn_drain_all(l, late);
    int idle = l->nconns == 0 && atomic_load(&l->metrics.inflight) == 0;
    /* late: reads still waiting on the loop's session go to the pool, which finishes them */
    if ((idle || late) && ql__loopdb_stop(l) == 0 && idle)
        close_loop_handles(l);
}

static void on_sweep(uv_timer_t *t)
{
    struct ql__loop *l = t->data;
    update_date(l);
    ql__conn_sweep(l, uv_now(&l->loop));
    ql_fdlog_flush(&l->log);
    check_stop(l);
}

static void begin_stop(struct ql__loop *l)
{
    if (l->stopping)
        return;
    l->stopping = 1;
    l->stop_deadline_ms = (int64_t)uv_now(&l->loop) + l->server->env->cfg->shutdown_timeout_ms;
    if (!uv_is_closing((uv_handle_t *)&l->listener))
        uv_close((uv_handle_t *)&l->listener, NULL);
    check_stop(l);
}

static void on_wake(uv_async_t *a)
{
    struct ql__loop *l = a->data;
    ql__loop_run_done(l);
    if (atomic_load(&l->stop_flag))
        begin_stop(l);
    else if (l->stopping)
        check_stop(l);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ql__loop *l = server->data;
    if (status < 0 || l->stopping)
        return;
    ql__conn_accept(l);
}

static void *loop_main(void *arg)
{
    struct ql__loop *l = arg;
    ql__loopdb_ready(l); /* open the loop's session now rather than on the first read */
    uv_run(&l->loop, UV_RUN_DEFAULT);
    ql_fdlog_flush(&l->log);
    return NULL;
}

static int make_listener(const char *host, int port, int *fd_out, int *port_out, char *msg,
                         size_t cap)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    int rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0) {
        snprintf(msg, cap, "QUILL_LISTEN: cannot resolve %s: %s", host, gai_strerror(rc));
        return QL_EIO;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        snprintf(msg, cap, "QUILL_LISTEN: cannot bind %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return QL_EIO;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return QL_OK;
}

static int loop_init(struct ql_http_server *s, struct ql__loop *l, int index, int fd, char *msg,
                     size_t cap)
{
    l->server = s;
    l->index = index;
    if (uv_loop_init(&l->loop) != 0)
        goto fail;
    pthread_mutex_init(&l->done_lock, NULL);
    uv_tcp_init(&l->loop, &l->listener);
    l->listener.data = l;
    if (uv_tcp_open(&l->listener, fd) != 0 ||
        uv_listen((uv_stream_t *)&l->listener, 1024, on_connection) != 0)
        goto fail;
    uv_async_init(&l->loop, &l->wake, on_wake);
    l->wake.data = l;
    uv_timer_init(&l->loop, &l->sweep);
    l->sweep.data = l;
    uv_timer_start(&l->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    const struct ql_config *cfg = s->env->cfg;
    ql_fdlog_init(&l->log, 1, cfg->log_level, s->env->clock, 1, &s->log_lock);
    if (ql__metrics_init(&l->metrics) != QL_OK)
        goto fail;
    uv_random(NULL, NULL, l->rng, sizeof(l->rng), 0, NULL);
    l->rng[0] |= 1;
    l->date_sec = -1;
    update_date(l);
    ql__loopdb_init(l);
    return QL_OK;
fail:
    snprintf(msg, cap, "cannot start event loop %d", index);
    return QL_EIO;
}

int ql_http_server_create(const struct ql_http_env *env, struct ql_http_server **out, char *msg,
                          size_t msgcap)
{
    *out = NULL;
    const struct ql_config *cfg = env->cfg;
    int nloops = cfg->threads > 256 ? 256 : cfg->threads;
    struct ql_http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return QL_ENOMEM;
    s->env = env;
    s->loops = calloc((size_t)nloops, sizeof(*s->loops));
    if (s->loops == NULL) {
        free(s);
        return QL_ENOMEM;
    }
    pthread_mutex_init(&s->log_lock, NULL);
    atomic_init(&s->nconns, 0);
    s->started_ms = ql_clock_now_ms(env->clock);
    int port = cfg->listen_port, rc = QL_OK;
    for (int i = 0; i < nloops; i++) {
        int fd, bound;
        rc = make_listener(cfg->listen_host, port, &fd, &bound, msg, msgcap);
        if (rc)
            break;
        port = bound; /* port 0 picks a free port once; the other loops share it */
        s->listen_port = bound;
        rc = loop_init(s, &s->loops[i], i, fd, msg, msgcap);
        s->nloops = i + 1;
        if (rc)
            break;
    }
    /* Without group commit nothing waits in a group: grouped routes share the pool. */
    int nwrite = env->group ? cfg->write_pool : 0;
    if (rc == QL_OK &&
        (ql__pool_start(&s->pool, env, cfg->db_pool, cfg->pool_queue) != QL_OK ||
         (nwrite > 0 && ql__pool_start(&s->writes, env, nwrite, cfg->pool_queue) != QL_OK))) {
        snprintf(msg, msgcap, "cannot start the database pool");
        rc = QL_ENOMEM;
    }
    if (rc) {
        ql_http_server_destroy(s);
        return rc;
    }
    *out = s;
    return QL_OK;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct ql_http_server *s = h->data;
    ql_log(s->env->log, QL_LOG_INFO, "quill-api stopping", "signal",
           signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    for (int i = 0; i < s->nloops; i++) {
        atomic_store(&s->loops[i].stop_flag, 1);
        uv_async_send(&s->loops[i].wake);
    }
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

int ql_http_server_run(struct ql_http_server *s)
{
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&s->main_loop);
    uv_signal_init(&s->main_loop, &s->sigterm);
    uv_signal_init(&s->main_loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    for (int i = 0; i < s->nloops; i++)
        pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]);
    const struct ql_config *cfg = s->env->cfg;
    char addr[300], threads[16], pool[16], writes[16];
    snprintf(addr, sizeof(addr), "%s:%d", cfg->listen_host, s->listen_port);
    snprintf(threads, sizeof(threads), "%d", s->nloops);
    snprintf(pool, sizeof(pool), "%d", s->pool.nthreads);
    snprintf(writes, sizeof(writes), "%d", s->writes.nthreads);
    ql_log(s->env->log, QL_LOG_INFO, "quill-api listening", "addr", addr, "threads", threads,
           "pool", pool, "write_pool", writes, NULL);
    uv_run(&s->main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s->nloops; i++)
        pthread_join(s->loops[i].thread, NULL);
    ql__pool_stop(&s->pool);
    ql__pool_stop(&s->writes);
    uv_loop_close(&s->main_loop);
    ql_log(s->env->log, QL_LOG_INFO, "quill-api stopped", NULL);
    return QL_OK;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void ql_http_server_destroy(struct ql_http_server *s)
{
    if (s == NULL)
        return;
    ql__pool_stop(&s->pool);
    ql__pool_stop(&s->writes);
    for (int i = 0; i < s->nloops; i++) {
        struct ql__loop *l = &s->loops[i];
        uv_walk(&l->loop, close_walk, NULL);
        uv_run(&l->loop, UV_RUN_DEFAULT);
        uv_loop_close(&l->loop);
        ql__loopdb_destroy(l);
        ql_fdlog_cleanup(&l->log);
        ql__metrics_cleanup(&l->metrics);
        pthread_mutex_destroy(&l->done_lock);
    }
    free(s->loops);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
