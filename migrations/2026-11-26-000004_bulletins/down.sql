DROP TABLE IF EXISTS bulletin_lignes;
DROP TABLE IF EXISTS bulletins;
DROP TABLE IF EXISTS regles_bulletin;
