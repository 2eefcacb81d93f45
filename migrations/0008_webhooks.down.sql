-- Reverts 0008_webhooks.up.sql (endpoints, deliveries and their attempts are lost).
DELETE FROM change_consumers WHERE name = 'webhooks';
DELETE FROM jobs WHERE kind = 'webhook.deliver';
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
