/*
 * stmts_usage.h - the statements of the usage repository (repo_usage.c): plans, reservations
 * of quota units, the request log and the shared rate-limit counts, as entries of the
 * statement table in stmts.c (included inside its initializer; see stmts_changes.h).  Not a
 * header to include anywhere else.
 *
 * Statements that write several usage_periods rows lock them in key order first (the
 * FOR UPDATE ... ORDER BY of their CTE), so two processes flushing the same teams at once
 * wait for each other instead of deadlocking.
 */
/* The grant rule of ql_usage_grant_rule (core/usage/usage.h) over q (the quota), the row's
 * reserved and $3 (want). */
#define QL__PG_GRANT                                                                               \
    "CASE WHEN q.quota - u.reserved >= 2 * $3::int8 THEN $3::int8 WHEN q.quota > u.reserved "      \
    "THEN 1::int8 ELSE 0::int8 END"
[QL__ST_USAGE_STATE] =
    {"usage_state",
     "SELECT s.plan, s.monthly_quota, coalesce(u.used, 0)::int8, coalesce(u.alerted, false) "
     "FROM teams t LEFT JOIN "
     "subscriptions s ON s.team_id = t.team_id LEFT JOIN usage_periods u ON u.team_id = "
     "t.team_id AND u.period_start = $2 WHERE t.team_id = $1 AND t.deleted_at IS NULL",
     2},
    [QL__ST_USAGE_SUBSCRIBE] =
        {"usage_subscribe",
         "INSERT INTO subscriptions (team_id, plan, monthly_quota, updated_at) SELECT team_id, "
         "$2::text, $3::int8, $4::timestamptz FROM teams WHERE team_id = $1 AND deleted_at IS NULL "
         "ON CONFLICT (team_id) DO "
         "UPDATE SET plan = EXCLUDED.plan, monthly_quota = EXCLUDED.monthly_quota, updated_at = "
         "EXCLUDED.updated_at",
         4},
    [QL__ST_USAGE_RESERVE] =
        {"usage_reserve",
         "WITH q AS (SELECT coalesce((SELECT monthly_quota FROM subscriptions WHERE team_id = $1), "
         "$4::int8) AS quota) UPDATE usage_periods u SET granted = " QL__PG_GRANT
         ", reserved = u.reserved + " QL__PG_GRANT " FROM q WHERE u.team_id = $1 AND "
         "u.period_start = $2 RETURNING u.granted, u.reserved, q.quota",
         4},
    [QL__ST_USAGE_OPEN] =
        {"usage_open",
         "INSERT INTO usage_periods (team_id, period_start) SELECT team_id, $2::timestamptz FROM "
         "teams WHERE team_id = $1 ON CONFLICT DO NOTHING",
         2},
    [QL__ST_USAGE_RELEASE] =
        {"usage_release",
         "WITH r AS (SELECT t, p, sum(n)::int8 AS n FROM unnest($1::uuid[], $2::timestamptz[], "
         "$3::int8[]) AS r (t, p, n) GROUP BY t, p), k AS (SELECT u.team_id, u.period_start FROM "
         "usage_periods u JOIN r ON u.team_id = r.t AND u.period_start = r.p ORDER BY u.team_id, "
         "u.period_start FOR UPDATE OF u) UPDATE usage_periods u SET reserved = "
         "greatest(u.reserved "
         "- r.n, 0) FROM r, k WHERE u.team_id = r.t AND u.period_start = r.p AND k.team_id = r.t "
         "AND k.period_start = r.p",
         3},
    [QL__ST_USAGE_LOG] =
        {"usage_log",
         "INSERT INTO request_log (at, team_id, api_key_id, method, route, status, duration_us, "
         "billed) SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], "
         "$5::text[], $6::int2[], $7::int4[], $8::bool[])",
         8},
    [QL__ST_USAGE_ADD_USED] =
        {"usage_add_used",
         "WITH d AS (SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int8[]) AS d (t, p, "
         "n)), k AS (SELECT u.team_id, u.period_start FROM usage_periods u JOIN d ON u.team_id = "
         "d.t AND u.period_start = d.p ORDER BY u.team_id, u.period_start FOR UPDATE OF u) UPDATE "
         "usage_periods u SET used = u.used + d.n FROM d, k WHERE u.team_id = d.t AND "
         "u.period_start = d.p AND k.team_id = d.t AND k.period_start = d.p RETURNING u.team_id, "
         "u.period_start, u.used, u.alerted, coalesce((SELECT s.monthly_quota FROM subscriptions s "
         "WHERE s.team_id = u.team_id), $4::int8)",
         4},
    [QL__ST_USAGE_ALERT] =
        {"usage_alert",
         "UPDATE usage_periods SET alerted = true WHERE team_id = $1 AND period_start = $2 AND NOT "
         "alerted",
         2},
    [QL__ST_USAGE_PURGE] = {"usage_purge",
                            "WITH f AS (DELETE FROM usage_flushes WHERE flushed_at < $1) DELETE "
                            "FROM request_log WHERE at < $1",
                            1},
    /* One row per updated mark: none when this flush (or a later one) is stored already. */
    [QL__ST_USAGE_FLUSHED] = {"usage_flushed",
                              "INSERT INTO usage_flushes (instance_id, seq, flushed_at) VALUES "
                              "($1, $2, $3) ON CONFLICT (instance_id) DO UPDATE SET seq = "
                              "EXCLUDED.seq, flushed_at = EXCLUDED.flushed_at WHERE "
                              "usage_flushes.seq < EXCLUDED.seq",
                              3},
    [QL__ST_USAGE_RATES] = {
        "usage_rates",
        "WITH mine AS (INSERT INTO rate_shares (principal, instance, second, n) SELECT m.p, "
        "$1::uuid, "
        "m.s, m.n FROM unnest($2::uuid[], $3::int8[], $4::int8[]) AS m (p, s, n) ON CONFLICT "
        "(principal, instance, second) DO UPDATE SET n = EXCLUDED.n), old AS (DELETE FROM "
        "rate_shares WHERE second < $5::int8 - 60) SELECT principal, second, sum(n)::int8 FROM "
        "rate_shares WHERE instance <> $1 AND second >= $5::int8 GROUP BY principal, second",
        5},
