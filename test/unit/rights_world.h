/*
 * rights_world.h - the world the data-rights unit tests share (test_rights.c, test_erase.c):
 * two people in one team on the fakes, Ada (the team's owner) and Bo (a member), each with
 * an entry, and helpers to run the rights jobs the way the worker does.
 */
#ifndef QL_TEST_RIGHTS_WORLD_H
#define QL_TEST_RIGHTS_WORLD_H

#include "account/account.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "rights/rights.h"
#include "team/team.h"
#include "test.h"

#include <stdio.h>
#include <string.h>

struct world {
    struct fixture f;
    struct ql_auth_result ada, bo;
    struct ql_principal pa, pb;
    struct ql_team team;
    struct ql_entry ada_entry, bo_entry;
};

static inline void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

/* Load a session principal again (memberships change). */
static inline void reload(struct world *w, const struct ql_auth_result *who, struct ql_principal *p)
{
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, who->session.token, strlen(who->session.token),
                                     QL_VIA_BEARER, p),
                  QL_OK);
}

static inline void person(struct world *w, const char *email, const char *name,
                          struct ql_auth_result *r, struct ql_principal *p)
{
    fixture_next(&w->f);
    struct ql_credentials c = {email,        strlen(email), "correct horse battery", 21, name,
                               strlen(name), NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, r), QL_OK);
    reload(w, r, p);
}

static inline void write_entry(struct world *w, struct ql_principal *p, const char *text,
                               struct ql_entry *out)
{
    struct ql_entry_input in = {text, strlen(text), 0, NULL, 0};
    as(w, p);
    ASSERT_INT_EQ(ql_entry_create(&w->f.cx, &w->team.id, &in, out), QL_OK);
}

static inline void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    fixture_init(&w->f);
    person(w, "ada@example.com", "Ada Lovelace", &w->ada, &w->pa);
    person(w, "bo@example.com", "Bo Diddley", &w->bo, &w->pb);
    as(w, &w->pa);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "Poets", 5, &w->team), QL_OK);
    reload(w, &w->ada, &w->pa);
    struct ql_member m;
    as(w, &w->pa);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "bo@example.com", 14, "member", 6, &m),
                  QL_OK);
    reload(w, &w->bo, &w->pb);
    write_entry(w, &w->pa, "Ada's first entry", &w->ada_entry);
    write_entry(w, &w->pb, "Bo's first entry", &w->bo_entry);
}

/* The index of the first job of kind not yet run, or -1. */
static inline int job_of(struct world *w, const char *kind)
{
    for (int i = 0; i < w->f.queue.n; i++)
        if (strcmp(w->f.queue.jobs[i].kind, kind) == 0 && !w->f.queue.jobs[i].done)
            return i;
    return -1;
}

/* Run job i (as the worker would) and return its result; it counts as run when it succeeds. */
static inline int run_job(struct world *w, int i, ql_job_fn fn)
{
    struct fake_job *j = &w->f.queue.jobs[i];
    struct ql_job job = {.id = i + 1,
                         .kind = j->kind,
                         .payload = j->payload,
                         .attempts = ++j->attempts,
                         .max_attempts = j->max_attempts};
    fixture_next(&w->f);
    int rc = fn(&w->f.cx, &job);
    if (rc == QL_OK)
        j->done = 1;
    return rc;
}

/* The number of changes of team with event for id. */
static inline int changes_of(struct world *w, const struct ql_uuid *team, int event,
                             const struct ql_uuid *id)
{
    int n = 0;
    for (int i = 0; i < w->f.store.nchanges; i++) {
        const struct fake_change *c = &w->f.store.changes[i];
        n += memcmp(c->team.b, team->b, 16) == 0 && c->event == event &&
             (id == NULL || memcmp(c->id.b, id->b, 16) == 0);
    }
    return n;
}

/* The number of audit rows (still in the fake's ring) with this action. */
static inline int audits_of(struct world *w, const char *action)
{
    int n = 0;
    for (int i = 0; i < w->f.store.naudit && i < FAKE_MAX; i++)
        n += strcmp(w->f.store.audit[i].e.action, action) == 0;
    return n;
}

#endif
