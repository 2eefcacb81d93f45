/*
 * fixture.h - a context wired to the fakes, for use-case tests: manual clock, deterministic
 * crypto, in-memory store and log, default configuration.  One fixture per test.
 */
#ifndef QL_TEST_FIXTURE_H
#define QL_TEST_FIXTURE_H

#include <string.h>

#include "account/account.h"
#include "arena/arena.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "fakes/fakes.h"
#include "team/team.h"
#include "test.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

struct fixture {
    struct fake_clock clock;
    struct fake_auth auth;
    struct fake_store store;
    struct fake_queue queue;
    struct fake_log log;
    struct ql_config cfg;
    struct ql_arena arena;
    struct ql_ctx cx;
};

static inline const char *fixture_env(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

static inline void fixture_init(struct fixture *f)
{
    fake_clock_init(&f->clock, T0);
    fake_auth_init(&f->auth);
    fake_store_init(&f->store);
    fake_queue_init(&f->queue, &f->store);
    fake_log_init(&f->log, &f->clock.base);
    struct ql_config_errors errs;
    struct ql_env env;
    ql_env_init(&env, fixture_env, NULL, &errs);
    ql_config_read(&env, &f->cfg);
    ql_arena_init(&f->arena, 0, 0);
    memset(&f->cx, 0, sizeof(f->cx));
    f->cx.arena = &f->arena;
    f->cx.cfg = &f->cfg;
    f->cx.ports.store = &f->store.base;
    f->cx.ports.queue = &f->queue.base;
    f->cx.ports.clock = &f->clock.base;
    f->cx.ports.auth = &f->auth.base;
    f->cx.ports.log = &f->log.base;
    memcpy(f->cx.trace_id, "0123456789abcdef0123456789abcdef", 33);
}

/* A fresh request on the same fixture: clears the error and the principal. */
static inline void fixture_next(struct fixture *f)
{
    ql_error_clear(&f->cx.err);
    f->cx.principal = NULL;
}

/*
 * A user (own@example.com) with a team of their own: *p is their principal as the team's
 * owner, and the context's principal for the next call.
 */
static inline void fixture_owner_team(struct fixture *f, struct ql_auth_result *owner,
                                      struct ql_principal *p, struct ql_team *team)
{
    struct ql_credentials c = {"own@example.com", 15, "correct horse battery", 21, "P", 1, NULL};
    ASSERT_INT_EQ(ql_account_signup(&f->cx, &c, owner), QL_OK);
    fixture_next(f);
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, owner->session.token, 46, QL_VIA_BEARER, p), QL_OK);
    fixture_next(f);
    f->cx.principal = p;
    ASSERT_INT_EQ(ql_team_create(&f->cx, "T", 1, team), QL_OK);
    fixture_next(f); /* the principal, now a member of the team */
    ASSERT_INT_EQ(ql_account_resolve(&f->cx, owner->session.token, 46, QL_VIA_BEARER, p), QL_OK);
    fixture_next(f);
    f->cx.principal = p;
}

static inline void fixture_cleanup(struct fixture *f)
{
    ql_arena_cleanup(&f->arena);
    fake_store_cleanup(&f->store);
    fake_log_cleanup(&f->log);
}

#endif
