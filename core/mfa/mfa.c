/*
 * mfa.c - enrolment, confirmation and removal of TOTP, re-authentication, and what checks
 * and spends a second factor (mfa.h).  Writes run in one transaction with their audit row on
 * the account chain; password checks (argon2id) run before any transaction opens.
 */
#include "mfa/mfa.h"
#include "mfa/internal.h"
#include "mfa/totp.h"

#include "account/account.h"
#include "account/internal.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "b32/b32.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "store/store.h"
#include "store/store_security.h"
#include "tx/tx.h"

#include <string.h>

/* The sealed plaintext: the user's id, then the secret. */
#define PLAIN_LEN (16 + QL_TOTP_SECRET_LEN)
/*
 * A recovery code: 15 random bytes, 24 base32 characters shown in four groups of six.  120
 * bits, past the 112 from which OWASP ASVS (6.5.2) lets a lookup secret be kept as a plain
 * (here keyed) digest rather than a slow salted hash.
 */
#define RECOVERY_RAW 15
#define RECOVERY_LEN 24
/* Longest code looked at: anything longer is wrong without being read. */
#define CODE_MAX 32

static int64_t now_ms(struct ql_ctx *cx)
{
    return ql_clock_now_ms(cx->ports.clock);
}

/* Clear a secret so it does not linger on the stack (a volatile write is not optimised away). */
static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

int ql__mfa_open(struct ql_ctx *cx, const struct ql_uuid *user, const struct ql_totp_row *row,
                 uint8_t *secret)
{
    uint8_t plain[PLAIN_LEN];
    int rc = QL_EINTERNAL;
    if (row->sealed_n == PLAIN_LEN + QL_SEAL_OVERHEAD)
        rc = ql_auth_open(cx->ports.auth, row->sealed, row->sealed_n, plain);
    if (rc == QL_OK && memcmp(plain, user->b, 16) != 0)
        rc = QL_EINTERNAL;
    if (rc == QL_OK)
        memcpy(secret, plain + 16, QL_TOTP_SECRET_LEN);
    wipe(plain, sizeof(plain));
    return rc ? ql_error_set(&cx->err, rc, "cannot open the TOTP secret") : QL_OK;
}

/* The code without spaces and dashes, lower-case, into out (CODE_MAX + 1); its length. */
static size_t normalize(const char *code, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (c == ' ' || c == '-')
            continue;
        if (o == CODE_MAX)
            return CODE_MAX + 1; /* too long to be a code */
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

/* The keyed digest a recovery code (normalized) is kept as. */
static int recovery_digest(struct ql_ctx *cx, const char *code, size_t n, uint8_t *out)
{
    char msg[16 + CODE_MAX];
    memcpy(msg, "mfa-recovery:", 13);
    memcpy(msg + 13, code, n);
    return ql_auth_token_digest(cx->ports.auth, msg, 13 + n, out);
}

static int spend_totp(struct ql_ctx *cx, const struct ql_uuid *user, const char *code, size_t n)
{
    struct ql_totp_row row;
    int rc = ql_store_totp_get(cx->ports.store, cx, user, &row);
    if (rc == QL_ENOT_FOUND || (rc == QL_OK && row.confirmed_ms == 0))
        return QL_EINVALID_CREDENTIALS;
    uint8_t secret[QL_TOTP_SECRET_LEN];
    if (rc == QL_OK)
        rc = ql__mfa_open(cx, user, &row, secret);
    if (rc)
        return rc;
    int64_t step = 0;
    rc = ql_totp_check(cx->ports.auth, secret, sizeof(secret), now_ms(cx), row.last_step, code, n,
                       &step);
    wipe(secret, sizeof(secret));
    if (rc == QL_OK)
        rc = ql_store_totp_use(cx->ports.store, cx, user, step); /* a concurrent twin: lost */
    if (rc == QL_ENOT_FOUND || rc == QL_ECONFLICT)
        return QL_EINVALID_CREDENTIALS;
    return rc;
}

static int spend_recovery(struct ql_ctx *cx, const struct ql_uuid *user, const char *code, size_t n)
{
    uint8_t digest[QL_DIGEST_LEN];
    int rc = recovery_digest(cx, code, n, digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest a recovery code");
    rc = ql_store_recovery_use(cx->ports.store, cx, user, digest, now_ms(cx));
    if (rc == QL_ENOT_FOUND)
        return QL_EINVALID_CREDENTIALS;
    if (rc == QL_OK) {
        char actor[64];
        ql__account_actor(user, actor);
        rc = ql_audit(cx, NULL, "mfa.recovery_code_used", "User", user, actor);
    }
    return rc;
}

int ql__mfa_spend(struct ql_ctx *cx, const struct ql_uuid *user, const char *code, size_t n)
{
    char norm[CODE_MAX + 1];
    size_t len = normalize(code, n, norm);
    int rc;
    if (len == QL_TOTP_DIGITS)
        rc = spend_totp(cx, user, norm, len);
    else if (len == RECOVERY_LEN)
        rc = spend_recovery(cx, user, norm, len);
    else
        rc = QL_EINVALID_CREDENTIALS;
    wipe(norm, sizeof(norm));
    if (rc == QL_EINVALID_CREDENTIALS)
        ql_error_set(&cx->err, rc, "The code is wrong.");
    return rc;
}

/* The calling user's record; QL_EUNAUTHENTICATED when the account is gone. */
static int caller(struct ql_ctx *cx, struct ql_user *u)
{
    int rc = ql_account_require_user(cx);
    if (rc == QL_OK)
        rc = ql_store_users_by_id(cx->ports.store, cx, &cx->principal->user_id, u);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    return rc;
}

/* ql_mfa_reauthenticate for u, the caller's record. */
static int reauth(struct ql_ctx *cx, const struct ql_user *u, const char *password, size_t pn,
                  const char *code, size_t cn)
{
    struct ql_error *e = &cx->err;
    if (pn == 0)
        ql_error_field(e, "password", "required", "is required");
    if (u->mfa_enabled && cn == 0)
        ql_error_field(e, "code", "required", "is required while MFA is on");
    if (e->code)
        return e->code;
    /* Counted before the checks (core/account/lockout.c); a mismatch leaves it counted. */
    struct ql__attempt at;
    int rc = ql__account_attempt(cx, u->email, &at);
    if (rc)
        return rc;
    if (u->password_hash == NULL ||
        ql_auth_password_verify(cx->ports.auth, u->password_hash, password, pn) != QL_OK)
        return ql_error_field(e, "password", "mismatch", "is not your password");
    if (!u->mfa_enabled)
        return ql__account_attempt_passed(cx, &at);
    /* The store's own transaction, not the use case's (ql_tx_*): the caller's is the one
     * whose outcome a retried request replays. */
    struct ql_store *st = cx->ports.store;
    rc = ql_store_begin(st, cx);
    if (rc == QL_OK) {
        rc = ql__mfa_spend(cx, &u->id, code, cn);
        if (rc == QL_OK)
            rc = ql_store_commit(st, cx);
        if (rc)
            ql_store_rollback(st, cx);
    }
    if (rc == QL_EINVALID_CREDENTIALS) {
        ql_error_clear(e);
        return ql_error_field(e, "code", "mismatch", "is not a valid code");
    }
    return rc ? rc : ql__account_attempt_passed(cx, &at);
}

int ql_mfa_reauthenticate(struct ql_ctx *cx, const char *password, size_t pn, const char *code,
                          size_t cn)
{
    struct ql_user u = {0};
    int rc = caller(cx, &u);
    return rc ? rc : reauth(cx, &u, password, pn, code, cn);
}

int ql_mfa_enrol(struct ql_ctx *cx, const char *password, size_t pn, struct ql_totp_enrolment *out)
{
    struct ql_user u = {0};
    int rc = caller(cx, &u);
    if (rc)
        return rc;
    if (u.mfa_enabled)
        return ql_error_set(&cx->err, QL_ECONFLICT, "MFA is on already; turn it off first.");
    rc = reauth(cx, &u, password, pn, NULL, 0);
    if (rc)
        return rc;
    uint8_t plain[PLAIN_LEN], sealed[PLAIN_LEN + QL_SEAL_OVERHEAD];
    memcpy(plain, u.id.b, 16);
    rc = ql_auth_random(cx->ports.auth, plain + 16, QL_TOTP_SECRET_LEN);
    char *b32 = ql_arena_alloc(cx->arena, ql_b32_enc_len(QL_TOTP_SECRET_LEN, 0) + 1);
    if (rc == QL_OK && b32 == NULL)
        rc = QL_ENOMEM;
    if (rc == QL_OK) {
        ql_b32_encode(plain + 16, QL_TOTP_SECRET_LEN, b32, 0);
        rc = ql_auth_seal(cx->ports.auth, plain, sizeof(plain), sealed);
    }
    wipe(plain, sizeof(plain));
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot make a TOTP secret");
    out->secret = b32;
    out->uri = ql_totp_uri(cx->arena, QL_MFA_ISSUER, u.email, b32);
    if (out->uri == NULL)
        return ql_error_nomem(&cx->err);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_totp_begin(cx->ports.store, cx, &u.id, sealed, sizeof(sealed), now_ms(cx));
    if (rc == QL_ECONFLICT) /* confirmed by a concurrent request */
        ql_error_set(&cx->err, rc, "MFA is on already; turn it off first.");
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "mfa.enrol", "User", &u.id, NULL);
    return ql_tx_end(cx, rc);
}

/* QL_MFA_RECOVERY_CODES fresh codes into out (arena) and their digests into d. */
static int make_recovery(struct ql_ctx *cx, struct ql_recovery_codes *out,
                         uint8_t (*d)[QL_DIGEST_LEN])
{
    for (int i = 0; i < QL_MFA_RECOVERY_CODES; i++) {
        uint8_t raw[RECOVERY_RAW];
        char b32[RECOVERY_LEN + 1];
        int rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
        if (rc)
            return ql_error_set(&cx->err, rc, "no randomness for recovery codes");
        ql_b32_encode(raw, sizeof(raw), b32, 0);
        char norm[CODE_MAX + 1];
        normalize(b32, RECOVERY_LEN, norm);
        char *shown = ql_arena_sprintf(cx->arena, "%.6s-%.6s-%.6s-%.6s", norm, norm + 6, norm + 12,
                                       norm + 18);
        rc = shown ? recovery_digest(cx, norm, RECOVERY_LEN, d[i]) : QL_ENOMEM;
        wipe(raw, sizeof(raw));
        if (rc)
            return ql_error_set(&cx->err, rc, "cannot make recovery codes");
        out->codes[i] = shown;
    }
    return QL_OK;
}

int ql_mfa_confirm(struct ql_ctx *cx, const char *code, size_t cn, struct ql_recovery_codes *out)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    if (cn == 0)
        return ql_error_field(&cx->err, "code", "required", "is required");
    const struct ql_uuid *user = &cx->principal->user_id;
    struct ql_store *st = cx->ports.store;
    struct ql_totp_row row;
    rc = ql_store_totp_get(st, cx, user, &row);
    if (rc == QL_ENOT_FOUND || (rc == QL_OK && row.confirmed_ms != 0))
        return ql_error_set(&cx->err, QL_ECONFLICT, "No TOTP enrolment waits for its first code.");
    uint8_t secret[QL_TOTP_SECRET_LEN];
    if (rc == QL_OK)
        rc = ql__mfa_open(cx, user, &row, secret);
    if (rc)
        return rc;
    char norm[CODE_MAX + 1];
    size_t len = normalize(code, cn, norm);
    int64_t step = 0;
    rc = ql_totp_check(cx->ports.auth, secret, sizeof(secret), now_ms(cx), row.last_step, norm, len,
                       &step);
    wipe(secret, sizeof(secret));
    if (rc == QL_ENOT_FOUND || rc == QL_ECONFLICT)
        return ql_error_field(&cx->err, "code", "mismatch", "is not the current code");
    uint8_t digests[QL_MFA_RECOVERY_CODES][QL_DIGEST_LEN];
    if (rc == QL_OK)
        rc = make_recovery(cx, out, digests);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_totp_confirm(st, cx, user, step, now_ms(cx));
    if (rc == QL_ENOT_FOUND) /* confirmed or dropped by a concurrent request */
        ql_error_set(&cx->err, QL_ECONFLICT, "No TOTP enrolment waits for its first code.");
    if (rc == QL_OK)
        rc = ql_store_recovery_set(st, cx, user, digests, QL_MFA_RECOVERY_CODES, now_ms(cx));
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "mfa.enable", "User", user, NULL);
    return ql_tx_end(cx, rc == QL_ENOT_FOUND ? QL_ECONFLICT : rc);
}

int ql_mfa_disable(struct ql_ctx *cx, const char *password, size_t pn, const char *code, size_t cn)
{
    struct ql_user u = {0};
    int rc = caller(cx, &u);
    struct ql_totp_row row;
    if (rc == QL_OK)
        rc = ql_store_totp_get(cx->ports.store, cx, &u.id, &row);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_ECONFLICT, "MFA is not on.");
    if (rc == QL_OK)
        rc = reauth(cx, &u, password, pn, code, cn);
    if (rc)
        return rc;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_totp_remove(cx->ports.store, cx, &u.id);
    if (rc == QL_ENOT_FOUND)
        ql_error_set(&cx->err, QL_ECONFLICT, "MFA is not on.");
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "mfa.disable", "User", &u.id, NULL);
    return ql_tx_end(cx, rc == QL_ENOT_FOUND ? QL_ECONFLICT : rc);
}
