-- The daily purge (`core.purger_donnees`, crates/operations/src/purge.rs) finds what expired
-- through these indexes instead of reading whole tables, batch after batch.
CREATE INDEX jobs_termines_idx ON jobs (finished_at) WHERE status IN ('SUCCES', 'ECHEC');
CREATE INDEX notifications_lues_idx ON notifications (lue_le) WHERE lue;
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX requetes_idempotentes_created_idx ON requetes_idempotentes (created_at);
