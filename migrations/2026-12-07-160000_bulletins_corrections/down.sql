DROP TRIGGER IF EXISTS matieres_bulletins_update ON matieres;
DROP FUNCTION IF EXISTS matieres_bulletins_a_recalculer();
DROP TRIGGER IF EXISTS classes_bulletins_update ON classes;
DROP FUNCTION IF EXISTS classes_bulletins_a_recalculer();
DROP TRIGGER IF EXISTS enseignements_bulletins_insert ON enseignements;
DROP TRIGGER IF EXISTS enseignements_bulletins_update ON enseignements;
DROP TRIGGER IF EXISTS enseignements_bulletins_delete ON enseignements;
DROP FUNCTION IF EXISTS enseignements_bulletins_a_recalculer();
DROP FUNCTION IF EXISTS bulletins_marquer_classes(BIGINT[]);
DROP TRIGGER IF EXISTS presences_bulletins_insert ON presences;
DROP TRIGGER IF EXISTS presences_bulletins_update ON presences;
DROP TRIGGER IF EXISTS presences_bulletins_delete ON presences;
DROP FUNCTION IF EXISTS presences_bulletins_a_recalculer();
DROP FUNCTION IF EXISTS bulletins_marquer_presences(BIGINT[], DATE[]);
DROP TRIGGER IF EXISTS notes_bulletins_insert ON notes;
DROP TRIGGER IF EXISTS notes_bulletins_update ON notes;
DROP TRIGGER IF EXISTS notes_bulletins_delete ON notes;
DROP FUNCTION IF EXISTS notes_bulletins_a_recalculer();
DROP FUNCTION IF EXISTS bulletins_marquer_notes(BIGINT[], BIGINT[], BIGINT[], TEXT[]);
DROP FUNCTION IF EXISTS bulletins_marquer(BIGINT[], TEXT[], BIGINT[], BIGINT[]);
DROP TABLE IF EXISTS bulletin_versions;
DROP INDEX IF EXISTS bulletins_a_recalculer_idx;
ALTER TABLE bulletins
    DROP COLUMN IF EXISTS pdf_sha256,
    DROP COLUMN IF EXISTS version,
    DROP COLUMN IF EXISTS a_recalculer;
