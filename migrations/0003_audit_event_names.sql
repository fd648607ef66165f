-- Audit events keep the target's name as it was when the event happened (so a deleted
-- credential's history still says what it was called), and the channel the change came through:
-- 'api' (/admin/v1), 'console' (/console) or 'system' (Keymint itself, e.g. a scanner report).
-- Events recorded before this migration: channel 'api' (the console then wrote through the same
-- services and was not told apart), and target_name the target's current name if it still exists,
-- else NULL.
ALTER TABLE audit_events ADD COLUMN channel TEXT NOT NULL DEFAULT 'api' CHECK (channel IN ('api', 'console', 'system'));
ALTER TABLE audit_events ADD COLUMN target_name TEXT;
UPDATE audit_events SET target_name = (SELECT name FROM accounts WHERE accounts.id = audit_events.target_id)
  WHERE target_type = 'account';
UPDATE audit_events SET target_name = (SELECT name FROM credentials WHERE credentials.id = audit_events.target_id)
  WHERE target_type = 'credential';
