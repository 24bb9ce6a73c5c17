-- Where each Kafka consumer group stands, per topic partition (ARCHITECTURE.md, "Contracts"):
-- a consumer writes its read-model changes and its new position in ONE transaction, commits the
-- offset to Kafka only after that, and on restart seeks each partition to next_offset.
CREATE TABLE consumer_positions (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL CHECK (partition >= 0),
    next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

COMMENT ON TABLE consumer_positions IS
    'Kafka position of each consumer group, written in the same transaction as its read-model changes.';
