/*
 * fakes.h - in-memory implementations of every port, for unit tests of the core.
 *
 * They behave like the real adapters where the core can tell (a store keeps what it is
 * given, transactions roll back) and are deterministic where the real ones are not (the
 * clock is manual, "random" bytes count up).  Each fake can be told to fail its Nth call
 * so tests can walk error paths.
 */
#ifndef QL_FAKES_H
#define QL_FAKES_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "changes/changes.h"
#include "flag/flag.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "arena/arena.h"
#include "log/log.h"
#include "mail/mail_store.h"
#include "model/model.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_rights.h"
#include "trace/trace.h"
#include "usage/usage.h"

/* A manual clock: time moves only when the test moves it. */
struct fake_clock {
    struct ql_clock base;
    int64_t now_ms;
    int64_t mono_ns;
};
void fake_clock_init(struct fake_clock *c, int64_t now_ms);
void fake_clock_advance(struct fake_clock *c, int64_t ms);

/* Deterministic crypto: random bytes count up; password "hash" is "fake$" + password. */
struct fake_auth {
    struct ql_auth base;
    const char *secret; /* the server secret keying token_digest; NULL: a fixed one */
    uint8_t counter;
    int fail_random; /* >0: the Nth random() call from now fails */
    int fail_hits;   /* injected failures that fired */
};
void fake_auth_init(struct fake_auth *a);

/* A logger that keeps every line in memory. */
struct fake_log {
    struct ql_logger base;
    struct ql_buf lines; /* lines separated by '\n' */
    int count;
};
void fake_log_init(struct fake_log *l, struct ql_clock *clock);
void fake_log_cleanup(struct fake_log *l);

/*
 * The store: session state plus in-memory repositories (fake_identity.c, fake_teams.c and
 * fake_journal.c).
 */
#define FAKE_MAX 64

struct fake_user {
    struct ql_user u;
    const char *iss, *sub;
    int erased; /* the store finds it no more (as erased_at IS NOT NULL) */
};
struct fake_session {
    uint8_t digest[QL_DIGEST_LEN];
    struct ql_uuid id, user;
    int64_t created, last_seen, expires;
    const char *user_agent, *client_ip;
    int live;
};
struct fake_team {
    struct ql_team t;
    int deleted;
};
struct fake_member {
    struct ql_uuid team, user;
    int role;
    int64_t joined;
};
struct fake_key {
    struct ql_api_key k;
    uint8_t digest[QL_DIGEST_LEN];
    int revoked;
    int64_t revoked_ms;
    int has_creator;
    struct ql_uuid created_by;
};
struct fake_audit {
    struct ql_audit_entry e;
    struct ql_uuid team;
    int has_team;
    int in_tx;
};
struct fake_failure {
    char email[272]; /* the key: "login:" and an email of up to 254 bytes fit */
    int64_t at;
};
struct fake_entry {
    struct ql_entry e;
};
struct fake_prompt {
    struct ql_prompt p;
};
struct fake_idem {
    char scope[80];
    char key[256];
    struct ql_idem_record r;
    uint8_t sealed[2048];
};
struct fake_counter {
    char key[96];
    int64_t window;
    int count;
};

/* A row of the change log; txid is the number of the transaction that wrote it. */
struct fake_change {
    struct ql_change_pos pos;
    struct ql_uuid team;
    int event;
    struct ql_uuid id;
    int64_t at_ms;
    int in_tx;            /* written inside a transaction */
    char traceparent[56]; /* "": none */
};
#define FAKE_CHANGES_MAX 256

/* The usage repository (fake_usage.c): plans, periods, the request log, shared rate counts. */
struct fake_subscription {
    struct ql_uuid team;
    char plan[64];
    int64_t quota;
};
struct fake_period {
    struct ql_uuid team;
    int64_t start, reserved, used;
    int alerted;
};
struct fake_request {
    struct ql_uuid team, key;
    int64_t at_ms, duration_us;
    int status, billed;
    char method[8];
    char route[96];
};
struct fake_rate {
    struct ql_uuid principal, instance;
    int64_t second, n;
};
#define FAKE_REQUESTS_MAX 256
struct fake_usage {
    int nsubs, nperiods, nrequests, nrates;
    struct fake_subscription subs[FAKE_MAX];
    struct fake_period periods[FAKE_MAX];
    struct fake_request requests[FAKE_REQUESTS_MAX];
    struct fake_rate rates[FAKE_MAX];
    int nflushes;
    struct fake_flush {
        struct ql_usage_flush f;
        int64_t at_ms;
    } flushes[FAKE_MAX]; /* each instance's last flush */
    int reserves;        /* reservations asked for: the round trips a test counts */
};

struct fake_webhook {
    struct ql_webhook w;
    uint8_t secret[128]; /* sealed */
    size_t secret_n;
    int deleted;
};
struct fake_delivery {
    struct ql_delivery d;
    const char *state;
};

/* The security repository (fake_security.c): TOTP enrolments, recovery codes, challenges. */
struct fake_totp {
    struct ql_uuid user;
    uint8_t sealed[128];
    size_t sealed_n;
    int64_t created, confirmed, last_step;
};
struct fake_recovery {
    struct ql_uuid user;
    uint8_t digest[QL_DIGEST_LEN];
    int64_t created, used;
};
struct fake_challenge {
    uint8_t digest[QL_DIGEST_LEN];
    struct ql_uuid user;
    int64_t created, expires;
    int failures;
};
#define FAKE_RECOVERY_MAX 128
struct fake_mail {
    struct ql_mail m;
};
struct fake_token {
    struct ql_mail_token t;
};
struct fake_flag {
    struct ql_flag f; /* strings in the store's arena */
};
struct fake_flag_team {
    struct ql_uuid flag_id;
    struct ql_flag_team o;
};
/* An export and one part of its document (fake_rights.c). */
struct fake_export {
    struct ql_export e;
};
struct fake_part {
    struct ql_uuid export_id;
    int part;
    const char *data; /* the store's arena */
    size_t n;
};

struct fake_queue;

struct fake_store {
    struct ql_store base;
    struct ql_store_ops ops;  /* per instance, so tests may swap single methods */
    struct ql_arena mem;      /* copies of strings the store keeps */
    struct fake_queue *queue; /* the queue sharing our transactions (fake_queue_init) */
    int64_t schema_version;
    int in_tx;
    int commits;
    int rollbacks;
    int down;      /* 1: every call answers QL_EUNAVAILABLE */
    int fail_call; /* >0: the Nth call from now fails with fail_code */
    int fail_code;
    int fail_hits; /* injected failures that fired: proof that a test reached its fault */
    int calls;     /* store and queue calls so far (rollback is not counted: it cannot fail) */
    int touches;
    void *saved; /* the tables at begin(), restored by rollback (owned) */
    int saved_jobs;
    /*
     * The tables: every member from nusers up to idem_locked is what a transaction changes,
     * and begin() copies that range whole, so rollback undoes updates and deletes as well as
     * inserts.  New tables go inside the range.
     */
    int nusers, nsessions, nteams, nmembers, nkeys, naudit, nfailures, ncounters, nentries,
        nprompts, nidem;
    struct fake_user users[FAKE_MAX];
    struct fake_session sessions[FAKE_MAX];
    struct fake_team teams[FAKE_MAX];
    struct fake_member members[FAKE_MAX];
    struct fake_key keys[FAKE_MAX];
    struct fake_audit audit[FAKE_MAX];
    struct fake_failure failures[FAKE_MAX];
    struct fake_counter counters[FAKE_MAX];
    struct fake_entry entries[FAKE_MAX];
    struct fake_prompt prompts[FAKE_MAX];
    struct fake_idem idem[8];
    struct fake_usage usage; /* fake_usage.c */
    int nchanges;
    struct fake_change changes[FAKE_CHANGES_MAX];
    uint64_t txno; /* the current (or last) transaction's number: the fake's txid */
    int64_t seq;
    struct ql_change_pos consumer;       /* the consumer "activity" */
    struct ql_change_pos consumer_hooks; /* the consumer "webhooks" */
    int consumer_busy;                   /* 1: "another worker" holds it */
    struct ql_change_pos floor;
    int compact_batches; /* calls of compact_batch */
    int nactivity;
    struct ql_activity activity[FAKE_MAX];
    int nwebhooks, ndeliveries, nattempts;
    struct fake_webhook webhooks[FAKE_MAX];
    struct fake_delivery deliveries[FAKE_MAX];
    struct ql_delivery_attempt attempts[FAKE_MAX];
    int ntotp, nrecovery, nchallenges;
    struct fake_totp totp[FAKE_MAX];
    struct fake_recovery recovery[FAKE_RECOVERY_MAX];
    struct fake_challenge challenges[FAKE_MAX];
    int nmails, ntokens;
    struct fake_mail mails[FAKE_MAX];
    struct fake_token tokens[FAKE_MAX];
    int nflags, nflag_teams;
    struct fake_flag flags[FAKE_MAX];
    struct fake_flag_team flag_teams[FAKE_MAX];
    int nexports, nparts;
    struct fake_export exports[FAKE_MAX];
    struct fake_part parts[FAKE_MAX];
    int idem_locked;  /* 1: the idempotency lock is taken by "another" request */
    uint64_t horizon; /* not 0: changes of this txno on wait for "an older transaction" */
};
void fake_store_init(struct fake_store *s);
void fake_store_cleanup(struct fake_store *s);
void fake_store_wire_repos(struct ql_store_ops *ops);

/* The queue: jobs enqueued are kept in an array.
 */
#define FAKE_QUEUE_MAX 64
struct fake_job {
    char kind[64];
    char queue[32];
    char payload[512];
    char unique_key[128];
    int64_t run_at_ms;
    int priority;
    int in_tx;
    int max_attempts; /* as enqueued (25 when the spec said 0) */
    int attempts;     /* for tests that run jobs themselves */
    int done;
    char traceparent[64]; /* "": none */
};
struct fake_queue {
    struct ql_queue base;
    struct fake_store *store; /* the transaction it joins */
    int n;
    struct fake_job jobs[FAKE_QUEUE_MAX];
};
void fake_queue_init(struct fake_queue *q, struct fake_store *store);

/* A mail server (the mail port) that keeps what it is given and answers as told. */
#define FAKE_MAILER_MAX 8
struct fake_sent_mail {
    char id[64];
    char to[256];
    char subject[256];
    char text[2048];
    int64_t date_ms;
};
struct fake_mailer {
    struct ql_mailer base;
    int calls;
    int answer; /* what send() returns: QL_OK, QL_EUNAVAILABLE (4xx, down), QL_EVALIDATION (5xx) */
    int nsent;  /* accepted mails, the first FAKE_MAILER_MAX kept in sent[] */
    struct fake_sent_mail sent[FAKE_MAILER_MAX];
};
void fake_mailer_init(struct fake_mailer *m);
/*
 * The tracer: keeps the spans it is given (the first FAKE_SPANS; more are counted as
 * dropped), with ids that count up.  Its sampler is always_on unless the test sets another.
 */
#define FAKE_SPANS 32
struct fake_tracer {
    struct ql_tracer base;
    uint64_t next_id;
    int n;
    int dropped;
    struct ql_trace_span spans[FAKE_SPANS];
};
void fake_tracer_init(struct fake_tracer *t);
/* The first kept span named name, or NULL. */
const struct ql_trace_span *fake_tracer_find(const struct fake_tracer *t, const char *name);
/* The string value of a span's attribute key, in buf (cap bytes); NULL when it has none. */
const char *fake_span_str(const struct ql_trace_span *sp, const char *key, char *buf, size_t cap);
/* The integer value of a span's attribute key; -1 when it has none. */
int64_t fake_span_int(const struct ql_trace_span *sp, const char *key);

#endif
