-- audit_text was declared IMMUTABLE, but its body calls concat_ws, which is only STABLE, so
-- PostgreSQL never inlined it: the trigger parsed and planned the function body again for
-- every audit row.  Declared STABLE (what it is), it is inlined into the trigger's UPDATE.
ALTER FUNCTION audit_text(text, bigint, timestamptz, text, text, text, text, uuid) STABLE;
