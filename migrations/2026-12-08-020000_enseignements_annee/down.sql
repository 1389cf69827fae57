DROP INDEX enseignements_annee_idx;
DROP TRIGGER classes_enseignements_annee ON classes;
DROP FUNCTION classes_enseignements_annee();
DROP TRIGGER enseignements_annee ON enseignements;
DROP FUNCTION enseignements_annee();
ALTER TABLE enseignements DROP COLUMN annee_scolaire_id;
