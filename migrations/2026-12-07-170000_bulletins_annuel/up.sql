-- The annual result (issue #15), stored with the bulletin of the year's last period (3rd
-- trimester, 2nd semester) when it is computed, so that later rule changes do not rewrite
-- it: the mean of every period's average of record, on the bulletin's bareme, and the
-- decision it gives. NULL when a period of the year has no bulletin (or no average): the
-- annual result is incomplete and gives no decision.
ALTER TABLE bulletins
    ADD COLUMN moyenne_annuelle NUMERIC(5, 2),
    ADD COLUMN decision_annuelle TEXT CHECK (decision_annuelle IN ('ADMIS', 'REDOUBLE')),
    ADD CHECK ((moyenne_annuelle IS NULL) = (decision_annuelle IS NULL));
-- Existing last-period bulletins computed their annual result when read: compute them again.
UPDATE bulletins SET a_recalculer = TRUE WHERE periode IN ('TRIMESTRE_3', 'SEMESTRE_2');
