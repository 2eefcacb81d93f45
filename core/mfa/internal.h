/*
 * internal.h - what the files of core/mfa share (mfa.c, login.c).  Not a public header.
 */
#ifndef QL_MFA_INTERNAL_H
#define QL_MFA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct ql_ctx;
struct ql_uuid;
struct ql_totp_row;

/*
 * The secret of user's enrolment row into secret (QL_TOTP_SECRET_LEN bytes): opened with the
 * auth port and checked to be sealed for this user.  QL_EINTERNAL when it is not.
 */
int ql__mfa_open(struct ql_ctx *cx, const struct ql_uuid *user, const struct ql_totp_row *row,
                 uint8_t *secret);

/*
 * Check code (n bytes) as user's second factor and spend it: a TOTP code of a step newer than
 * the last one accepted (which it becomes), or an unused recovery code (which is marked used,
 * with a "mfa.recovery_code_used" audit row).  Writes in the open transaction, if any.  0 when
 * it was right; QL_EINVALID_CREDENTIALS when it was wrong, replayed or spent, or MFA is off.
 */
int ql__mfa_spend(struct ql_ctx *cx, const struct ql_uuid *user, const char *code, size_t n);

#endif
