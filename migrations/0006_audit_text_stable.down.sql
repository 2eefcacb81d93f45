ALTER FUNCTION audit_text(text, bigint, timestamptz, text, text, text, text, uuid) IMMUTABLE;
