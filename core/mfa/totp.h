/*
 * totp.h - time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1,
 * 6 digits, 30-second steps from the Unix epoch, which is what every authenticator app
 * computes from an otpauth:// URI.
 *
 * Pure computation: the HMAC comes from the auth port and time from the caller, so tests
 * drive it with a manual clock.  Replay refusal is the caller's bookkeeping: ql_totp_check
 * takes the newest step already accepted and never accepts it or an older one again.
 */
#ifndef QL_TOTP_H
#define QL_TOTP_H

#include <stddef.h>
#include <stdint.h>

struct ql_auth;
struct ql_arena;

#define QL_TOTP_STEP_MS 30000
#define QL_TOTP_DIGITS 6
/* 160 bits: the key length RFC 4226 recommends, and what HMAC-SHA-1 hashes in one block. */
#define QL_TOTP_SECRET_LEN 20
/* Steps either side of now a code is accepted for: clocks of phones drift. */
#define QL_TOTP_WINDOW 1

/* The time step of now_ms (floor(now / 30 s)). */
int64_t ql_totp_step(int64_t now_ms);

/*
 * The HOTP value of key (n bytes) at counter: digits (6 to 8) decimal digits and a NUL into
 * out.  Returns 0, QL_EVALIDATION for another number of digits, or the port's error.
 */
int ql_totp_code(struct ql_auth *a, const uint8_t *key, size_t n, int64_t counter, int digits,
                 char *out);

/*
 * Check code (code_n bytes) against key at the steps within QL_TOTP_WINDOW of now_ms.  0 with
 * *step the step it matched; QL_ECONFLICT when it matches only steps at or before last_step
 * (a replay: RFC 6238 section 5.2); QL_ENOT_FOUND when it matches none or is not 6 digits.
 * Every candidate is computed and compared in full, whatever matches, so timing says
 * nothing about which step or digit was right.
 */
int ql_totp_check(struct ql_auth *a, const uint8_t *key, size_t n, int64_t now_ms,
                  int64_t last_step, const char *code, size_t code_n, int64_t *step);

/*
 * The otpauth:// URI (Google's Key URI format) for secret_b32 (unpadded base32) labelled
 * issuer:account, with its parameters spelled out.  Arena memory; NULL when out of memory.
 */
char *ql_totp_uri(struct ql_arena *a, const char *issuer, const char *account,
                  const char *secret_b32);

#endif
