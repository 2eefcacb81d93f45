-- Reverts 0011_mail.up.sql (the outbox, the tokens and every proof of an email are lost).
DELETE FROM jobs WHERE kind IN ('mail.send', 'account.password_reset', 'purge.mail');
DROP TABLE mail_outbox;
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
