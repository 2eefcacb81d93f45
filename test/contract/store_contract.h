/*
 * store_contract.h - the contract of the store port (core/store/store.h): cases that any
 * struct ql_store must pass, written once and run against two backends, the fake store
 * (test_store_contract, suite unit) and the PostgreSQL adapter (itest_store_contract, suite
 * integration).  When the two disagree the fake is the one to change: it stands in for
 * PostgreSQL in every unit test.
 *
 * Cases never assume an empty store: every row they write has fresh ids, emails and scopes,
 * so they run as well against a database that outlives runs.
 */
#ifndef QL_STORE_CONTRACT_H
#define QL_STORE_CONTRACT_H

#include <stdint.h>

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "store/store.h"
#include "store/store_webhooks.h"
#include "test.h"
#include "uuid/uuid.h"

struct contract_backend {
    const char *name;
    /* A store for one case (a fresh fake, or a new database session); never NULL. */
    struct ql_store *(*open)(void);
    /* Release what open() returned. */
    void (*close)(struct ql_store *s);
};

/*
 * Run every case against b and print TAP (see test.h); argv[1] filters cases by name.
 * Returns the exit status: 0 when every case passed.
 */
int store_contract_run(const struct contract_backend *b, int argc, char **argv);

/* ---- for the files of cases ----------------------------------------------------------------- */

/* One case's store and context: an arena, no ports (the store methods take times as input). */
struct cc {
    struct ql_store *s;
    struct ql_arena arena;
    struct ql_ctx cx;
    int64_t now; /* wall-clock ms when the case began: the base of the times it writes */
};

void cc_open(struct cc *c);
void cc_close(struct cc *c);
int64_t cc_wall_ms(void);
/* A fresh UUIDv7, greater than every one this process made before. */
struct ql_uuid cc_id(void);
/* "<what>-<fresh uuid>" in c's arena. */
const char *cc_unique(struct cc *c, const char *what);
/* A token digest no other case uses. */
void cc_digest(uint8_t d[QL_DIGEST_LEN]);
/* The text of u in one of four static buffers (so an assertion may format two ids). */
const char *cc_id_s(const struct ql_uuid *u);
/* A user (fresh id and email) or a team (fresh id, owned by owner), inserted; times c->now. */
struct ql_user cc_user(struct cc *c, const char *name);
struct ql_team cc_team(struct cc *c, const char *name, const struct ql_user *owner);

#define ASSERT_ID_EQ(a, b) ASSERT_STR_EQ(cc_id_s(a), cc_id_s(b))

/* The store call answers want, and says so in cx->err too; the error is then cleared. */
#define CC_FAILS(c, call, want)                                                                    \
    do {                                                                                           \
        ASSERT_INT_EQ((call), (want));                                                             \
        ASSERT_INT_EQ((c)->cx.err.code, (want));                                                   \
        ql_error_clear(&(c)->cx.err);                                                              \
    } while (0)

/* The cases of store_contract_identity.c: users, sessions, keys, teams, audit, transactions. */
extern const struct ql_test contract_identity_tests[];
extern const int contract_identity_ntests;

/* The cases of store_contract_journal.c: entries, prompts, idempotency records. */
extern const struct ql_test contract_journal_tests[];
extern const int contract_journal_ntests;

/* The cases of store_contract_changes.c: the change log and consumers' positions. */
extern const struct ql_test contract_changes_tests[];
extern const int contract_changes_ntests;

/* The cases of store_contract_usage.c: plans, reservations, the request log, rate counts. */
extern const struct ql_test contract_usage_tests[];
extern const int contract_usage_ntests;
/* The cases of store_contract_webhooks.c: endpoints, deliveries and attempts. */
extern const struct ql_test contract_webhooks_tests[];
extern const int contract_webhooks_ntests;

/* The cases of store_contract_security.c: sessions list, TOTP, recovery codes, challenges. */
extern const struct ql_test contract_security_tests[];
extern const int contract_security_ntests;

/* The cases of store_contract_mail.c: the outbox, mailed tokens, verified emails. */
extern const struct ql_test contract_mail_tests[];
extern const int contract_mail_ntests;
/* The cases of store_contract_flags.c: feature flags and their per-team overrides. */
extern const struct ql_test contract_flags_tests[];
extern const int contract_flags_ntests;
/* The cases of store_contract_rights.c: exports and erasure. */
extern const struct ql_test contract_rights_tests[];
extern const int contract_rights_ntests;

#endif
