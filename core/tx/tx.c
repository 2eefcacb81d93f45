/*
 * tx.c - begin/end with the context's hooks.
 */
#include "tx/tx.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "store/store.h"

int ql_tx_begin(struct ql_ctx *cx)
{
    int rc = ql_store_begin(cx->ports.store, cx);
    if (rc)
        return rc;
    if (cx->tx && cx->tx->after_begin) {
        rc = cx->tx->after_begin(cx, cx->tx->ud);
        if (rc)
            ql_store_rollback(cx->ports.store, cx);
    }
    return rc;
}

int ql_tx_end(struct ql_ctx *cx, int rc)
{
    if (rc == QL_OK && cx->tx && cx->tx->before_commit)
        rc = cx->tx->before_commit(cx, cx->tx->ud);
    if (rc == QL_OK)
        rc = ql_store_commit(cx->ports.store, cx);
    if (rc) {
        ql_store_rollback(cx->ports.store, cx);
        return rc;
    }
    if (cx->tx)
        cx->tx->committed = 1;
    return QL_OK;
}
