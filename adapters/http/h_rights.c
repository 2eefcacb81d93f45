/*
 * h_rights.c - handlers of the data-rights routes: POST /v1/me/exports, GET
 * /v1/me/exports/{exportId} and DELETE /v1/me.  They run on the pool.
 *
 * An export resource is {exportId, status, createdAt, readyAt, expiresAt} with `error` when
 * it failed and `data` (the document) when it is ready.  A ready one is streamed: its fields
 * up to "data": go out first, then the stored document as download.c reads it, part by
 * part, as the client takes it, so a download holds a part, not the document.
 */
#include "internal.h"

#include "arena/arena.h"
#include "config/config.h"
#include "err/err.h"
#include "model/model.h"
#include "rights/rights.h"
#include "uuid/uuid.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

void ql__h_export_create(struct ql_http_req *r);
void ql__h_export_get(struct ql_http_req *r);
void ql__h_me_delete(struct ql_http_req *r);

/* The export's fields, without closing the object. */
static void export_fields(struct ql_jw *w, const struct ql_export *e)
{
    ql_jw_obj(w);
    ql_jw_key(w, "exportId");
    ql__jw_uuid(w, &e->id);
    ql_jw_key(w, "status");
    ql_jw_str(w, ql_export_status_name(e->status));
    ql_jw_key(w, "createdAt");
    ql__jw_time(w, e->created_ms);
    ql_jw_key(w, "readyAt");
    ql__jw_time_or_null(w, e->ready_ms);
    ql_jw_key(w, "expiresAt");
    ql__jw_time(w, e->expires_ms);
    if (e->status == QL_EXPORT_FAILED) {
        ql_jw_key(w, "error");
        ql_jw_str(w, e->error ? e->error : "The export could not be made.");
    }
}

/* ---- POST /v1/me/exports ----------------------------------------------------------------------
 */

struct request {
    struct ql_export e;
    int created;
};

static int run_create(struct ql_http_req *r, void *arg)
{
    struct request *q = arg;
    return ql_export_request(&r->cx, &q->e, &q->created);
}

static void render_create(struct ql_http_req *r, void *arg)
{
    const struct request *q = arg;
    char id[QL_UUID_STR_LEN + 1], loc[64];
    ql_uuid_format(&q->e.id, id);
    snprintf(loc, sizeof(loc), "/v1/me/exports/%s", id);
    ql__res_header(r, "Location", loc);
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    export_fields(&w, &q->e);
    ql_jw_obj_end(&w);
    ql__res_json(r, 202);
}

void ql__h_export_create(struct ql_http_req *r)
{
    struct ql_principal p;
    if (ql__authenticate(r, &p))
        return;
    struct request q;
    memset(&q, 0, sizeof(q));
    ql__run(r, &p, run_create, render_create, &q);
}

/* ---- GET /v1/me/exports/{exportId} ------------------------------------------------------------
 */

void ql__h_export_get(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid id;
    if (ql__authenticate(r, &p) || ql__param_uuid(r, 0, "exportId", &id))
        return;
    struct ql_export e;
    int rc = ql_export_get(&r->cx, &id, &e, NULL, NULL);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    export_fields(&w, &e);
    if (e.status != QL_EXPORT_READY) { /* pending or failed: the head alone */
        ql_jw_obj_end(&w);
        ql__res_json(r, 200);
        return;
    }
    /* the head in the request's arena, which lasts as long as the stream */
    ql_jw_key(&w, "data");
    struct ql_buf *b = &r->res_body;
    rc = ql_buf_ok(b);
    if (rc == QL_OK)
        rc = ql__download_begin(r, &e, b->data, b->len);
    if (rc) {
        b->len = 0;
        ql__res_problem(r, rc);
    }
}

/* ---- DELETE /v1/me ----------------------------------------------------------------------------
 */

void ql__h_me_delete(struct ql_http_req *r)
{
    static const struct ql__field f[] = {
        {"password", QL__JSON_STRING, 0},
        {"code", QL__JSON_STRING_OR_NULL, 0},
    };
    struct ql_principal p;
    cJSON *body;
    if (ql__authenticate(r, &p) || ql__body_parse(r, f, 2, &body))
        return;
    struct ql_erase_request in;
    memset(&in, 0, sizeof(in));
    in.password = ql__json_str(body, "password", &in.password_n);
    in.code = ql__json_str(body, "code", &in.code_n);
    int rc = ql_account_erase(&r->cx, &in);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    char cookie[160];
    snprintf(cookie, sizeof(cookie), "quill_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0%s",
             r->env->cfg->public_https ? "; Secure" : "");
    ql__res_header(r, "Set-Cookie", cookie);
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "userId");
    ql__jw_uuid(&w, &p.user_id);
    ql_jw_key(&w, "status");
    ql_jw_str(&w, "erasing");
    ql_jw_obj_end(&w);
    ql__res_json(r, 202);
}
