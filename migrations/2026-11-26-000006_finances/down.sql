DROP TABLE IF EXISTS requetes_idempotentes;
DROP TABLE IF EXISTS paiements;
DROP TABLE IF EXISTS lignes_facture;
DROP TABLE IF EXISTS factures;
DROP TABLE IF EXISTS compteurs_numeros;
DROP TABLE IF EXISTS frais_scolarite;
