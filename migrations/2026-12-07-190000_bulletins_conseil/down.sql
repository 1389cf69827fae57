DROP TRIGGER IF EXISTS conseils_bulletins_delete ON conseils_classe;
DROP TRIGGER IF EXISTS conseils_bulletins_update ON conseils_classe;
DROP TRIGGER IF EXISTS conseils_bulletins_insert ON conseils_classe;
DROP FUNCTION IF EXISTS conseils_bulletins_a_recalculer();
DROP TRIGGER IF EXISTS appreciations_bulletins_delete ON appreciations;
DROP TRIGGER IF EXISTS appreciations_bulletins_update ON appreciations;
DROP TRIGGER IF EXISTS appreciations_bulletins_insert ON appreciations;
DROP FUNCTION IF EXISTS appreciations_bulletins_a_recalculer();
DROP FUNCTION IF EXISTS bulletins_marquer_eleves(BIGINT[], BIGINT[], TEXT[]);
ALTER TABLE bulletins
    DROP COLUMN IF EXISTS conseil_decision,
    DROP COLUMN IF EXISTS conseil_distinction,
    DROP COLUMN IF EXISTS conseil_appreciation;
DROP TABLE IF EXISTS conseils_classe;
DROP TABLE IF EXISTS appreciations;
