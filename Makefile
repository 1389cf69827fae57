# École — commandes du projet. `make help` les liste.
.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash

.PHONY: help run test lint fmt migrate createsuperuser check bench schema-check build worker beat soak pannes-longues

help: ## Affiche cette aide
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36mmake %-16s\033[0m %s\n", $$1, $$2}'

run: ## Installe/démarre PostgreSQL et Redis, migre, crée un admin de démo, lance API + worker + beat (Ctrl-C arrête tout)
	@bash scripts/run.sh

worker: ## Lance un worker seul (jobs), au premier plan
	@source scripts/env.sh && cargo run -q --release --bin ecole-worker

beat: ## Lance le planificateur seul, au premier plan (`make beat ARGS=--list` pour le planning)
	@source scripts/env.sh && cargo run -q --release --bin ecole-beat -- $(ARGS)

test: ## Lance toute la suite de tests (PostgreSQL jetable en tmpfs + Redis local)
	@bash scripts/test.sh

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

migrate: ## Applique les migrations (crée la base si besoin)
	@source scripts/env.sh && cargo run -q --release --bin ecole -- migrate

createsuperuser: ## Crée un compte administrateur (interactif)
	@source scripts/env.sh && cargo run -q --release --bin ecole -- createsuperuser

check: ## Vérifie configuration et connexions (ecole check)
	@source scripts/env.sh && cargo run -q --release --bin ecole -- check

bench: ## Mesure les performances (wrk, pgbench) : voir bench/out/
	@bash scripts/bench.sh

build: ## Compile tous les binaires en release
	cargo build --release --bins
