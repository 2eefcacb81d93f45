/*
 * account.c - the account use cases.  Each write runs in one transaction with its audit
 * row; the slow password hashing happens before the transaction opens, so no database
 * session idles inside a transaction while argon2id runs.
 */
#include "account/account.h"
#include "account/internal.h"

#include "arena/arena.h"
#include "audit/audit.h"
#include "changes/changes.h"
#include "b64/b64.h"
#include "clock/clock.h"
#include "config/config.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "log/log.h"
#include "mfa/mfa.h"
#include "store/store.h"
#include "store/store_security.h"
#include "tx/tx.h"
#include "validate/validate.h"

#include <stdio.h>
#include <string.h>

static int64_t now_ms(struct ql_ctx *cx)
{
    return ql_clock_now_ms(cx->ports.clock);
}

/* Per-address limit on signup and login, counted in PostgreSQL so instances agree. */
int ql__account_ip_limit(struct ql_ctx *cx, const char *ip)
{
    if (ip == NULL || cx->cfg == NULL)
        return QL_OK;
    int64_t now = now_ms(cx), window = now - now % 60000;
    char key[96];
    snprintf(key, sizeof(key), "auth-ip:%s", ip);
    int count = 0, prev = 0;
    int rc = ql_store_throttle_hit(cx->ports.store, cx, key, window, &count, &prev);
    if (rc)
        return rc;
    /* A sliding window: the previous minute counts for the part of it still in view, so a
     * burst across a minute boundary cannot get twice the allowance. */
    double in_view = (double)(60000 - (now - window)) / 60000.0;
    if (count + prev * in_view > cx->cfg->auth_ip_limit) {
        cx->err.retry_after_ms = window + 60000 - now;
        cx->err.rate_limit = cx->cfg->auth_ip_limit;
        return ql_error_set(&cx->err, QL_ERATE_LIMITED,
                            "Too many signup and login attempts from this address.");
    }
    return QL_OK;
}

void ql__account_actor(const struct ql_uuid *user, char out[64])
{
    char id[QL_UUID_STR_LEN + 1];
    ql_uuid_format(user, id);
    snprintf(out, 64, "User:%s", id);
}

const char *ql__account_user_agent(struct ql_ctx *cx, const char *s, size_t n)
{
    if (s == NULL || n == 0)
        return NULL;
    if (n > QL_USER_AGENT_MAX)
        n = QL_USER_AGENT_MAX;
    char *out = ql_arena_strndup(cx->arena, s, n);
    for (size_t i = 0; out && i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?'; /* stored as text and shown back: printable ASCII only */
    return out;
}

int ql__account_new_session(struct ql_ctx *cx, const struct ql_uuid *user, const char *user_agent,
                            const char *client_ip, struct ql_new_session *out)
{
    uint8_t raw[32], digest[QL_DIGEST_LEN];
    struct ql_uuid sid;
    int rc = ql_auth_random(cx->ports.auth, raw, sizeof(raw));
    if (rc == QL_OK)
        rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &sid);
    if (rc)
        return ql_error_set(&cx->err, rc, "no randomness for a session");
    char *token = ql_arena_alloc(cx->arena, 3 + ql_b64_enc_len(32, 1) + 1);
    char *csrf = ql_arena_alloc(cx->arena, 48);
    if (token == NULL || csrf == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    memcpy(token, "qs_", 3);
    ql_b64_encode(raw, sizeof(raw), token + 3, 1);
    rc = ql_auth_token_digest(cx->ports.auth, token, strlen(token), digest);
    if (rc == QL_OK)
        rc = ql_account_csrf(cx, digest, csrf);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest a token");
    int64_t now = now_ms(cx);
    out->token = token;
    out->csrf = csrf;
    out->expires_ms = now + (cx->cfg ? cx->cfg->session_ttl_ms : 30LL * 86400000);
    return ql_store_sessions_insert(cx->ports.store, cx, digest, &sid, user, now, out->expires_ms,
                                    user_agent, client_ip);
}

int ql_account_csrf(struct ql_ctx *cx, const uint8_t digest[QL_DIGEST_LEN], char *out)
{
    uint8_t msg[5 + QL_DIGEST_LEN], mac[QL_DIGEST_LEN];
    memcpy(msg, "csrf:", 5);
    memcpy(msg + 5, digest, QL_DIGEST_LEN);
    int rc = ql_auth_token_digest(cx->ports.auth, msg, sizeof(msg), mac);
    if (rc)
        return rc;
    ql_b64_encode(mac, 24, out, 1);
    return QL_OK;
}

static const char *user_agent(struct ql_ctx *cx, const struct ql_credentials *in)
{
    return ql__account_user_agent(cx, in->user_agent, in->user_agent_n);
}

int ql_account_signup(struct ql_ctx *cx, const struct ql_credentials *in,
                      struct ql_auth_result *out)
{
    const char *email = NULL;
    struct ql_error *e = &cx->err;
    ql_valid_email(e, cx->arena, "email", in->email, in->email_n, &email);
    ql_valid_password(e, "password", in->password, in->password_n);
    ql_valid_text(e, "displayName", in->display_name, in->display_name_n, 1, 100, 1);
    if (e->code)
        return e->code;
    out->mfa_token = NULL;
    int rc = ql__account_ip_limit(cx, in->client_ip);
    if (rc)
        return rc;
    char *hash = ql_arena_alloc(cx->arena, QL_PWHASH_LEN);
    if (hash == NULL)
        return ql_error_set(e, QL_ENOMEM, NULL);
    rc = ql_auth_password_hash(cx->ports.auth, in->password, in->password_n, hash);
    if (rc)
        return ql_error_set(e, rc, "cannot hash the password");
    struct ql_user *u = &out->user;
    rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &u->id);
    if (rc)
        return ql_error_set(e, rc, "no randomness for a user id");
    u->email = email;
    u->display_name = ql_arena_strndup(cx->arena, in->display_name, in->display_name_n);
    u->password_hash = hash;
    u->created_ms = u->updated_ms = now_ms(cx);
    u->mfa_enabled = 0;
    u->email_verified_ms = 0;
    if (u->display_name == NULL)
        return ql_error_set(e, QL_ENOMEM, NULL);
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_users_insert(st, cx, u, NULL, NULL);
    if (rc == QL_EEMAIL_TAKEN)
        ql_error_set(e, rc, "An account with this email already exists.");
    if (rc == QL_OK)
        rc = ql__account_new_session(cx, &u->id, user_agent(cx, in), in->client_ip, &out->session);
    if (rc == QL_OK) {
        char actor[64];
        ql__account_actor(&u->id, actor);
        rc = ql_audit(cx, NULL, "user.signup", "User", &u->id, actor);
    }
    return ql_tx_end(cx, rc);
}

int ql_account_login(struct ql_ctx *cx, const struct ql_credentials *in, struct ql_auth_result *out)
{
    struct ql_error *e = &cx->err;
    const char *email = NULL;
    if (in->email_n == 0)
        ql_error_field(e, "email", "required", "is required");
    if (in->password_n == 0)
        ql_error_field(e, "password", "required", "is required");
    if (e->code)
        return e->code;
    /* A malformed email cannot match an account: treat it like an unknown one. */
    struct ql_error scratch;
    ql_error_clear(&scratch);
    if (ql_valid_email(&scratch, cx->arena, "email", in->email, in->email_n, &email) != QL_OK)
        email = ql_arena_strndup(cx->arena, in->email, in->email_n > 254 ? 254 : in->email_n);
    if (email == NULL)
        return ql_error_set(e, QL_ENOMEM, NULL);
    out->mfa_token = NULL;
    struct ql__attempt at;
    int rc = ql__account_ip_limit(cx, in->client_ip);
    if (rc == QL_OK)
        rc = ql__account_attempt(cx, email, &at);
    if (rc)
        return rc;
    struct ql_store *st = cx->ports.store;
    struct ql_user *u = &out->user;
    rc = ql_store_users_by_email(st, cx, email, u);
    if (rc && rc != QL_ENOT_FOUND)
        return rc;
    int ok;
    if (rc == QL_ENOT_FOUND || u->password_hash == NULL) {
        /* Same work as a real check, so timing does not tell which emails exist. */
        char scratch_hash[QL_PWHASH_LEN];
        ql_auth_password_hash(cx->ports.auth, in->password, in->password_n, scratch_hash);
        ok = 0;
    } else {
        ok = ql_auth_password_verify(cx->ports.auth, u->password_hash, in->password,
                                     in->password_n) == QL_OK;
    }
    ql_error_clear(e);
    if (!ok) /* the attempt's row is the failure */
        return ql_error_set(e, QL_EINVALID_CREDENTIALS, "The email or password is wrong.");
    /* A right password is no failure, but the account's earlier failures stay counted until
     * the second factor is right too: knowing the password must not buy fresh guesses at the
     * code. */
    if (u->mfa_enabled) {
        rc = ql__account_attempt_passed(cx, &at);
        return rc ? rc : ql_mfa_challenge(cx, u, out);
    }
    /* The login's rows forget every failure of the account, this attempt's too. */
    return ql__account_open(cx, u, user_agent(cx, in), in->client_ip, &out->session);
}

int ql__account_login_rows(struct ql_ctx *cx, const struct ql_user *u, const char *user_agent,
                           const char *client_ip, struct ql_new_session *out)
{
    int rc = ql_account_forget_failures(cx, u->email);
    if (rc == QL_OK)
        rc = ql__account_new_session(cx, &u->id, user_agent, client_ip, out);
    if (rc == QL_OK) {
        char actor[64];
        ql__account_actor(&u->id, actor);
        rc = ql_audit(cx, NULL, "session.login", "User", &u->id, actor);
    }
    return rc;
}

int ql__account_open(struct ql_ctx *cx, const struct ql_user *u, const char *user_agent,
                     const char *client_ip, struct ql_new_session *out)
{
    int rc = ql_tx_begin(cx);
    if (rc == QL_OK)
        rc = ql_tx_end(cx, ql__account_login_rows(cx, u, user_agent, client_ip, out));
    return rc;
}

int ql_account_require_user(struct ql_ctx *cx)
{
    const struct ql_principal *p = cx->principal;
    if (p == NULL || p->kind == QL_PRINCIPAL_NONE)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, NULL);
    if (p->kind != QL_PRINCIPAL_USER)
        return ql_error_set(&cx->err, QL_EFORBIDDEN, "Only users can do this.");
    return QL_OK;
}

int ql_account_logout(struct ql_ctx *cx)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    const struct ql_principal *p = cx->principal;
    if (p->via == QL_VIA_OIDC)
        return QL_OK; /* a JWT ends when it expires; there is no session to end */
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_sessions_remove(st, cx, p->digest);
    if (rc == QL_ENOT_FOUND)
        rc = QL_OK; /* a concurrent logout won: the end state is the same */
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "session.logout", "User", &p->user_id, NULL);
    return ql_tx_end(cx, rc);
}

int ql_account_resolve(struct ql_ctx *cx, const char *token, size_t n, int via,
                       struct ql_principal *out)
{
    if (n < 8 || n > 512)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The token is not valid.");
    uint8_t digest[QL_DIGEST_LEN];
    int rc = ql_auth_token_digest(cx->ports.auth, token, n, digest);
    if (rc)
        return ql_error_set(&cx->err, rc, "cannot digest a token");
    struct ql_store *st = cx->ports.store;
    rc = ql_store_principals_load(st, cx, digest, out);
    if (rc == QL_ENOT_FOUND)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The token is not valid.");
    if (rc)
        return rc;
    int64_t now = now_ms(cx);
    if (out->expires_ms && out->expires_ms <= now)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The token has expired.");
    int is_session = out->kind == QL_PRINCIPAL_USER;
    int64_t idle = cx->cfg ? cx->cfg->session_idle_ms : 7LL * 86400000;
    if (is_session && out->last_seen_ms + idle <= now)
        return ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The session has expired.");
    out->via = via;
    if (out->last_seen_ms == 0 || now - out->last_seen_ms >= QL_TOUCH_INTERVAL_MS) {
        /* Best effort: a failed touch must not fail the request it rides on. */
        struct ql_error saved = cx->err;
        int trc = is_session ? ql_store_sessions_touch(st, cx, digest, now)
                             : ql_store_api_keys_touch(st, cx, &out->credential_id, now);
        if (trc == QL_EWOULD_BLOCK)
            return trc; /* not lost: the caller resolves again where the touch can wait */
        if (trc)
            ql_log(cx->ports.log, QL_LOG_WARN, "cannot record token use", "error", cx->err.msg,
                   "trace_id", cx->trace_id, NULL);
        cx->err = saved;
        out->last_seen_ms = now;
    }
    return QL_OK;
}

struct me_state {
    ql_done_fn done;
    void *arg;
};

static void me_got(struct ql_ctx *cx, int rc, void *arg)
{
    struct me_state *m = arg;
    if (rc == QL_ENOT_FOUND)
        rc = ql_error_set(&cx->err, QL_EUNAUTHENTICATED, "The account no longer exists.");
    m->done(cx, rc, m->arg);
}

int ql_account_me_async(struct ql_ctx *cx, struct ql_user *user, struct ql_team_role **teams,
                        int *n, ql_done_fn done, void *arg)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    struct me_state *m = ql_arena_alloc(cx->arena, sizeof(*m));
    if (m == NULL)
        return ql_error_nomem(&cx->err);
    *m = (struct me_state){done, arg};
    return ql_store_users_profile_async(cx->ports.store, cx, &cx->principal->user_id, user, teams,
                                        n, me_got, m);
}

int ql_account_me(struct ql_ctx *cx, struct ql_user *user, struct ql_team_role **teams, int *n)
{
    int rc = QL_EWOULD_BLOCK; /* stays so only if the store answers later, which it must not */
    return ql_ctx_wait(cx, ql_account_me_async(cx, user, teams, n, ql_ctx_wait_done, &rc), &rc);
}

/* A user's name shows in the member lists of its teams: each gets a member change. */
static int member_changes(struct ql_ctx *cx, const struct ql_uuid *user)
{
    struct ql_team_role *teams;
    int n;
    int rc = ql_store_users_profile(cx->ports.store, cx, user, NULL, &teams, &n);
    const struct ql_uuid **tids = ql_arena_alloc(cx->arena, sizeof(*tids) * (size_t)(n + 1));
    const struct ql_uuid **uids = ql_arena_alloc(cx->arena, sizeof(*uids) * (size_t)(n + 1));
    int *events = ql_arena_alloc(cx->arena, sizeof(*events) * (size_t)(n + 1));
    if (rc == QL_OK && (tids == NULL || uids == NULL || events == NULL))
        rc = ql_error_nomem(&cx->err);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        tids[i] = &teams[i].team_id;
        uids[i] = user;
        events[i] = QL_EVENT_MEMBER_CHANGED;
    }
    if (rc == QL_OK)
        rc = ql_store_changes_append_many(cx->ports.store, cx, tids, events, uids, NULL, n);
    return rc;
}

int ql_account_rename(struct ql_ctx *cx, const char *name, size_t n, struct ql_user *out)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    rc = ql_valid_text(&cx->err, "displayName", name, n, 1, 100, 1);
    if (rc)
        return rc;
    char *copy = ql_arena_strndup(cx->arena, name, n);
    if (copy == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    struct ql_store *st = cx->ports.store;
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_users_update_name(st, cx, &cx->principal->user_id, copy, now_ms(cx), out);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "user.update", "User", &cx->principal->user_id, NULL);
    if (rc == QL_OK)
        rc = member_changes(cx, &cx->principal->user_id);
    return ql_tx_end(cx, rc);
}

int ql_account_change_password(struct ql_ctx *cx, const char *current, size_t cn, const char *next,
                               size_t nn)
{
    int rc = ql_account_require_user(cx);
    if (rc)
        return rc;
    struct ql_error *e = &cx->err;
    if (cn == 0)
        ql_error_field(e, "currentPassword", "required", "is required");
    ql_valid_password(e, "newPassword", next, nn);
    if (e->code)
        return e->code;
    const struct ql_principal *p = cx->principal;
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    rc = ql_store_users_by_id(st, cx, &p->user_id, &u);
    if (rc)
        return rc;
    /* A stolen session must not buy guesses at the password that a login would not: each
     * one is an attempt at the account, counted before it is checked. */
    struct ql__attempt at;
    rc = ql__account_attempt(cx, u.email, &at);
    if (rc)
        return rc;
    if (u.password_hash == NULL ||
        ql_auth_password_verify(cx->ports.auth, u.password_hash, current, cn) != QL_OK) {
        ql_error_field(e, "currentPassword", "mismatch", "is not the current password");
        return e->code; /* the attempt's row is the failure */
    }
    rc = ql__account_attempt_passed(cx, &at);
    if (rc)
        return rc;
    char hash[QL_PWHASH_LEN];
    rc = ql_auth_password_hash(cx->ports.auth, next, nn, hash);
    if (rc)
        return ql_error_set(e, rc, "cannot hash the password");
    rc = ql_tx_begin(cx);
    if (rc)
        return rc;
    rc = ql_store_users_set_password(st, cx, &p->user_id, hash, now_ms(cx));
    if (rc == QL_OK)
        rc = ql_store_sessions_remove_user(st, cx, &p->user_id,
                                           p->via == QL_VIA_OIDC ? NULL : p->digest);
    if (rc == QL_OK)
        rc = ql_audit(cx, NULL, "user.password_change", "User", &p->user_id, NULL);
    return ql_tx_end(cx, rc);
}

/* Three base64url segments: the shape of a JWT, which Quill's own tokens never have. */
static int is_jwt(const char *t, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n; i++)
        dots += t[i] == '.';
    return dots == 2;
}

int ql_account_bearer(struct ql_ctx *cx, const char *token, size_t n, struct ql_principal *out)
{
    if (cx->ports.idp == NULL || !is_jwt(token, n))
        return ql_account_resolve(cx, token, n, QL_VIA_BEARER, out);
    struct ql_idp_claims c;
    int rc = ql_idp_verify(cx->ports.idp, cx, token, n, &c);
    if (rc)
        return rc;
    return ql_account_oidc(cx, c.issuer, c.subject, c.email[0] ? c.email : NULL, c.email_verified,
                           c.name, out);
}

/*
 * The address of an OIDC user without an email of its own: unique to the (issuer, subject)
 * pair, whose SHA-256 it carries (the whole subject: two that share a prefix differ).
 */
static const char *placeholder(struct ql_ctx *cx, const char *issuer, const char *subject)
{
    size_t in = strlen(issuer), sn = strlen(subject);
    char *both = ql_arena_alloc(cx->arena, in + sn + 1);
    if (both == NULL)
        return NULL;
    memcpy(both, issuer, in);
    both[in] = '\0'; /* no issuer ends where another's subject starts */
    memcpy(both + in + 1, subject, sn);
    uint8_t d[QL_DIGEST_LEN];
    if (ql_auth_sha256(cx->ports.auth, both, in + sn + 1, d) != QL_OK)
        return NULL;
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return ql_arena_sprintf(cx->arena, "oidc-%s@oidc.invalid", hex);
}

int ql_account_oidc(struct ql_ctx *cx, const char *issuer, const char *subject, const char *email,
                    int email_verified, const char *name, struct ql_principal *out)
{
    struct ql_store *st = cx->ports.store;
    struct ql_user u;
    int rc = ql_store_users_by_oidc(st, cx, issuer, subject, &u);
    if (rc == QL_ENOT_FOUND) {
        /*
         * First sight: create the user.  An email that is missing, invalid, not said to be
         * verified by the provider, or already used by another account gets a placeholder
         * instead: an address anyone could claim at the provider must not take the address
         * from its owner here (signup, a member added by email, a reset link all go by it),
         * and no account is ever linked to another by its email.  Not marked verified.
         */
        struct ql_error scratch;
        ql_error_clear(&scratch);
        const char *norm = NULL;
        if (email == NULL || !email_verified ||
            ql_valid_email(&scratch, cx->arena, "email", email, strlen(email), &norm) != QL_OK ||
            ql_store_users_by_email(st, cx, norm, &u) == QL_OK)
            norm = placeholder(cx, issuer, subject);
        ql_error_clear(&cx->err);
        if (norm == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
        rc = ql_uuid7_new(cx->ports.clock, cx->ports.auth, &u.id);
        if (rc)
            return ql_error_set(&cx->err, rc, "no randomness for a user id");
        u.email = norm;
        u.display_name = name && *name ? name : norm;
        u.password_hash = NULL;
        u.created_ms = u.updated_ms = now_ms(cx);
        u.email_verified_ms = 0;
        rc = ql_tx_begin(cx);
        if (rc)
            return rc;
        rc = ql_store_users_insert(st, cx, &u, issuer, subject);
        if (rc == QL_OK) {
            char actor[64];
            ql__account_actor(&u.id, actor);
            rc = ql_audit(cx, NULL, "user.signup_oidc", "User", &u.id, actor);
        }
        rc = ql_tx_end(cx, rc);
        if (rc) {
            /* A concurrent first request created the same user: use that one. */
            if (rc == QL_EEMAIL_TAKEN || rc == QL_ECONFLICT) {
                ql_error_clear(&cx->err);
                rc = ql_store_users_by_oidc(st, cx, issuer, subject, &u);
            }
        }
    }
    if (rc)
        return rc;
    rc = ql_store_principals_load_user(st, cx, &u.id, out);
    if (rc)
        return rc;
    out->kind = QL_PRINCIPAL_USER;
    out->via = QL_VIA_OIDC;
    out->user_id = u.id;
    return QL_OK;
}
