/*
 * fakes.c - the in-memory ports of fakes.h.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "jobs/jobs.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- clock ---------------------------------------------------------------------------------- */

static int64_t fc_now(struct ql_clock *self)
{
    return ((struct fake_clock *)self)->now_ms;
}

static int64_t fc_mono(struct ql_clock *self)
{
    return ((struct fake_clock *)self)->mono_ns;
}

static const struct ql_clock_ops clock_ops = {.now_ms = fc_now, .mono_ns = fc_mono};

void fake_clock_init(struct fake_clock *c, int64_t now_ms)
{
    c->base.ops = &clock_ops;
    c->now_ms = now_ms;
    c->mono_ns = 1000000000;
}

void fake_clock_advance(struct fake_clock *c, int64_t ms)
{
    c->now_ms += ms;
    c->mono_ns += ms * 1000000;
}

/* ---- auth ------------------------------------------------------------------------------------ */

static int fa_random(struct ql_auth *self, void *buf, size_t n)
{
    struct fake_auth *a = (struct fake_auth *)self;
    if (a->fail_random > 0 && --a->fail_random == 0) {
        a->fail_hits++;
        return QL_EINTERNAL;
    }
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = ++a->counter;
    return QL_OK;
}

static int fa_pw_hash(struct ql_auth *self, const char *pw, size_t n, char out[QL_PWHASH_LEN])
{
    (void)self;
    if (n > QL_PWHASH_LEN - 6)
        return QL_EVALIDATION;
    snprintf(out, QL_PWHASH_LEN, "fake$%.*s", (int)n, pw);
    return QL_OK;
}

static int fa_pw_verify(struct ql_auth *self, const char *hash, const char *pw, size_t n)
{
    (void)self;
    return strncmp(hash, "fake$", 5) == 0 && strlen(hash + 5) == n && memcmp(hash + 5, pw, n) == 0
               ? QL_OK
               : QL_EINVALID_CREDENTIALS;
}

/* FNV-1a spread over 32 bytes: deterministic and good enough to tell inputs apart. */
static void mix(const void *key, size_t keylen, const void *msg, size_t n, uint8_t out[32])
{
    for (int lane = 0; lane < 4; lane++) {
        uint64_t h = 1469598103934665603ULL ^ (uint64_t)lane;
        for (size_t i = 0; i < keylen; i++)
            h = (h ^ ((const uint8_t *)key)[i]) * 1099511628211ULL;
        for (size_t i = 0; i < n; i++)
            h = (h ^ ((const uint8_t *)msg)[i]) * 1099511628211ULL;
        memcpy(out + lane * 8, &h, 8);
    }
}

static int fa_digest(struct ql_auth *self, const void *t, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    const char *secret = ((struct fake_auth *)self)->secret;
    if (secret == NULL)
        secret = "digest";
    mix(secret, strlen(secret), t, n, out);
    return QL_OK;
}

static int fa_hmac(struct ql_auth *self, const void *key, size_t keylen, const void *msg, size_t n,
                   uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    mix(key, keylen, msg, n, out);
    return QL_OK;
}

/*
 * Not HMAC-SHA-1 but the mix cut to 20 bytes: tests that need real TOTP codes (RFC 6238's
 * vectors) use the sodium adapter's.
 */
static int fa_hmac_sha1(struct ql_auth *self, const void *key, size_t keylen, const void *msg,
                        size_t n, uint8_t out[QL_SHA1_LEN])
{
    (void)self;
    uint8_t full[32];
    mix(key, keylen, msg, n, full);
    memcpy(out, full, QL_SHA1_LEN);
    return QL_OK;
}

static int fa_sha256(struct ql_auth *self, const void *msg, size_t n, uint8_t out[QL_DIGEST_LEN])
{
    (void)self;
    mix("", 0, msg, n, out);
    return QL_OK;
}

/* A reversible "box": 40 bytes of header, then the bytes XORed with 0x5a. */
static int fa_seal(struct ql_auth *self, const void *in, size_t n, uint8_t *out)
{
    (void)self;
    memset(out, 0xaa, QL_SEAL_OVERHEAD);
    for (size_t i = 0; i < n; i++)
        out[QL_SEAL_OVERHEAD + i] = ((const uint8_t *)in)[i] ^ 0x5a;
    return QL_OK;
}

static int fa_open(struct ql_auth *self, const uint8_t *in, size_t n, void *out)
{
    (void)self;
    for (size_t i = 0; i < QL_SEAL_OVERHEAD; i++)
        if (in[i] != 0xaa)
            return QL_EINTERNAL;
    for (size_t i = QL_SEAL_OVERHEAD; i < n; i++)
        ((uint8_t *)out)[i - QL_SEAL_OVERHEAD] = in[i] ^ 0x5a;
    return QL_OK;
}

static const struct ql_auth_ops auth_ops = {
    .random = fa_random,
    .password_hash = fa_pw_hash,
    .password_verify = fa_pw_verify,
    .token_digest = fa_digest,
    .hmac_sha256 = fa_hmac,
    .hmac_sha1 = fa_hmac_sha1,
    .sha256 = fa_sha256,
    .seal = fa_seal,
    .open = fa_open,
};

void fake_auth_init(struct fake_auth *a)
{
    memset(a, 0, sizeof(*a));
    a->base.ops = &auth_ops;
}

/* ---- log ---------------------------------------------------------------------------------------
 */

static void fl_write(struct ql_logger *self, const char *line, size_t n)
{
    struct fake_log *l = (struct fake_log *)self;
    ql_buf_append(&l->lines, line, n);
    ql_buf_putc(&l->lines, '\n');
    ql_buf_cstr(&l->lines);
    l->count++;
}

static const struct ql_logger_ops log_ops = {.write = fl_write};

void fake_log_init(struct fake_log *l, struct ql_clock *clock)
{
    l->base.ops = &log_ops;
    l->base.level = QL_LOG_DEBUG;
    l->base.clock = clock;
    ql_buf_init(&l->lines, NULL);
    ql_buf_cstr(&l->lines);
    l->count = 0;
}

void fake_log_cleanup(struct fake_log *l)
{
    ql_buf_cleanup(&l->lines);
}

/* ---- store ------------------------------------------------------------------------------------
 */

int fake__enter(struct fake_store *s, struct ql_ctx *cx)
{
    s->calls++;
    if (s->down)
        return ql_error_set(&cx->err, QL_EUNAVAILABLE, "fake store is down");
    if (s->fail_call > 0 && --s->fail_call == 0) {
        s->fail_hits++;
        return ql_error_set(&cx->err, s->fail_code ? s->fail_code : QL_EINTERNAL,
                            "fake store failure");
    }
    return QL_OK;
}

/* The tables of fakes.h, as one range of bytes. */
#define TABLES_AT offsetof(struct fake_store, nusers)
#define TABLES_SIZE (offsetof(struct fake_store, idem_locked) - TABLES_AT)

static int fs_ping(struct ql_store *self, struct ql_ctx *cx)
{
    return fake__enter((struct fake_store *)self, cx);
}

static int fs_schema(struct ql_store *self, struct ql_ctx *cx, int64_t *out)
{
    struct fake_store *s = (struct fake_store *)self;
    int rc = fake__enter(s, cx);
    if (rc == QL_OK)
        *out = s->schema_version;
    return rc;
}

static int fs_begin(struct ql_store *self, struct ql_ctx *cx)
{
    struct fake_store *s = (struct fake_store *)self;
    int rc = fake__enter(s, cx);
    if (rc == QL_OK && s->saved == NULL && (s->saved = malloc(TABLES_SIZE)) == NULL)
        rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    if (rc == QL_OK) {
        s->in_tx = 1;
        memcpy(s->saved, (char *)s + TABLES_AT, TABLES_SIZE);
        s->saved_jobs = s->queue ? s->queue->n : 0;
        s->txno++; /* the transaction's id: what the change log orders by */
    }
    return rc;
}

static int fs_commit(struct ql_store *self, struct ql_ctx *cx)
{
    struct fake_store *s = (struct fake_store *)self;
    int rc = fake__enter(s, cx);
    if (rc == QL_OK) {
        s->in_tx = 0;
        s->commits++;
    }
    return rc;
}

static void fs_rollback(struct ql_store *self, struct ql_ctx *cx)
{
    (void)cx;
    struct fake_store *s = (struct fake_store *)self;
    if (s->in_tx) {
        /* Strings stay in the store's arena, so the old rows' pointers are still good. */
        s->rollbacks++;
        memcpy((char *)s + TABLES_AT, s->saved, TABLES_SIZE);
        if (s->queue)
            s->queue->n = s->saved_jobs; /* jobs are only ever appended */
    }
    s->in_tx = 0;
}

static const struct ql_store_ops store_ops = {
    .ping = fs_ping,
    .schema_version = fs_schema,
    .begin = fs_begin,
    .commit = fs_commit,
    .rollback = fs_rollback,
};

void fake_store_wire_repos(struct ql_store_ops *ops)
{
    ops->users = &fake__users_ops;
    ops->sessions = &fake__sessions_ops;
    ops->principals = &fake__principals_ops;
    ops->teams = &fake__teams_ops;
    ops->members = &fake__members_ops;
    ops->api_keys = &fake__keys_ops;
    ops->audit = &fake__audit_ops;
    ops->throttle = &fake__throttle_ops;
    ops->entries = &fake__entries_ops;
    ops->prompts = &fake__prompts_ops;
    ops->idem = &fake__idem_ops;
    ops->changes = &fake__changes_ops;
    ops->webhooks = &fake__webhooks_ops;
    ops->security = &fake__security_ops;
    ops->mail = &fake__mail_ops;
    ops->flags = &fake__flags_ops;
    ops->maint = &fake__maint_ops;
    ops->usage = &fake__usage_ops;
    ops->rights = &fake__rights_ops;
}

void fake_store_init(struct fake_store *s)
{
    memset(s, 0, sizeof(*s));
    s->ops = store_ops;
    fake_store_wire_repos(&s->ops);
    s->base.ops = &s->ops;
    ql_arena_init(&s->mem, 0, 0);
}

void fake_store_cleanup(struct fake_store *s)
{
    free(s->saved);
    s->saved = NULL;
    ql_arena_cleanup(&s->mem);
}

/* ---- queue -------------------------------------------------------------------------------------
 */

static int fq_enqueue(struct ql_queue *self, struct ql_ctx *cx, const struct ql_job_spec *spec,
                      int64_t *id_out)
{
    struct fake_queue *q = (struct fake_queue *)self;
    int rc = fake__enter(q->store, cx);
    if (rc)
        return rc;
    if (spec->unique_key) {
        for (int i = 0; i < q->n; i++) {
            if (strcmp(q->jobs[i].unique_key, spec->unique_key) == 0) {
                *id_out = i + 1;
                return QL_OK;
            }
        }
    }
    if (q->n == FAKE_QUEUE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake queue full");
    struct fake_job *j = &q->jobs[q->n++];
    memset(j, 0, sizeof(*j));
    snprintf(j->kind, sizeof(j->kind), "%s", spec->kind);
    snprintf(j->queue, sizeof(j->queue), "%s", spec->queue ? spec->queue : "default");
    snprintf(j->payload, sizeof(j->payload), "%s", spec->payload_json ? spec->payload_json : "{}");
    snprintf(j->unique_key, sizeof(j->unique_key), "%s", spec->unique_key ? spec->unique_key : "");
    j->run_at_ms = spec->run_at_ms;
    j->priority = spec->priority;
    j->max_attempts = spec->max_attempts ? spec->max_attempts : 25;
    j->attempts = 0;
    j->done = 0;
    j->in_tx = q->store->in_tx;
    snprintf(j->traceparent, sizeof(j->traceparent), "%s",
             spec->traceparent ? spec->traceparent : "");
    *id_out = q->n;
    return QL_OK;
}

static int fq_enqueue_batch(struct ql_queue *self, struct ql_ctx *cx,
                            const struct ql_job_spec *specs, int n, int64_t *ids)
{
    for (int i = 0; i < n; i++) {
        int64_t id;
        int rc = fq_enqueue(self, cx, &specs[i], &id);
        if (rc)
            return rc;
        if (ids)
            ids[i] = id;
    }
    return QL_OK;
}

/* The fake queue is for code that enqueues; the engine's side is tested against PostgreSQL
 * (test/integration/test_queue.c), so those methods are absent here. */
static const struct ql_queue_ops queue_ops = {.enqueue = fq_enqueue,
                                              .enqueue_batch = fq_enqueue_batch};

void fake_queue_init(struct fake_queue *q, struct fake_store *store)
{
    memset(q, 0, sizeof(*q));
    q->base.ops = &queue_ops;
    q->store = store;
    store->queue = q;
}
