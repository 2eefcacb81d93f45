/*
 * curl_out.c - POST to a URL outside Quill with libcurl, guarded against server-side
 * request forgery.
 *
 * The guard: the URL is parsed by libcurl's own parser (so the host checked is the host
 * connected to), the scheme must be https (or http when private targets are allowed), the
 * host is resolved once here, every address it resolves to must be public
 * (ql_addr_is_public: no loopback, private, link-local or metadata addresses, IPv4-mapped
 * IPv6 included), and libcurl is told to use exactly the first of them (CURLOPT_RESOLVE),
 * so a second lookup cannot answer differently.  No redirect is followed (a 3xx is an
 * answer like any other), no proxy from the environment is used, and at most
 * QL_OUT_BODY_MAX bytes of the answer are read.
 */
#include "curl_out.h"

#include "err/err.h"
#include "netaddr/netaddr.h"
#include "outbound/outbound.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

struct ql_curl_out {
    struct ql_outbound base;
    int allow_private;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct ql_out_response *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ql_out_response *res, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, ap);
    va_end(ap);
    return code;
}

/*
 * Where to connect: the URL's host resolved and checked.  pin gets "host:port:address" for
 * CURLOPT_RESOLVE, or "" when the host is an address already.
 */
static int target(const struct ql_curl_out *c, const char *url, char *pin, size_t cap,
                  struct ql_out_response *res)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return fail(res, QL_ENOMEM, "out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = QL_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || scheme == NULL ||
        host == NULL)
        rc = fail(res, QL_EVALIDATION, "the URL cannot be read");
    else if (strcasecmp(scheme, "https") != 0 &&
             !(c->allow_private && strcasecmp(scheme, "http") == 0))
        rc = fail(res, QL_EFORBIDDEN, "scheme %s is not allowed (https only)", scheme);
    char name[256] = "";
    if (rc == QL_OK && host != NULL) { /* host is set when rc is QL_OK */
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') /* an IPv6 literal */
            snprintf(name, sizeof(name), "%.*s", (int)(n - 2), host + 1);
        else
            snprintf(name, sizeof(name), "%s", host);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (rc == QL_OK && getaddrinfo(name, NULL, &hints, &ai) != 0)
        rc = fail(res, QL_EUNAVAILABLE, "cannot resolve %s", name);
    char first[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *a = ai; rc == QL_OK && a; a = a->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *bytes;
        int v6 = a->ai_family == AF_INET6;
        if (v6)
            bytes = &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        else if (a->ai_family == AF_INET)
            bytes = &((const struct sockaddr_in *)a->ai_addr)->sin_addr;
        else
            continue;
        inet_ntop(a->ai_family, bytes, text, sizeof(text));
        if (!c->allow_private && !ql_addr_is_public(bytes, v6))
            rc = fail(res, QL_EFORBIDDEN, "%s is not a public address", text);
        else if (first[0] == '\0')
            snprintf(first, sizeof(first), v6 ? "[%s]" : "%s", text);
    }
    if (rc == QL_OK && first[0] == '\0')
        rc = fail(res, QL_EUNAVAILABLE, "%s has no address", name);
    unsigned char literal[16];
    if (rc == QL_OK &&
        (inet_pton(AF_INET, name, literal) == 1 || inet_pton(AF_INET6, name, literal) == 1))
        pin[0] = '\0'; /* an address already: libcurl resolves nothing */
    else if (rc == QL_OK)
        snprintf(pin, cap, "%s:%s:%s", host, port, first);
    if (ai)
        freeaddrinfo(ai);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* Keep the start of the answer; stop reading past QL_OUT_BODY_MAX. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct ql_out_response *res = ud;
    size_t n = size * nmemb, room = QL_OUT_BODY_MAX - res->body_n;
    size_t take = n < room ? n : room;
    memcpy(res->body + res->body_n, data, take);
    res->body_n += take;
    res->body[res->body_n] = '\0';
    return take == n ? n : 0; /* 0 ends the transfer: the rest is not read */
}

static int c_post(struct ql_outbound *self, const struct ql_out_request *req,
                  struct ql_out_response *res)
{
    struct ql_curl_out *c = (struct ql_curl_out *)self;
    memset(res, 0, sizeof(*res));
    int64_t t0 = mono_ms();
    char pin[512] = "";
    int rc = target(c, req->url, pin, sizeof(pin), res);
    if (rc) {
        res->duration_ms = mono_ms() - t0;
        return rc;
    }
    CURL *h = curl_easy_init();
    struct curl_slist *pins = pin[0] ? curl_slist_append(NULL, pin) : NULL, *hdrs = NULL;
    for (int i = 0; i < QL_OUT_HEADERS_MAX && req->headers[i]; i++)
        hdrs = curl_slist_append(hdrs, req->headers[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (h == NULL || (pin[0] && pins == NULL) || hdrs == NULL) {
        curl_easy_cleanup(h);
        curl_slist_free_all(pins);
        curl_slist_free_all(hdrs);
        return fail(res, QL_ENOMEM, "out of memory");
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_RESOLVE, pins);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_private ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Quill-Webhooks/1");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_n);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, res);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    res->status = (int)status;
    if (cc == CURLE_WRITE_ERROR && status > 0)
        cc = CURLE_OK; /* we stopped reading a long answer */
    if (cc != CURLE_OK) {
        res->status = 0;
        rc = fail(res, QL_EUNAVAILABLE, "%s", curl_easy_strerror(cc));
    }
    res->duration_ms = mono_ms() - t0;
    curl_easy_cleanup(h);
    curl_slist_free_all(pins);
    curl_slist_free_all(hdrs);
    return rc;
}

static const struct ql_outbound_ops ops = {.post = c_post};

int ql_curl_out_create(int allow_private, struct ql_curl_out **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return QL_ENOMEM;
    (*out)->base.ops = &ops;
    (*out)->allow_private = allow_private;
    return QL_OK;
}

struct ql_outbound *ql_curl_out_port(struct ql_curl_out *c)
{
    return &c->base;
}

void ql_curl_out_destroy(struct ql_curl_out *c)
{
    free(c);
}
