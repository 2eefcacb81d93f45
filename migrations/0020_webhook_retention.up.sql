-- Webhook deliveries are kept QUILL_WEBHOOK_RETENTION_HOURS once finished: the hourly job
-- purge.webhooks deletes, a batch at a time, finished deliveries made before then and not
-- attempted since, with their attempts.  It finds them by state and age here.
CREATE INDEX webhook_deliveries_state_idx ON webhook_deliveries (state, created_at);
