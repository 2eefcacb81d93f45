/*
 * changes_world.h - a team with an owner, a viewer and an outsider over the fake store, for
 * the change log's tests (test_changes.c: sync; test_consume.c: consumers).  Each test
 * program includes it once.
 */
#ifndef QL_TEST_CHANGES_WORLD_H
#define QL_TEST_CHANGES_WORLD_H

#include "account/account.h"
#include "changes/changes.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "team/team.h"
#include "test.h"

#include <string.h>

struct world {
    struct fixture f;
    struct ql_auth_result owner, viewer, outsider;
    struct ql_principal po, pv, px;
    struct ql_team team;
};

static inline void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static inline void person(struct world *w, const char *email, struct ql_auth_result *r)
{
    struct ql_credentials c = {email, strlen(email), "correct horse battery", 21, "P", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, r), QL_OK);
    fixture_next(&w->f);
}

static inline void resolve(struct world *w, struct ql_auth_result *r, struct ql_principal *p)
{
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, r->session.token, 46, QL_VIA_BEARER, p), QL_OK);
}

static inline void setup(struct world *w)
{
    fixture_init(&w->f);
    person(w, "own@example.com", &w->owner);
    person(w, "vie@example.com", &w->viewer);
    person(w, "out@example.com", &w->outsider);
    resolve(w, &w->owner, &w->po);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "T", 1, &w->team), QL_OK);
    struct ql_member m;
    resolve(w, &w->owner, &w->po);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "vie@example.com", 15, "viewer", 6, &m),
                  QL_OK);
    resolve(w, &w->viewer, &w->pv);
    resolve(w, &w->outsider, &w->px);
}

static inline struct ql_entry write_entry(struct world *w, const char *text)
{
    struct ql_entry e;
    struct ql_entry_input in = {text, strlen(text), 0, NULL, 0};
    as(w, &w->po);
    ASSERT_INT_EQ(ql_entry_create(&w->f.cx, &w->team.id, &in, &e), QL_OK);
    w->f.clock.now_ms += 1000;
    return e;
}

static inline int sync_page(struct world *w, const char *since, int limit, struct ql_sync_page *pg)
{
    as(w, &w->pv);
    return ql_sync(&w->f.cx, &w->team.id, since, since ? strlen(since) : 0, limit, pg);
}

#endif
