/*
 * config.c - reading and validating the environment.  Each reader either stores a value or
 * appends a message naming the variable; reading continues after a problem so an operator
 * sees every mistake in one run.
 */
#include "config/config.h"

#include "b64/b64.h"
#include "err/err.h"
#include "log/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ql_env_init(struct ql_env *e, ql_getenv_fn get, void *ud, struct ql_config_errors *errs)
{
    e->get = get;
    e->ud = ud;
    e->errs = errs;
    errs->n = 0;
}

int ql_env_status(const struct ql_env *e)
{
    return e->errs->n ? QL_ECONFIG : QL_OK;
}

/*
 * One problem per variable: two readers of one variable (QUILL_PUBLIC_URL is quill-api's
 * and the base of mailed links) must not report it twice.
 */
void ql_env_problem(struct ql_env *e, const char *fmt, ...)
{
    if (e->errs->n >= QL_CONFIG_MAX_ERRORS)
        return;
    char *msg = e->errs->msg[e->errs->n];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(e->errs->msg[0]), fmt, ap);
    va_end(ap);
    size_t name = strcspn(msg, ": ");
    for (int i = 0; i < e->errs->n; i++)
        if (name && msg[name] == ':' && strncmp(e->errs->msg[i], msg, name + 1) == 0)
            return; /* already reported */
    e->errs->n++;
}

const char *ql_env_value(struct ql_env *e, const char *name)
{
    const char *v = e->get(e->ud, name);
    return v && *v ? v : NULL;
}

void ql_env_str(struct ql_env *e, const char *name, char *dst, size_t cap, const char *def,
                int required)
{
    const char *v = ql_env_value(e, name);
    if (v == NULL) {
        if (required)
            ql_env_problem(e, "%s: required but not set", name);
        snprintf(dst, cap, "%s", def ? def : "");
        return;
    }
    if (strlen(v) >= cap) {
        ql_env_problem(e, "%s: longer than %zu characters", name, cap - 1);
        dst[0] = '\0';
        return;
    }
    memcpy(dst, v, strlen(v) + 1);
}

void ql_env_int(struct ql_env *e, const char *name, int *dst, int def, int lo, int hi)
{
    const char *v = ql_env_value(e, name);
    *dst = def;
    if (v == NULL)
        return;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end != '\0' || end == v || n < lo || n > hi) {
        ql_env_problem(e, "%s: expected an integer from %d to %d, got '%.60s'", name, lo, hi, v);
        return;
    }
    *dst = (int)n;
}

void ql_env_bool(struct ql_env *e, const char *name, int *dst, int def)
{
    const char *v = ql_env_value(e, name);
    *dst = def;
    if (v == NULL)
        return;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        *dst = 1;
    else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        *dst = 0;
    else
        ql_env_problem(e, "%s: expected 0 or 1, got '%.60s'", name, v);
}

void ql_env_hostport(struct ql_env *e, const char *name, const char *def, int allow_off, char *host,
                     size_t cap, int *port)
{
    const char *v = ql_env_value(e, name);
    if (v == NULL)
        v = def;
    host[0] = '\0';
    *port = 0;
    if (allow_off && strcmp(v, "off") == 0)
        return;
    const char *colon = strrchr(v, ':');
    const char *h = v;
    size_t hn = colon ? (size_t)(colon - v) : 0;
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || hn == 0 || hn >= cap || *end != '\0' || end == colon + 1 || p < 0 ||
        p > 65535) {
        ql_env_problem(e, "%s: expected host:port with a port from 0 to 65535%s, got '%.60s'", name,
                       allow_off ? " (or off)" : "", v);
        return;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (int)p;
}

static void read_secret(struct ql_env *e, struct ql_config_common *c, int required)
{
    const char *name = "QUILL_SECRET";
    const char *v = ql_env_value(e, name);
    c->secret_len = 0;
    if (v == NULL) {
        if (required)
            ql_env_problem(e,
                           "%s: required but not set (base64 of at least 32 random bytes; "
                           "generate one with: head -c 32 /dev/urandom | base64)",
                           name);
        return;
    }
    size_t n;
    if (ql_b64_decode(v, strlen(v), c->secret, sizeof(c->secret), &n) != QL_OK) {
        ql_env_problem(e, "%s: not valid base64 (or longer than 64 bytes)", name);
        return;
    }
    if (n < 32) {
        ql_env_problem(e, "%s: decodes to %zu bytes; at least 32 are needed", name, n);
        return;
    }
    c->secret_len = n;
}

void ql_config_common_read(struct ql_env *e, int need, struct ql_config_common *c)
{
    memset(c, 0, sizeof(*c));
    ql_env_str(e, "DATABASE_URL", c->database_url, sizeof(c->database_url), NULL,
               need & QL_NEED_DATABASE);
    ql_env_str(e, "DATABASE_DIRECT_URL", c->database_direct_url, sizeof(c->database_direct_url),
               NULL, 0);
    ql_env_str(e, "DATABASE_READ_URL", c->database_read_url, sizeof(c->database_read_url), NULL, 0);
    char pooler[16];
    ql_env_str(e, "QUILL_DB_POOLER", pooler, sizeof(pooler), "none", 0);
    if (strcmp(pooler, "pgbouncer") == 0)
        c->db_pooler = QL_POOLER_PGBOUNCER;
    else if (strcmp(pooler, "none") != 0)
        ql_env_problem(e, "QUILL_DB_POOLER: expected none or pgbouncer, got '%s'", pooler);
    if (c->db_pooler && !c->database_direct_url[0] && (need & QL_NEED_DATABASE))
        ql_env_problem(e, "DATABASE_DIRECT_URL: required with QUILL_DB_POOLER=pgbouncer (a "
                          "connection to PostgreSQL itself, for LISTEN)");
    if (!c->database_direct_url[0])
        memcpy(c->database_direct_url, c->database_url, sizeof(c->database_url));
    read_secret(e, c, need & QL_NEED_SECRET);
    char level[16];
    ql_env_str(e, "QUILL_LOG_LEVEL", level, sizeof(level), "info", 0);
    if (ql_log_level_parse(level, &c->log_level) != QL_OK)
        ql_env_problem(e, "QUILL_LOG_LEVEL: expected debug, info, warn or error, got '%s'", level);
    ql_env_int(e, "QUILL_IDLE_IN_TRANSACTION_TIMEOUT_MS", &c->idle_tx_timeout_ms, 60000, 0,
               86400000);
}

/* "5s,5m,30m,2h" (units ms, s, m, h) into c->webhook_retry_ms. */
static void read_schedule(struct ql_env *e, struct ql_config *c)
{
    const char *v = ql_env_value(e, "QUILL_WEBHOOK_RETRY_SCHEDULE");
    if (v == NULL || *v == '\0')
        v = "5s,5m,30m,2h,5h,10h,10h";
    c->webhook_nretries = 0;
    for (const char *p = v; *p;) {
        char *end;
        long long n = strtoll(p, &end, 10);
        static const struct {
            const char *suffix;
            int64_t ms;
        } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
        int64_t unit = 0;
        for (size_t i = 0; unit == 0 && i < sizeof(units) / sizeof(units[0]); i++) {
            size_t k = strlen(units[i].suffix);
            if (strncmp(end, units[i].suffix, k) == 0) {
                unit = units[i].ms;
                end += k;
            }
        }
        if (end == p || unit == 0 || n < 0 || n > 86400000 || (*end && *end != ',') ||
            c->webhook_nretries == QL_WEBHOOK_RETRIES_MAX) {
            ql_env_problem(e,
                           "QUILL_WEBHOOK_RETRY_SCHEDULE: expected up to %d delays such as "
                           "'5s,5m,30m,2h' (units ms, s, m, h), got '%.80s'",
                           QL_WEBHOOK_RETRIES_MAX, v);
            c->webhook_nretries = 0;
            return;
        }
        c->webhook_retry_ms[c->webhook_nretries++] = n * unit;
        p = *end ? end + 1 : end;
    }
}

/* The settings of mailed links: their base URL and lifetimes, and the per-address limit. */
static void read_mail(struct ql_env *e, struct ql_config *c)
{
    const char *name = "QUILL_APP_URL";
    if (ql_env_value(e, name) == NULL)
        name = "QUILL_PUBLIC_URL";
    ql_env_str(e, name, c->app_url, sizeof(c->app_url), "http://127.0.0.1:8080", 0);
    size_t n = strlen(c->app_url);
    while (n > 0 && c->app_url[n - 1] == '/')
        c->app_url[--n] = '\0';
    int ok = strncmp(c->app_url, "https://", 8) == 0 || strncmp(c->app_url, "http://", 7) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = c->app_url[i] > ' ' && c->app_url[i] < 127 && c->app_url[i] != '#' &&
             c->app_url[i] != '?';
    if (!ok)
        ql_env_problem(e,
                       "%s: expected an http:// or https:// URL without query or fragment (the "
                       "base of the links in mails), got '%.60s'",
                       name, c->app_url);
    int minutes, hours;
    ql_env_int(e, "QUILL_PASSWORD_RESET_TTL_MINUTES", &minutes, 30, 1, 1440);
    ql_env_int(e, "QUILL_EMAIL_VERIFY_TTL_HOURS", &hours, 24, 1, 720);
    c->reset_ttl_ms = (int64_t)minutes * 60000;
    c->verify_ttl_ms = (int64_t)hours * 3600000;
    ql_env_int(e, "QUILL_MAIL_IP_LIMIT", &c->mail_ip_limit, 10, 1, 1000000);
}

void ql_config_read(struct ql_env *e, struct ql_config *c)
{
    memset(c, 0, sizeof(*c));
    ql_env_int(e, "QUILL_AUTH_IP_LIMIT", &c->auth_ip_limit, 30, 1, 1000000);
    int ttl_h, idle_h;
    ql_env_int(e, "QUILL_SESSION_TTL_HOURS", &ttl_h, 720, 1, 87600);
    ql_env_int(e, "QUILL_SESSION_IDLE_HOURS", &idle_h, 168, 1, 87600);
    c->session_ttl_ms = (int64_t)ttl_h * 3600000;
    c->session_idle_ms = (int64_t)idle_h * 3600000;
    int keep_h;
    ql_env_int(e, "QUILL_CHANGE_RETENTION_HOURS", &keep_h, 168, 1, 87600);
    c->change_retention_ms = (int64_t)keep_h * 3600000;
    int free_quota;
    ql_env_int(e, "QUILL_FREE_MONTHLY_QUOTA", &free_quota, 10000, 0, 2000000000);
    c->free_quota = free_quota;
    ql_env_bool(e, "QUILL_WEBHOOK_ALLOW_PRIVATE", &c->webhook_allow_private, 0);
    ql_env_int(e, "QUILL_WEBHOOK_TIMEOUT_MS", &c->webhook_timeout_ms, 10000, 100, 300000);
    ql_env_int(e, "QUILL_WEBHOOK_DISABLE_AFTER", &c->webhook_disable_after, 20, 1, 1000000);
    int hook_keep_h;
    ql_env_int(e, "QUILL_WEBHOOK_RETENTION_HOURS", &hook_keep_h, 720, 1, 87600);
    c->webhook_retention_ms = (int64_t)hook_keep_h * 3600000;
    read_schedule(e, c);
    read_mail(e, c);
    int export_mb, export_h;
    ql_env_int(e, "QUILL_EXPORT_MAX_MB", &export_mb, 16, 1, 1024);
    ql_env_int(e, "QUILL_EXPORT_RETENTION_HOURS", &export_h, 72, 1, 8760);
    c->export_max_bytes = (int64_t)export_mb << 20;
    c->export_retention_ms = (int64_t)export_h * 3600000;
}
