-- Quill's addition to the benchmark data set (not in ../shared/peers/SEED.md): one API key per
-- team, role member, token "peer-key-<t>", made by team t's owner; and a plan for every team
-- with a quota no benchmark run can use up, so that metered reads measure the metering, not
-- the refusals.  Expects a temporary table bench_keys(t int, digest text) of the keyed digest
-- of each team's token (made by `quill-admin digest-tokens`), and the functions of
-- seed_quill.sql.
INSERT INTO api_keys (api_key_id, team_id, name, role, prefix, token_digest, created_by,
                      created_at)
SELECT pg_temp.seed_id(1767229200000 + 1000 * k.t, 5, k.t),
       pg_temp.seed_id(1767229200000 + 1000 * k.t, 2, k.t), 'bench key ' || k.t, 'member',
       'peer-key', decode(k.digest, 'hex'),
       pg_temp.seed_id(1767225600000 + 1000 * (10 * (k.t - 1) + 1), 1, 10 * (k.t - 1) + 1),
       date_trunc('milliseconds', now())
FROM bench_keys k;

INSERT INTO subscriptions (team_id, plan, monthly_quota, updated_at)
SELECT team_id, 'bench', 1000000000000, now() FROM teams;

VACUUM ANALYZE api_keys;
