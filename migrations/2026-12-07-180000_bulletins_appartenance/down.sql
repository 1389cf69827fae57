DROP TRIGGER IF EXISTS eleves_historique_update ON eleves;
DROP FUNCTION IF EXISTS eleves_historique_update();
DROP TRIGGER IF EXISTS eleves_historique_insert ON eleves;
DROP FUNCTION IF EXISTS eleves_historique_insert();
DROP TABLE IF EXISTS historique_classes;
ALTER TABLE bulletins DROP COLUMN IF EXISTS absences_justifiees;
