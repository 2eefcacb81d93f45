DROP TRIGGER audit_log_chain ON audit_log;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain_append();
DROP FUNCTION audit_append_many(uuid[], text[], uuid[], timestamptz[], text[], text[], text[],
                                text[]);
