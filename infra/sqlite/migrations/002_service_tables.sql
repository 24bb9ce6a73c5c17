-- Twin of infra/postgres/migrations/002_service_tables.sql for the embedded mode's SQLite
-- files: the same tables, the same columns (see that file for what each table is and for what
-- is left out by design). Timestamps are fixed-width UTC text, which sorts like time.
CREATE TABLE IF NOT EXISTS relay_positions (
    name            TEXT    PRIMARY KEY,
    notification_id INTEGER NOT NULL,
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS kafka_consumer_positions (
    consumer_group TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    partition      INTEGER NOT NULL,
    next_offset    INTEGER NOT NULL CHECK (next_offset >= 0),
    updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (consumer_group, topic, partition)
);
CREATE TABLE IF NOT EXISTS kafka_applied_events (
    consumer_group TEXT    NOT NULL,
    ce_id          TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    partition      INTEGER NOT NULL,
    "offset"       INTEGER NOT NULL,
    applied_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (consumer_group, ce_id)
);
CREATE INDEX IF NOT EXISTS kafka_applied_events_applied_at ON kafka_applied_events (consumer_group, applied_at);

CREATE TABLE IF NOT EXISTS gateway_audit_events (
    id           TEXT PRIMARY KEY,
    recorded_at  TEXT NOT NULL,
    professional TEXT NOT NULL,
    agency       TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    operation    TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    pathway_id   TEXT,
    categories   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT
);
CREATE INDEX IF NOT EXISTS gateway_audit_events_pathway ON gateway_audit_events (pathway_id, recorded_at);

CREATE TABLE IF NOT EXISTS alerting_webhooks (
    agency TEXT PRIMARY KEY,
    url    TEXT NOT NULL,
    secret TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerting_deliveries (
    agency       TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (agency, delivery_id)
);

CREATE TABLE IF NOT EXISTS risk_deadlines (
    pathway_id TEXT PRIMARY KEY,
    territory  TEXT NOT NULL,
    due_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_deadlines_due_at ON risk_deadlines (due_at);

CREATE TABLE IF NOT EXISTS projection_versions (
    name       TEXT    PRIMARY KEY,
    version    INTEGER NOT NULL,
    swapped_at TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS projection_positions (
    name            TEXT    PRIMARY KEY,
    version         INTEGER NOT NULL,
    notification_id INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS pathway_checksums (
    pathway_id     TEXT    PRIMARY KEY,
    events         INTEGER NOT NULL,
    last_version   INTEGER NOT NULL,
    chain          TEXT    NOT NULL,
    out_of_order   INTEGER NOT NULL DEFAULT 0,
    first_disorder TEXT,
    updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
