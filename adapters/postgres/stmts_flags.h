/*
 * stmts_flags.h - the statements of feature flags and their per-team overrides, as entries
 * of the statement table in stmts.c (included inside its initializer; see
 * stmts_changes.h).  Not a header to include anywhere else.
 */
#define QL__PG_FLAG_COLS                                                                           \
    "flag_id, key, description, enabled, rollout_percent, created_at, updated_at"
[QL__ST_FLAG_PUT] =
    {"flag_put",
     "INSERT INTO feature_flags (" QL__PG_FLAG_COLS ") VALUES ($1, $2, $3, $4, $5, "
     "$6, $6) ON CONFLICT (key) DO UPDATE SET description = "
     "EXCLUDED.description, enabled = EXCLUDED.enabled, rollout_percent = "
     "EXCLUDED.rollout_percent, updated_at = EXCLUDED.updated_at RETURNING " QL__PG_FLAG_COLS
     ", (xmax = 0)",
     6},
    [QL__ST_FLAG_GET] = {"flag_get",
                         "SELECT " QL__PG_FLAG_COLS " FROM feature_flags WHERE key = $1", 1},
    [QL__ST_FLAGS_LIST] = {"flags_list",
                           "SELECT " QL__PG_FLAG_COLS " FROM feature_flags WHERE $1::text IS "
                           "NULL OR key > $1 ORDER BY key LIMIT $2",
                           2},
    [QL__ST_FLAG_DELETE] = {"flag_delete",
                            "DELETE FROM feature_flags WHERE key = $1 RETURNING " QL__PG_FLAG_COLS,
                            1},
    /* The team must be live and the flag must exist: no row back otherwise (404). */
    [QL__ST_FLAG_TEAM_PUT] = {"flag_team_put",
                              "INSERT INTO feature_flag_teams (team_id, flag_id, enabled, "
                              "created_at, updated_at) SELECT t.team_id, f.flag_id, $3, $4, $4 "
                              "FROM teams t, feature_flags f WHERE t.team_id = $2 AND "
                              "t.deleted_at IS NULL AND f.key = $1 ON CONFLICT (team_id, flag_id) "
                              "DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = "
                              "EXCLUDED.updated_at RETURNING team_id, enabled, created_at, "
                              "updated_at, (xmax = 0)",
                              4},
    [QL__ST_FLAG_TEAMS_LIST] = {"flag_teams_list",
                                "SELECT o.team_id, o.enabled, o.created_at, o.updated_at FROM "
                                "feature_flag_teams o JOIN feature_flags f ON f.flag_id = "
                                "o.flag_id WHERE f.key = $1 AND ($2::uuid IS NULL OR o.team_id > "
                                "$2) ORDER BY o.team_id LIMIT $3",
                                3},
    [QL__ST_FLAG_TEAM_DELETE] = {"flag_team_delete",
                                 "DELETE FROM feature_flag_teams o USING feature_flags f WHERE "
                                 "o.team_id = $2 AND o.flag_id = f.flag_id AND f.key = $1",
                                 2},
    [QL__ST_FLAGS_FOR_TEAM] = {"flags_for_team",
                               "SELECT f.key, f.enabled, f.rollout_percent, CASE WHEN o.enabled "
                               "IS NULL THEN -1 WHEN o.enabled THEN 1 ELSE 0 END::int4 FROM "
                               "feature_flags f LEFT JOIN feature_flag_teams o ON o.flag_id = "
                               "f.flag_id AND o.team_id = $1 ORDER BY f.key",
                               1},
    [QL__ST_FLAGS_NOTIFY] = {"flags_notify", "SELECT pg_notify('quill_flags', $1)", 1},
