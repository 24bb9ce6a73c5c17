-- Twin of infra/postgres/migrations/004_territory_settings.sql (see it for what each table is).
CREATE TABLE IF NOT EXISTS territory_settings (
    territory  TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    document   TEXT    NOT NULL,
    changed_by TEXT    NOT NULL,
    agency     TEXT    NOT NULL,
    changed_at TEXT    NOT NULL,
    PRIMARY KEY (territory, version)
);

CREATE TABLE IF NOT EXISTS alerting_digests (
    agency     TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    digest_id  TEXT    NOT NULL,
    alerts     INTEGER NOT NULL,
    sent_at    TEXT    NOT NULL,
    PRIMARY KEY (agency, day)
);
