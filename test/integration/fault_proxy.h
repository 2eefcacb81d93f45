/*
 * fault_proxy.h - a TCP proxy on loopback between a test's sessions and PostgreSQL that can
 * lose the answer of one COMMIT: armed, it forwards the client's COMMIT (a simple query
 * "COMMIT", or the Execute after a Bind of the prepared statement "commit") and everything
 * sent with it, closes the client's side at once, then lets the server finish (it sees the end
 * of its input after the COMMIT, so the COMMIT runs and lands) before it accepts anyone else.
 * So the client's COMMIT committed and the client cannot tell: the case an ambiguous COMMIT is
 * about, made without timing.  One thread, poll(); every wait is bounded.  A test may name
 * one more prepared statement (fault_proxy.stmt) whose Execute counts as a COMMIT: run on its
 * own, outside a transaction, such a statement commits at the Sync sent with it.
 *
 * Sessions must connect without TLS or GSS (fault_proxy_url asks for neither), so that the
 * proxy reads the protocol's messages: after the startup message, a type byte and a length.
 */
#ifndef QL_TEST_FAULT_PROXY_H
#define QL_TEST_FAULT_PROXY_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FP_PAIRS 8

struct fp_pair {
    int client, server; /* -1: free */
    int started;        /* the startup message went by: typed messages follow */
    size_t need;        /* bytes of the current message still to come (0: at a header) */
    unsigned char head[64];
    size_t nhead;     /* bytes of head[] (the start of the current message) collected */
    size_t head_want; /* how much of the current message head[] keeps */
    int commit_bound; /* a Bind of "commit" (or fault_proxy.stmt) went by: its Execute commits */
    int commit_in;    /* a COMMIT is in the bytes being forwarded */
};

struct fault_proxy {
    int listen_fd;
    int port;
    struct sockaddr_in upstream;
    atomic_int armed; /* 1: cut after the next COMMIT */
    atomic_int cuts;  /* COMMITs whose answer was lost */
    atomic_int stop;
    _Atomic(const char *) stmt; /* NULL, or a prepared statement whose Execute also counts */
    pthread_t thread;
    struct fp_pair pairs[FP_PAIRS];
};

/* A whole message of the client (its start in p->head) went by: note a COMMIT in it. */
static inline void fp_message(const struct fault_proxy *fp, struct fp_pair *p)
{
    if (!p->started) {
        /* the startup message, unless an SSL or GSS request (length 8: refused, then again) */
        static const unsigned char eight[4] = {0, 0, 0, 8};
        p->started = !(p->nhead == 8 && memcmp(p->head, eight, 4) == 0);
    } else if (p->head[0] == 'Q') {
        p->commit_in |= p->nhead >= 11 && memcmp(p->head + 5, "COMMIT", 6) == 0;
    } else if (p->head[0] == 'B' && p->nhead > 5) {
        /* the portal's name, then the statement's, both NUL-terminated */
        size_t pl = strnlen((const char *)p->head + 5, p->nhead - 5);
        const char *also = atomic_load(&fp->stmt);
        size_t sl = also ? strlen(also) : 0;
        const unsigned char *name = p->head + 5 + pl + 1;
        p->commit_bound =
            (5 + pl + 1 + 7 <= p->nhead && memcmp(name, "commit", 7) == 0) ||
            (also && 5 + pl + 1 + sl + 1 <= p->nhead && memcmp(name, also, sl + 1) == 0);
    } else if (p->head[0] == 'E' && p->commit_bound) {
        p->commit_in = 1;
        p->commit_bound = 0;
    }
    p->nhead = 0;
}

/* Look at the bytes b[0..n) the client sends; note a COMMIT among them in p->commit_in. */
static inline void fp_scan(const struct fault_proxy *fp, struct fp_pair *p, const unsigned char *b,
                           size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p->need == 0) { /* at a header: collect it in head */
            size_t hdr = p->started ? 5 : 4;
            while (i < n && p->nhead < hdr)
                p->head[p->nhead++] = b[i++];
            if (p->nhead < hdr)
                return;
            const unsigned char *l = p->head + (p->started ? 1 : 0);
            uint32_t len =
                ((uint32_t)l[0] << 24) | ((uint32_t)l[1] << 16) | ((uint32_t)l[2] << 8) | l[3];
            p->need = len >= 4 ? len - 4 : 0;
            size_t room = sizeof(p->head) - hdr;
            p->head_want = hdr + (p->need < room ? p->need : room);
            if (p->need == 0)
                fp_message(fp, p);
            continue;
        }
        size_t take = n - i < p->need ? n - i : p->need;
        for (size_t k = 0; k < take && p->nhead < p->head_want; k++)
            p->head[p->nhead++] = b[i + k];
        i += take;
        p->need -= take;
        if (p->need == 0)
            fp_message(fp, p);
    }
}

static inline void fp_close(struct fp_pair *p)
{
    if (p->client >= 0)
        close(p->client);
    if (p->server >= 0)
        close(p->server);
    memset(p, 0, sizeof(*p));
    p->client = p->server = -1;
}

static inline int fp_write_all(int fd, const unsigned char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The answer is lost: the client's side closes now; the server runs what it got, then ends. */
static inline void fp_cut(struct fault_proxy *fp, struct fp_pair *p)
{
    atomic_fetch_add(&fp->cuts, 1); /* first: the client may look as soon as it is cut off */
    close(p->client);
    p->client = -1;
    shutdown(p->server, SHUT_WR);
    unsigned char b[4096];
    struct pollfd pf = {.fd = p->server, .events = POLLIN};
    while (poll(&pf, 1, 10000) > 0 && recv(p->server, b, sizeof(b), 0) > 0)
        ;
    fp_close(p);
}

static inline void *fp_main(void *arg)
{
    struct fault_proxy *fp = arg;
    while (!atomic_load(&fp->stop)) {
        struct pollfd pf[1 + 2 * FP_PAIRS];
        struct fp_pair *who[1 + 2 * FP_PAIRS];
        int nf = 0;
        pf[nf] = (struct pollfd){.fd = fp->listen_fd, .events = POLLIN};
        who[nf++] = NULL;
        for (int i = 0; i < FP_PAIRS; i++) {
            if (fp->pairs[i].client < 0)
                continue;
            pf[nf] = (struct pollfd){.fd = fp->pairs[i].client, .events = POLLIN};
            who[nf++] = &fp->pairs[i];
            pf[nf] = (struct pollfd){.fd = fp->pairs[i].server, .events = POLLIN};
            who[nf++] = &fp->pairs[i];
        }
        if (poll(pf, (nfds_t)nf, 100) <= 0)
            continue;
        for (int k = 1; k < nf; k++) {
            struct fp_pair *p = who[k];
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)) || p->client < 0)
                continue;
            int from_client = pf[k].fd == p->client;
            unsigned char b[16384];
            ssize_t r = recv(pf[k].fd, b, sizeof(b), 0);
            if (r <= 0) {
                fp_close(p);
                continue;
            }
            if (from_client)
                fp_scan(fp, p, b, (size_t)r);
            if (fp_write_all(from_client ? p->server : p->client, b, (size_t)r) != 0) {
                fp_close(p);
                continue;
            }
            if (from_client && p->commit_in) {
                p->commit_in = 0;
                if (atomic_exchange(&fp->armed, 0))
                    fp_cut(fp, p);
            }
        }
        if (pf[0].revents & POLLIN) {
            int c = accept(fp->listen_fd, NULL, NULL);
            struct fp_pair *p = NULL;
            for (int i = 0; c >= 0 && i < FP_PAIRS && p == NULL; i++)
                if (fp->pairs[i].client < 0)
                    p = &fp->pairs[i];
            int s = p ? socket(AF_INET, SOCK_STREAM, 0) : -1;
            if (s < 0 || connect(s, (struct sockaddr *)&fp->upstream, sizeof(fp->upstream)) != 0) {
                if (s >= 0)
                    close(s);
                if (c >= 0)
                    close(c);
                continue;
            }
            p->client = c;
            p->server = s;
        }
    }
    for (int i = 0; i < FP_PAIRS; i++)
        if (fp->pairs[i].client >= 0)
            fp_close(&fp->pairs[i]);
    return NULL;
}

/* Start a proxy to PostgreSQL at 127.0.0.1:upstream_port; 0 on success. */
static inline int fault_proxy_start(struct fault_proxy *fp, int upstream_port)
{
    memset(fp, 0, sizeof(*fp));
    for (int i = 0; i < FP_PAIRS; i++)
        fp->pairs[i].client = fp->pairs[i].server = -1;
    fp->upstream.sin_family = AF_INET;
    fp->upstream.sin_port = htons((uint16_t)upstream_port);
    fp->upstream.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    fp->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fp->listen_fd < 0 || bind(fp->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fp->listen_fd, 16) != 0 ||
        getsockname(fp->listen_fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    fp->port = ntohs(a.sin_port);
    return pthread_create(&fp->thread, NULL, fp_main, fp) == 0 ? 0 : -1;
}

static inline void fault_proxy_stop(struct fault_proxy *fp)
{
    atomic_store(&fp->stop, 1);
    pthread_join(fp->thread, NULL);
    close(fp->listen_fd);
}

/*
 * A conninfo for url's database and user through the proxy (static; NULL when url's server
 * is not on TCP): no TLS or GSS, so that the proxy reads the messages.  *port gets url's port.
 */
static inline const char *fault_proxy_url(const struct fault_proxy *fp, const char *url, int *port)
{
    static char out[512];
    PQconninfoOption *o = PQconninfoParse(url, NULL);
    const char *db = "", *user = "", *pw = NULL, *host = NULL;
    *port = 5432;
    for (PQconninfoOption *i = o; i && i->keyword; i++) {
        if (i->val == NULL)
            continue;
        if (strcmp(i->keyword, "dbname") == 0)
            db = i->val;
        else if (strcmp(i->keyword, "user") == 0)
            user = i->val;
        else if (strcmp(i->keyword, "password") == 0)
            pw = i->val;
        else if (strcmp(i->keyword, "host") == 0)
            host = i->val;
        else if (strcmp(i->keyword, "port") == 0)
            *port = atoi(i->val);
    }
    int tcp = host && (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0);
    snprintf(out, sizeof(out),
             "host=127.0.0.1 port=%d dbname='%s' user='%s'%s%s%s sslmode=disable "
             "gssencmode=disable",
             fp->port, db, user, pw ? " password='" : "", pw ? pw : "", pw ? "'" : "");
    PQconninfoFree(o);
    return tcp ? out : NULL;
}

#endif
