/*
 * webhook_world.h - a team with an owner and a member over the fake ports, and a fake
 * outbound port that records what it was asked to send, for the webhook tests
 * (test_webhook.c: endpoints, fan-out, signature; test_webhook_delivery.c: attempts,
 * retries, disabling, redelivery).  Each test program includes it once.
 */
#ifndef QL_TEST_WEBHOOK_WORLD_H
#define QL_TEST_WEBHOOK_WORLD_H

#include "account/account.h"
#include "changes/changes.h"
#include "entry/entry.h"
#include "err/err.h"
#include "fixture.h"
#include "jobs/jobs.h"
#include "outbound/outbound.h"
#include "team/team.h"
#include "test.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <string.h>

/* ---- a fake outbound port ------------------------------------------------------------------ */

struct fake_out {
    struct ql_outbound base;
    int calls;
    int status; /* what it answers; 0: no answer (QL_EUNAVAILABLE) */
    char url[256];
    char body[4096];
    char headers[QL_OUT_HEADERS_MAX][160];
    int64_t *race;            /* set: another delivery disables the endpoint while this one posts */
    void (*during)(void *ud); /* set: runs once while a post is under way */
    void *during_ud;
};

static inline int fo_post(struct ql_outbound *self, const struct ql_out_request *req,
                          struct ql_out_response *res)
{
    struct fake_out *o = (struct fake_out *)self;
    memset(res, 0, sizeof(*res));
    o->calls++;
    if (o->race)
        *o->race = 1;
    void (*during)(void *) = o->during;
    o->during = NULL;
    if (during)
        during(o->during_ud);
    snprintf(o->url, sizeof(o->url), "%s", req->url);
    snprintf(o->body, sizeof(o->body), "%.*s", (int)req->body_n, req->body);
    for (int i = 0; i < QL_OUT_HEADERS_MAX; i++)
        snprintf(o->headers[i], sizeof(o->headers[i]), "%s",
                 req->headers[i] ? req->headers[i] : "");
    res->status = o->status;
    res->duration_ms = 3;
    if (o->status == 0) {
        snprintf(res->error, sizeof(res->error), "connection refused");
        return QL_EUNAVAILABLE;
    }
    return QL_OK;
}

static const struct ql_outbound_ops fo_ops = {.post = fo_post};

static inline const char *header(const struct fake_out *o, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < QL_OUT_HEADERS_MAX; i++)
        if (strncmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return o->headers[i] + n + 2;
    return "";
}

/* ---- the world ------------------------------------------------------------------------------ */

struct world {
    struct fixture f;
    struct fake_out out;
    struct ql_auth_result owner, member;
    struct ql_principal po, pm;
    struct ql_team team;
};

static inline void as(struct world *w, struct ql_principal *p)
{
    fixture_next(&w->f);
    w->f.cx.principal = p;
}

static inline void person(struct world *w, const char *email, struct ql_auth_result *r,
                          struct ql_principal *p)
{
    struct ql_credentials c = {email, strlen(email), "correct horse battery", 21, "P", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&w->f.cx, &c, r), QL_OK);
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, r->session.token, 46, QL_VIA_BEARER, p), QL_OK);
}

static inline void setup(struct world *w)
{
    fixture_init(&w->f);
    w->f.cfg.webhook_allow_private = 0;
    memset(&w->out, 0, sizeof(w->out));
    w->out.base.ops = &fo_ops;
    w->out.status = 200;
    w->f.cx.ports.outbound = &w->out.base;
    person(w, "own@example.com", &w->owner, &w->po);
    person(w, "mem@example.com", &w->member, &w->pm);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_team_create(&w->f.cx, "T", 1, &w->team), QL_OK);
    struct ql_member m;
    fixture_next(&w->f); /* again: now the principal knows the team */
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, w->owner.session.token, 46, QL_VIA_BEARER, &w->po),
                  QL_OK);
    as(w, &w->po);
    ASSERT_INT_EQ(ql_member_add(&w->f.cx, &w->team.id, "mem@example.com", 15, "member", 6, &m),
                  QL_OK);
    fixture_next(&w->f);
    ASSERT_INT_EQ(ql_account_resolve(&w->f.cx, w->member.session.token, 46, QL_VIA_BEARER, &w->pm),
                  QL_OK);
}

static inline int create(struct world *w, const char *url, const char *const *events, int n,
                         struct ql_webhook *hook, char secret[QL_WEBHOOK_SECRET_LEN])
{
    as(w, &w->po);
    return ql_webhook_create(&w->f.cx, &w->team.id, url, strlen(url), events, n, "d", 1, hook,
                             secret);
}

/* Run the fan-out over every change so far, as the worker's consumer does. */
static inline int fan_out(struct world *w)
{
    int n = 0, total = 0;
    do {
        fixture_next(&w->f);
        ASSERT_INT_EQ(ql_consume(&w->f.cx, "webhooks", 100, ql_webhooks_consume, &n), QL_OK);
        total += n;
    } while (n > 0);
    return total;
}

/* Run job i of the fake queue once, as the engine would; its result. */
static inline int deliver_job(struct world *w, int i, int *attempts)
{
    struct fake_job *j = &w->f.queue.jobs[i];
    j->attempts++;
    struct ql_job job = {.id = i + 1,
                         .kind = j->kind,
                         .payload = j->payload,
                         .attempts = j->attempts,
                         .max_attempts = j->max_attempts};
    fixture_next(&w->f);
    int rc = ql_webhook_deliver(&w->f.cx, &job);
    if (rc == QL_OK || j->attempts >= j->max_attempts)
        j->done = 1;
    if (attempts)
        *attempts = j->attempts;
    return rc;
}

/* Run the first available "webhook.deliver" job once; its result. */
static inline int deliver_next(struct world *w, int *attempts)
{
    for (int i = 0; i < w->f.queue.n; i++) {
        struct fake_job *j = &w->f.queue.jobs[i];
        if (strcmp(j->kind, "webhook.deliver") == 0 && !j->done)
            return deliver_job(w, i, attempts);
    }
    return -1000; /* none */
}

static inline void write_entry(struct world *w, const char *text)
{
    struct ql_entry e;
    struct ql_entry_input in = {text, strlen(text), 0, NULL, 0};
    as(w, &w->pm);
    ASSERT_INT_EQ(ql_entry_create(&w->f.cx, &w->team.id, &in, &e), QL_OK);
}

/* The endpoint most tests post to: https://a.example.com/in, for journal_entry.created. */
static inline void endpoint(struct world *w, struct ql_webhook *hook)
{
    char secret[QL_WEBHOOK_SECRET_LEN];
    const char *created[] = {"journal_entry.created"};
    ASSERT_INT_EQ(create(w, "https://a.example.com/in", created, 1, hook, secret), QL_OK);
}

/* That endpoint, and one entry written and fanned out to it: one delivery waiting. */
static inline void one_delivery(struct world *w, struct ql_webhook *hook, const char *text)
{
    endpoint(w, hook);
    write_entry(w, text);
    fan_out(w);
}

#endif
