-- 0001: the key-value table every store operation uses, and the index the
-- sweeper deletes expired entries by.
-- `IF NOT EXISTS`: databases created before migrations were recorded
-- already have both; they adopt version 1 unchanged.
CREATE TABLE IF NOT EXISTS digital_id_entries (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (ns, key)
);
CREATE INDEX IF NOT EXISTS digital_id_entries_expiry
    ON digital_id_entries (expires_at) WHERE expires_at IS NOT NULL;
