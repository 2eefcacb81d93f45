/*
 * idem.h - Idempotency-Key support: validating keys, fingerprinting requests, and packing
 * a response into a sealed record that can be replayed.
 *
 * A response record is status, the header lines that matter (Location, ETag,
 * Content-Type, Set-Cookie) and the body, sealed with the auth port: responses can carry
 * session tokens and API keys, which must never rest in the database in the clear.
 */
#ifndef QL_IDEM_H
#define QL_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct ql_ctx;
struct ql_idem_record;

#define QL_IDEM_TTL_MS (24LL * 3600 * 1000)

/* 1..255 visible ASCII characters: 0 or QL_EVALIDATION (with a field error). */
int ql_idem_check_key(struct ql_ctx *cx, const char *key, size_t n);

/* SHA-256 over method, path and body, so a reused key with another request is caught. */
int ql_idem_fingerprint(struct ql_ctx *cx, const char *method, const char *path, size_t path_n,
                        const char *body, size_t body_n, uint8_t out[QL_DIGEST_LEN]);

/* Seal status, header lines and body into r (arena); sets created/expires from the clock. */
int ql_idem_pack(struct ql_ctx *cx, int status, const char *headers, size_t headers_n,
                 const char *body, size_t body_n, struct ql_idem_record *r);

/* Open r; header lines and body point into one arena buffer. */
int ql_idem_unpack(struct ql_ctx *cx, const struct ql_idem_record *r, const char **headers,
                   size_t *headers_n, const char **body, size_t *body_n);

#endif
