DROP TABLE telephone_confirmations;
