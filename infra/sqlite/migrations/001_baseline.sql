-- Twin of infra/postgres/migrations/001_baseline.sql: facts about the installation itself.
CREATE TABLE relais_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

INSERT INTO relais_meta (key, value) VALUES ('baseline', '001');
