/*
 * flag.h - feature flags: switches the operator turns on for every team, for a share of
 * teams (a percentage rollout), or for single teams, and that clients read for their team.
 *
 * A flag has a key ("new-editor"), a global switch (`enabled`: on for every team), a
 * rollout percentage (0 to 100: while the global switch is off, that share of teams has it
 * on) and per-team overrides (on or off for one team, whatever the rest says).  For a team:
 *
 *   value = override of the team, if any
 *         ? : enabled || bucket(key, team) < rollout_percent
 *
 * bucket() is a hash of the key and the team id onto 0..99 (ql_flag_bucket), so a team's
 * place is fixed: as the percentage grows, teams that had the flag keep it and others join;
 * each flag picks its own teams.  The operator changes flags through the operator API
 * (audited, actor Operator); members read theirs.  The store may cache what for_team
 * returns as long as every write reaches every instance's cache (see the PostgreSQL
 * adapter's flag cache).
 */
#ifndef QL_FLAG_H
#define QL_FLAG_H

#include <stddef.h>
#include <stdint.h>

#include "uuid/uuid.h"

struct ql_ctx;
struct ql_store;

#define QL_FLAG_KEY_MAX 63   /* a key: [a-z0-9][a-z0-9._-]*, at most this long */
#define QL_FLAG_DESC_MAX 500 /* characters of a description */

/* A flag's definition.  Strings are arena (or borrowed, going in). */
struct ql_flag {
    struct ql_uuid id;
    const char *key;
    const char *description; /* "" when none */
    int enabled;             /* on for every team */
    int rollout_percent;     /* 0..100: the share of other teams that have it on */
    int64_t created_ms, updated_ms;
};

/* One team's override of a flag. */
struct ql_flag_team {
    struct ql_uuid team_id;
    int enabled;
    int64_t created_ms, updated_ms;
};

enum { QL_FLAG_NO_OVERRIDE = -1 };

/* What the value of one flag for one team depends on (what for_team returns). */
struct ql_flag_state {
    const char *key;
    int enabled;
    int rollout_percent;
    int override; /* 1 on, 0 off, QL_FLAG_NO_OVERRIDE */
};

/* The flags repository of the store port (struct ql_store_ops's `flags`). */
struct ql_flags_ops {
    /*
     * Create the flag with f->key, or replace its description, enabled and rollout (its id
     * and created time stay).  *created is 1 when it was new; *out is the stored flag.
     */
    int (*put)(struct ql_store *self, struct ql_ctx *cx, const struct ql_flag *f, int *created,
               struct ql_flag *out);
    /* QL_ENOT_FOUND when there is no flag with key. */
    int (*get)(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out);
    /* Flags by key, after after_key (NULL: from the first). */
    int (*list)(struct ql_store *self, struct ql_ctx *cx, const char *after_key, int limit,
                struct ql_flag **out, int *n, int *more);
    /* Delete a flag and its overrides; QL_ENOT_FOUND. */
    int (*remove)(struct ql_store *self, struct ql_ctx *cx, const char *key, struct ql_flag *out);
    /*
     * Set the override of a live team; QL_ENOT_FOUND when the flag or the team does not
     * exist.  *created is 1 when the team had none.
     */
    int (*team_put)(struct ql_store *self, struct ql_ctx *cx, const char *key,
                    const struct ql_uuid *team, int enabled, int64_t now_ms, int *created,
                    struct ql_flag_team *out);
    /* The overrides of a flag, by team id after after (NULL: from the first). */
    int (*team_list)(struct ql_store *self, struct ql_ctx *cx, const char *key,
                     const struct ql_uuid *after, int limit, struct ql_flag_team **out, int *n,
                     int *more);
    /* Remove a team's override; QL_ENOT_FOUND when there is none. */
    int (*team_remove)(struct ql_store *self, struct ql_ctx *cx, const char *key,
                       const struct ql_uuid *team);
    /* Every flag, by key, with team's override: what a team's values are made of. */
    int (*for_team)(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                    struct ql_flag_state **out, int *n);
};

/* The flag's bucket for team: 0..99, the same on every machine for ever (FNV-1a). */
int ql_flag_bucket(const char *key, const struct ql_uuid *team);
/* The value of s for team (see above). */
int ql_flag_value(const struct ql_flag_state *s, const struct ql_uuid *team);
/* QL_OK, or QL_EVALIDATION with a field error on "key" (cx->err). */
int ql_flag_valid_key(struct ql_ctx *cx, const char *key, size_t n);

/* A team's flags and their values (a viewer of the team, or its API keys). */
struct ql_flag_value {
    const char *key;
    int on;
};
int ql_flags_for_team(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_flag_value **out,
                      int *n);

/* ---- the operator's use cases (QL_ACT_OPERATE), each audited ---------------------------- */

/* Create or replace a flag; *created says which.  key is validated here. */
int ql_flags_put(struct ql_ctx *cx, const char *key, const char *description, int enabled,
                 int rollout_percent, struct ql_flag *out, int *created);
int ql_flags_get(struct ql_ctx *cx, const char *key, struct ql_flag *out);
/* cursor: the key of the last flag of the previous page (NULL: the first page). */
int ql_flags_list(struct ql_ctx *cx, const char *cursor, int limit, struct ql_flag **out, int *n,
                  const char **next_cursor);
int ql_flags_delete(struct ql_ctx *cx, const char *key);
int ql_flags_team_put(struct ql_ctx *cx, const char *key, const struct ql_uuid *team, int enabled,
                      struct ql_flag_team *out, int *created);
int ql_flags_team_delete(struct ql_ctx *cx, const char *key, const struct ql_uuid *team);
/* cursor: the team id of the last override of the previous page. */
int ql_flags_team_list(struct ql_ctx *cx, const char *key, const char *cursor, size_t cursor_n,
                       int limit, struct ql_flag_team **out, int *n, const char **next_cursor);

/* The store wrappers (flag.c): the one place for the checks every call shares. */
int ql_store_flags_put(struct ql_store *s, struct ql_ctx *cx, const struct ql_flag *f, int *created,
                       struct ql_flag *out);
int ql_store_flags_get(struct ql_store *s, struct ql_ctx *cx, const char *key, struct ql_flag *out);
int ql_store_flags_list(struct ql_store *s, struct ql_ctx *cx, const char *after_key, int limit,
                        struct ql_flag **out, int *n, int *more);
int ql_store_flags_remove(struct ql_store *s, struct ql_ctx *cx, const char *key,
                          struct ql_flag *out);
int ql_store_flags_team_put(struct ql_store *s, struct ql_ctx *cx, const char *key,
                            const struct ql_uuid *team, int enabled, int64_t now_ms, int *created,
                            struct ql_flag_team *out);
int ql_store_flags_team_list(struct ql_store *s, struct ql_ctx *cx, const char *key,
                             const struct ql_uuid *after, int limit, struct ql_flag_team **out,
                             int *n, int *more);
int ql_store_flags_team_remove(struct ql_store *s, struct ql_ctx *cx, const char *key,
                               const struct ql_uuid *team);
int ql_store_flags_for_team(struct ql_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                            struct ql_flag_state **out, int *n);

#endif
