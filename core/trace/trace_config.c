/*
 * trace_config.c - the OpenTelemetry variables Quill reads (the names and defaults of the
 * OpenTelemetry specification's "environment variable specification").  Tracing is on when
 * an endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT with
 * /v1/traces added) unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none; only then
 * are the other variables read, and each bad one is a problem naming it.
 */
#include "trace/trace.h"

#include "config/config.h"
#include "err/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first of two variables that is set (the signal's own first), or NULL; *name says which. */
static const char *either(struct ql_env *e, const char *specific, const char *general,
                          const char **name)
{
    const char *v = ql_env_value(e, specific);
    *name = specific;
    if (v == NULL) {
        v = ql_env_value(e, general);
        *name = general;
    }
    return v;
}

/* http(s)://host... with nothing odd in it. */
static int good_url(const char *u)
{
    const char *rest = strncmp(u, "http://", 7) == 0    ? u + 7
                       : strncmp(u, "https://", 8) == 0 ? u + 8
                                                        : NULL;
    if (rest == NULL || *rest == '\0' || *rest == '/')
        return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

static void read_endpoint(struct ql_env *e, struct ql_trace_config *c)
{
    const char *name;
    const char *v =
        either(e, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", &name);
    if (v == NULL)
        return;
    int general = strcmp(name, "OTEL_EXPORTER_OTLP_ENDPOINT") == 0;
    size_t n = strlen(v);
    while (general && n > 0 && v[n - 1] == '/')
        n--; /* the base URL: the signal's path is added to it */
    int len = snprintf(c->endpoint, sizeof(c->endpoint), "%.*s%s", (int)n, v,
                       general ? "/v1/traces" : "");
    if (len < 0 || (size_t)len >= sizeof(c->endpoint) || !good_url(c->endpoint)) {
        ql_env_problem(e, "%s: expected an http:// or https:// URL, got '%.80s'", name, v);
        c->endpoint[0] = '\0';
        return;
    }
    c->enabled = 1;
}

/* Decode %XX escapes of n bytes of s into out (cap bytes); -1 when bad or too long. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return -1;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            ch = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        if (k + 1 >= cap || ch == '\0' || ch == '\r' || ch == '\n')
            return -1;
        out[k++] = ch;
    }
    out[k] = '\0';
    return 0;
}

/* Trim spaces and tabs around n bytes at *s. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/*
 * "key=value,key2=value2" (values percent-encoded) into keys and values, at most max pairs.
 * token: keys must be HTTP header names.  Returns the number of pairs, or -1.
 */
static int read_pairs(const char *v, int token, char (*keys)[64], size_t kcap, char (*vals)[256],
                      size_t vcap, int max)
{
    int n = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ",");
        const char *item = p;
        p += len + (p[len] == ',');
        trim(&item, &len);
        if (len == 0)
            continue;
        const char *eq = memchr(item, '=', len);
        if (eq == NULL || n == max)
            return -1;
        const char *k = item, *val = eq + 1;
        size_t kn = (size_t)(eq - item), vn = len - kn - 1;
        trim(&k, &kn);
        trim(&val, &vn);
        if (kn == 0 || kn >= kcap)
            return -1;
        for (size_t i = 0; i < kn; i++) {
            unsigned char ch = (unsigned char)k[i];
            if (token ? !(isalnum(ch) || strchr("!#$&'*+-.^_`|~", ch)) : (ch <= ' ' || ch == '"'))
                return -1;
        }
        memcpy(keys[n], k, kn);
        keys[n][kn] = '\0';
        if (unescape(val, vn, vals[n], vcap) != 0)
            return -1;
        n++;
    }
    return n;
}

static void read_headers(struct ql_env *e, struct ql_trace_config *c)
{
    const char *name;
    const char *v =
        either(e, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS", &name);
    if (v == NULL)
        return;
    char keys[QL_TRACE_HEADERS][64], vals[QL_TRACE_HEADERS][256];
    int n = read_pairs(v, 1, keys, sizeof(keys[0]), vals, sizeof(vals[0]), QL_TRACE_HEADERS);
    if (n < 0) {
        ql_env_problem(e,
                       "%s: expected up to %d name=value pairs separated by commas, values "
                       "percent-encoded",
                       name, QL_TRACE_HEADERS);
        return;
    }
    for (int i = 0; i < n; i++)
        snprintf(c->headers[i], sizeof(c->headers[i]), "%.63s: %.255s", keys[i], vals[i]);
    c->nheaders = n;
}

static void read_resource(struct ql_env *e, struct ql_trace_config *c, const char *service)
{
    const char *v = ql_env_value(e, "OTEL_RESOURCE_ATTRIBUTES");
    int n = v ? read_pairs(v, 0, c->resource_key, sizeof(c->resource_key[0]), c->resource_value,
                           sizeof(c->resource_value[0]), QL_TRACE_RESOURCE)
              : 0;
    if (n < 0) {
        ql_env_problem(e,
                       "OTEL_RESOURCE_ATTRIBUTES: expected up to %d key=value pairs separated "
                       "by commas, values percent-encoded",
                       QL_TRACE_RESOURCE);
        n = 0;
    }
    c->nresource = n;
    /* OTEL_SERVICE_NAME wins over service.name among the attributes, which wins over ours */
    const char *named = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(c->resource_key[i], "service.name") == 0)
            named = c->resource_value[i];
    ql_env_str(e, "OTEL_SERVICE_NAME", c->service, sizeof(c->service), named ? named : service, 0);
}

void ql_trace_config_read(struct ql_env *e, const char *service, struct ql_trace_config *c)
{
    memset(c, 0, sizeof(*c));
    const char *off = ql_env_value(e, "OTEL_SDK_DISABLED");
    if (off && strcasecmp(off, "true") != 0 && strcasecmp(off, "false") != 0)
        ql_env_problem(e, "OTEL_SDK_DISABLED: expected true or false, got '%.60s'", off);
    const char *exporter = ql_env_value(e, "OTEL_TRACES_EXPORTER");
    if (exporter && strcmp(exporter, "otlp") != 0 && strcmp(exporter, "none") != 0)
        ql_env_problem(e, "OTEL_TRACES_EXPORTER: expected otlp or none, got '%.60s'", exporter);
    read_endpoint(e, c);
    if ((off && strcasecmp(off, "true") == 0) || (exporter && strcmp(exporter, "none") == 0))
        c->enabled = 0;
    if (!c->enabled)
        return;
    const char *name;
    const char *proto =
        either(e, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &name);
    if (proto && strcmp(proto, "http/json") != 0)
        ql_env_problem(e,
                       "%s: Quill exports OTLP over HTTP with JSON only (http/json), got '%.60s'",
                       name, proto);
    read_resource(e, c, service);
    read_headers(e, c);
    char why[200];
    const char *sampler = ql_env_value(e, "OTEL_TRACES_SAMPLER");
    if (ql_sampler_parse(sampler, NULL, &c->sampler, why, sizeof(why)) != QL_OK)
        ql_env_problem(e, "OTEL_TRACES_SAMPLER: %s", why);
    else if (ql_sampler_parse(sampler, ql_env_value(e, "OTEL_TRACES_SAMPLER_ARG"), &c->sampler, why,
                              sizeof(why)) != QL_OK)
        ql_env_problem(e, "OTEL_TRACES_SAMPLER_ARG: %s", why);
    int otlp_timeout, bsp_timeout;
    const char *tname = ql_env_value(e, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
                            ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
                            : "OTEL_EXPORTER_OTLP_TIMEOUT";
    ql_env_int(e, tname, &otlp_timeout, 10000, 1, 600000);
    ql_env_int(e, "OTEL_BSP_EXPORT_TIMEOUT", &bsp_timeout, 30000, 1, 600000);
    c->timeout_ms = otlp_timeout < bsp_timeout ? otlp_timeout : bsp_timeout;
    ql_env_int(e, "OTEL_BSP_SCHEDULE_DELAY", &c->schedule_delay_ms, 5000, 1, 3600000);
    ql_env_int(e, "OTEL_BSP_MAX_QUEUE_SIZE", &c->queue_size, 2048, 1, 1000000);
    ql_env_int(e, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &c->batch_size, 512, 1, 1000000);
    if (c->batch_size > c->queue_size)
        ql_env_problem(e,
                       "OTEL_BSP_MAX_EXPORT_BATCH_SIZE: %d is more than OTEL_BSP_MAX_QUEUE_SIZE "
                       "(%d)",
                       c->batch_size, c->queue_size);
}
