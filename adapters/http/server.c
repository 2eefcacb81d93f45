/*
 * server.c - listeners, event-loop threads, the pools, signals and graceful shutdown.
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
#include "ratelimit.h"

#include "clock/clock.h"
#include "config/config.h"
#include "db/db.h"
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
#include <unistd.h>

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
    memset(&ss, 0, sizeof(ss));
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(msg, cap, "cannot read the address of the listener on %s:%d", host, port);
        close(fd);
        return QL_EIO;
    }
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return QL_OK;
}

int ql_http_server_create(const struct ql_http_env *env, struct ql_http_server **out, char *msg,
                          size_t msgcap)
{
    *out = NULL;
    const struct ql_http_config *cfg = env->cfg;
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
    atomic_init(&s->nconns, 0);
    s->started_ms = ql_clock_now_ms(env->clock);
    if (ql_ratelimit_create(cfg->rate_limit, &s->limiter) != QL_OK) {
        free(s->loops);
        free(s);
        return QL_ENOMEM;
    }
    if (env->db && ql__meter_create(env, s->limiter, &s->meter) != QL_OK) {
        ql_http_server_destroy(s);
        return QL_ENOMEM;
    }
    int port = cfg->listen_port, rc = QL_OK;
    for (int i = 0; i < nloops; i++) {
        int fd, bound;
        rc = make_listener(cfg->listen_host, port, &fd, &bound, msg, msgcap);
        if (rc)
            break;
        port = bound; /* port 0 picks a free port once; the other loops share it */
        s->listen_port = bound;
        rc = ql__loop_init(s, &s->loops[i], i, fd, msg, msgcap);
        if (rc)
            break;
        s->nloops = i + 1;
    }
    /* Without group commit nothing waits in a group: grouped routes share the pool. */
    int nwrite = env->group ? cfg->write_pool : 0;
    if (rc == QL_OK &&
        (ql__pool_start(&s->pool, env, cfg->db_pool, cfg->pool_queue) != QL_OK ||
         (nwrite > 0 && ql__pool_start(&s->writes, env, nwrite, cfg->pool_queue) != QL_OK))) {
        snprintf(msg, msgcap, "cannot start the database pool");
        rc = QL_ENOMEM;
    }
    if (rc == QL_OK) {
        s->replica = s->pool.nsessions > 0 && ql_db_has_replica(s->pool.sessions[0]);
        s->read_after_write_ms = cfg->read_after_write_ms;
        ql__loopgroup_start(s);
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
    if (ql__streams_subscribe(s) != QL_OK)
        ql_log(s->env->log, QL_LOG_ERROR, "live streams are off: cannot subscribe", NULL);
    if (s->meter && ql__meter_start(s->meter) != QL_OK)
        ql_log(
            s->env->log, QL_LOG_ERROR,
            "cannot start the meter's thread: reservations wait and the request log is not written",
            NULL);
    for (int i = 0; i < s->nloops; i++)
        pthread_create(&s->loops[i].thread, NULL, ql__loop_main, &s->loops[i]);
    const struct ql_http_config *cfg = s->env->cfg;
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
    ql__streams_unsubscribe(s);
    ql__pool_stop(&s->pool);
    ql__pool_stop(&s->writes);
    ql__meter_stop(s->meter); /* nothing meters any more: the last rows, and every unit back */
    uv_loop_close(&s->main_loop);
    ql_log(s->env->log, QL_LOG_INFO, "quill-api stopped", NULL);
    return QL_OK;
}

void ql_http_server_destroy(struct ql_http_server *s)
{
    if (s == NULL)
        return;
    ql__pool_stop(&s->pool);
    ql__pool_stop(&s->writes);
    for (int i = 0; i < s->nloops; i++)
        ql__loop_cleanup(&s->loops[i]);
    ql__meter_destroy(s->meter);
    ql_ratelimit_destroy(s->limiter);
    free(s->loops);
    free(s);
}
