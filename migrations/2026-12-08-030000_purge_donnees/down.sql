DROP INDEX IF EXISTS requetes_idempotentes_created_idx;
DROP INDEX IF EXISTS refresh_tokens_expires_idx;
DROP INDEX IF EXISTS notifications_lues_idx;
DROP INDEX IF EXISTS jobs_termines_idx;
