-- Reverts 0014_trace_context.up.sql (the stored trace contexts are lost).
ALTER TABLE changes DROP COLUMN traceparent;
ALTER TABLE jobs DROP COLUMN traceparent;
