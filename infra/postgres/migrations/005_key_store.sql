-- infra/keystore.py: the key store of crypto-shredding (docs/security.md, "Clés").
-- One data key per person, wrapped (AES-256-GCM) by a master key from settings; the person
-- is named by a keyed hash of their reference (HMAC-SHA256 under the `lookup` key below),
-- never by the reference itself. Erasing a person deletes their row: what was sealed with it
-- (event store rows, Kafka messages) can no longer be read by anyone.
CREATE TABLE IF NOT EXISTS person_keys (
    key_id       text PRIMARY KEY,
    person_hash  text UNIQUE,
    master_id    text NOT NULL,
    wrapped      text NOT NULL,
    created_at   text NOT NULL
);
-- Which data key seals each pathway's events (the opening event names the person).
CREATE TABLE IF NOT EXISTS pathway_keys (
    pathway_id   text PRIMARY KEY,
    key_id       text NOT NULL
);
CREATE INDEX IF NOT EXISTS pathway_keys_key ON pathway_keys (key_id);
-- Erased persons and pathways: the erasure's trace, with no personal data (key id, when, why).
CREATE TABLE IF NOT EXISTS erased_keys (
    key_id       text PRIMARY KEY,
    erased_at    text NOT NULL,
    legal_basis  text NOT NULL
);
