ALTER TABLE bulletins
    DROP COLUMN IF EXISTS decision_annuelle,
    DROP COLUMN IF EXISTS moyenne_annuelle;
