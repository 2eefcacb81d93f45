/*
 * repo_mail.c - the outbox and mailed tokens over PostgreSQL (core/mail/mail_store.h, struct
 * ql_mail_repo_ops; the tables are in migrations/0011_mail.up.sql, the SQL in stmts_mail.h).
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "mail/mail_store.h"

#include <string.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

/* A mail from the columns of QL__PG_MAIL_COLS. */
static int read_mail(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_mail *m = dst;
    memset(m, 0, sizeof(*m));
    ql__pg_uuid(r, row, 0, &m->id);
    m->kind = ql__pg_text(cx, r, row, 1);
    if (!PQgetisnull(r, row, 2)) {
        ql__pg_uuid(r, row, 2, &m->user_id);
        m->has_user = 1;
    }
    m->to = ql__pg_text(cx, r, row, 3);
    m->subject = ql__pg_text(cx, r, row, 4);
    if (!PQgetisnull(r, row, 5)) {
        m->body_n = (size_t)PQgetlength(r, row, 5);
        uint8_t *body = ql_arena_alloc(cx->arena, m->body_n ? m->body_n : 1);
        if (body == NULL)
            return ql_error_nomem(&cx->err);
        memcpy(body, PQgetvalue(r, row, 5), m->body_n);
        m->body = body;
    }
    m->state = ql__pg_text(cx, r, row, 6);
    m->attempts = ql__pg_int4(r, row, 7);
    m->last_error = ql__pg_text(cx, r, row, 8);
    m->dedupe_key = ql__pg_text(cx, r, row, 9);
    m->created_ms = ql__pg_ts_ms(r, row, 10);
    m->updated_ms = ql__pg_ts_ms(r, row, 11);
    m->sent_ms = ql__pg_ts_ms_or_0(r, row, 12);
    if (m->kind == NULL || m->to == NULL || m->subject == NULL || m->state == NULL)
        return ql_error_nomem(&cx->err);
    return QL_OK;
}

/* A token from the columns of QL__PG_TOKEN_COLS. */
static int read_token(struct ql_ctx *cx, const PGresult *r, int row, void *dst)
{
    struct ql_mail_token *t = dst;
    memset(t, 0, sizeof(*t));
    if (PQgetlength(r, row, 0) == QL_DIGEST_LEN)
        memcpy(t->digest, PQgetvalue(r, row, 0), QL_DIGEST_LEN);
    const char *purpose = PQgetvalue(r, row, 1);
    for (int p = QL_TOKEN_PASSWORD_RESET; p <= QL_TOKEN_EMAIL_VERIFY; p++)
        if (strcmp(purpose, ql_token_purpose_name(p)) == 0)
            t->purpose = p;
    ql__pg_uuid(r, row, 2, &t->user_id);
    t->email = ql__pg_text(cx, r, row, 3);
    t->created_ms = ql__pg_ts_ms(r, row, 4);
    t->expires_ms = ql__pg_ts_ms(r, row, 5);
    t->used_ms = ql__pg_ts_ms_or_0(r, row, 6);
    return t->email ? QL_OK : ql_error_nomem(&cx->err);
}

/* Run st and answer how many rows it touched in *n. */
static int affected(struct ql_pg *pg, struct ql_ctx *cx, enum ql__pg_stmt st,
                    const struct ql__pg_params *p, int64_t *n)
{
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, st, p, &r);
    if (rc)
        return rc;
    *n = ql__pg_affected(r);
    PQclear(r);
    return QL_OK;
}

static int m_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail *m)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, &m->id);
    ql__pg_p_text(&p, m->kind);
    ql__pg_p_uuid(&p, m->has_user ? &m->user_id : NULL);
    ql__pg_p_text(&p, m->to);
    ql__pg_p_text(&p, m->subject);
    ql__pg_p_bytes(&p, m->body, (int)m->body_n);
    ql__pg_p_text(&p, m->state);
    ql__pg_p_text(&p, m->dedupe_key);
    ql__pg_p_ts(&p, m->created_ms);
    ql__pg_p_ts(&p, m->updated_ms);
    int64_t n = 0;
    int rc = affected(pg_of(self), cx, QL__ST_MAIL_INSERT, &p, &n);
    if (rc == QL_OK && n == 0)
        rc = ql_error_set(&cx->err, QL_ECONFLICT, "a mail with this dedupe key exists");
    return rc;
}

static int m_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_mail *out)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    return ql__pg_one(pg_of(self), cx, QL__ST_MAIL_GET, &p, read_mail, out);
}

static int m_record(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *state, const char *error, int attempted, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, id);
    ql__pg_p_text(&p, state);
    ql__pg_p_text(&p, error);
    ql__pg_p_int(&p, attempted ? 1 : 0);
    ql__pg_p_ts(&p, now_ms);
    int64_t n = 0;
    int rc = affected(pg_of(self), cx, QL__ST_MAIL_RECORD, &p, &n);
    if (rc == QL_OK && n == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return rc;
}

static int m_list(struct ql_store *self, struct ql_ctx *cx, int64_t after_ms,
                  const struct ql_uuid *after, int limit, struct ql_mail **out, int *n, int *more)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, after);
    ql__pg_p_ts(&p, after_ms);
    ql__pg_p_int(&p, limit + 1);
    void *rows;
    int rc = ql__pg_page(pg_of(self), cx, QL__ST_MAIL_LIST, &p, limit, sizeof(**out), read_mail,
                         &rows, n, more);
    *out = rows;
    return rc;
}

static int m_token_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail_token *t)
{
    const char *purpose = ql_token_purpose_name(t->purpose);
    if (purpose == NULL)
        return ql_error_set(&cx->err, QL_EINTERNAL, "a token of no known purpose");
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, t->digest, QL_DIGEST_LEN);
    ql__pg_p_text(&p, purpose);
    ql__pg_p_uuid(&p, &t->user_id);
    ql__pg_p_text(&p, t->email);
    ql__pg_p_ts(&p, t->created_ms);
    ql__pg_p_ts(&p, t->expires_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_TOKEN_INSERT, &p);
}

/* token_find and token_use: the same parameters and row, a read or the use. */
static int token_one(struct ql_store *self, struct ql_ctx *cx, enum ql__pg_stmt st,
                     const uint8_t digest[QL_DIGEST_LEN], int purpose, int64_t now_ms,
                     struct ql_mail_token *out)
{
    const char *name = ql_token_purpose_name(purpose);
    if (name == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    struct ql__pg_params p = {0};
    ql__pg_p_bytes(&p, digest, QL_DIGEST_LEN);
    ql__pg_p_text(&p, name);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_one(pg_of(self), cx, st, &p, read_token, out);
}

static int m_token_find(struct ql_store *self, struct ql_ctx *cx,
                        const uint8_t digest[QL_DIGEST_LEN], int purpose, int64_t now_ms,
                        struct ql_mail_token *out)
{
    return token_one(self, cx, QL__ST_TOKEN_FIND, digest, purpose, now_ms, out);
}

static int m_token_use(struct ql_store *self, struct ql_ctx *cx,
                       const uint8_t digest[QL_DIGEST_LEN], int purpose, int64_t now_ms,
                       struct ql_mail_token *out)
{
    return token_one(self, cx, QL__ST_TOKEN_USE, digest, purpose, now_ms, out);
}

static int m_tokens_end(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int purpose, int64_t now_ms)
{
    const char *name = ql_token_purpose_name(purpose);
    if (name == NULL)
        return ql_error_set(&cx->err, QL_EINTERNAL, "a token of no known purpose");
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, name);
    ql__pg_p_ts(&p, now_ms);
    return ql__pg_run(pg_of(self), cx, QL__ST_TOKENS_END, &p);
}

static int m_verify_email(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                          const char *email, int64_t now_ms)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, email);
    ql__pg_p_ts(&p, now_ms);
    int64_t n = 0;
    int rc = affected(pg_of(self), cx, QL__ST_VERIFY_EMAIL, &p, &n);
    if (rc == QL_OK && n == 0)
        rc = ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return rc;
}

static int m_purge(struct ql_store *self, struct ql_ctx *cx, int64_t tokens_before_ms,
                   int64_t mails_before_ms, int64_t *n)
{
    struct ql__pg_params p = {0};
    ql__pg_p_ts(&p, tokens_before_ms);
    ql__pg_p_ts(&p, mails_before_ms);
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_MAIL_PURGE, &p, &r);
    if (rc)
        return rc;
    *n = PQntuples(r) == 1 ? ql__pg_int8(r, 0, 0) : 0;
    PQclear(r);
    return QL_OK;
}

static int m_forget(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    const char *email)
{
    struct ql__pg_params p = {0};
    ql__pg_p_uuid(&p, user);
    ql__pg_p_text(&p, email);
    return ql__pg_run(pg_of(self), cx, QL__ST_MAIL_FORGET, &p);
}

const struct ql_mail_repo_ops ql__pg_mail_ops = {
    .insert = m_insert,
    .get = m_get,
    .record = m_record,
    .list = m_list,
    .token_insert = m_token_insert,
    .token_find = m_token_find,
    .token_use = m_token_use,
    .tokens_end = m_tokens_end,
    .verify_email = m_verify_email,
    .purge = m_purge,
    .forget = m_forget,
};
