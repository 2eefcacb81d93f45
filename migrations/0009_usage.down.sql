-- Reverts 0009_usage.up.sql (plans, usage counts and the request log are lost).
DROP TABLE rate_shares;
DROP TABLE request_log;
DROP TABLE usage_periods;
DROP TABLE subscriptions;
