/*
 * test_outbound.c - the outbound adapter over libcurl against HTTP listeners on loopback
 * (127.0.0.1 and 127.0.0.2, one port).  This executable defines getaddrinfo, so that the
 * adapter's lookup and libcurl's both see a name that answers 127.0.0.1 the first time and
 * 127.0.0.2 after (DNS rebinding): the post must reach the address that was checked.  The
 * refusals of private targets never connect anywhere.
 */
#include "curl/curl_out.h"
#include "err/err.h"
#include "outbound/outbound.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a resolver that changes its answer ---------------------------------------------------- */

static int lookups; /* of names under .rebind.test */

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    size_t n = node ? strlen(node) : 0;
    const char *tail = ".rebind.test";
    if (n > 0 && node[n - 1] == '.')
        n--; /* an absolute name */
    if (n > strlen(tail) && strncasecmp(node + n - strlen(tail), tail, strlen(tail)) == 0)
        node = __atomic_add_fetch(&lookups, 1, __ATOMIC_SEQ_CST) == 1 ? "127.0.0.1" : "127.0.0.2";
    return real(node, service, hints, res);
}

/* ---- listeners that answer with their own address --------------------------------------- */

struct listener {
    int fd[2];   /* 127.0.0.1, 127.0.0.2 */
    int hits[2]; /* connections each accepted */
    int port;
    int stop_pipe[2];
    pthread_t thread;
};

static int listen_on(const char *ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read a request to the end of its body (Content-Length), then answer 200 with who we are. */
static void answer(int fd, const char *who)
{
    char buf[8192];
    size_t n = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "content-length:");
        if (end && (cl == NULL || n - (size_t)(end + 4 - buf) >= (size_t)atoi(cl + 15)))
            break;
    }
    char res[256];
    int len = snprintf(res, sizeof(res),
                       "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       strlen(who), who);
    send(fd, res, (size_t)len, MSG_NOSIGNAL);
    close(fd);
}

static void *serve(void *arg)
{
    struct listener *l = arg;
    static const char *const who[2] = {"127.0.0.1", "127.0.0.2"};
    for (;;) {
        struct pollfd p[3] = {
            {l->fd[0], POLLIN, 0}, {l->fd[1], POLLIN, 0}, {l->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 3, 5000) <= 0 || p[2].revents)
            return NULL;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int c = accept(l->fd[i], NULL, NULL);
            if (c >= 0) {
                __atomic_add_fetch(&l->hits[i], 1, __ATOMIC_SEQ_CST);
                answer(c, who[i]);
            }
        }
    }
}

/* Both listeners on one free port; 0, or -1 when none could be had. */
static int listener_start(struct listener *l)
{
    memset(l, 0, sizeof(*l));
    for (int tries = 0; tries < 20; tries++) {
        l->fd[0] = listen_on("127.0.0.1", 0);
        struct sockaddr_in a;
        socklen_t alen = sizeof(a);
        getsockname(l->fd[0], (struct sockaddr *)&a, &alen);
        l->port = ntohs(a.sin_port);
        l->fd[1] = listen_on("127.0.0.2", l->port);
        if (l->fd[1] >= 0)
            break;
        close(l->fd[0]);
        l->fd[0] = -1;
    }
    if (l->fd[0] < 0 || pipe(l->stop_pipe) != 0)
        return -1;
    return pthread_create(&l->thread, NULL, serve, l) == 0 ? 0 : -1;
}

static void listener_stop(struct listener *l)
{
    (void)!write(l->stop_pipe[1], "x", 1);
    pthread_join(l->thread, NULL);
    close(l->fd[0]);
    close(l->fd[1]);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
}

static int post(struct ql_curl_out *c, const char *url, struct ql_out_response *res)
{
    struct ql_out_request req = {.url = url,
                                 .headers = {"Content-Type: application/json", NULL},
                                 .body = "{}",
                                 .body_n = 2,
                                 .connect_timeout_ms = 2000,
                                 .timeout_ms = 4000};
    return ql_outbound_post(ql_curl_out_port(c), &req, res);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/*
 * The name is looked up once, checked, and libcurl connects to that address: the answer a
 * second lookup would give (127.0.0.2 here, a private address in an attack) is never used,
 * however the host is spelt.
 */
static void test_the_post_reaches_the_address_that_was_checked(void)
{
    struct listener l;
    ASSERT_INT_EQ(listener_start(&l), 0);
    struct ql_curl_out *c;
    ASSERT_INT_EQ(ql_curl_out_create(1, &c), QL_OK);
    static const char *const hosts[] = {"hook.rebind.test", "HOOK.Rebind.TEST", "hook.rebind.test.",
                                        "hook%2erebind.test"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), "http://%s:%d/in", hosts[i], l.port);
        __atomic_store_n(&lookups, 0, __ATOMIC_SEQ_CST);
        struct ql_out_response res;
        int rc = post(c, url, &res);
        if (rc)
            fprintf(stderr, "# %s: %s\n", url, res.error);
        ASSERT_INT_EQ(rc, QL_OK);
        ASSERT_INT_EQ(res.status, 200);
        ASSERT_STR_EQ(res.body, "127.0.0.1");
        ASSERT_INT_EQ(__atomic_load_n(&lookups, __ATOMIC_SEQ_CST), 1); /* looked up once */
    }
    ql_curl_out_destroy(c);
    listener_stop(&l);
    ASSERT_INT_EQ(l.hits[0], 4);
    ASSERT_INT_EQ(l.hits[1], 0);
}

/* Without the operator's allowance, loopback however spelt is refused before any connect. */
static void test_private_targets_are_refused_without_a_connection(void)
{
    struct listener l;
    ASSERT_INT_EQ(listener_start(&l), 0);
    struct ql_curl_out *c;
    ASSERT_INT_EQ(ql_curl_out_create(0, &c), QL_OK);
    static const char *const hosts[] = {
        "127.0.0.1", "2130706433",       "0177.0.0.1",    "0x7f.0.0.1",     "127.1",
        "[::1]",     "[::ffff:7f00:1]",  "[::127.0.0.1]", "0.0.0.0",        "[::]",
        "localhost", "hook.rebind.test", "127.0.0.2",     "%31%32%37.0.0.1"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), "https://%s:%d/in", hosts[i], l.port);
        __atomic_store_n(&lookups, 0, __ATOMIC_SEQ_CST);
        struct ql_out_response res;
        ASSERT_INT_EQ(post(c, url, &res), QL_EFORBIDDEN);
        ASSERT_INT_EQ(res.status, 0);
        ASSERT_NOT_NULL(strstr(res.error, "is not a public address"));
    }
    /* and plain http is refused whatever the address */
    struct ql_out_response res;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", l.port);
    ASSERT_INT_EQ(post(c, url, &res), QL_EFORBIDDEN);
    ql_curl_out_destroy(c);
    listener_stop(&l);
    ASSERT_INT_EQ(l.hits[0] + l.hits[1], 0);
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const struct ql_test tests[] = {
        TEST(test_the_post_reaches_the_address_that_was_checked),
        TEST(test_private_targets_are_refused_without_a_connection),
    };
    int rc = ql_test_run(tests, QL_NTESTS(tests), argc, argv);
    curl_global_cleanup();
    return rc;
}
