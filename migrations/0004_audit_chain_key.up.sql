-- Key the audit log by its chain: (chain, seq) becomes the primary key and serves both the
-- chain walk of audit-verify and a team's newest-first pages (a team's rows are its chain,
-- in append order), so the audit_id key and the (team_id, at) index are dropped.  One
-- index per appended row instead of three: appends are on the hot path of every write.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_chain_seq_key;
ALTER TABLE audit_log ADD PRIMARY KEY (chain, seq);
DROP INDEX audit_log_team_idx;
