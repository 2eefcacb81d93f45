/*
 * store.c - the store port's session-level methods: ping, schema version, transactions.
 * The repositories of each aggregate live in their own files and are reached through the
 * same session.
 */
#include "internal.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store_rights.h"

#include <stdio.h>

static struct ql_pg *pg_of(struct ql_store *s)
{
    return (struct ql_pg *)s;
}

static int s_ping(struct ql_store *self, struct ql_ctx *cx)
{
    PGresult *r;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_PING, NULL, &r);
    PQclear(r);
    return rc;
}

/* The newest migration applied; 0 on a database never migrated (no schema_migrations). */
static int s_schema_version(struct ql_store *self, struct ql_ctx *cx, int64_t *out)
{
    PGresult *r;
    *out = 0;
    int rc = ql__pg_exec(pg_of(self), cx, QL__ST_SCHEMA_VERSION, NULL, &r);
    if (rc == QL_OK)
        *out = ql__pg_int8(r, 0, 0);
    PQclear(r);
    if (rc == QL_OK || rc == QL_EUNAVAILABLE)
        return rc;
    struct ql_error failed = cx->err; /* why the version could not be read */
    ql_error_clear(&cx->err);
    int known = ql__pg_exec(pg_of(self), cx, QL__ST_SCHEMA_KNOWN, NULL, &r);
    int missing = known == QL_OK && !ql__pg_bool(r, 0, 0);
    PQclear(r);
    if (missing)
        return QL_OK;
    cx->err = failed;
    return rc;
}

static int s_begin(struct ql_store *self, struct ql_ctx *cx)
{
    struct ql_pg *pg = pg_of(self);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_BEGIN, NULL, &r);
    PQclear(r);
    if (rc == QL_OK) {
        pg->in_tx = 1;
        ql__pg_span_tx_begin(pg, cx);
    }
    return rc;
}

static int s_commit(struct ql_store *self, struct ql_ctx *cx)
{
    struct ql_pg *pg = pg_of(self);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_COMMIT, NULL, &r);
    PQclear(r);
    pg->in_tx = 0;
    ql__pg_span_tx_end(pg, cx, 1, rc);
    /* Evict here at once; the NOTIFY reaches the other instances (and this one) shortly. */
    for (int i = 0; i < pg->ninval; i++)
        ql__pg_cache_apply(pg->cache, pg->inval[i]);
    pg->ninval = 0;
    if (pg->flags_dirty)
        ql__pg_flags_cache_flush(pg->db->flags);
    pg->flags_dirty = 0;
    return rc;
}

int ql__pg_invalidate(struct ql_pg *pg, struct ql_ctx *cx, const char *key)
{
    struct ql__pg_params p = {0};
    ql__pg_p_text(&p, key);
    PGresult *r;
    int rc = ql__pg_exec(pg, cx, QL__ST_NOTIFY, &p, &r);
    PQclear(r);
    if (rc)
        return rc;
    if (!pg->in_tx)
        ql__pg_cache_apply(pg->cache, key);
    else if (pg->ninval < QL__PG_PENDING)
        snprintf(pg->inval[pg->ninval++], sizeof(pg->inval[0]), "%s", key);
    else
        snprintf(pg->inval[QL__PG_PENDING - 1], sizeof(pg->inval[0]), "*");
    return QL_OK;
}

static void s_rollback(struct ql_store *self, struct ql_ctx *cx)
{
    struct ql_pg *pg = pg_of(self);
    /* a lost connection ended the transaction already; its span ends here */
    int why = cx->err.code;
    ql__pg_span_tx_end(
        pg, cx, 0, why == QL_EUNAVAILABLE || why == QL_ERETRY || why == QL_EINTERNAL ? why : QL_OK);
    if (!pg->in_tx)
        return;
    struct ql_error saved = cx->err;
    PGresult *r;
    ql__pg_exec(pg, cx, QL__ST_ROLLBACK, NULL, &r);
    PQclear(r);
    pg->in_tx = 0;
    pg->ninval = 0;
    pg->flags_dirty = 0;
    cx->err = saved;
}

static const struct ql_store_ops ops = {
    .ping = s_ping,
    .schema_version = s_schema_version,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .users = &ql__pg_users_ops,
    .sessions = &ql__pg_sessions_ops,
    .principals = &ql__pg_principals_ops,
    .teams = &ql__pg_teams_ops,
    .members = &ql__pg_members_ops,
    .api_keys = &ql__pg_api_keys_ops,
    .audit = &ql__pg_audit_ops,
    .throttle = &ql__pg_throttle_ops,
    .entries = &ql__pg_entries_ops,
    .prompts = &ql__pg_prompts_ops,
    .idem = &ql__pg_idem_ops,
    .maint = &ql__pg_maint_ops,
    .changes = &ql__pg_changes_ops,
    .usage = &ql__pg_usage_ops,
    .webhooks = &ql__pg_webhooks_ops,
    .security = &ql__pg_security_ops,
    .mail = &ql__pg_mail_ops,
    .flags = &ql__pg_flags_ops,
    .rights = &ql__pg_rights_ops,
};

void ql__pg_store_init(struct ql_pg *pg)
{
    pg->store.ops = &ops;
}
