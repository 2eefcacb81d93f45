-- Reverts 0013_flags.up.sql (every flag and override is lost).
DROP TABLE feature_flag_teams;
DROP TABLE feature_flags;
