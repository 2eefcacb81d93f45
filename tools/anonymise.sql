-- tools/anonymise.sql - run by `tools/quill copy-anonymised` on a scratch copy restored
-- from a backup, never on a live database: it replaces the personal data of every table
-- so that the copy can go to staging.  psql variable pw_hash: the argon2id hash every user
-- gets as password ('' for none: nobody can log in with a password).
--
-- What stays: ids, times, counts, the shape of the data (row counts, text lengths, which
-- team owns what), the global prompts (shipped with Quill), and the audit log as it was:
-- its rows hold ids, actions and times only, so its hash chains still verify
-- (quill-admin audit-verify) and no row of it is rewritten (it is append-only).
--
-- Every table of the schema must be named below, as rewritten or as kept: a table added by
-- a later migration stops the copy until someone decides what in it is personal.
\set ON_ERROR_STOP on
BEGIN;

DO $$
DECLARE
    known text[] := ARRAY[
        -- rewritten below
        'users', 'sessions', 'api_keys', 'teams', 'login_failures',
        'rate_counters', 'idempotency_keys', 'journal_entries', 'prompts', 'webhooks',
        'webhook_deliveries', 'webhook_attempts', 'jobs', 'exports', 'export_parts',
        'mfa_totp', 'mfa_recovery_codes', 'mfa_challenges',
        'mail_outbox', 'email_tokens',
        -- kept: ids, times, counts and positions only
        'team_members', 'audit_heads', 'audit_log', 'daily_prompts', 'team_activity', 'changes',
        'change_consumers', 'change_marks', 'change_floor', 'sync_tombstones', 'team_sync_others',
        'schema_migrations',
        -- kept: operators' feature flags (keys, switches, rollouts, team ids)
        'feature_flags', 'feature_flag_teams',
        -- kept: plans, usage counts, the request log (ids, routes, statuses, times) and the
        -- rate counts the API instances share, the meters' last flush numbers
        'subscriptions', 'usage_periods', 'request_log', 'rate_shares', 'usage_flushes'];
    unknown text;
BEGIN
    SELECT string_agg(tablename, ', ' ORDER BY tablename) INTO unknown
      FROM pg_tables WHERE schemaname = 'public' AND tablename <> ALL (known);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'tools/anonymise.sql does not know the table(s) %: say in it what is personal there', unknown;
    END IF;
END
$$;

-- Filler of the same length as s, so that sizes and lengths stay realistic.
CREATE FUNCTION pg_temp.filler(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT left(repeat('Lorem ipsum dolor sit amet. ', length(s) / 28 + 1), length(s))
$$;
-- 32 random bytes (a digest nobody has the token of).
CREATE FUNCTION pg_temp.noise() RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))
$$;

-- People: an address and a name made from the id; the staging password, or none; no link
-- to an external identity provider.
UPDATE users SET email = 'user-' || user_id || '@anonymised.invalid',
                 display_name = 'User ' || left(user_id::text, 8),
                 password_hash = nullif(:'pw_hash', ''),
                 oidc_issuer = NULL, oidc_subject = NULL;

-- Second factors: TOTP secrets and recovery codes are sealed and digested under production's
-- QUILL_SECRET, so nothing in staging could check them; they go, and every user logs in with
-- the staging password alone (MFA can be turned on again there).  Sessions (below) take
-- their user agents and addresses with them.
DELETE FROM mfa_challenges;
DELETE FROM mfa_recovery_codes;
DELETE FROM mfa_totp;

-- Credentials: sessions go; API keys stay (their teams use them) but with digests nobody
-- has the token of, and names and prefixes that say nothing.
DELETE FROM sessions;
UPDATE api_keys SET token_digest = pg_temp.noise(), prefix = 'qk_anonym',
                    name = 'Key ' || left(api_key_id::text, 8);

-- Addresses and emails of throttling, and stored answers (sealed, and may hold tokens).
DELETE FROM login_failures;
DELETE FROM rate_counters;
DELETE FROM idempotency_keys;

-- What people wrote: team names, entries, their teams' own prompts (categories keep their
-- grouping under a new name).
UPDATE teams SET name = 'Team ' || left(team_id::text, 8);
UPDATE journal_entries SET content = pg_temp.filler(content);
UPDATE prompts SET text = 'Prompt ' || left(prompt_id::text, 8),
                   category = 'category-' || left(md5(category), 6)
 WHERE team_id IS NOT NULL;

-- Webhooks: endpoints that go nowhere, and disabled, so that staging never posts to a
-- customer's server; new secrets (the old ones were sealed with production's QUILL_SECRET).
-- Delivered bodies held entries and member emails; attempt errors, remote addresses.
UPDATE webhooks SET url = 'https://webhook.invalid/' || webhook_id, description = '',
                    secret = pg_temp.noise(), disabled_at = coalesce(disabled_at, now());
UPDATE webhook_deliveries SET body = '{"anonymised":true}';
UPDATE webhook_attempts SET error = 'anonymised' WHERE error IS NOT NULL;

-- Data exports: a user's whole data, verbatim.
DELETE FROM export_parts;
DELETE FROM exports;

-- Mail: the outbox holds addresses and (sealed) bodies with links; mailed tokens hold the
-- address they went to.  Staging mails nobody from production's outbox.
DELETE FROM mail_outbox;
DELETE FROM email_tokens;

-- Jobs: their payloads and errors may quote anything; staging starts with an empty queue
-- (cron schedules its own).
DELETE FROM jobs;

COMMIT;
