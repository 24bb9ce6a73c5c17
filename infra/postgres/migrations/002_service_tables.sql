-- Every table the services write, beside the read models' versioned projection tables.
-- Twin of infra/sqlite/migrations/002_service_tables.sql (the embedded mode): the two files
-- name the same tables with the same columns (tests/integration/test_migrations_dialects.py).
-- IF NOT EXISTS: installations made before this migration already have these tables (their
-- constructors used to create them); this migration adopts them as they are.
--
-- Not here, by design:
--   * the event store's tables: the eventsourcing library's recorder creates and owns them;
--   * the projections' physical tables `<table>_vN` and their views: created by
--     projections/schema.ensure_current when a version starts and by a rebuild's swap, since
--     a rebuild makes version N+1 while N is still served (their registry is below).

-- services/relay/positions.py: the relay's position in the notification log.
CREATE TABLE IF NOT EXISTS relay_positions (
    name            text        PRIMARY KEY,
    notification_id bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- infra/postgres/positions.py: every consumer group's position, written in the same
-- transaction as its effects, and the CloudEvents ids it applied (dedup on the wire).
CREATE TABLE IF NOT EXISTS kafka_consumer_positions (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
CREATE TABLE IF NOT EXISTS kafka_applied_events (
    consumer_group text        NOT NULL,
    ce_id          text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    "offset"       bigint      NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, ce_id)
);
CREATE INDEX IF NOT EXISTS kafka_applied_events_applied_at ON kafka_applied_events (consumer_group, applied_at);

-- gateway/audit.py: the audit log of every read of personal data.
CREATE TABLE IF NOT EXISTS gateway_audit_events (
    id          text PRIMARY KEY,
    recorded_at text NOT NULL,
    professional text NOT NULL,
    agency      text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    operation   text NOT NULL,
    purpose     text NOT NULL,
    pathway_id  text,
    categories  text NOT NULL,
    outcome     text NOT NULL,
    detail      text
);
CREATE INDEX IF NOT EXISTS gateway_audit_events_pathway ON gateway_audit_events (pathway_id, recorded_at);

-- services/alerting/webhooks.py: agency webhooks (secrets sealed) and deliveries made.
CREATE TABLE IF NOT EXISTS alerting_webhooks (
    agency text PRIMARY KEY,
    url    text NOT NULL,
    secret text NOT NULL
);
CREATE TABLE IF NOT EXISTS alerting_deliveries (
    agency       text NOT NULL,
    delivery_id  text NOT NULL,
    delivered_at text NOT NULL,
    PRIMARY KEY (agency, delivery_id)
);

-- services/risk/deadlines.py: when each open pathway must next be looked at.
CREATE TABLE IF NOT EXISTS risk_deadlines (
    pathway_id uuid        PRIMARY KEY,
    territory  text        NOT NULL,
    due_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_deadlines_due_at ON risk_deadlines (due_at);

-- projections/schema.py: which version of each projection the views point at.
CREATE TABLE IF NOT EXISTS projection_versions (
    name       text   PRIMARY KEY,
    version    bigint NOT NULL,
    swapped_at text   NOT NULL
);

-- projections/embedded.py: the embedded projections' positions in the notification log
-- (used by the embedded mode only; here so that the two dialects keep one list).
CREATE TABLE IF NOT EXISTS projection_positions (
    name            text   PRIMARY KEY,
    version         bigint NOT NULL,
    notification_id bigint NOT NULL
);

-- projections/checksum.py: what the read side saw of each pathway (audit against the store).
CREATE TABLE IF NOT EXISTS pathway_checksums (
    pathway_id     text        PRIMARY KEY,
    events         bigint      NOT NULL,
    last_version   bigint      NOT NULL,
    chain          text        NOT NULL,
    out_of_order   bigint      NOT NULL DEFAULT 0,
    first_disorder text,
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
