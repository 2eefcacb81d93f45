/*
 * stmts_webhooks.h - the statements of webhook endpoints, deliveries and attempts, as
 * entries of the statement table in stmts.c (included inside its initializer; see
 * stmts_changes.h).  Not a header to include anywhere else.
 */
#define QL__PG_WEBHOOK_COLS                                                                        \
    "w.webhook_id, w.team_id, w.url, w.description, array_to_string(w.events, ','), "              \
    "w.failures, w.created_at, w.disabled_at"
#define QL__PG_ATTEMPT_COLS                                                                        \
    "a.delivery_id, a.webhook_id, d.event, a.attempt, a.ok, a.response_status, a.error, "          \
    "a.duration_ms, a.at, d.team_id"
[QL__ST_WEBHOOK_INSERT] = {"webhook_insert",
                           "INSERT INTO webhooks (webhook_id, team_id, url, description, "
                           "events, secret, created_at) VALUES ($1, $2, $3, $4, $5::text[], "
                           "$6, $7)",
                           7},
    [QL__ST_WEBHOOKS_LIST] =
        {"webhooks_list",
         "SELECT " QL__PG_WEBHOOK_COLS " FROM webhooks w WHERE w.team_id = $1 AND w.deleted_at IS "
         "NULL AND ($2::uuid IS NULL OR (w.created_at, w.webhook_id) < ($3, $2)) ORDER BY "
         "w.created_at DESC, w.webhook_id DESC LIMIT $4",
         4},
    [QL__ST_WEBHOOKS_COUNT] = {"webhooks_count",
                               "SELECT count(*)::int8 FROM webhooks w WHERE w.team_id = $1 AND "
                               "w.deleted_at IS NULL",
                               1},
    [QL__ST_WEBHOOK_GET] = {"webhook_get",
                            "SELECT " QL__PG_WEBHOOK_COLS " FROM webhooks w WHERE w.team_id = $1 "
                            "AND w.webhook_id = $2 AND w.deleted_at IS NULL",
                            2},
    [QL__ST_WEBHOOK_REMOVE] = {"webhook_remove",
                               "UPDATE webhooks SET deleted_at = $3 WHERE team_id = $1 AND "
                               "webhook_id = $2 AND deleted_at IS NULL",
                               3},
    [QL__ST_WEBHOOKS_SUBSCRIBED] = {"webhooks_subscribed",
                                    "SELECT " QL__PG_WEBHOOK_COLS " FROM webhooks w WHERE "
                                    "w.team_id = ANY ($1::uuid[]) AND w.deleted_at IS NULL AND "
                                    "w.disabled_at IS NULL",
                                    1},
    [QL__ST_DELIVERIES_ADD] =
        {"deliveries_add",
         "INSERT INTO webhook_deliveries (delivery_id, webhook_id, team_id, event, body, "
         "created_at) SELECT u.d, u.w, u.t, u.e, u.b, u.c FROM unnest($1::uuid[], $2::uuid[], "
         "$3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) AS u(d, w, t, e, b, c)",
         6},
    [QL__ST_DELIVERY_TARGET] =
        {"delivery_target",
         "SELECT d.delivery_id, d.webhook_id, d.team_id, d.event, d.body, d.created_at, "
         "d.attempts, " QL__PG_WEBHOOK_COLS ", w.deleted_at IS NOT NULL OR EXISTS (SELECT 1 "
         "FROM teams t WHERE t.team_id = w.team_id AND t.deleted_at IS NOT NULL), w.secret, "
         "d.state = 'succeeded' FROM "
         "webhook_deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id WHERE "
         "d.delivery_id = $1",
         1},
    /*
     * The attempt, its delivery's state, and the endpoint's failures in a row, at once.  The
     * delivery's row lock numbers attempts made at the same time one after the other.
     */
    [QL__ST_ATTEMPT_ADD] =
        {"attempt_add",
         "WITH d AS (UPDATE webhook_deliveries SET attempts = greatest(attempts + 1, $2), state "
         "= CASE WHEN $5 OR state = 'succeeded' THEN 'succeeded' WHEN $9 THEN 'failed' ELSE "
         "'pending' END WHERE delivery_id = $1 RETURNING attempts, team_id), a AS (INSERT INTO "
         "webhook_attempts (delivery_id, attempt, webhook_id, team_id, at, ok, response_status, "
         "error, duration_ms) SELECT $1, d.attempts, $3, d.team_id, $4, $5, $6, $7, $8 FROM d ON "
         "CONFLICT DO NOTHING) UPDATE webhooks SET failures = CASE WHEN $5 THEN 0 ELSE failures "
         "+ 1 END WHERE webhook_id = $3 RETURNING failures",
         9},
    [QL__ST_WEBHOOK_DISABLE] = {"webhook_disable",
                                "UPDATE webhooks SET disabled_at = $2 WHERE webhook_id = $1 AND "
                                "disabled_at IS NULL",
                                2},
    [QL__ST_ATTEMPTS_LIST] =
        {"attempts_list",
         "SELECT " QL__PG_ATTEMPT_COLS " FROM webhook_attempts a JOIN webhook_deliveries d ON "
         "d.delivery_id = a.delivery_id JOIN webhooks w ON w.webhook_id = a.webhook_id WHERE "
         "w.team_id = $1 AND a.team_id = $1 AND d.team_id = $1 AND a.webhook_id = $2 AND "
         "w.deleted_at IS NULL AND ($3::uuid IS NULL OR "
         "(a.at, a.delivery_id, a.attempt) < ($4, $3, $5)) ORDER BY a.at DESC, a.delivery_id "
         "DESC, a.attempt DESC LIMIT $6",
         6},
    [QL__ST_DELIVERY_REOPEN] =
        {"delivery_reopen",
         "UPDATE webhook_deliveries d SET state = 'pending' FROM webhooks "
         "w WHERE w.webhook_id = d.webhook_id AND w.team_id = $1 AND "
         "d.team_id = $1 AND d.webhook_id = $2 AND d.delivery_id = $3 AND w.deleted_at IS "
         "NULL",
         3},
    [QL__ST_ATTEMPT_FAILURES] = {"attempt_failures",
                                 "SELECT " QL__PG_ATTEMPT_COLS " FROM webhook_attempts a JOIN "
                                 "webhook_deliveries d ON d.delivery_id = a.delivery_id WHERE NOT "
                                 "a.ok ORDER BY a.at DESC LIMIT $1",
                                 1},
    /*
     * Retention: a batch of finished deliveries made before $1 and not attempted since (a
     * redelivery keeps one), their attempts with them (ON DELETE CASCADE).  The outer
     * state test is checked again on a row a redelivery reopened meanwhile: it stays.  The
     * batch is a MATERIALIZED CTE, chosen once: as an IN (subquery with LIMIT) the planner
     * could put it on the inner side of a nested loop without materializing it, running the
     * batch's whole search again for every delivery of the table (seen in the suite: one
     * DELETE of a 1,200-row table ran for minutes when its statistics were stale).
     */
    [QL__ST_DELIVERIES_PURGE] =
        {"deliveries_purge",
         "WITH o AS MATERIALIZED (SELECT o.delivery_id FROM webhook_deliveries o WHERE o.state "
         "IN ('succeeded', 'failed') AND o.created_at < $1 AND NOT EXISTS (SELECT 1 FROM "
         "webhook_attempts a WHERE a.delivery_id = o.delivery_id AND a.at >= $1) LIMIT $2) "
         "DELETE FROM webhook_deliveries d USING o WHERE d.delivery_id = o.delivery_id AND "
         "d.state <> 'pending'",
         2},
    /*
     * Pending deliveries that no job will attempt any more end failed, with an attempt that
     * says why.  A delivery and its job are made (and a redelivery reopens one and enqueues
     * its job) in one transaction, so one snapshot sees both or neither.  The batch is
     * chosen once (MATERIALIZED), for the reason deliveries_purge gives.
     */
    [QL__ST_DELIVERIES_FAIL_ORPHANS] = {
        "deliveries_fail_orphans",
        "WITH o AS MATERIALIZED (SELECT d.delivery_id FROM webhook_deliveries d WHERE d.state = "
        "'pending' AND "
        "NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'webhook.deliver' AND j.state IN "
        "('available', 'running', 'failed') AND j.payload->>'deliveryId' = "
        "d.delivery_id::text) LIMIT $3), u AS (UPDATE webhook_deliveries d SET attempts = "
        "d.attempts + 1, state = 'failed' FROM o WHERE d.delivery_id = o.delivery_id AND "
        "d.state = 'pending' RETURNING d.delivery_id, d.webhook_id, d.team_id, d.attempts), a "
        "AS (INSERT INTO webhook_attempts (delivery_id, attempt, webhook_id, team_id, at, ok, "
        "response_status, error, duration_ms) SELECT delivery_id, attempts, webhook_id, "
        "team_id, $1, false, NULL, $2, 0 FROM u ON CONFLICT DO NOTHING) SELECT count(*) FROM u",
        3},
#undef QL__PG_WEBHOOK_COLS
#undef QL__PG_ATTEMPT_COLS
