/*
 * uc_world.h - what a use case of the core needs to run against the real PostgreSQL, for the
 * integration tests that call use cases: a blocking session's store and queue, the default
 * configuration (no environment), the sodium auth port and the system clock, in one context.
 * Each test keeps its own world around one of these.
 */
#ifndef QL_TEST_UC_WORLD_H
#define QL_TEST_UC_WORLD_H

#include "arena/arena.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "integration/itest.h"
#include "sodium/sodium_auth.h"
#include "test.h"

#include <string.h>

struct uc_world {
    struct ql_db_session *db;
    struct ql_auth *auth;
    struct ql_config cfg;
    struct ql_arena arena;
    struct ql_ctx cx;
};

static inline const char *uc_no_env(void *ud, const char *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

/* Open u on url; the auth port's key is 32 bytes of key_byte. */
static inline void uc_world_open(struct uc_world *u, const char *url, uint8_t key_byte)
{
    memset(u, 0, sizeof(*u));
    u->db = itest_session(url, QL_DB_BLOCKING);
    uint8_t secret[32];
    memset(secret, key_byte, sizeof(secret));
    ASSERT_INT_EQ(ql_sodium_auth_create(secret, sizeof(secret), 1, 8192, 0, &u->auth), QL_OK);
    struct ql_config_errors errs;
    struct ql_env env;
    ql_env_init(&env, uc_no_env, NULL, &errs);
    ql_config_read(&env, &u->cfg);
    ql_arena_init(&u->arena, 0, 0);
    u->cx.arena = &u->arena;
    u->cx.cfg = &u->cfg;
    u->cx.ports.store = ql_db_store(u->db);
    u->cx.ports.queue = ql_db_queue(u->db);
    u->cx.ports.clock = ql_sysclock();
    u->cx.ports.auth = u->auth;
}

static inline void uc_world_close(struct uc_world *u)
{
    ql_arena_cleanup(&u->arena);
    ql_sodium_auth_destroy(u->auth);
    ql_db_session_destroy(u->db);
}

#endif
