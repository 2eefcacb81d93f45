/*
 * sodium_auth.h - the auth port implemented with libsodium: argon2id password hashes,
 * randombytes, keyed BLAKE2b token digests, HMAC-SHA-256, SHA-256, sealed boxes, and
 * HMAC-SHA-1 for TOTP (sha1.c: libsodium has no SHA-1).
 */
#ifndef QL_SODIUM_AUTH_H
#define QL_SODIUM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/*
 * argon2id cost: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), about a third of
 * libsodium's INTERACTIVE preset (64 MiB), which made logins memory-bound on small machines
 * without buying much: the salt and memory hardness are what defeat offline cracking.
 */
#define QL_ARGON2_MEMORY (19u * 1024 * 1024)
#define QL_ARGON2_PASSES 2

/*
 * Build an auth port keyed with secret (copied; 32..64 bytes).  opslimit/memlimit of 0
 * pick the QL_ARGON2_* parameters.  slow_threads threads (0: the caller's thread) run
 * password hashing at low priority.  On success *out owns the object (free it with
 * ql_sodium_auth_destroy); on failure *out is NULL.
 */
int ql_sodium_auth_create(const uint8_t *secret, size_t secret_len, unsigned long long opslimit,
                          size_t memlimit, int slow_threads, struct ql_auth **out);
void ql_sodium_auth_destroy(struct ql_auth *a);

#endif
