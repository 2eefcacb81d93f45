/*
 * idem.c - idempotency records.  The plaintext of a sealed record is the header block
 * length (4 bytes, big-endian), the header lines, then the body.
 */
#include "idem/idem.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

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

int ql_idem_fingerprint(struct ql_ctx *cx, const char *method, const char *path, size_t path_n,
                        const char *body, size_t body_n, uint8_t out[QL_DIGEST_LEN])
{
    uint8_t body_digest[QL_DIGEST_LEN];
    int rc = ql_auth_sha256(cx->ports.auth, body, body_n, body_digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest the body");
    struct ql_buf b;
    ql_buf_init(&b, cx->arena);
    ql_buf_puts(&b, method);
    ql_buf_putc(&b, '\n');
    ql_buf_append(&b, path, path_n);
    ql_buf_putc(&b, '\n');
    ql_buf_append(&b, body_digest, sizeof(body_digest));
    if (ql_buf_ok(&b))
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    rc = ql_auth_sha256(cx->ports.auth, b.data, b.len, out);
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
