-- Webhooks (contract "Webhooks"): endpoints, the outbox of events, and each delivery attempt.
-- docs/storage.md describes the tables.
CREATE TABLE webhook_endpoints (
  id                          TEXT PRIMARY KEY,
  url                         TEXT NOT NULL,
  -- JSON array of event types, or ["*"].
  events                      TEXT NOT NULL,
  -- NULL: a platform endpoint, which receives every organization's events.
  organization_id             TEXT,
  description                 TEXT,
  status                      TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
  -- The signing secret, sealed (AES-GCM under KEY_ENCRYPTION_KEY, the endpoint id as additional data).
  sealed_secret               TEXT NOT NULL,
  -- During a roll's grace: the previous secret, sealed, and when it stops signing.
  sealed_previous_secret      TEXT,
  previous_secret_expires_at  TEXT,
  -- When the current run of failed attempts began; NULL after a success. Five days of it disables.
  failing_since               TEXT,
  created_at                  TEXT NOT NULL,
  updated_at                  TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_newest_first ON webhook_endpoints (created_at DESC, id DESC);
CREATE INDEX webhook_endpoints_by_organization ON webhook_endpoints (organization_id, created_at DESC, id DESC);

-- The outbox: an event is written in the D1 batch of the change it reports, only while an enabled
-- endpoint subscribes to it, and sent to the WEBHOOKS queue after the commit (and by the cron).
CREATE TABLE webhook_events (
  -- The webhook-id of every delivery of it.
  id               TEXT PRIMARY KEY,
  type             TEXT NOT NULL,
  organization_id  TEXT,
  -- The signed body: {"type", "timestamp", "organization_id", "data"}.
  payload          TEXT NOT NULL,
  -- Set for an event meant for one endpoint only (webhook.test).
  endpoint_id      TEXT,
  -- A notice sent once per credential and expiry (credential.expiring, credential.expired).
  dedupe_key       TEXT UNIQUE,
  created_at       TEXT NOT NULL,
  -- A sender's claim while it sends the event to the queue (a crashed sender's lapses), and when it did.
  claimed_until    TEXT,
  sent_at          TEXT
) STRICT;
CREATE INDEX webhook_events_unsent ON webhook_events (sent_at, created_at);
CREATE INDEX webhook_events_by_age ON webhook_events (created_at);

-- One row per delivery attempt.
CREATE TABLE webhook_deliveries (
  id               TEXT PRIMARY KEY,
  endpoint_id      TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  event_type       TEXT NOT NULL,
  attempt          INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
  status_code      INTEGER,
  error            TEXT,
  at               TEXT NOT NULL,
  next_attempt_at  TEXT
) STRICT;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, at DESC, id DESC);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (at);
