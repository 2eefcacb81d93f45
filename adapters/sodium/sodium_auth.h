/*
 * sodium_auth.h - the auth port implemented with libsodium: argon2id password hashes,
 * randombytes, keyed BLAKE2b token digests, HMAC-SHA-256 and SHA-256.
 */
#ifndef QL_SODIUM_AUTH_H
#define QL_SODIUM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/*
 * Build an auth port keyed with secret (copied; 32..64 bytes).  opslimit/memlimit of 0
 * pick libsodium's INTERACTIVE argon2id parameters.  On success *out owns the object
 * (free it with ql_sodium_auth_destroy); on failure *out is NULL.
 */
int ql_sodium_auth_create(const uint8_t *secret, size_t secret_len, unsigned long long opslimit,
                          size_t memlimit, struct ql_auth **out);
void ql_sodium_auth_destroy(struct ql_auth *a);

#endif
