-- gateway/audit.py: the audit trail made tamper-evident (see infra/postgres/migrations/003).
ALTER TABLE gateway_audit_events ADD COLUMN seq INTEGER;
ALTER TABLE gateway_audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE gateway_audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS gateway_audit_events_seq ON gateway_audit_events (seq);
CREATE INDEX IF NOT EXISTS gateway_audit_events_agency ON gateway_audit_events (agency, recorded_at);
CREATE TABLE IF NOT EXISTS gateway_audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
