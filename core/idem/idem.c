/*
 * idem.c - idempotency: the wrapper use cases run under, and its records.  The plaintext
 * of a sealed record is the header block length (4 bytes, big-endian), the header lines,
 * then the body.
 */
#include "idem/idem.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "model/model.h"
#include "store/store.h"
#include "tx/tx.h"

#include <string.h>

int ql_idem_check_key(struct ql_ctx *cx, const char *key, size_t n)
{
    int ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] > 0x20 && key[i] < 0x7f;
    if (!ok)
        return ql_error_field(&cx->err, "Idempotency-Key", "invalid_format",
                              "must be 1 to 255 visible ASCII characters");
    return QL_OK;
}

/*
 * The body is digested first so it is not copied; the whole is then digested with the server
 * secret's key, under a prefix no other keyed digest uses.  Bodies carry passwords (signup,
 * login, password change) and records live a day: an unkeyed digest would let anyone who
 * reads the table test guesses at them at SHA-256 speed.
 */
int ql_idem_fingerprint(struct ql_ctx *cx, const char *method, const char *path, size_t path_n,
                        const char *body, size_t body_n, uint8_t out[QL_DIGEST_LEN])
{
    uint8_t body_digest[QL_DIGEST_LEN];
    int rc = ql_auth_sha256(cx->ports.auth, body, body_n, body_digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest the body");
    struct ql_buf b;
    ql_buf_init(&b, cx->arena);
    ql_buf_puts(&b, "idem:");
    ql_buf_puts(&b, method);
    ql_buf_putc(&b, '\n');
    ql_buf_append(&b, path, path_n);
    ql_buf_putc(&b, '\n');
    ql_buf_append(&b, body_digest, sizeof(body_digest));
    if (ql_buf_ok(&b))
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    rc = ql_auth_token_digest(cx->ports.auth, b.data, b.len, out);
    return rc ? ql_error_set(&cx->err, rc, "cannot digest the request") : QL_OK;
}

int ql_idem_pack(struct ql_ctx *cx, int status, const char *headers, size_t headers_n,
                 const char *body, size_t body_n, struct ql_idem_record *r)
{
    size_t n = 4 + headers_n + body_n;
    uint8_t *plain = ql_arena_alloc(cx->arena, n);
    uint8_t *sealed = ql_arena_alloc(cx->arena, n + QL_SEAL_OVERHEAD);
    if (plain == NULL || sealed == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    plain[0] = (uint8_t)(headers_n >> 24);
    plain[1] = (uint8_t)(headers_n >> 16);
    plain[2] = (uint8_t)(headers_n >> 8);
    plain[3] = (uint8_t)headers_n;
    if (headers_n)
        memcpy(plain + 4, headers, headers_n);
    if (body_n)
        memcpy(plain + 4 + headers_n, body, body_n);
    int rc = ql_auth_seal(cx->ports.auth, plain, n, sealed);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot seal a response");
    r->status = status;
    r->sealed = sealed;
    r->sealed_n = n + QL_SEAL_OVERHEAD;
    r->created_ms = ql_clock_now_ms(cx->ports.clock);
    r->expires_ms = r->created_ms + QL_IDEM_TTL_MS;
    return QL_OK;
}

int ql_idem_unpack(struct ql_ctx *cx, const struct ql_idem_record *r, const char **headers,
                   size_t *headers_n, const char **body, size_t *body_n)
{
    if (r->sealed_n < QL_SEAL_OVERHEAD + 4)
        return ql_error_set(&cx->err, QL_EINTERNAL, "idempotency record too short");
    size_t n = r->sealed_n - QL_SEAL_OVERHEAD;
    uint8_t *plain = ql_arena_alloc(cx->arena, n + 1);
    if (plain == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    if (ql_auth_open(cx->ports.auth, r->sealed, r->sealed_n, plain) != QL_OK)
        return ql_error_set(&cx->err, QL_EINTERNAL, "idempotency record does not open");
    size_t hn = (size_t)plain[0] << 24 | (size_t)plain[1] << 16 | (size_t)plain[2] << 8 | plain[3];
    if (hn > n - 4)
        return ql_error_set(&cx->err, QL_EINTERNAL, "idempotency record is malformed");
    *headers = (const char *)plain + 4;
    *headers_n = hn;
    *body = (const char *)plain + 4 + hn;
    *body_n = n - 4 - hn;
    return QL_OK;
}

/* ---- the wrapper ------------------------------------------------------------------------------
 */

struct run {
    const struct ql_idem_call *call;
    uint8_t fingerprint[QL_DIGEST_LEN];
    int recorded; /* stored by before_commit of a transaction that then committed */
    char key[256];
};

/* Render the outcome rc and store it (in the open transaction, or on its own). */
static int record(struct ql_ctx *cx, struct run *ru, int rc)
{
    struct ql_idem_response res;
    int r = ru->call->render(cx, rc, ru->call->ud, &res);
    if (r)
        return r;
    struct ql_idem_record rec;
    memcpy(rec.fingerprint, ru->fingerprint, sizeof(rec.fingerprint));
    r = ql_idem_pack(cx, res.status, res.headers, res.headers_n, res.body, res.body_n, &rec);
    if (r == QL_OK)
        r = ql_store_idem_put(cx->ports.store, cx, ru->call->scope, ru->key, &rec);
    return r;
}

static int after_begin(struct ql_ctx *cx, void *ud)
{
    struct run *ru = ud;
    return ql_store_idem_lock(cx->ports.store, cx, ru->call->scope, ru->key);
}

static int before_commit(struct ql_ctx *cx, void *ud)
{
    struct run *ru = ud;
    if (ru->recorded)
        return QL_OK; /* a second transaction of the same use case: recorded already */
    int rc = record(cx, ru, QL_OK);
    if (rc == QL_OK)
        ru->recorded = 1;
    return rc;
}

int ql_idem_run(struct ql_ctx *cx, const struct ql_idem_call *call,
                int (*fn)(struct ql_ctx *cx, void *arg), void *arg, int *replayed,
                struct ql_idem_response *replay)
{
    *replayed = 0;
    struct run ru = {.call = call};
    int rc = ql_idem_check_key(cx, call->key, call->key_n);
    if (rc)
        return rc;
    memcpy(ru.key, call->key, call->key_n);
    ru.key[call->key_n] = '\0';
    rc = ql_idem_fingerprint(cx, call->method, call->path, call->path_n, call->body, call->body_n,
                             ru.fingerprint);
    if (rc)
        return rc;
    struct ql_idem_record rec;
    rc = ql_store_idem_get(cx->ports.store, cx, call->scope, ru.key,
                           ql_clock_now_ms(cx->ports.clock), &rec);
    if (rc == QL_OK) {
        if (memcmp(rec.fingerprint, ru.fingerprint, sizeof(rec.fingerprint)) != 0)
            return ql_error_set(&cx->err, QL_EIDEM_REUSED,
                                "This Idempotency-Key was used with a different request.");
        replay->status = rec.status;
        rc = ql_idem_unpack(cx, &rec, &replay->headers, &replay->headers_n, &replay->body,
                            &replay->body_n);
        *replayed = rc == QL_OK;
        return rc;
    }
    if (rc != QL_ENOT_FOUND)
        return rc;
    ql_error_clear(&cx->err);
    struct ql_tx_hooks hooks = {after_begin, before_commit, &ru, 0};
    struct ql_tx_hooks *saved = cx->tx;
    cx->tx = &hooks;
    rc = fn(cx, arg);
    cx->tx = saved;
    ru.recorded = ru.recorded && hooks.committed;
    if (ru.recorded || ql_err_transient(rc) || (rc == QL_OK && hooks.committed))
        return rc;
    /* An outcome without a transaction of its own (a refusal, a validation error). */
    struct ql_error err = cx->err;
    int r = record(cx, &ru, rc);
    if (r != QL_OK) /* a concurrent twin that stored first is not an error: put keeps it */
        ql_log(cx->ports.log, QL_LOG_WARN, "cannot store an idempotent response", "error",
               cx->err.msg, "trace_id", cx->trace_id, NULL);
    cx->err = err;
    return rc;
}
