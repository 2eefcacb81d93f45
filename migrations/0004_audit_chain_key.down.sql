-- Reverts 0004_audit_chain_key.up.sql.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (audit_id);
ALTER TABLE audit_log ADD CONSTRAINT audit_log_chain_seq_key UNIQUE (chain, seq);
CREATE INDEX audit_log_team_idx ON audit_log (team_id, at DESC, audit_id DESC) WHERE team_id IS NOT NULL;
