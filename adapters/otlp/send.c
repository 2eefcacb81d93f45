/*
 * send.c - the exporter's sender over libcurl: one POST of a JSON body per batch, on one
 * easy handle the exporter's thread keeps (so the connection to the collector is reused).
 * A 2xx answer is a success; its body may be an ExportTraceServiceResponse naming spans the
 * collector rejected (partialSuccess.rejectedSpans).  Anything else fails the batch.
 */
#include "internal.h"

#include "err/err.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX 65536

struct curl_sender {
    CURL *h;
    struct curl_slist *headers;
    char url[1024];
    long timeout_ms;
    char agent[96];
    char answer[ANSWER_MAX + 1];
    size_t answer_n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct curl_sender *s = ud;
    size_t n = size * nmemb, room = ANSWER_MAX - s->answer_n;
    size_t take = n < room ? n : room;
    memcpy(s->answer + s->answer_n, data, take);
    s->answer_n += take;
    return n; /* read the rest and forget it: the connection stays usable */
}

/* partialSuccess.rejectedSpans of a JSON answer (a string or a number); 0 when absent. */
static int64_t rejected_of(const char *answer)
{
    cJSON *doc = cJSON_Parse(answer);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(doc, "partialSuccess");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ps, "rejectedSpans");
    int64_t n = 0;
    if (cJSON_IsNumber(r))
        n = (int64_t)r->valuedouble;
    else if (cJSON_IsString(r) && r->valuestring)
        n = strtoll(r->valuestring, NULL, 10);
    cJSON_Delete(doc);
    return n;
}

static int c_post(void *ud, const char *body, size_t n, int64_t *rejected, char *why, size_t cap)
{
    struct curl_sender *s = ud;
    *rejected = 0;
    s->answer_n = 0;
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, s->agent);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(why, cap, "%s", curl_easy_strerror(cc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    s->answer[s->answer_n] = '\0';
    if (status < 200 || status > 299) {
        snprintf(why, cap, "HTTP %ld", status);
        return -1;
    }
    if (s->answer_n > 0 && s->answer[0] == '{')
        *rejected = rejected_of(s->answer);
    return 0;
}

static void c_destroy(void *ud)
{
    struct curl_sender *s = ud;
    if (s == NULL)
        return;
    curl_easy_cleanup(s->h);
    curl_slist_free_all(s->headers);
    free(s);
}

int ql__otlp_curl_sender(const struct ql_trace_config *cfg, struct ql__otlp_sender *out)
{
    memset(out, 0, sizeof(*out));
    struct curl_sender *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return QL_ENOMEM;
    snprintf(s->url, sizeof(s->url), "%s", cfg->endpoint);
    snprintf(s->agent, sizeof(s->agent), "Quill-OTLP-Exporter/%s",
             cfg->version[0] ? cfg->version : "0");
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    s->h = curl_easy_init();
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    s->headers = l;
    for (int i = 0; l && i < cfg->nheaders; i++) {
        l = curl_slist_append(s->headers, cfg->headers[i]);
        if (l)
            s->headers = l;
    }
    if (l)
        l = curl_slist_append(s->headers, "Expect:"); /* no 100-continue round trip */
    if (l)
        s->headers = l;
    if (s->h == NULL || l == NULL) {
        c_destroy(s);
        return QL_ENOMEM;
    }
    *out = (struct ql__otlp_sender){c_post, c_destroy, s};
    return QL_OK;
}
