-- The deterministic data set of ../shared/peers/SEED.md, in Quill's own schema, so that
-- tools/bench/wrk/ drives Quill and the peer alike.  Written from SEED.md's description; psql
-- variables: none.  Expects a temporary table bench_tokens(u int, digest text) holding the
-- keyed digest of each user's token (made by `quill-admin digest-tokens`).
--   user u (1..1000)    uuid7(T0 + u s, 1, u), peer-user-<u>@example.com, "Peer User <u>"
--   team t (1..100)     uuid7(T0 + 1 h + t s, 2, t), "Peer Team <t>", users 10(t-1)+1..10t,
--                       the first an owner, the rest members
--   entries: seed_entries.sql
CREATE FUNCTION pg_temp.seed_id(ms bigint, kind int, n int) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT (lpad(to_hex(ms), 12, '0') || '7' || lpad(to_hex(kind), 3, '0') || '8'
            || lpad(to_hex(n), 15, '0'))::uuid
$$;
CREATE FUNCTION pg_temp.at_ms(ms bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT to_timestamp(ms / 1000.0) $$;

INSERT INTO users (user_id, email, display_name, password_hash, created_at, updated_at)
SELECT pg_temp.seed_id(1767225600000 + 1000 * u, 1, u), 'peer-user-' || u || '@example.com',
       'Peer User ' || u, NULL, pg_temp.at_ms(1767225600000 + 1000 * u),
       pg_temp.at_ms(1767225600000 + 1000 * u)
FROM generate_series(1, 1000) AS u;

INSERT INTO sessions (token_digest, session_id, user_id, created_at, last_seen_at, expires_at)
SELECT decode(t.digest, 'hex'), pg_temp.seed_id(1767225600000 + 1000 * t.u, 4, t.u),
       pg_temp.seed_id(1767225600000 + 1000 * t.u, 1, t.u), date_trunc('milliseconds', now()),
       date_trunc('milliseconds', now()), timestamptz '2100-01-01 00:00:00+00'
FROM bench_tokens t;

INSERT INTO teams (team_id, name, created_at, updated_at)
SELECT pg_temp.seed_id(1767229200000 + 1000 * t, 2, t), 'Peer Team ' || t,
       pg_temp.at_ms(1767229200000 + 1000 * t), pg_temp.at_ms(1767229200000 + 1000 * t)
FROM generate_series(1, 100) AS t;

INSERT INTO team_members (team_id, user_id, role, joined_at)
SELECT pg_temp.seed_id(1767229200000 + 1000 * ((u - 1) / 10 + 1), 2, (u - 1) / 10 + 1),
       pg_temp.seed_id(1767225600000 + 1000 * u, 1, u),
       CASE WHEN (u - 1) % 10 = 0 THEN 'owner' ELSE 'member' END,
       pg_temp.at_ms(1767232800000 + 1000 * u)
FROM generate_series(1, 1000) AS u;

VACUUM ANALYZE users;
VACUUM ANALYZE sessions;
VACUUM ANALYZE teams;
VACUUM ANALYZE team_members;
