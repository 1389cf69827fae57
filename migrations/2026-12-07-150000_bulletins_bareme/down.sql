ALTER TABLE bulletin_lignes DROP COLUMN IF EXISTS moyenne_sur_20;
ALTER TABLE bulletins
    DROP COLUMN IF EXISTS moyenne_generale_sur_20,
    DROP COLUMN IF EXISTS bareme;
