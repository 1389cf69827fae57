#!/usr/bin/env python3
"""Fuzzing of the real `ecole-api` with schemathesis, authenticated as each role.

Run by `scripts/fuzz.sh` (which installs schemathesis in `target/venv-fuzz` and builds the
binaries): a database of its own on the test server, migrated and seeded (`ecole seed`), one
account per role, the API on a loopback port with its log in `target/fuzz/api.log`, then
`schemathesis run` with every check for each role (the administrator last: the run changes and
deletes data) and once without a token. It prints one line per role and a last line
`fuzz : … — OK|ÉCHEC`; the exit code is 0 only with no server error and no schema violation.

Everything printed is in French (a person reads it); the code speaks English.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target"
OUT = TARGET / "fuzz"
DEMO_PASSWORD = "Ecole-demo-2026"  # ecole_seed::DEMO_PASSWORD
ADMIN_PASSWORD = "Fuzz-administrateur-2026"
STAFF_PASSWORD = "Fuzz-personnel-2026"

# Least privileged first: the administrator's run may deactivate the other accounts.
ROLES = ["ELEVE", "PARENT", "ENSEIGNANT", "BIBLIOTHECAIRE", "COMPTABLE", "DIRECTION", "ADMIN"]

# A server error or an answer the document does not describe fails the run.
GATING = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(server_url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def http(method: str, url: str, token: str | None = None, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def binary(name: str) -> str:
    path = TARGET / "debug" / name
    if not path.exists():
        sys.exit(f"ERREUR {path} introuvable : lancez `cargo build --bins`")
    return str(path)


def run_cli(env: dict, *args: str) -> None:
    result = subprocess.run([binary("ecole"), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ERREUR ecole {' '.join(args)} : {result.stderr.strip() or result.stdout.strip()}")


def login(base: str, username: str, password: str) -> str:
    status, body = http("POST", f"{base}/api/v1/auth/login/", body={"username": username, "password": password})
    if status != 200:
        sys.exit(f"ERREUR connexion de {username} : {status} {body}")
    return body["access"]


def accounts(base: str) -> dict[str, str]:
    """An access token per role: the seeded teacher, parent and pupil (with their profiles),
    and staff accounts created by the administrator."""
    admin = login(base, "fuzz.admin", ADMIN_PASSWORD)
    tokens = {"ADMIN": admin}
    for role in ["DIRECTION", "COMPTABLE", "BIBLIOTHECAIRE"]:
        username = f"fuzz.{role.lower()}"
        status, body = http("POST", f"{base}/api/v1/users/", admin, {
            "username": username, "email": f"{username}@ecole.test", "password": STAFF_PASSWORD,
            "first_name": "Fuzz", "last_name": role.capitalize(), "role": role,
        })
        if status != 201:
            sys.exit(f"ERREUR création du compte {role} : {status} {body}")
        tokens[role] = login(base, username, STAFF_PASSWORD)
    for role in ["ENSEIGNANT", "PARENT", "ELEVE"]:
        status, body = http("GET", f"{base}/api/v1/users/?role={role}&ordering=id&page_size=1", admin)
        if status != 200 or not body["results"]:
            sys.exit(f"ERREUR aucun compte {role} dans les données de démonstration : {status} {body}")
        tokens[role] = login(base, body["results"][0]["username"], DEMO_PASSWORD)
    return tokens


def schemathesis(base: str, who: str, token: str | None, args) -> dict:
    """One run; returns {"cases": n, "failures": Counter(check), "examples": {check: [..]}}."""
    report = OUT / f"{who.lower()}.ndjson"
    log = OUT / f"{who.lower()}.txt"
    command = [
        str(TARGET / "venv-fuzz" / "bin" / "schemathesis"), "run", f"{base}/api/v1/openapi.json",
        "--checks", "all",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", "2",
        "--no-color",
        "--generation-database", "none",
        # The API refuses the NUL character in every text (PostgreSQL cannot store it): a
        # documented 400, tested in tests/tests/securite.rs.
        "--generation-allow-x00", "false",
        "--request-timeout", "30",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]
    if args.max_time:
        command += ["--max-time", str(args.max_time)]
    if args.phases:
        command += ["--phases", args.phases]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    with open(log, "w") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=OUT)
    return summarize(report)


def summarize(report: Path) -> dict:
    failures: collections.Counter = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    cases = 0
    if not report.exists():
        return {"cases": 0, "failures": failures, "examples": examples, "missing": True}
    seen = set()
    for line in report.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        for key, value in event.items():
            if key == "ScenarioFinished":
                recorder = value.get("recorder") or {}
                cases += len(recorder.get("cases") or {})
                for checks in (recorder.get("checks") or {}).values():
                    for check in checks:
                        if str(check.get("status")).lower() != "failure":
                            continue
                        detail = (check.get("failure_info") or {}).get("failure") or {}
                        message = " ".join((detail.get("message") or "").split())
                        key_ = (check.get("name"), detail.get("operation"), detail.get("title"), message)
                        if key_ in seen:
                            continue
                        seen.add(key_)
                        failures[check.get("name")] += 1
                        examples[check.get("name")].append(
                            f"{detail.get('operation') or '?'} — {detail.get('title') or ''} : {message[:200]}"
                        )
    return {"cases": cases, "failures": failures, "examples": examples, "missing": False}


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzzing de l'API avec schemathesis, pour chaque rôle.")
    parser.add_argument("--court", action="store_true", help="passe courte (make test)")
    parser.add_argument("--max-examples", type=int, default=None, help="cas par opération")
    parser.add_argument("--max-time", type=int, default=None, help="durée maximale par rôle (s)")
    parser.add_argument("--phases", default=os.environ.get("FUZZ_PHASES"), help="phases de schemathesis (toutes par défaut)")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "2026")))
    parser.add_argument("--roles", default=os.environ.get("FUZZ_ROLES", ",".join(ROLES + ["ANONYME"])))
    args = parser.parse_args()
    if args.max_examples is None:
        args.max_examples = int(os.environ.get("FUZZ_MAX_EXAMPLES", "3" if args.court else "100"))
    if args.phases is None and args.court:
        # The short run (make test): generated cases only; the coverage and stateful phases
        # (boundary values, chains of calls) are for `make fuzz`.
        args.phases = "fuzzing"

    server = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"ecole_fuzz_{os.getpid()}"
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": with_database(server, name),
        "REDIS_URL": redis,
        "REDIS_PREFIX": name,
        "HTTP_BIND": f"127.0.0.1:{port}",
        "HTTP_WORKERS": "2",
        "SECRET_KEY": "fuzz-secret-key-0123456789-abcdefghijklmnop",
        "CORS_ALLOWED_ORIGINS": "https://app.ecole.test",
        "ACCESS_TOKEN_TTL_SECONDS": "86400",
        "MEDIA_ROOT": str(OUT / "media"),
        "BACKUP_DIR": str(OUT / "backups"),
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        "ECOLE_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
    }
    say(f"base {name} : migrations et données de démonstration")
    run_cli(env, "migrate")
    run_cli(env, "seed", "--eleves", "40", "--quiet")
    run_cli(env, "createsuperuser", "--username", "fuzz.admin", "--email", "fuzz.admin@ecole.test", "--no-input")
    api_log = open(OUT / "api.log", "w")
    api = subprocess.Popen([binary("ecole-api")], env=env, stdout=api_log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", f"{base}/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or api.poll() is not None:
                sys.exit(f"ERREUR l'API ne démarre pas (voir {OUT / 'api.log'})")
            time.sleep(0.1)
        tokens = accounts(base)
        totals: collections.Counter = collections.Counter()
        cases = 0
        gating_examples = []
        passed = failed = 0
        for who in [r.strip() for r in args.roles.split(",") if r.strip()]:
            if who != "ANONYME" and who not in tokens:
                sys.exit(f"ERREUR rôle inconnu : {who}")
            t0 = time.monotonic()
            result = schemathesis(base, who, tokens.get(who), args)
            if result["missing"]:
                sys.exit(f"ERREUR schemathesis n'a rien rapporté pour {who} (voir {OUT / (who.lower() + '.txt')})")
            cases += result["cases"]
            totals.update(result["failures"])
            if any(result["failures"][check] for check in GATING):
                failed += 1
            else:
                passed += 1
            found = ", ".join(f"{k} {v}" for k, v in sorted(result["failures"].items())) or "aucun constat"
            say(f"{who:<15} {result['cases']:>6} cas en {time.monotonic() - t0:5.1f} s : {found}")
            for check in sorted(result["failures"]):
                for example in result["examples"][check][:5]:
                    print(f"      {check} : {example}")
                if check in GATING:
                    gating_examples += result["examples"][check]
            if api.poll() is not None:
                sys.exit(f"ERREUR l'API s'est arrêtée pendant le fuzzing (voir {OUT / 'api.log'})")
        server_errors = totals["not_a_server_error"]
        schema = sum(v for k, v in totals.items() if k in GATING and k != "not_a_server_error")
        others = sum(v for k, v in totals.items() if k not in GATING)
        ok = server_errors == 0 and schema == 0
        print(
            f"fuzz : {cases} cas, {server_errors} erreur(s) serveur, {schema} écart(s) au schéma, "
            f"{others} autre(s) constat(s), {time.monotonic() - started:.0f} s — {'OK' if ok else 'ÉCHEC'}"
            f" (détails : {OUT})",
            flush=True,
        )
        # One run per identity, counted as a test (the closing line CI tools read).
        print(f"fuzz: {passed} passed, {failed} failed", flush=True)
        return 0 if ok else 1
    finally:
        api.send_signal(signal.SIGTERM)
        try:
            api.wait(timeout=20)
        except subprocess.TimeoutExpired:
            api.kill()
        if shutil.which("psql") and not os.environ.get("KEEP_TEST_DB"):
            subprocess.run(["psql", "-q", server, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                           capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
