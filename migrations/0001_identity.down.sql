-- Reverts 0001_identity.up.sql.
DROP TRIGGER audit_log_chain ON audit_log;
DROP FUNCTION audit_chain_append();
DROP FUNCTION audit_canonical(audit_log);
DROP TABLE audit_log;
DROP FUNCTION audit_log_refuse();
DROP TABLE audit_heads;
DROP TABLE rate_counters;
DROP TABLE login_failures;
DROP TABLE api_keys;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE sessions;
DROP TABLE users;
