/*
 * err.h - Quill's error codes and the bounded error record.
 *
 * Every fallible function in Quill returns an int: 0 (QL_OK) on success or one of the
 * negative codes below.  The codes are generated from one X-macro table, together with
 * their stable wire names (the "code" member of a problem-details body) and the HTTP
 * status an adapter maps them to, so the three can never drift apart.
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

/* X(enum suffix, value, wire code, http status, default message) */
#define QL_ERR_MAP(X)                                                                              \
    X(MALFORMED_JSON, -1, "malformed_json", 400, "The request body is not valid JSON.")            \
    X(VALIDATION, -2, "validation_failed", 422, "The request is not valid.")                       \
    X(UNAUTHENTICATED, -3, "unauthenticated", 401, "Authentication is required.")                  \
    X(INVALID_CREDENTIALS, -4, "invalid_credentials", 401, "The email or password is wrong.")      \
    X(FORBIDDEN, -5, "forbidden", 403, "You may not do this.")                                     \
    X(NOT_FOUND, -6, "not_found", 404, "No such resource.")                                        \
    X(METHOD_NOT_ALLOWED, -7, "method_not_allowed", 405, "This method is not allowed here.")       \
    X(CONFLICT, -8, "conflict", 409, "The request conflicts with the current state.")              \
    X(EMAIL_TAKEN, -9, "email_taken", 409, "An account with this email already exists.")           \
    X(IDEM_IN_PROGRESS, -10, "idempotency_in_progress", 409,                                       \
      "A request with this idempotency key is still running.")                                     \
    X(PRECONDITION, -11, "precondition_failed", 412, "The resource has changed.")                  \
    X(TOO_LARGE, -12, "payload_too_large", 413, "The request body is too large.")                  \
    X(MEDIA_TYPE, -13, "unsupported_media_type", 415, "The body must be application/json.")        \
    X(IDEM_REUSED, -14, "idempotency_key_reused", 422,                                             \
      "This idempotency key was used with a different request.")                                   \
    X(RATE_LIMITED, -15, "rate_limited", 429, "Too many requests.")                                \
    X(QUOTA, -16, "quota_exceeded", 429, "The monthly quota is used up.")                          \
    X(INTERNAL, -17, "internal", 500, "An internal error occurred.")                               \
    X(UNAVAILABLE, -18, "unavailable", 503, "The service is unavailable; try again shortly.")      \
    X(NOMEM, -19, "internal", 500, "Out of memory.")                                               \
    X(RETRY, -20, "unavailable", 503, "A transient conflict occurred; try again.")                 \
    X(BAD_REQUEST, -21, "bad_request", 400, "The request is malformed.")                           \
    X(HEADERS_TOO_LARGE, -22, "headers_too_large", 431, "The request headers are too large.")      \
    X(NOT_MODIFIED, -23, "not_modified", 304, "Not modified.")                                     \
    X(CONFIG, -24, "config", 500, "Invalid configuration.")                                        \
    X(IO, -25, "internal", 500, "An I/O error occurred.")                                          \
    X(WOULD_BLOCK, -26, "unavailable", 503, "This step must run where it may wait.")

enum ql_err {
    QL_OK = 0,
#define QL__ERR_ENUM(name, val, wire, status, msg) QL_E##name = (val),
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
    char msg[256];
    int nfields;
    struct ql_field_error fields[QL_ERROR_MAX_FIELDS];
};

/* Stable wire name of a code ("validation_failed"); "internal" for unknown codes. */
const char *ql_err_name(int code);

/* Default human message of a code.  Never NULL. */
const char *ql_strerror(int code);

/* HTTP status for a code; 500 for unknown codes. */
int ql_err_status(int code);

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

#endif
