/*
 * idem.h - Idempotency-Key: a use case that runs at most once per key.
 *
 * ql_idem_run is the one wrapper a use case runs under.  A request with a key first looks
 * for a stored record of (scope, key): the same request (its fingerprint: method, path and
 * body) gets the recorded response back without running again; another request with that
 * key is refused (QL_EIDEM_REUSED).  Otherwise the use case runs with its transaction hooked:
 * right after BEGIN a transaction-scoped lock on (scope, key) is taken (held by another
 * transaction: QL_EIDEM_IN_PROGRESS), and right before COMMIT the response is rendered and
 * stored, so the effect and its record commit together or not at all.  An outcome that ran
 * no transaction (a validation error, say) is stored afterwards on its own; transient
 * outcomes (ql_err_transient) are never stored, so a client may retry them.
 *
 * A record is status, the header lines that matter (Content-Type, Location, ETag,
 * Set-Cookie) and the body, sealed with the auth port: responses can carry session tokens
 * and API keys, which must never rest in the database in the clear.
 */
#ifndef QL_IDEM_H
#define QL_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

struct ql_ctx;
struct ql_idem_record;

#define QL_IDEM_TTL_MS (24LL * 3600 * 1000)

/* A response as records keep it; pointers are borrowed (or arena). */
struct ql_idem_response {
    int status;
    const char *headers; /* "Name: value\r\n" lines, Content-Type among them */
    size_t headers_n;
    const char *body;
    size_t body_n;
};

/*
 * Turn the outcome rc of the use case into the response to record, which is also the
 * response the caller sends.  Called before COMMIT with rc 0, or after the use case with
 * its final rc; at most once per outcome.
 */
typedef int (*ql_idem_render_fn)(struct ql_ctx *cx, int rc, void *ud, struct ql_idem_response *out);

struct ql_idem_call {
    const char *scope; /* whose key: "user:<id>", "key:<id>", "operator", "addr:<ip>" */
    const char *key;   /* the Idempotency-Key, key_n bytes */
    size_t key_n;
    const char *method; /* the request, for its fingerprint */
    const char *path;
    size_t path_n;
    const char *body;
    size_t body_n;
    ql_idem_render_fn render;
    void *ud;
};

/*
 * Run fn(cx, arg) under call's key.  *replayed says which happened:
 *   0: fn ran, and its outcome was recorded unless transient.  Returns fn's code.
 *   1: the same request was answered before: *replay holds that response (arena) and fn
 *      did not run.  Returns 0.
 * Before fn runs: QL_EVALIDATION for a key that is not 1..255 visible ASCII characters (with
 * a field error), QL_EIDEM_REUSED for another request with this key, and store errors.
 * cx->tx is restored when it returns.
 */
int ql_idem_run(struct ql_ctx *cx, const struct ql_idem_call *call,
                int (*fn)(struct ql_ctx *cx, void *arg), void *arg, int *replayed,
                struct ql_idem_response *replay);

/* 1..255 visible ASCII characters: 0 or QL_EVALIDATION (with a field error). */
int ql_idem_check_key(struct ql_ctx *cx, const char *key, size_t n);

/*
 * The fingerprint of a request: a digest keyed with the server secret (the auth port's
 * token_digest) over method, path and the body's SHA-256, so a reused key with another
 * request is caught and the stored value tells nothing about the body without the secret.
 */
int ql_idem_fingerprint(struct ql_ctx *cx, const char *method, const char *path, size_t path_n,
                        const char *body, size_t body_n, uint8_t out[QL_DIGEST_LEN]);

/* Seal status, header lines and body into r (arena); sets created/expires from the clock. */
int ql_idem_pack(struct ql_ctx *cx, int status, const char *headers, size_t headers_n,
                 const char *body, size_t body_n, struct ql_idem_record *r);

/* Open r; header lines and body point into one arena buffer. */
int ql_idem_unpack(struct ql_ctx *cx, const struct ql_idem_record *r, const char **headers,
                   size_t *headers_n, const char **body, size_t *body_n);

#endif
