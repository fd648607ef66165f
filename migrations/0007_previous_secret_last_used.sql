-- When a rolled secret was last used during its grace period (written by the usage pipeline):
-- once it has gone quiet, the admin can end the grace. A roll, the end of the grace and the
-- cron's clean-up set it back to NULL with the previous secret.
ALTER TABLE credentials ADD COLUMN previous_secret_last_used_at TEXT;
