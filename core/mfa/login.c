/*
 * login.c - the second step of a login with MFA on (mfa.h): the challenge a right password
 * opens, and its exchange for a session.
 *
 * The challenge token ("qm_" + 32 random bytes, base64url) is kept only as its keyed digest,
 * like a session's.  Each attempt is counted before its code is checked, with single
 * statements that commit on their own: on the challenge (an atomic increment that answers the
 * new count) and as an attempt at the account (core/account/lockout.c), so however many
 * requests race, at most QL_MFA_MAX_FAILURES codes are checked per token and no more than
 * the account's lockout allows.  The exchange then takes the challenge, spends the code and
 * opens the session in one transaction, so a token is spent once and a code is accepted once.
 * A wrong code rolls that back and stays counted.
 */
#include "mfa/internal.h"
#include "mfa/mfa.h"

#include "account/account.h"
#include "account/internal.h"
#include "arena/arena.h"
#include "audit/audit.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"
#include "store/store.h"
#include "store/store_security.h"
#include "tx/tx.h"

#include <string.h>

int ql_mfa_challenge(struct ql_ctx *cx, const struct ql_user *u, struct ql_auth_result *out)
{
    uint8_t raw[32], digest[QL_DIGEST_LEN];
    int rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a challenge");
    char *token = ql_arena_alloc(cx->arena, 3 + ql_b64_enc_len(sizeof(raw), 1) + 1);
    if (token == NULL)
        return ql_error_nomem(&cx->err);
    memcpy(token, "qm_", 3);
    ql_b64_encode(raw, sizeof(raw), token + 3, 1);
    rc = ql_auth_token_digest(cx->ports.auth, token, strlen(token), digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest a token");
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_challenge_insert(cx->ports.store, cx, digest, &u->id, now,
                                   now + QL_MFA_CHALLENGE_TTL_MS);
    if (rc == QL_OK) {
        char actor[64];
        ql__account_actor(&u->id, actor);
        rc = ql_audit(cx, NULL, "session.mfa_challenge", "User", &u->id, actor);
    }
    rc = ql_tx_end(cx, rc);
    if (rc == QL_OK) {
        out->mfa_token = token;
        out->mfa_expires_ms = now + QL_MFA_CHALLENGE_TTL_MS;
    }
    return rc;
}

static int dead(struct ql_ctx *cx)
{
    return ql_error_set(&cx->err, QL_EUNAUTHENTICATED,
                        "The MFA token is not valid (expired, used or refused); log in again.");
}

int ql_mfa_login(struct ql_ctx *cx, const struct ql_mfa_answer *in, struct ql_auth_result *out)
{
    struct ql_error *e = &cx->err;
    out->mfa_token = NULL;
    if (in->token_n == 0)
        ql_error_field(e, "mfaToken", "required", "is required");
    if (in->code_n == 0)
        ql_error_field(e, "code", "required", "is required");
    if (e->code)
        return e->code;
    int rc = ql__account_ip_limit(cx, in->client_ip);
    if (rc)
        return rc;
    if (in->token_n < 8 || in->token_n > 128)
        return dead(cx);
    uint8_t digest[QL_DIGEST_LEN];
    rc = ql_auth_token_digest(cx->ports.auth, in->token, in->token_n, digest);
    if (rc)
        return ql_error_set(e, rc, "cannot digest a token");
    struct ql_store *st = cx->ports.store;
    int64_t now = ql_clock_now_ms(cx->ports.clock);
    struct ql_mfa_challenge ch;
    rc = ql_store_challenge_get(st, cx, digest, &ch);
    if (rc == QL_ENOT_FOUND ||
        (rc == QL_OK && (ch.expires_ms <= now || ch.failures >= QL_MFA_MAX_FAILURES)))
        return dead(cx);
    /* The look above only spares a dead token the work; this count is what bounds it. */
    int tries = 0;
    if (rc == QL_OK)
        rc = ql_store_challenge_fail(st, cx, digest, &tries);
    if (rc == QL_ENOT_FOUND || (rc == QL_OK && tries > QL_MFA_MAX_FAILURES))
        return dead(cx);
    struct ql_user *u = &out->user;
    if (rc == QL_OK)
        rc = ql_store_users_by_id(st, cx, &ch.user_id, u);
    if (rc == QL_ENOT_FOUND)
        return dead(cx);
    struct ql__attempt at;
    if (rc == QL_OK)
        rc = ql__account_attempt(cx, u->email, &at);
    if (rc)
        return rc;
    const char *agent = ql__account_user_agent(cx, in->user_agent, in->user_agent_n);
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    /* Live with this attempt counted: at most QL_MFA_MAX_FAILURES tries, this one among them. */
    rc = ql_store_challenge_take(st, cx, digest, now, QL_MFA_MAX_FAILURES + 1);
    if (rc == QL_ENOT_FOUND) /* a concurrent exchange spent it */
        rc = dead(cx);
    if (rc == QL_OK)
        rc = ql__mfa_spend(cx, &u->id, in->code, in->code_n);
    /* The login's rows forget every failure of the account, this attempt's too. */
    if (rc == QL_OK)
        rc = ql__account_login_rows(cx, u, agent, in->client_ip, &out->session);
    return ql_tx_end(cx, rc); /* a wrong code: QL_EINVALID_CREDENTIALS, counted already */
}
