-- Journal entries of the SEED.md data set in Quill's schema (appended to seed_quill.sql by
-- tools/bench/bench.sh once journal_entries exists).  Entry n (1..100000): team
-- (n-1)%100+1, author the ((n-1)/100)%10+1-th member of it, created at
-- T0 + 1 day + 30 n s + (7919 n mod 1000) ms, id uuid7(created, 3, n), 150 characters:
-- "Entry <n> in team <t> by user <u>: <md5("content-<n>")> " padded with "lorem ipsum ...".
INSERT INTO journal_entries (journal_entry_id, team_id, author_user_id, prompt_id, content,
                             version, created_at, updated_at)
SELECT pg_temp.seed_id(ms, 3, n), pg_temp.seed_id(1767229200000 + 1000 * t, 2, t),
       pg_temp.seed_id(1767225600000 + 1000 * u, 1, u), NULL,
       rpad(format('Entry %s in team %s by user %s: %s ', n, t, u, md5('content-' || n)), 150,
            'lorem ipsum dolor sit amet '),
       1, pg_temp.at_ms(ms), pg_temp.at_ms(ms)
FROM generate_series(1, 100000) AS n,
     LATERAL (SELECT (n - 1) % 100 + 1 AS t) AS a,
     LATERAL (SELECT 10 * (t - 1) + ((n - 1) / 100) % 10 + 1 AS u,
                     1767312000000 + 30000::bigint * n + (7919 * n) % 1000 AS ms) AS b;
VACUUM ANALYZE journal_entries;
