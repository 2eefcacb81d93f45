/*
 * h_sync.c - handlers of a team's change feed: delta sync and the activity counts.
 */
#include "internal.h"

#include "changes/changes.h"
#include "err/err.h"
#include "model/model.h"
#include "team/team.h"
#include "wire/wire.h"

void ql__h_sync(struct ql_http_req *r);
void ql__h_team_activity(struct ql_http_req *r);

struct sync_read {
    struct ql_http_req *r;
    struct ql_principal p;
    struct ql_sync_page page;
};

static void synced(struct ql_ctx *cx, int rc, void *arg)
{
    (void)cx;
    struct sync_read *s = arg;
    struct ql_http_req *r = s->r;
    if (rc) {
        ql__res_problem(r, rc);
        ql__req_resume(r);
        return;
    }
    struct ql_jw w;
    /* Reserve once for the whole page, exactly, so it never grows in steps: an item's type,
     * operation and id take at most 100 bytes, its data what wire.h says. */
    size_t room = 128; /* {"changes":[...],"nextCursor":"...","hasMore":false} */
    for (int i = 0; i < s->page.n; i++) {
        const struct ql_sync_item *it = &s->page.items[i];
        room += 100 + (it->entry    ? ql_wire_entry_room(it->entry)
                       : it->prompt ? ql_wire_prompt_room(it->prompt)
                       : it->member ? ql_wire_member_room(it->member)
                                    : 4);
    }
    ql_buf_reserve_exact(&r->res_body, room);
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "changes");
    ql_jw_arr(&w);
    for (int i = 0; i < s->page.n; i++)
        ql__jw_sync_item(&w, &s->page.items[i]);
    ql_jw_arr_end(&w);
    ql_jw_key(&w, "nextCursor");
    ql_jw_str(&w, s->page.cursor);
    ql_jw_key(&w, "hasMore");
    ql_jw_bool(&w, s->page.more);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
    ql__req_resume(r);
}

/*
 * Runs on the loop when it can (QL_ROUTE_LOOP): a delta page is pipelined on the loop's
 * session; a snapshot, which takes several statements, runs again on the pool.
 */
void ql__h_sync(struct ql_http_req *r)
{
    struct sync_read *s = ql_arena_alloc(r->cx.arena, sizeof(*s));
    if (s == NULL) {
        ql__res_problem(r, QL_ENOMEM);
        return;
    }
    s->r = r;
    struct ql_uuid team;
    int limit;
    if (ql__authenticate_team(r, &s->p, &team, NULL, NULL) || ql__query_limit(r, &limit))
        return;
    ql__req_page_room(r, limit, 2);
    size_t sn = 0;
    const char *since = ql__query(r, "since", &sn);
    ql__req_wait(r);
    int rc = ql_sync_async(&r->cx, &team, since, sn, limit, &s->page, synced, s);
    if (rc)
        synced(&r->cx, rc, s); /* refused now: answer as the continuation would have */
}

void ql__h_team_activity(struct ql_http_req *r)
{
    struct ql_principal p;
    struct ql_uuid team;
    if (ql__authenticate_team(r, &p, &team, NULL, NULL))
        return;
    struct ql_activity a;
    int rc = ql_team_activity(&r->cx, &team, &a);
    if (rc) {
        ql__res_problem(r, rc);
        return;
    }
    struct ql_jw w;
    ql_jw_init(&w, &r->res_body);
    ql_jw_obj(&w);
    ql_jw_key(&w, "teamId");
    ql__jw_uuid(&w, &team);
    ql_jw_key(&w, "entriesCreated");
    ql_jw_int(&w, a.entries_created);
    ql_jw_key(&w, "entriesUpdated");
    ql_jw_int(&w, a.entries_updated);
    ql_jw_key(&w, "entriesDeleted");
    ql_jw_int(&w, a.entries_deleted);
    ql_jw_key(&w, "membersAdded");
    ql_jw_int(&w, a.members_added);
    ql_jw_key(&w, "membersRemoved");
    ql_jw_int(&w, a.members_removed);
    ql_jw_key(&w, "lastActivityAt");
    ql__jw_time_or_null(&w, a.last_ms);
    ql_jw_obj_end(&w);
    ql__res_json(r, 200);
}
