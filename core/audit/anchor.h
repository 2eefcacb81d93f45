/*
 * anchor.h - anchors of the audit chains: the last verified row of each chain, kept by the
 * operator outside the database.
 *
 * A hash chain shows a row altered or removed from the middle, and audit_heads shows rows
 * removed from the end.  Neither shows a chain removed together with its head, or one
 * rebuilt from its first row with new hashes: whoever can do that can also make the chain
 * and its head agree again.  Only something kept elsewhere can: `quill-admin audit-verify
 * --anchor FILE` writes each chain's last verified (seq, hash) to FILE, and on the next run
 * checks that every row named there is still in the log with the same hash.  Chains only
 * grow, so an anchored row never goes away honestly.
 *
 * The file is text, one chain per line: "<chain> <seq> <64 hex digits>", and lines starting
 * with '#' are comments.
 */
#ifndef QL_AUDIT_ANCHOR_H
#define QL_AUDIT_ANCHOR_H

#include <stddef.h>
#include <stdint.h>

struct ql_buf;
struct ql_error;

#define QL_AUDIT_CHAIN_MAX 63 /* "account" or "team:<uuid>" and room to spare */

struct ql_audit_anchor {
    char chain[QL_AUDIT_CHAIN_MAX + 1];
    int64_t seq;
    uint8_t hash[32];
    int met; /* the verifier saw this row with this hash */
};

/* A set of anchors, sorted by chain (bytewise) once read.  Owns its array. */
struct ql_audit_anchors {
    struct ql_audit_anchor *v;
    size_t n, cap;
};

void ql_audit_anchors_init(struct ql_audit_anchors *s);
void ql_audit_anchors_cleanup(struct ql_audit_anchors *s);

/* Add one anchor (unsorted until ql_audit_anchors_sort).  QL_OK, QL_EVALIDATION for a chain
 * name too long, QL_ENOMEM. */
int ql_audit_anchors_add(struct ql_audit_anchors *s, const char *chain, int64_t seq,
                         const uint8_t hash[32]);

/* Sort by chain; QL_EVALIDATION (naming the chain in err) when a chain appears twice. */
int ql_audit_anchors_sort(struct ql_audit_anchors *s, struct ql_error *err);

/* Parse a file's text into s (sorted).  QL_EVALIDATION naming the line of the first fault. */
int ql_audit_anchors_parse(struct ql_audit_anchors *s, const char *text, size_t len,
                           struct ql_error *err);

/* The file's text of s, a comment line first. */
void ql_audit_anchors_format(const struct ql_audit_anchors *s, struct ql_buf *b);

/* The anchor of chain in a sorted set, or NULL. */
struct ql_audit_anchor *ql_audit_anchors_find(const struct ql_audit_anchors *s, const char *chain);

#endif
