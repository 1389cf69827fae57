-- One value of record per bareme (issue #15): a bulletin's averages are stored on the bareme
-- of its class (10 in primary), computed exactly on /20 and rounded once; the /20 values
-- are kept beside them. Earlier bulletins hold /20 values: their bareme is 20.
ALTER TABLE bulletins
    ADD COLUMN bareme INTEGER NOT NULL DEFAULT 20 CHECK (bareme IN (10, 20)),
    ADD COLUMN moyenne_generale_sur_20 NUMERIC(5, 2);
UPDATE bulletins SET moyenne_generale_sur_20 = moyenne_generale;

ALTER TABLE bulletin_lignes ADD COLUMN moyenne_sur_20 NUMERIC(5, 2);
UPDATE bulletin_lignes SET moyenne_sur_20 = moyenne;
