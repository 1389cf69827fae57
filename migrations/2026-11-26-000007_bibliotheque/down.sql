DROP TABLE IF EXISTS emprunts;
DROP TABLE IF EXISTS exemplaires;
DROP TABLE IF EXISTS livres;
DROP FUNCTION IF EXISTS biblio_emprunts_compter();
DROP FUNCTION IF EXISTS biblio_exemplaires_compter();
DROP FUNCTION IF EXISTS biblio_recompter(BIGINT[]);
DROP FUNCTION IF EXISTS biblio_pli(TEXT);
-- pg_trgm stays: other objects of the database may use it.
