-- gateway/audit.py: the audit trail made tamper-evident. Each record carries its place in
-- the chain (seq), the hash of the record before it and its own hash (SHA-256 over the
-- canonical record and the previous hash); the head row holds the last seq and hash, so a
-- deleted last record is seen too. `relais audit verify` recomputes the chain.
ALTER TABLE gateway_audit_events ADD COLUMN IF NOT EXISTS seq bigint;
ALTER TABLE gateway_audit_events ADD COLUMN IF NOT EXISTS prev_hash text;
ALTER TABLE gateway_audit_events ADD COLUMN IF NOT EXISTS hash text;
CREATE UNIQUE INDEX IF NOT EXISTS gateway_audit_events_seq ON gateway_audit_events (seq);
CREATE INDEX IF NOT EXISTS gateway_audit_events_agency ON gateway_audit_events (agency, recorded_at);
CREATE TABLE IF NOT EXISTS gateway_audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
