# École — commandes du projet. `make help` les liste.
.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

.PHONY: help run test lint fmt migrate createsuperuser check bench schema-check build worker beat \
	up down logs ps backup restore check-deploy seed fuzz soak pannes-longues certs certs-dev \
	e2e-deploy images-locales

help: ## Affiche cette aide
	@echo "Commandes (make <commande>) :"
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36mmake %-16s\033[0m %s\n", $$1, $$2}'
	@echo "Variables : FILE=… (restore), FORCE=1 (restore sur une base non vide), ELEVES=N (seed),"
	@echo "            DOMAIN=… EMAIL=… (certs), DOCKER=1|0 (migrate, createsuperuser, backup, restore,"
	@echo "            check-deploy, seed : dans les conteneurs de deploy/ ou sur ce poste ; par défaut"
	@echo "            les conteneurs dès que deploy/.env existe)"

run: ## Installe/démarre PostgreSQL et Redis, migre, crée un admin de démo, lance API + worker + beat (Ctrl-C arrête tout)
	@bash scripts/run.sh

worker: ## Lance un worker seul (jobs), au premier plan
	@source scripts/env.sh && cargo run -q --release --bin ecole-worker

beat: ## Lance le planificateur seul, au premier plan (`make beat ARGS=--list` pour le planning)
	@source scripts/env.sh && cargo run -q --release --bin ecole-beat -- $(ARGS)

test: ## Lance toute la suite de tests (PostgreSQL jetable en tmpfs + Redis local)
	@bash scripts/test.sh

fuzz: ## Fuzzing long de l'API (schemathesis, chaque rôle, toutes les vérifications) : voir target/fuzz/
	@bash scripts/fuzz.sh $(ARGS)

pannes-longues: ## Pannes trop longues pour la CI (deux planificateurs 10 min, l'un tué à mi-parcours) : ligne réussi/échec
	@bash scripts/test.sh -E 'test(panne_6_longue)' --run-ignored only --no-capture

soak: ## Endurance : 30 min de charge mixte sur les vrais binaires (SOAK_MINUTES=3 pour un essai) : ligne réussie/échouée
	@bash scripts/soak.sh

lint: ## Vérifie le formatage (cargo fmt) et clippy sans avertissement
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Formate le code
	cargo fmt --all

schema-check: ## Vérifie que crates/db/src/schema.rs correspond aux migrations (et que chaque down.sql marche)
	@bash scripts/schema-check.sh

migrate: ## Applique les migrations (crée la base si besoin) ; dans les conteneurs si deploy/.env existe
	@bash scripts/ops.sh migrate

createsuperuser: ## Crée un compte administrateur (interactif) ; dans les conteneurs si deploy/.env existe
	@bash scripts/ops.sh createsuperuser

check: ## Vérifie configuration et connexions (ecole check)
	@source scripts/env.sh && cargo run -q --release --bin ecole -- check

bench: ## Mesure les performances (wrk, pgbench) : voir bench/out/
	@bash scripts/bench.sh

build: ## Compile en release les quatre programmes (API, worker, planificateur, CLI)
	@source scripts/lib.sh && cargo build --release $$ECOLE_BINS

# ---- Exploitation ----

up: ## Production Docker : construit l'image, démarre tout (WORKER_REPLICAS workers) et attend la santé
	@bash scripts/compose.sh up

certs: ## Certificat Let's Encrypt par le webroot de nginx : make certs DOMAIN=ecole.exemple.gn EMAIL=…
	@DOMAIN="$(DOMAIN)" EMAIL="$(EMAIL)" bash scripts/compose.sh certs

certs-dev: ## Certificat auto-signé pour SERVER_NAME dans nginx/certs/ (essais ; remplace l'existant)
	@bash scripts/compose.sh certs-dev

e2e-deploy: ## Preuve du chemin de production : image, pile complète, scénario HTTPS, pannes (≈ 15 min)
	@bash scripts/e2e-deploy.sh

images-locales: ## Images de remplacement construites depuis Debian (machines sans registre d'images)
	@bash scripts/images-locales.sh

down: ## Production Docker : arrête les conteneurs (les volumes et les données restent)
	@bash scripts/compose.sh down

logs: ## Production Docker : suit les journaux de tous les services (make logs ARGS=worker)
	@bash scripts/compose.sh logs $(ARGS)

ps: ## Production Docker : état des services
	@bash scripts/compose.sh ps

backup: ## Sauvegarde la base maintenant (pg_dump + .sha256 dans BACKUP_DIR, copie S3, nettoyage)
	@bash scripts/ops.sh backup

restore: ## Restaure une sauvegarde : make restore FILE=var/backups/ecole_AAAAmmjj_HHMMSS.dump [FORCE=1]
	@bash scripts/ops.sh restore "$(FILE)" $(if $(FORCE),--force,)

check-deploy: ## Liste de contrôle avant la production (ecole check --deploy) ; échoue à la moindre ERREUR
	@bash scripts/ops.sh check-deploy

seed: ## Données de démonstration dans une base sans élèves (make seed ELEVES=1500)
	@bash scripts/ops.sh seed $(ELEVES)
