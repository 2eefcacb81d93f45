/*
 * fake_mail.c - the outbox and mailed tokens of the fake store (struct ql_mail_repo_ops),
 * and a fake mail server (the mail port).  The tables live in the range that begin() saves,
 * so a rollback takes them back; strings and bodies are kept in the store's arena.
 */
#include "fake_internal.h"

#include "ctx/ctx.h"
#include "err/err.h"

#include <stdio.h>

static int fm_send(struct ql_mailer *self, const struct ql_mail_msg *m, struct ql_mail_result *res)
{
    struct fake_mailer *f = (struct fake_mailer *)self;
    f->calls++;
    if (f->answer != QL_OK) {
        res->smtp_code = f->answer == QL_EVALIDATION ? 550 : 421;
        snprintf(res->error, sizeof(res->error), "SMTP %d: fake refusal", res->smtp_code);
        return f->answer;
    }
    res->smtp_code = 250;
    if (f->nsent < FAKE_MAILER_MAX) {
        struct fake_sent_mail *s = &f->sent[f->nsent];
        snprintf(s->id, sizeof(s->id), "%s", m->id);
        snprintf(s->to, sizeof(s->to), "%s", m->to);
        snprintf(s->subject, sizeof(s->subject), "%s", m->subject);
        snprintf(s->text, sizeof(s->text), "%s", m->text);
        s->date_ms = m->date_ms;
    }
    f->nsent++;
    return QL_OK;
}

static const struct ql_mailer_ops fake_mailer_ops = {.send = fm_send};

void fake_mailer_init(struct fake_mailer *m)
{
    memset(m, 0, sizeof(*m));
    m->base.ops = &fake_mailer_ops;
}

static struct fake_mail *mail_of(struct fake_store *s, const struct ql_uuid *id)
{
    for (int i = 0; i < s->nmails; i++)
        if (fake__same(&s->mails[i].m.id, id))
            return &s->mails[i];
    return NULL;
}

/* A copy of m in arena a (bytes and strings). */
static int copy_mail(struct ql_arena *a, const struct ql_mail *m, struct ql_mail *out)
{
    *out = *m;
    out->kind = ql_arena_strdup(a, m->kind);
    out->to = ql_arena_strdup(a, m->to);
    out->subject = ql_arena_strdup(a, m->subject);
    out->state = ql_arena_strdup(a, m->state);
    out->last_error = m->last_error ? ql_arena_strdup(a, m->last_error) : NULL;
    out->dedupe_key = m->dedupe_key ? ql_arena_strdup(a, m->dedupe_key) : NULL;
    if (m->body) {
        uint8_t *b = ql_arena_alloc(a, m->body_n ? m->body_n : 1);
        if (b == NULL)
            return QL_ENOMEM;
        memcpy(b, m->body, m->body_n);
        out->body = b;
    }
    if (out->kind == NULL || out->to == NULL || out->subject == NULL || out->state == NULL)
        return QL_ENOMEM;
    return QL_OK;
}

static int m_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail *m)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; m->dedupe_key && i < s->nmails; i++)
        if (s->mails[i].m.dedupe_key && strcmp(s->mails[i].m.dedupe_key, m->dedupe_key) == 0)
            return ql_error_set(&cx->err, QL_ECONFLICT, "a mail with this dedupe key exists");
    if (s->nmails == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake outbox full");
    struct fake_mail *f = &s->mails[s->nmails];
    if (copy_mail(&s->mem, m, &f->m) != QL_OK)
        return ql_error_nomem(&cx->err);
    f->m.attempts = 0;
    f->m.last_error = NULL;
    f->m.sent_ms = 0;
    s->nmails++;
    return QL_OK;
}

static int m_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                 struct ql_mail *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct fake_mail *f = mail_of(s, id);
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    return copy_mail(cx->arena, &f->m, out) ? ql_error_nomem(&cx->err) : QL_OK;
}

static int m_record(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *id,
                    const char *state, const char *error, int attempted, int64_t now_ms)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_mail *f = mail_of(s, id);
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    f->m.state = fake__keep(s, state);
    f->m.last_error = fake__keep(s, error);
    f->m.attempts += attempted ? 1 : 0;
    f->m.updated_ms = now_ms;
    if (strcmp(state, QL_MAIL_SENT) == 0) {
        f->m.sent_ms = now_ms;
        f->m.body = NULL;
        f->m.body_n = 0;
    }
    return QL_OK;
}

static int m_list(struct ql_store *self, struct ql_ctx *cx, int64_t after_ms,
                  const struct ql_uuid *after, int limit, struct ql_mail **out, int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    if (rc)
        return rc;
    *out = ql_arena_calloc(cx->arena, FAKE_MAX + 1, sizeof(**out));
    if (*out == NULL)
        return ql_error_nomem(&cx->err);
    for (;;) { /* newest first, one at a time: the table is small */
        const struct ql_mail *best = NULL;
        for (int i = 0; i < s->nmails; i++) {
            const struct ql_mail *m = &s->mails[i].m;
            if (after && fake__cmp_pos(m->created_ms, &m->id, after_ms, after) >= 0)
                continue;
            if (best == NULL ||
                fake__cmp_pos(m->created_ms, &m->id, best->created_ms, &best->id) > 0)
                best = m;
        }
        if (best == NULL)
            return QL_OK;
        if (*n == limit) {
            *more = 1;
            return QL_OK;
        }
        if (copy_mail(cx->arena, best, &(*out)[(*n)++]) != QL_OK)
            return ql_error_nomem(&cx->err);
        after_ms = best->created_ms;
        after = &best->id;
    }
}

static int m_token_insert(struct ql_store *self, struct ql_ctx *cx, const struct ql_mail_token *t)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (s->ntokens == FAKE_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake tokens full");
    for (int i = 0; i < s->ntokens; i++)
        if (memcmp(s->tokens[i].t.digest, t->digest, QL_DIGEST_LEN) == 0)
            return ql_error_set(&cx->err, QL_ECONFLICT, NULL);
    struct fake_token *f = &s->tokens[s->ntokens++];
    f->t = *t;
    f->t.email = fake__keep(s, t->email);
    f->t.used_ms = 0;
    return QL_OK;
}

/* The live token of purpose with this digest at now, or NULL. */
static struct fake_token *live_token(struct fake_store *s, const uint8_t *digest, int purpose,
                                     int64_t now_ms)
{
    for (int i = 0; i < s->ntokens; i++) {
        struct fake_token *f = &s->tokens[i];
        if (memcmp(f->t.digest, digest, QL_DIGEST_LEN) == 0 && f->t.purpose == purpose &&
            f->t.used_ms == 0 && f->t.expires_ms > now_ms)
            return f;
    }
    return NULL;
}

static int m_token_find(struct ql_store *self, struct ql_ctx *cx,
                        const uint8_t digest[QL_DIGEST_LEN], int purpose, int64_t now_ms,
                        struct ql_mail_token *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct fake_token *f = live_token(s, digest, purpose, now_ms);
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *out = f->t;
    return QL_OK;
}

static int m_token_use(struct ql_store *self, struct ql_ctx *cx,
                       const uint8_t digest[QL_DIGEST_LEN], int purpose, int64_t now_ms,
                       struct ql_mail_token *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_token *f = live_token(s, digest, purpose, now_ms);
    if (f == NULL)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    f->t.used_ms = now_ms;
    *out = f->t;
    return QL_OK;
}

static int m_tokens_end(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                        int purpose, int64_t now_ms)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; i < s->ntokens; i++) {
        struct fake_token *f = &s->tokens[i];
        if (fake__same(&f->t.user_id, user) && f->t.purpose == purpose && f->t.used_ms == 0)
            f->t.used_ms = now_ms;
    }
    return QL_OK;
}

static int m_verify_email(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                          const char *email, int64_t now_ms)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    struct fake_user *f = fake__user_by(s, user, NULL);
    if (f == NULL || strcmp(f->u.email, email) != 0)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    if (f->u.email_verified_ms == 0) {
        f->u.email_verified_ms = now_ms;
        f->u.updated_ms = now_ms;
    }
    return QL_OK;
}

static int m_purge(struct ql_store *self, struct ql_ctx *cx, int64_t tokens_before_ms,
                   int64_t mails_before_ms, int64_t *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    if (rc)
        return rc;
    int k = 0;
    for (int i = 0; i < s->ntokens; i++) {
        if (s->tokens[i].t.expires_ms < tokens_before_ms)
            (*n)++;
        else
            s->tokens[k++] = s->tokens[i];
    }
    s->ntokens = k;
    k = 0;
    for (int i = 0; i < s->nmails; i++) {
        const struct ql_mail *m = &s->mails[i].m;
        if (strcmp(m->state, QL_MAIL_PENDING) != 0 && m->updated_ms < mails_before_ms)
            (*n)++;
        else
            s->mails[k++] = s->mails[i];
    }
    s->nmails = k;
    return QL_OK;
}

static int m_forget(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *user,
                    const char *email)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    int k = 0;
    for (int i = 0; i < s->ntokens; i++)
        if (!fake__same(&s->tokens[i].t.user_id, user))
            s->tokens[k++] = s->tokens[i];
    s->ntokens = k;
    k = 0;
    for (int i = 0; i < s->nmails; i++) {
        const struct ql_mail *m = &s->mails[i].m;
        if (!(m->has_user && fake__same(&m->user_id, user)) && strcmp(m->to, email) != 0)
            s->mails[k++] = s->mails[i];
    }
    s->nmails = k;
    char reset[160], verify[64];
    snprintf(reset, sizeof(reset), "mail:reset:%s", email);
    memcpy(verify, "mail:verify:", 12);
    ql_uuid_format(user, verify + 12);
    k = 0;
    for (int i = 0; i < s->nfailures; i++)
        if (strcmp(s->failures[i].email, reset) != 0 && strcmp(s->failures[i].email, verify) != 0)
            s->failures[k++] = s->failures[i];
    s->nfailures = k;
    return QL_OK; /* the fake queue's jobs are the test's to look at */
}

const struct ql_mail_repo_ops fake__mail_ops = {
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
