/*
 * validate.h - validation of the values clients send: UTF-8 text, emails, passwords,
 * names, idempotency keys.  Validators return 0, or QL_EVALIDATION after adding a field
 * error to err (so several problems can be reported at once).
 */
#ifndef QL_VALIDATE_H
#define QL_VALIDATE_H

#include <stddef.h>

struct ql_error;
struct ql_arena;

/* Code points in s (n bytes) when s is valid UTF-8 without NUL bytes, else -1. */
long ql_utf8_count(const char *s, size_t n);

/*
 * Text of min..max code points, valid UTF-8, no NUL; control characters other than tab,
 * newline and carriage return are refused when single_line is 0, all of them when 1.
 */
int ql_valid_text(struct ql_error *err, const char *field, const char *s, size_t n, long min,
                  long max, int single_line);

/*
 * Normalise and check an email: trimmed, lower-cased, at most 254 bytes, one "@" with a
 * non-empty local part and a dotted domain.  On success *out is the arena copy.
 */
int ql_valid_email(struct ql_error *err, struct ql_arena *a, const char *field, const char *s,
                   size_t n, const char **out);

/* A password of 12 to 128 characters. */
int ql_valid_password(struct ql_error *err, const char *field, const char *s, size_t n);

#endif
