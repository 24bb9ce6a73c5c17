-- services/risk/territory_settings.py: the rupture-risk settings of each territory, versioned.
-- A change never updates a row: it adds version N+1 (who, when); the highest version is in
-- force. The primary key refuses two changes that both read version N (the second is told to
-- read again).
CREATE TABLE IF NOT EXISTS territory_settings (
    territory  text        NOT NULL,
    version    integer     NOT NULL CHECK (version >= 1),
    document   text        NOT NULL,
    changed_by text        NOT NULL,
    agency     text        NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (territory, version)
);

-- services/alerting/digest.py: the daily digests sent, one row per agency and local day. The
-- row is written in the transaction that records the sending, so a digest is never sent twice
-- for the same agency and day, even after a crash.
CREATE TABLE IF NOT EXISTS alerting_digests (
    agency     text        NOT NULL,
    day        date        NOT NULL,
    digest_id  text        NOT NULL,
    alerts     integer     NOT NULL,
    sent_at    timestamptz NOT NULL,
    PRIMARY KEY (agency, day)
);
