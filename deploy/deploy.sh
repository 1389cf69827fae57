#!/usr/bin/env bash
# École — mise à jour sur le serveur, qui échoue fermée :
#   deploy/deploy.sh            git pull, construction, sauvegarde, migrations, redémarrage
#   deploy/deploy.sh --no-pull  sans git pull (code déjà à jour)
# Après le redémarrage, tous les services doivent être en bonne santé (HEALTH_TIMEOUT, 180 s)
# et `ecole check --deploy` sans aucune ERREUR ; sinon l'image précédente (gardée sous son
# étiquette) est remise en service, et le script le dit et sort en erreur.
# Prérequis : Docker et compose, deploy/.env rempli (README, « Exploitation »).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
. scripts/lib.sh
stack() { bash "$ROOT/scripts/compose.sh" "$@"; }

pull=1
[ "${1:-}" = "--no-pull" ] && pull=0

ENV_FILE=$(realpath -m "${ECOLE_ENV_FILE:-$ROOT/deploy/.env}")
PROJECT=${COMPOSE_PROJECT_NAME:-ecole}
STATE="$(dirname "$ENV_FILE")/.image-$PROJECT"
previous=""
[ -f "$STATE" ] && previous=$(cat "$STATE")

# 1. Latest code.
if [ "$pull" = 1 ]; then
  say "1. git pull"
  git pull --ff-only
fi

# 2. The new image, under its own tag (the previous one stays for the way back).
say "2. construction de l'image"
image=$(env -u ECOLE_IMAGE bash "$ROOT/scripts/compose.sh" build) || die "construction de l'image impossible : rien n'a changé"
[ -n "$image" ] || die "aucune image construite"

# 3. A backup before any migration, when the stack already runs.
if [ -n "$previous" ] && [ -n "$(stack compose ps -q postgres 2>/dev/null || true)" ]; then
  say "3. sauvegarde avant déploiement"
  stack exec -T worker ecole backup || die "sauvegarde impossible : déploiement annulé (rien n'a changé)"
else
  say "3. première installation : pas de sauvegarde préalable"
fi

rollback() {
  local why=$1
  warn "$why"
  if [ -z "$previous" ] || [ "$previous" = "$image" ]; then
    die "déploiement de $image en échec, et aucune image précédente à remettre : make logs, puis corrigez"
  fi
  warn "retour à l'image précédente $previous"
  if ECOLE_IMAGE=$previous stack up; then
    die "déploiement de $image en échec ; l'image précédente $previous est de nouveau en service (les migrations déjà appliquées restent : make restore FILE=… avec la sauvegarde de l'étape 3 si besoin)"
  fi
  die "déploiement de $image en échec, et le retour à $previous aussi : make logs, make ps"
}

# 4. Migrations, then every service on the new image, WORKER_REPLICAS workers; waits for health.
say "4. migrations et redémarrage sur $image"
ECOLE_IMAGE=$image stack up || rollback "les services ne sont pas en bonne santé"

# 5. The pre-production checklist: any ERREUR stops the deployment.
say "5. vérification (ecole check --deploy)"
if ! stack exec -T api ecole check --deploy; then
  rollback "ecole check --deploy signale au moins une ERREUR (lignes ci-dessus)"
fi
stack ps
say "Déploiement de $image terminé (précédente : ${previous:-aucune})."
