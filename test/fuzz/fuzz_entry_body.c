/*
 * libFuzzer target: the JSON request-body path of POST .../journal-entries — the body
 * parser of the HTTP adapter (cJSON, unknown fields, types, escaped NULs) and then the
 * entry use case with its validators, against the fake ports.  Any crash, leak or
 * sanitizer report is a bug; every input must end in a response.
 */
#include "account/account.h"
#include "arena/arena.h"
#include "config/config.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fakes/fakes.h"
#include "http/internal.h"
#include "team/team.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_clock clock;
    static struct fake_auth auth;
    static struct fake_log log;
    static struct fake_store store;
    static struct ql_config cfg;
    static struct ql_http_env env;
    static struct ql_principal owner;
    static struct ql_team team;
    static int ready;
    if (!ready) {
        fake_clock_init(&clock, 1767225600000LL);
        fake_auth_init(&auth);
        fake_log_init(&log, &clock.base);
        log.base.level = QL_LOG_ERROR + 1; /* keep the fuzzer quiet */
        fake_store_init(&store);
        env.core = &cfg;
        env.log = &log.base;
        cfg.session_idle_ms = 86400000;
        cfg.session_ttl_ms = 86400000;
        struct ql_arena a;
        ql_arena_init(&a, 0, 0);
        struct ql_ctx cx = {.arena = &a, .cfg = &cfg};
        cx.ports = (struct ql_ports){&store.base, NULL, &clock.base, &auth.base, &log.base};
        struct ql_credentials c = {
            "fuzz@example.com", 16, "correct horse battery", 21, "F", 1, NULL};
        struct ql_auth_result res;
        if (ql_account_signup(&cx, &c, &res) != QL_OK)
            abort();
        static char token[64];
        memcpy(token, res.session.token, strlen(res.session.token) + 1);
        ql_error_clear(&cx.err);
        if (ql_account_resolve(&cx, token, strlen(token), QL_VIA_BEARER, &owner) != QL_OK)
            abort();
        cx.principal = &owner;
        if (ql_team_create(&cx, "T", 1, &team) != QL_OK)
            abort();
        ql_error_clear(&cx.err);
        if (ql_account_resolve(&cx, token, strlen(token), QL_VIA_BEARER, &owner) != QL_OK)
            abort();
        /* memberships now live in this arena: copy them out before it goes */
        static struct ql_membership m[1];
        m[0] = owner.teams[0];
        owner.teams = m;
        ql_arena_cleanup(&a);
        ready = 1;
    }
    struct ql_arena arena;
    ql_arena_init(&arena, 0, 4 << 20);
    struct ql_http_req r;
    memset(&r, 0, sizeof(r));
    r.env = &env;
    r.cx.arena = &arena;
    r.cx.cfg = &cfg;
    r.cx.ports = (struct ql_ports){&store.base, NULL, &clock.base, &auth.base, &log.base};
    r.cx.principal = &owner;
    ql_buf_init(&r.res_body, &arena);
    ql_buf_init(&r.res_headers, &arena);
    char *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    r.body.p = copy;
    r.body.n = size;
    static const struct ql__field f[] = {
        {"content", QL__JSON_STRING, 1},
        {"promptId", QL__JSON_STRING_OR_NULL, 0},
    };
    cJSON *body;
    if (ql__body_parse(&r, f, 2, &body) == 0) {
        struct ql_entry_input in = {0};
        in.content = ql__json_str(body, "content", &in.content_n);
        in.prompt_given = cJSON_GetObjectItemCaseSensitive(body, "promptId") != NULL;
        in.prompt_id = ql__json_str(body, "promptId", &in.prompt_id_n);
        struct ql_entry e;
        int rc = ql_entry_create(&r.cx, &team.id, &in, &e);
        if (rc != QL_OK && rc != QL_EVALIDATION)
            abort(); /* a valid body can only be refused for its values */
        ql__req_release(&r);
        /* keep the fake store from filling up */
        store.nentries = 0;
        store.naudit = 0;
        store.nchanges = 0;
    } else if (r.status != 400 && r.status != 422) {
        abort();
    }
    free(copy);
    ql_arena_cleanup(&arena);
    return 0;
}
