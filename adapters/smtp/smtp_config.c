/*
 * smtp_config.c - the SMTP sender's settings from the environment (see smtp.h).  A problem
 * names its variable and never repeats a password: the URL is described, not echoed.
 */
#include "smtp.h"

#include "config/config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Check QUILL_SMTP_URL with libcurl's own parser (what it checks is what it connects to). */
static void check_url(struct ql_env *e, struct ql_smtp_config *c, int *has_user)
{
    const char *name = "QUILL_SMTP_URL";
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
    *has_user = 0;
    if (u == NULL) {
        ql_env_problem(e, "%s: cannot be checked (out of memory)", name);
        return;
    }
    if (curl_url_set(u, CURLUPART_URL, c->url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        ql_env_problem(e,
                       "%s: not a URL; expected smtp://host[:port] or smtps://host[:port], with "
                       "credentials as user:password@ if the server needs them",
                       name);
    else if (strcasecmp(scheme, "smtp") != 0 && strcasecmp(scheme, "smtps") != 0)
        ql_env_problem(e, "%s: the scheme must be smtp or smtps, got '%.20s'", name, scheme);
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || !*host)
        ql_env_problem(e, "%s: names no host", name);
    else
        *has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user && *user;
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
}

void ql_smtp_config_read(struct ql_env *e, struct ql_smtp_config *c)
{
    memset(c, 0, sizeof(*c));
    char from[512], tls[16];
    ql_env_str(e, "QUILL_SMTP_URL", c->url, sizeof(c->url), NULL, 0);
    ql_env_str(e, "QUILL_SMTP_USERNAME", c->username, sizeof(c->username), NULL, 0);
    ql_env_str(e, "QUILL_SMTP_PASSWORD", c->password, sizeof(c->password), NULL, 0);
    ql_env_str(e, "QUILL_MAIL_FROM", from, sizeof(from), NULL, 0);
    ql_env_str(e, "QUILL_SMTP_TLS", tls, sizeof(tls), NULL, 0);
    ql_env_str(e, "QUILL_SMTP_CA_FILE", c->ca_file, sizeof(c->ca_file), NULL, 0);
    /* at most 5 minutes: the deadline of a mail.send attempt is a little longer */
    ql_env_int(e, "QUILL_SMTP_CONNECT_TIMEOUT_MS", &c->connect_timeout_ms, 10000, 100, 300000);
    ql_env_int(e, "QUILL_SMTP_TIMEOUT_MS", &c->timeout_ms, 60000, 100, 300000);
    int url_user = 0;
    if (c->url[0])
        check_url(e, c, &url_user);
    else if (c->username[0] || c->password[0] || c->ca_file[0] || tls[0])
        ql_env_problem(e, "QUILL_SMTP_URL: required when QUILL_SMTP_USERNAME, "
                          "QUILL_SMTP_PASSWORD, QUILL_SMTP_TLS or QUILL_SMTP_CA_FILE is set");
    if (url_user && (c->username[0] || c->password[0]))
        ql_env_problem(e, "QUILL_SMTP_USERNAME: credentials are in QUILL_SMTP_URL already; give "
                          "them in one place");
    if (c->password[0] && !c->username[0])
        ql_env_problem(e, "QUILL_SMTP_USERNAME: required when QUILL_SMTP_PASSWORD is set");
    /* Credentials never travel in clear unless the operator says so. */
    int creds = url_user || c->username[0];
    if (tls[0] == '\0')
        c->require_tls = creds;
    else if (strcmp(tls, "try") == 0 || strcmp(tls, "require") == 0)
        c->require_tls = strcmp(tls, "require") == 0;
    else
        ql_env_problem(e, "QUILL_SMTP_TLS: expected try or require, got '%.16s'", tls);
    if (c->ca_file[0] && access(c->ca_file, R_OK) != 0)
        ql_env_problem(e, "QUILL_SMTP_CA_FILE: cannot read '%.120s'", c->ca_file);
    char why[160];
    if (from[0] && ql_smtp_parse_from(from, c, why, sizeof(why)) != 0)
        ql_env_problem(e, "QUILL_MAIL_FROM: %s, got '%.80s'", why, from);
    else if (!from[0] && c->url[0])
        ql_env_problem(e, "QUILL_MAIL_FROM: required when QUILL_SMTP_URL is set (for example "
                          "'Quill <quill@example.com>')");
}
