-- Baseline of a Relais schema: facts about the installation itself, one row per key
-- (e.g. which territory a database serves). Read-model tables arrive in later migrations
-- (002_*.sql, ...); the event store's tables are created by the eventsourcing recorder, and the
-- consumer position tables by infra/postgres/positions.py.
CREATE TABLE relais_meta (
    key        text        PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO relais_meta (key, value) VALUES ('baseline', '001');
