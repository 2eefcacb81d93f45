/*
 * tx.h - the transaction of a use case, with hooks.
 *
 * Use cases open and end their one write transaction through these two calls instead of
 * the store's begin/commit, so that whoever runs the use case can take part in the same
 * transaction: the HTTP adapter's idempotency support takes a lock right after BEGIN and
 * writes the record of the response right before COMMIT, so the effect and its record
 * commit together or not at all.
 */
#ifndef QL_TX_H
#define QL_TX_H

struct ql_ctx;

struct ql_tx_hooks {
    /* After BEGIN; an error aborts the use case (the transaction is rolled back). */
    int (*after_begin)(struct ql_ctx *cx, void *ud);
    /* Before COMMIT, when the use case succeeded; an error rolls everything back. */
    int (*before_commit)(struct ql_ctx *cx, void *ud);
    void *ud;
    int committed; /* set once a transaction with these hooks committed */
};

/* BEGIN, then the after_begin hook.  On error nothing is left open. */
int ql_tx_begin(struct ql_ctx *cx);

/*
 * End the transaction: when rc is 0, run before_commit and COMMIT; otherwise (or when
 * either fails) ROLL BACK.  Returns the final code (rc when it was already an error).
 */
int ql_tx_end(struct ql_ctx *cx, int rc);

#endif
