-- Reverts 0003_audit_fast_append.up.sql: the append of 0001 again.
CREATE OR REPLACE FUNCTION audit_chain_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head audit_heads;
BEGIN
    INSERT INTO audit_heads (chain, seq, hash) VALUES (NEW.chain, 0, '\x'::bytea)
        ON CONFLICT (chain) DO NOTHING;
    SELECT * INTO head FROM audit_heads WHERE chain = NEW.chain FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := sha256(head.hash || audit_canonical(NEW));
    UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE chain = NEW.chain;
    RETURN NEW;
END
$$;
DROP FUNCTION audit_text(text, bigint, timestamptz, text, text, text, text, uuid);
ALTER TABLE audit_heads DROP COLUMN prev_hash;
