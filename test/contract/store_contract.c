/*
 * store_contract.c - the runner of the store contract (store_contract.h) and the helpers its
 * cases share.  The cases are in store_contract_identity.c and store_contract_journal.c; each
 * asserts exact values, so a store that gets one wrong fails.  store_contract_changes.c has
 * the change log's.
 */
#include "contract/store_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct contract_backend *contract_be;

void cc_open(struct cc *c)
{
    memset(c, 0, sizeof(*c));
    c->s = contract_be->open();
    ql_arena_init(&c->arena, 0, 0);
    c->cx.arena = &c->arena;
    c->now = cc_wall_ms();
}

void cc_close(struct cc *c)
{
    ql_arena_cleanup(&c->arena);
    contract_be->close(c->s);
}

int64_t cc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A UUIDv7 greater than every one made before in this process: the time, then a 12-bit
 * sequence (the millisecond moves on when it runs out), then the process id and clock noise,
 * so ids of two runs against one database never meet.
 */
struct ql_uuid cc_id(void)
{
    static int64_t last_ms;
    static unsigned seq;
    int64_t ms = cc_wall_ms();
    if (ms <= last_ms) {
        ms = last_ms;
        if (++seq == 4096) {
            ms++;
            seq = 0;
        }
    } else {
        seq = 0;
    }
    last_ms = ms;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned pid = (unsigned)getpid();
    uint8_t rnd[10] = {(uint8_t)(seq >> 8),
                       (uint8_t)seq,
                       0x80,
                       (uint8_t)(pid >> 16),
                       (uint8_t)(pid >> 8),
                       (uint8_t)pid,
                       (uint8_t)ts.tv_nsec,
                       (uint8_t)(ts.tv_nsec >> 8)};
    struct ql_uuid u;
    ql_uuid7_from(&u, ms, rnd);
    return u;
}

const char *cc_unique(struct cc *c, const char *what)
{
    struct ql_uuid u = cc_id();
    char s[QL_UUID_STR_LEN + 1];
    ql_uuid_format(&u, s);
    return ql_arena_sprintf(&c->arena, "%s-%s", what, s);
}

void cc_digest(uint8_t d[QL_DIGEST_LEN])
{
    struct ql_uuid a = cc_id(), b = cc_id();
    memcpy(d, a.b, 16);
    memcpy(d + 16, b.b, 16);
}

const char *cc_id_s(const struct ql_uuid *u)
{
    static char ring[4][QL_UUID_STR_LEN + 1];
    static int next;
    char *s = ring[next++ % 4];
    ql_uuid_format(u, s);
    return s;
}

struct ql_user cc_user(struct cc *c, const char *name)
{
    struct ql_user u = {.id = cc_id(),
                        .email =
                            ql_arena_sprintf(&c->arena, "%s@contract.test", cc_unique(c, "user")),
                        .display_name = name,
                        .password_hash = "fake$correct horse",
                        .created_ms = c->now,
                        .updated_ms = c->now};
    ASSERT_INT_EQ(ql_store_users_insert(c->s, &c->cx, &u, NULL, NULL), QL_OK);
    return u;
}

struct ql_team cc_team(struct cc *c, const char *name, const struct ql_user *owner)
{
    struct ql_team t = {.id = cc_id(), .name = name, .created_ms = c->now, .updated_ms = c->now};
    ASSERT_INT_EQ(ql_store_teams_insert(c->s, &c->cx, &t, &owner->id), QL_OK);
    return t;
}

int store_contract_run(const struct contract_backend *b, int argc, char **argv)
{
    static struct ql_test all[64];
    if (contract_identity_ntests + contract_journal_ntests + contract_changes_ntests +
            contract_usage_ntests + contract_webhooks_ntests + contract_security_ntests +
            contract_mail_ntests + contract_flags_ntests + contract_rights_ntests >
        QL_NTESTS(all)) {
        printf("Bail out! more cases than store_contract_run has room for\n");
        return 1;
    }
    int n = 0;
    for (int i = 0; i < contract_identity_ntests; i++)
        all[n++] = contract_identity_tests[i];
    for (int i = 0; i < contract_journal_ntests; i++)
        all[n++] = contract_journal_tests[i];
    for (int i = 0; i < contract_changes_ntests; i++)
        all[n++] = contract_changes_tests[i];
    for (int i = 0; i < contract_usage_ntests; i++)
        all[n++] = contract_usage_tests[i];
    for (int i = 0; i < contract_webhooks_ntests; i++)
        all[n++] = contract_webhooks_tests[i];
    for (int i = 0; i < contract_security_ntests; i++)
        all[n++] = contract_security_tests[i];
    for (int i = 0; i < contract_mail_ntests; i++)
        all[n++] = contract_mail_tests[i];
    for (int i = 0; i < contract_flags_ntests; i++)
        all[n++] = contract_flags_tests[i];
    for (int i = 0; i < contract_rights_ntests; i++)
        all[n++] = contract_rights_tests[i];
    contract_be = b;
    printf("# store contract: %s\n", b->name);
    return ql_test_run(all, n, argc, argv);
}
