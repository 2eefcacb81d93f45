-- Append to an audit chain with one UPDATE of its head instead of an upsert, a locking
-- read and an update: the head keeps the previous hash too, so a single
-- UPDATE ... RETURNING yields sequence, previous hash and new hash under the row lock.
-- The canonical text and the chain are unchanged (quill-admin audit-verify still applies).
ALTER TABLE audit_heads ADD COLUMN prev_hash bytea NOT NULL DEFAULT '\x';

CREATE FUNCTION audit_text(chain text, seq bigint, at timestamptz, actor text, action text,
                           target_type text, target_id text, audit_id uuid) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws(E'\n', chain, seq::text,
        (extract(epoch FROM at) * 1000000)::bigint::text, actor, action, target_type, target_id,
        audit_id::text), 'UTF8')
$$;

CREATE OR REPLACE FUNCTION audit_chain_append() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        UPDATE audit_heads h
           SET seq = h.seq + 1,
               prev_hash = h.hash,
               hash = sha256(h.hash || audit_text(NEW.chain, h.seq + 1, NEW.at, NEW.actor,
                                                  NEW.action, NEW.target_type, NEW.target_id,
                                                  NEW.audit_id))
         WHERE h.chain = NEW.chain
        RETURNING h.seq, h.prev_hash, h.hash INTO NEW.seq, NEW.prev_hash, NEW.hash;
        EXIT WHEN FOUND;
        -- The chain's first row: create its head, then take the UPDATE path above.
        INSERT INTO audit_heads (chain, seq, hash, prev_hash) VALUES (NEW.chain, 0, '\x', '\x')
            ON CONFLICT (chain) DO NOTHING;
    END LOOP;
    RETURN NEW;
END
$$;
