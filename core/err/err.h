/*
 * err.h - Quill's error codes and the bounded error record.
 *
 * Every fallible function in Quill returns an int: 0 (QL_OK) on success or one of the
 * negative codes below.  The codes are generated from one X-macro table, together with
 * their stable wire names (the "code" member of a problem-details body) and default
 * messages, so they can never drift apart.  Which HTTP status a code becomes is the HTTP
 * adapter's business (adapters/http/respond.c), not the core's.
 *
 * Detail travels in a struct ql_error that lives in the request or job context: a
 * message and up to QL_ERROR_MAX_FIELDS field errors, all in fixed-size arrays, so
 * reporting an error never allocates and never fails.
 *
 * QL_EWOULD_BLOCK stays inside the process: a port that must not wait (an event loop's
 * database session) refuses a call that would, and the caller runs the whole request again
 * where waiting is allowed.  Should it ever escape, clients see a 503.
 */
#ifndef QL_ERR_H
#define QL_ERR_H

#include <stdarg.h>
#include <stdint.h>

/* X(enum suffix, value, wire code, default message) */
#define QL_ERR_MAP(X)                                                                              \
    X(MALFORMED_JSON, -1, "malformed_json", "The request body is not valid JSON.")                 \
    X(VALIDATION, -2, "validation_failed", "The request is not valid.")                            \
    X(UNAUTHENTICATED, -3, "unauthenticated", "Authentication is required.")                       \
    X(INVALID_CREDENTIALS, -4, "invalid_credentials", "The email or password is wrong.")           \
    X(FORBIDDEN, -5, "forbidden", "You may not do this.")                                          \
    X(NOT_FOUND, -6, "not_found", "No such resource.")                                             \
    X(METHOD_NOT_ALLOWED, -7, "method_not_allowed", "This method is not allowed here.")            \
    X(CONFLICT, -8, "conflict", "The request conflicts with the current state.")                   \
    X(EMAIL_TAKEN, -9, "email_taken", "An account with this email already exists.")                \
    X(IDEM_IN_PROGRESS, -10, "idempotency_in_progress",                                            \
      "A request with this idempotency key is still running.")                                     \
    X(PRECONDITION, -11, "precondition_failed", "The resource has changed.")                       \
    X(TOO_LARGE, -12, "payload_too_large", "The request body is too large.")                       \
    X(MEDIA_TYPE, -13, "unsupported_media_type", "The body must be application/json.")             \
    X(IDEM_REUSED, -14, "idempotency_key_reused",                                                  \
      "This idempotency key was used with a different request.")                                   \
    X(RATE_LIMITED, -15, "rate_limited", "Too many requests.")                                     \
    X(QUOTA, -16, "quota_exceeded", "The monthly quota is used up.")                               \
    X(INTERNAL, -17, "internal", "An internal error occurred.")                                    \
    X(UNAVAILABLE, -18, "unavailable", "The service is unavailable; try again shortly.")           \
    X(NOMEM, -19, "internal", "Out of memory.")                                                    \
    X(RETRY, -20, "unavailable", "A transient conflict occurred; try again.")                      \
    X(BAD_REQUEST, -21, "malformed_request", "The request is malformed.")                          \
    X(HEADERS_TOO_LARGE, -22, "headers_too_large", "The request headers are too large.")           \
    X(NOT_MODIFIED, -23, "not_modified", "Not modified.")                                          \
    X(CONFIG, -24, "config", "Invalid configuration.")                                             \
    X(IO, -25, "internal", "An I/O error occurred.")                                               \
    X(WOULD_BLOCK, -26, "unavailable", "This step must run where it may wait.")                    \
    X(CURSOR_EXPIRED, -27, "cursor_expired", "The cursor is older than the change log keeps.")     \
    X(INVALID_TOKEN, -28, "invalid_token", "The token is not valid, was used, or has expired.")

enum ql_err {
    QL_OK = 0,
#define QL__ERR_ENUM(name, val, wire, msg) QL_E##name = (val),
    QL_ERR_MAP(QL__ERR_ENUM)
#undef QL__ERR_ENUM
};

#define QL_ERROR_MAX_FIELDS 8

struct ql_field_error {
    char field[64];
    char code[32];
    char message[128];
};

/* The error record of one request or job.  Embedded by value in struct ql_ctx. */
struct ql_error {
    int code;
    int64_t retry_after_ms; /* rate limits: when trying again makes sense (0: unknown) */
    int64_t rate_limit;     /* rate limits: the allowance used up (0: unknown; QL_EQUOTA: 0) */
    char msg[256];
    int nfields;
    struct ql_field_error fields[QL_ERROR_MAX_FIELDS];
};

/* Stable wire name of a code ("validation_failed"); "internal" for unknown codes. */
const char *ql_err_name(int code);

/* Default human message of a code.  Never NULL. */
const char *ql_strerror(int code);

/*
 * 1 when the code says "not now" rather than "no": the same request may succeed later
 * (unavailable, a transient conflict, a rate limit, a request still in progress, an
 * internal failure).  Such outcomes are never recorded as a request's final answer.
 */
int ql_err_transient(int code);

/* Reset an error record to "no error". */
void ql_error_clear(struct ql_error *e);

/*
 * Record code and a printf-style message in e and return code, so callers can write
 * `return ql_error_set(e, QL_ENOT_FOUND, "no such team");`.  A NULL fmt keeps the
 * default message of the code.  Messages longer than the record are truncated.
 */
int ql_error_set(struct ql_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Add a field error (code is a short machine name such as "too_long").  Sets e->code to
 * QL_EVALIDATION if no code is set yet.  Field errors past QL_ERROR_MAX_FIELDS are dropped.
 * Returns QL_EVALIDATION.
 */
int ql_error_field(struct ql_error *e, const char *field, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Out of memory: record it in e and return QL_ENOMEM (inline, so static analysis sees it). */
static inline int ql_error_nomem(struct ql_error *e)
{
    ql_error_set(e, QL_ENOMEM, (const char *)0);
    return QL_ENOMEM;
}

#endif
