-- Issue #16, item 6: an assignment (who teaches what where) belongs to a school year, its
-- class's, and grade-write rights follow the active year only (`notes::teaches`): a teacher
-- keeps reading last year's classes but no longer writes in them.
--
-- The year is always the class's: existing rows take it here; a trigger sets it on every
-- insert and on any change of the class or of the year itself, and a class moved to another
-- year carries its assignments along.
ALTER TABLE enseignements ADD COLUMN annee_scolaire_id BIGINT
    REFERENCES annees_scolaires (id) ON DELETE RESTRICT;
UPDATE enseignements e SET annee_scolaire_id = c.annee_scolaire_id
FROM classes c WHERE c.id = e.classe_id;
ALTER TABLE enseignements ALTER COLUMN annee_scolaire_id SET NOT NULL;

CREATE FUNCTION enseignements_annee() RETURNS trigger AS $$
BEGIN
    SELECT c.annee_scolaire_id INTO NEW.annee_scolaire_id FROM classes c WHERE c.id = NEW.classe_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER enseignements_annee BEFORE INSERT OR UPDATE OF classe_id, annee_scolaire_id
    ON enseignements FOR EACH ROW EXECUTE FUNCTION enseignements_annee();

CREATE FUNCTION classes_enseignements_annee() RETURNS trigger AS $$
BEGIN
    UPDATE enseignements e SET annee_scolaire_id = n.annee_scolaire_id
    FROM anciennes o JOIN nouvelles n ON n.id = o.id
    WHERE e.classe_id = n.id AND o.annee_scolaire_id <> n.annee_scolaire_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER classes_enseignements_annee AFTER UPDATE ON classes
    REFERENCING OLD TABLE AS anciennes NEW TABLE AS nouvelles
    FOR EACH STATEMENT EXECUTE FUNCTION classes_enseignements_annee();

-- A teacher's assignments of one year (the grade-write check, `?annee_scolaire=`).
CREATE INDEX enseignements_annee_idx ON enseignements (annee_scolaire_id, enseignant_id);
