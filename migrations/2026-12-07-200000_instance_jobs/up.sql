-- The identity of this database among those sharing one Redis: the jobs' Redis namespace is
-- `<REDIS_PREFIX>:<instance id>`. One row, made here; `ecole restore` gives it a new id.
CREATE TABLE instance (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    -- The instance this one was restored from (NULL: made by `ecole migrate`).
    restored_from UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO instance DEFAULT VALUES;

-- Part of each task id and idempotency key (`job-<id>-<dispatch>-<token>`): ids and dispatch
-- counts repeat across databases and restores, a random token does not. Set-based inserts
-- get it from the default.
ALTER TABLE jobs ADD COLUMN task_token UUID NOT NULL DEFAULT gen_random_uuid();
