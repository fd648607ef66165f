-- Retention (src/services/retention.ts): the cron deletes usage rows by age, oldest first and a
-- bounded number a run; these indexes find them without reading every row. Audit events are
-- found by age through audit_events_newest_first (0001).
CREATE INDEX usage_hourly_by_hour ON usage_hourly (hour);
CREATE INDEX usage_failures_by_hour ON usage_failures (hour);
