-- Reverts 0010_mfa.up.sql (enrolments, recovery codes and pending MFA logins are lost; users
-- with MFA on log in with their password alone again).
DROP TABLE mfa_challenges;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
CREATE INDEX sessions_user_idx ON sessions (user_id);
DROP INDEX sessions_user_created_idx;
ALTER TABLE sessions DROP COLUMN client_ip, DROP COLUMN user_agent;
