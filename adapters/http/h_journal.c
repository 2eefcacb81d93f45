/*
 * h_journal.c - handlers of journal entries and prompts under a team.
 */
#include "internal.h"

#include "entry/entry.h"
#include "err/err.h"
#include "model/model.h"
#include "prompt/prompt.h"
#include "wire/wire.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

void ql__h_entry_create(struct ql_http_req *r);
void ql__h_entry_list(struct ql_http_req *r);
void ql__h_entry_get(struct ql_http_req *r);
void ql__h_entry_update(struct ql_http_req *r);
void ql__h_entry_delete(struct ql_http_req *r);
void ql__h_prompt_list(struct ql_http_req *r);
void ql__h_prompt_create(struct ql_http_req *r);
void ql__h_prompt_delete(struct ql_http_req *r);

static void etag_header(struct ql_http_req *r, const struct ql_entry *e)
{
    char etag[24];
    ql_entry_etag(e, etag, sizeof(etag));
    ql__res_header(r, "ETag", etag);
}

static void entry_response(struct ql_http_req *r, int status, const struct ql_entry *e)
{
    etag_header(r, e);
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql__jw_entry(&w, e);
    ql__res_json(r, status);
}

/* content and promptId of a create or patch body. */
static void entry_input(cJSON *body, struct ql_entry_input *in)
{
    memset(in, 0, sizeof(*in));
    in->content = ql__json_str(body, "content", &in->content_n);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "promptId");
    in->prompt_given = p != NULL;
    in->prompt_id = ql__json_str(body, "promptId", &in->prompt_id_n);
}

/* A creation: its caller, team, and the entry once created. */
struct create {
    struct ql_http_req *r;
    struct ql_principal p; /* here, not on a stack: a group's leader reads it later */
    struct ql_uuid team;
    struct ql_entry e;
};

static void render_entry_created(struct ql_http_req *r, void *arg)
{
    const struct ql_entry *e = &((struct create *)arg)->e;
    char loc[128], team[QL_UUID_STR_LEN + 1], id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&e->team_id, team);
    ql_uuid_format(&e->id, id);
    snprintf(loc, sizeof(loc), "/v1/teams/%s/journal-entries/%s", team, id);
    ql__res_header(r, "Location", loc);
    entry_response(r, 201, e);
}

static const struct ql__field create_fields[] = {
    {"content", QL__JSON_STRING, 1},
    {"promptId", QL__JSON_STRING_OR_NULL, 0},
};

static int run_entry_create(struct ql_http_req *r, void *arg)
{
    struct create *c = arg;
    cJSON *body;
    if (ql__body_parse(r, create_fields, 2, &body))
        return r->cx.err.code;
    struct ql_entry_input in;
    entry_input(body, &in);
    return ql_entry_create(&r->cx, &c->team, &in, &c->e);
}

static void entry_created(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct create *c = arg;
    if (rc)
        ql__res_problem(c->r, rc); /* QL_EWOULD_BLOCK: the write pool runs it from the start */
    else
        render_entry_created(c->r, c);
    ql__req_resume(c->r);
}

/*
 * On the loop (QL_ROUTE_LOOP) a creation is submitted to the group commit from here
 * (ql_entry_create_async) and the request waits, as a loop read does.  One with an
 * Idempotency-Key (its record is written in the entry's transaction), or one that would
 * wait, goes to the write pool, which runs it from the start.
 */
void ql__h_entry_create(struct ql_http_req *r)
{
    struct create *c = ql_arena_alloc(r->cx.arena, sizeof(*c));
    if (c == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    c->r = r;
    if (ql__authenticate_team(r, &c->p, &c->team, NULL, NULL))
        return;
    if (!ql__req_on_loop(r)) {
        ql__run(r, &c->p, run_entry_create, render_entry_created, c);
        return;
    }
    if (ql__req_header(r, "idempotency-key")) {
        ql__req_refuse(r);
        return;
    }
    cJSON *body;
    if (ql__body_parse(r, create_fields, 2, &body))
        return;
    struct ql_entry_input in;
    entry_input(body, &in);
    ql__req_wait(r);
    int rc = ql_entry_create_async(&r->cx, &c->team, &in, &c->e, entry_created, c);
    if (rc)
        entry_created(&r->cx, rc, c); /* refused now: answer as the continuation would have */
}

struct entry_get {
    struct ql_http_req *r;
    struct ql_principal p;
    struct ql_entry e;
};

static void entry_got(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct entry_get *g = arg;
    struct ql_http_req *r = g->r;
    if (rc == QL_ENOT_MODIFIED) {
        etag_header(r, &g->e);
        r->status = 304;
    } else if (rc) {
        ql__res_problem(r, rc);
    } else {
        entry_response(r, 200, &g->e);
    }
    ql__req_resume(r);
}

/* Runs on the loop when it can (QL_ROUTE_LOOP): the row may come after this returns. */
void ql__h_entry_get(struct ql_http_req *r)
{
    struct entry_get *g = ql_arena_alloc(r->cx.arena, sizeof(*g));
    if (g == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    g->r = r;
    struct ql_uuid team, id;
    if (ql__authenticate_team(r, &g->p, &team, "journalEntryId", &id))
        return;
    const struct ql_span *inm = ql__req_header(r, "if-none-match");
    ql__req_wait(r);
    int rc = ql_entry_get_async(&r->cx, &team, &id, inm ? inm->p : NULL, inm ? inm->n : 0, &g->e,
                                entry_got, g);
    if (rc)
        entry_got(&r->cx, rc, g); /* refused now: answer as the continuation would have */
}

struct entry_list {
    struct ql_http_req *r;
    struct ql_principal p;
    struct ql_entry_page page;
};

static void entries_listed(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct entry_list *l = arg;
    struct ql_http_req *r = l->r;
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w) == 0) {
        /* Reserve once for the whole page, exactly: it never grows in steps. */
        size_t room = 128; /* {"items":[...],"nextCursor":"..."} */
        for (int i = 0; i < l->page.n; i++)
            room += ql_wire_entry_room(&l->page.items[i]);
        ql_buf_reserve_exact(&r->res_body, room);
        for (int i = 0; i < l->page.n; i++)
            ql__jw_entry(&w, &l->page.items[i]);
        ql__res_page_end(r, &w, l->page.next);
    }
    ql__req_resume(r);
}

/* Runs on the loop when it can (QL_ROUTE_LOOP), as ql__h_entry_get does. */
void ql__h_entry_list(struct ql_http_req *r)
{
    struct entry_list *l = ql_arena_alloc(r->cx.arena, sizeof(*l));
    if (l == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    l->r = r;
    struct ql_uuid team;
    struct ql_entry_filter f = {0};
    if (ql__authenticate_team(r, &l->p, &team, NULL, NULL) || ql__query_limit(r, &f.limit))
        return;
    ql__req_page_room(r, f.limit, 1);
    f.author = ql__query(r, "authorUserId", &f.author_n);
    f.prompt = ql__query(r, "promptId", &f.prompt_n);
    f.cursor = ql__query(r, "cursor", &f.cursor_n);
    ql__req_wait(r);
    int rc = ql_entry_list_async(&r->cx, &team, &f, &l->page, entries_listed, l);
    if (rc)
        entries_listed(&r->cx, rc, l); /* refused now: answer as the continuation would have */
}

void ql__h_entry_update(struct ql_http_req *r)
{
    static const struct ql__field f[] = {
        {"content", QL__JSON_STRING, 0},
        {"promptId", QL__JSON_STRING_OR_NULL, 0},
    };
    struct ql_principal p;
    struct ql_uuid team, id;
    cJSON *body;
    if (ql__authenticate_team(r, &p, &team, "journalEntryId", &id) ||
        ql__body_parse(r, f, 2, &body))
        return;
    struct ql_entry_input in;
    entry_input(body, &in);
    const struct ql_span *im = ql__req_header(r, "if-match");
    struct ql_entry e;
    int rc = ql_entry_update(&r->cx, &team, &id, &in, im ? im->p : NULL, im ? im->n : 0, &e);
    if (rc)
        ql__res_problem(r, rc);
    else
        entry_response(r, 200, &e);
}

void ql__h_entry_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, id;
    if (ql__authenticate_team(r, &p, &team, "journalEntryId", &id))
        return;
    const struct ql_span *im = ql__req_header(r, "if-match");
    int rc = ql_entry_delete(&r->cx, &team, &id, im ? im->p : NULL, im ? im->n : 0);
    ql__res_done(r, rc);
}

void ql__h_prompt_list(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    size_t cn = 0, catn = 0;
    const char *cursor = ql__query(r, "cursor", &cn);
    const char *category = ql__query(r, "category", &catn);
    struct ql_prompt *items;
    int n;
    const char *next;
    int rc = ql_prompt_list(&r->cx, &team, category, catn, cursor, cn, limit, &items, &n, &next);
    struct ql_jw w;
    if (ql__res_page_begin(r, rc, &w))
        return;
    for (int i = 0; i < n; i++)
        ql__jw_prompt(&w, &items[i]);
    ql__res_page_end(r, &w, next);
}

/* A prompt's creation: its team, and the prompt once created. */
struct prompt_create {
    struct ql_uuid team;
    struct ql_prompt p;
};

static void render_prompt_created(struct ql_http_req *r, void *arg)
{
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql__jw_prompt(&w, &((struct prompt_create *)arg)->p);
    ql__res_json(r, 201);
}

static int run_prompt_create(struct ql_http_req *r, void *arg)
{
    static const struct ql__field f[] = {
        {"text", QL__JSON_STRING, 1},
        {"category", QL__JSON_STRING, 1},
    };
    struct prompt_create *c = arg;
    cJSON *body;
    if (ql__body_parse(r, f, 2, &body))
        return r->cx.err.code;
    size_t tn, cn;
    const char *text = ql__json_str(body, "text", &tn);
    const char *cat = ql__json_str(body, "category", &cn);
    int rc = ql_prompt_create(&r->cx, &c->team, text, tn, cat, cn, &c->p);
    return rc;
}

void ql__h_prompt_create(struct ql_http_req *r)
{
    struct ql_principal p;
    struct prompt_create c;
    if (ql__authenticate_team(r, &p, &c.team, NULL, NULL))
        return;
    ql__run(r, &p, run_prompt_create, render_prompt_created, &c);
}

void ql__h_prompt_delete(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team, id;
    if (ql__authenticate_team(r, &p, &team, "promptId", &id))
        return;
    int rc = ql_prompt_delete(&r->cx, &team, &id);
    ql__res_done(r, rc);
}
