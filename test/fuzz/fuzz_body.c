/*
 * libFuzzer target: every route of quill-api that takes a JSON body (QL_ROUTE_BODY in the
 * routing table), through its real handler: the body parser with that route's field list,
 * then the use case's validators (emails, passwords, names, roles, times, UUIDs, entry and
 * prompt text) against the fake ports.  So a route added to the table is fuzzed too.
 *
 * An input is a route selector, a byte of request options (who calls: the team's owner, a
 * member, an API key or the operator; with an Idempotency-Key or not) and the body.  Each
 * input gets a fresh world: a team with an owner, a member, a prompt, an entry, a key and a
 * feature flag.  The target
 * aborts when a handler answers nothing or with a status outside what a client can cause
 * (2xx, 400, 401, 403, 404, 409, 412, 422), when a response body is not valid UTF-8 JSON
 * (a 204, or a 202 without a body, has none),
 * or when a request repeated with its Idempotency-Key is not answered as it was the first
 * time.  Leaks and memory errors are the sanitizers'.
 */
#include "account/account.h"
#include "arena/arena.h"
#include "config/config.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "flag/flag.h"
#include "http/internal.h"
#include "prompt/prompt.h"
#include "team/team.h"
#include "validate/validate.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "correct horse battery"

struct world {
    struct fake_clock clock;
    struct fake_auth auth;
    struct fake_log log;
    struct fake_store store;
    struct fake_queue queue; /* what use cases enqueue (an erasure's job) */
    struct ql_config cfg;
    struct ql_http_config hcfg;
    struct ql_http_env env;
    struct ql_arena mem;              /* the world's strings */
    const char *token[4];             /* owner, member, API key, operator (bearer tokens) */
    char team[QL_UUID_STR_LEN + 1];   /* the ids the paths name */
    char member[QL_UUID_STR_LEN + 1]; /* the member's user id */
    char entry[QL_UUID_STR_LEN + 1];  /* an entry of the owner's */
};

#define ADMIN_TOKEN "fuzz-operator-token-0123456789"
#define FLAG_KEY "fuzz-flag"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_body: %s\n", what);
        abort();
    }
}

static struct ql_ports ports(struct world *w)
{
    return (struct ql_ports){.store = &w->store.base,
                             .queue = &w->queue.base,
                             .clock = &w->clock.base,
                             .auth = &w->auth.base,
                             .log = &w->log.base};
}

/* A context acting as the holder of token (NULL: nobody), memory in a. */
static void as(struct world *w, struct ql_ctx *cx, struct ql_arena *a, const char *token,
               struct ql_principal *p)
{
    memset(cx, 0, sizeof(*cx));
    cx->arena = a;
    cx->cfg = &w->cfg;
    cx->ports = ports(w);
    if (token) {
        check(ql_account_resolve(cx, token, strlen(token), QL_VIA_BEARER, p) == QL_OK,
              "the world's token does not resolve");
        cx->principal = p;
    }
}

/* A user with this email; its session token (the world's memory). */
static const char *signup(struct world *w, const char *email)
{
    struct ql_arena a;
    struct ql_ctx cx;
    ql_arena_init(&a, 0, 0);
    as(w, &cx, &a, NULL, NULL);
    struct ql_credentials c = {email, strlen(email), PASSWORD, strlen(PASSWORD), "U", 1, NULL};
    struct ql_auth_result res;
    check(ql_account_signup(&cx, &c, &res) == QL_OK, "cannot sign up");
    const char *token = ql_arena_strdup(&w->mem, res.session.token);
    ql_arena_cleanup(&a);
    return token;
}

static void build(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fake_clock_init(&w->clock, 1767225600000LL);
    fake_auth_init(&w->auth);
    fake_log_init(&w->log, &w->clock.base);
    w->log.base.level = QL_LOG_ERROR + 1; /* quiet */
    fake_store_init(&w->store);
    fake_queue_init(&w->queue, &w->store);
    ql_arena_init(&w->mem, 0, 0);
    w->cfg = (struct ql_config){1000, 86400000, 86400000, 86400000};
    w->cfg.mail_ip_limit = 1000;
    w->cfg.reset_ttl_ms = 1800000;
    w->cfg.verify_ttl_ms = 86400000;
    w->env = (struct ql_http_env){.cfg = &w->hcfg,
                                  .core = &w->cfg,
                                  .clock = &w->clock.base,
                                  .auth = &w->auth.base,
                                  .log = &w->log.base};
    snprintf(w->hcfg.admin_token, sizeof(w->hcfg.admin_token), "%s", ADMIN_TOKEN);
    w->token[3] = ADMIN_TOKEN;
    w->token[0] = signup(w, "owner@example.com");
    w->token[1] = signup(w, "member@example.com");
    struct ql_arena a;
    struct ql_ctx cx;
    struct ql_principal p;
    ql_arena_init(&a, 0, 0);
    as(w, &cx, &a, w->token[0], &p);
    struct ql_team t;
    check(ql_team_create(&cx, "T", 1, &t) == QL_OK, "cannot create the team");
    ql_uuid_format(&t.id, w->team);
    as(w, &cx, &a, w->token[0], &p); /* again: now with the team's membership */
    struct ql_member m;
    check(ql_member_add(&cx, &t.id, "member@example.com", 18, "member", 6, &m) == QL_OK,
          "cannot add the member");
    ql_uuid_format(&m.user_id, w->member);
    struct ql_prompt pr;
    check(ql_prompt_create(&cx, &t.id, "What went well?", 15, "daily", 5, &pr) == QL_OK,
          "cannot create a prompt");
    struct ql_entry_input in = {.content = "hello", .content_n = 5};
    struct ql_entry e;
    check(ql_entry_create(&cx, &t.id, &in, &e) == QL_OK, "cannot create an entry");
    ql_uuid_format(&e.id, w->entry);
    struct ql_new_api_key k;
    check(ql_api_key_create(&cx, &t.id, "k", 1, "member", 6, NULL, 0, &k) == QL_OK,
          "cannot create a key");
    w->token[2] = ql_arena_strdup(&w->mem, k.secret);
    struct ql_principal op = {.kind = QL_PRINCIPAL_OPERATOR, .via = QL_VIA_ADMIN};
    as(w, &cx, &a, NULL, NULL);
    cx.principal = &op;
    struct ql_flag f;
    int created;
    check(ql_flags_put(&cx, FLAG_KEY, "", 0, 50, &f, &created) == QL_OK, "cannot create a flag");
    ql_arena_cleanup(&a);
}

static void destroy(struct world *w)
{
    fake_store_cleanup(&w->store);
    fake_log_cleanup(&w->log);
    ql_arena_cleanup(&w->mem);
}

/* The route's template with the world's ids in place of its parameters. */
static void fill_path(const struct world *w, const char *tmpl, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + QL_UUID_STR_LEN + 1 < cap;) {
        if (*p != '{') {
            out[o++] = *p++;
            continue;
        }
        const char *end = strchr(p, '}');
        size_t n = (size_t)(end - p + 1);
        const char *id = strncmp(p, "{teamId}", n) == 0           ? w->team
                         : strncmp(p, "{userId}", n) == 0         ? w->member
                         : strncmp(p, "{journalEntryId}", n) == 0 ? w->entry
                         : strncmp(p, "{flagKey}", n) == 0        ? FLAG_KEY
                                                                  : "";
        check(id[0] != '\0', "a path parameter the world has no id for");
        memcpy(out + o, id, strlen(id)); /* at most QL_UUID_STR_LEN */
        o += strlen(id);
        p = end + 1;
    }
    out[o] = '\0';
}

struct answer {
    int status;
    int replayed;
    char *body; /* heap */
    size_t body_n;
};

/* One request of route to its handler, as a pool thread runs it; the answer into *out. */
static void submit(struct world *w, const struct ql_http_route *rt, int who, int idem,
                   const char *body, size_t n, struct answer *out)
{
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 4 << 20);
    struct ql_http_req r;
    memset(&r, 0, sizeof(r));
    r.env = &w->env;
    r.peer = "127.0.0.1";
    ql__req_reset(&r, &arena);
    r.cx.ports = ports(w);
    r.method = rt->method;
    char path[256], auth[128];
    fill_path(w, rt->tmpl, path, sizeof(path));
    r.path = (struct ql_span){path, strlen(path)};
    r.query = (struct ql_span){"", 0};
    r.body = (struct ql_span){body, n};
    snprintf(auth, sizeof(auth), "Bearer %s", w->token[who]);
    const char *names[] = {"authorization", "content-type", "idempotency-key"};
    const char *values[] = {auth, "application/json", "fuzz-key-1"};
    r.nheaders = idem ? 3 : 2;
    for (int i = 0; i < r.nheaders; i++) {
        r.headers[i].name = (struct ql_span){names[i], strlen(names[i])};
        r.headers[i].value = (struct ql_span){values[i], strlen(values[i])};
    }
    unsigned allow;
    int route = ql__router_match(rt, 1, r.method, r.path.p, r.path.n, r.params, &r.nparams, &allow);
    check(route == 0, "the route does not match its own path");
    rt->fn(&r);
    ql_ctx_run_deferred(&r.cx);
    out->status = r.status;
    out->replayed = r.res_headers.data && memmem(r.res_headers.data, r.res_headers.len,
                                                 "Idempotent-Replayed: true", 25) != NULL;
    out->body_n = r.res_body.len;
    out->body = malloc(out->body_n + 1);
    check(out->body != NULL, "out of memory");
    if (out->body_n)
        memcpy(out->body, r.res_body.data, out->body_n);
    ql__req_release(&r);
    ql_arena_cleanup(&arena);
}

static void check_answer(const struct answer *a)
{
    static const int allowed[] = {200, 201, 202, 204, 400, 401, 403, 404, 409, 412, 422};
    int ok = 0;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        ok |= a->status == allowed[i];
    if (!ok)
        fprintf(stderr, "fuzz_body: status %d: %.*s\n", a->status, (int)a->body_n, a->body);
    check(ok, "a status no request body should cause");
    if (a->status == 204) {
        check(a->body_n == 0, "a 204 with a body");
        return;
    }
    if (a->status == 202 && a->body_n == 0)
        return; /* accepted, nothing to say (a password reset request) */
    check(ql_utf8_count(a->body, a->body_n) >= 0, "a response body that is not UTF-8");
    cJSON *doc = cJSON_ParseWithLength(a->body, a->body_n);
    check(cJSON_IsObject(doc), "a response body that is not a JSON object");
    cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ql_http_route *routes[64];
    static int nroutes;
    static struct world w;
    if (nroutes == 0) {
        for (int i = 0; i < ql__http_nroutes && nroutes < 64; i++)
            if (ql__http_routes[i].flags & QL_ROUTE_BODY)
                routes[nroutes++] = &ql__http_routes[i];
        check(nroutes > 0, "no route takes a body");
    }
    if (size < 2)
        return 0;
    const struct ql_http_route *rt = routes[data[0] % nroutes];
    int who = data[1] & 3;
    int idem = data[1] >> 2 & 1;
    /* the body in a buffer of its own size, so reading past it is caught */
    size_t n = size - 2;
    char *body = malloc(n ? n : 1);
    check(body != NULL, "out of memory");
    memcpy(body, data + 2, n);
    build(&w);
    struct answer first, again;
    submit(&w, rt, who, idem, body, n, &first);
    check_answer(&first);
    if (idem && rt->method == QL_HTTP_POST) {
        submit(&w, rt, who, idem, body, n, &again);
        check(again.replayed, "a repeated request with its key was run again");
        check(again.status == first.status && again.body_n == first.body_n &&
                  memcmp(again.body, first.body, first.body_n) == 0,
              "a replay that differs from the first answer");
        free(again.body);
    }
    free(first.body);
    free(body);
    destroy(&w);
    return 0;
}
