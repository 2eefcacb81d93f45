-- The W3C trace context ("00-<trace id>-<span id>-<flags>") of the work that caused a row,
-- so that what follows joins its trace: a job's span is a child of the request (or change)
-- that enqueued it, and a webhook delivery's job continues the request whose change it
-- carries.  jobs.trace_id (0005) keeps the trace id alone, for log searches; it is now
-- filled from traceparent.  changes.traceparent is written only while tracing is on.
ALTER TABLE jobs ADD COLUMN traceparent text;
ALTER TABLE changes ADD COLUMN traceparent text;
