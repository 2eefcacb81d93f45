/*
 * sha1.h - SHA-1 and HMAC-SHA-1 for the libsodium auth adapter (sha1.c says why they are
 * here).  Internal to adapters/sodium.
 */
#ifndef QL_SODIUM_SHA1_H
#define QL_SODIUM_SHA1_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

/* SHA-1 of msg (n bytes) into out. */
void ql__sha1(const void *msg, size_t n, uint8_t out[QL_SHA1_LEN]);

/* HMAC-SHA-1 of msg under key (any length; longer than a block: hashed first) into out. */
void ql__hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n,
                   uint8_t out[QL_SHA1_LEN]);

#endif
