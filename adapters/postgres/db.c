/*
 * db.c - the database port (core/db/db.h): the factory every session of a process comes
 * from.  It holds what the sessions share: the connection string, the logger and clock,
 * the principal cache and the notification port that wakes workers after commits.
 */
#include "internal.h"
#include "pagecache.h"
#include "pg.h"

#include "err/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int d_open(struct ql_db *self, enum ql_db_kind kind, unsigned hints,
                  struct ql_db_session **out)
{
    struct ql_pg *pg;
    int rc = ql__pg_session_create((struct ql_pg_db *)self, kind, hints, &pg);
    if (rc)
        return rc;
    *out = &pg->session;
    return QL_OK;
}

static void d_stats(struct ql_db *self, struct ql_db_stats *out)
{
    struct ql_pg_db *db = (struct ql_pg_db *)self;
    out->errors = atomic_load_explicit(&db->errors, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&db->timeouts, memory_order_relaxed);
    out->replica_reads = atomic_load_explicit(&db->replica_reads, memory_order_relaxed);
    out->replica_fallbacks = atomic_load_explicit(&db->replica_misses, memory_order_relaxed);
    ql__pg_pages_stats(db->pages, &out->sync_page_hits, &out->sync_page_misses,
                       &out->sync_page_bytes);
}

static const struct ql_db_ops ops = {
    .open = d_open,
    .stats = d_stats,
};

int ql_pg_db_create(const struct ql_pg_db_config *cfg, struct ql_pg_db **out)
{
    *out = NULL;
    struct ql_pg_db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return QL_ENOMEM;
    db->base.ops = &ops;
    db->log = cfg->log;
    db->clock = cfg->clock;
    db->notify = cfg->notify;
    db->conninfo = strdup(cfg->conninfo);
    int rc = db->conninfo ? QL_OK : QL_ENOMEM;
    /* Every session runs with these: a slow statement or a forgotten transaction cannot
     * hold a connection (and a pool thread) for ever. */
    snprintf(db->options, sizeof(db->options),
             "-c statement_timeout=%d -c idle_in_transaction_session_timeout=%d",
             cfg->statement_timeout_ms, cfg->idle_tx_timeout_ms);
    db->unnamed = cfg->pooler;
    if (rc == QL_OK && cfg->pooler && cfg->loop_conninfo && cfg->loop_conninfo[0]) {
        db->loop_conninfo = strdup(cfg->loop_conninfo);
        rc = db->loop_conninfo ? QL_OK : QL_ENOMEM;
    }
    db->replica = cfg->replica;
    if (db->unnamed)
        db->options[0] = '\0'; /* PgBouncer refuses the "options" startup parameter */
    if (rc == QL_OK && cfg->cache_capacity > 0)
        rc = ql__pg_cache_create(cfg->notify, cfg->clock, cfg->cache_capacity, &db->cache);
    /* a team's flags are a few rows: room for as many teams as the principal cache has */
    if (rc == QL_OK && cfg->cache_capacity > 0)
        rc =
            ql__pg_flags_cache_create(cfg->notify, cfg->clock, cfg->cache_capacity / 8, &db->flags);
    if (rc == QL_OK && cfg->sync_cache_bytes > 0)
        rc = ql__pg_pages_create(cfg->sync_cache_bytes, &db->pages);
    if (rc) {
        ql_pg_db_destroy(db);
        return rc;
    }
    *out = db;
    return QL_OK;
}

void ql_pg_db_destroy(struct ql_pg_db *db)
{
    if (db == NULL)
        return;
    ql__pg_cache_destroy(db->cache);
    ql__pg_flags_cache_destroy(db->flags);
    ql__pg_pages_destroy(db->pages);
    free(db->conninfo);
    free(db->loop_conninfo);
    free(db);
}

struct ql_db *ql_pg_db_port(struct ql_pg_db *db)
{
    return &db->base;
}
