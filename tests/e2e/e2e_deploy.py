"""`make e2e-deploy`: the production path, end to end, on the local Docker daemon.

Follows the README's first deployment (settings, `make up`, `make certs`, `make
createsuperuser`, `make backup`, `make check-deploy`) under a throwaway compose project, on
free loopback ports, with generated secrets, a pebble ACME server and 2 workers; then a
school's day over HTTPS through nginx; then the faults, with Docker's own verbs. Each check
prints `ok` or `ÉCHEC`; the last line is `N passed, N failed`.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
import scenario_api  # noqa: E402

DOMAIN = "ecole.e2e.test"
RESULTS = []
FIGURES = []


def log(msg):
    print(f"    {msg}", flush=True)


def check(name, ok, detail=""):
    RESULTS.append((name, bool(ok)))
    mark = "ok     " if ok else "ÉCHEC  "
    print(f"{mark}{name}" + (f" — {detail}" if detail else ""), flush=True)
    return ok


def figure(text):
    FIGURES.append(text)
    log(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_bin():
    try:
        subprocess.run(["docker", "buildx", "version"], check=True, capture_output=True)
        return "docker"
    except (OSError, subprocess.CalledProcessError):
        return "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


DOCKER = docker_bin()


class Stack:
    def __init__(self, work):
        self.work = work
        self.project = "ecole-e2e-" + secrets.token_hex(3)
        self.env_file = os.path.join(work, "ecole.env")
        self.https = free_port()
        self.http = free_port()
        self.base = f"https://127.0.0.1:{self.https}"
        self.env = dict(os.environ, ECOLE_ENV_FILE=self.env_file, COMPOSE_PROJECT_NAME=self.project,
                        ECOLE_COMPOSE_OVERRIDE=":".join(
                            [os.path.join(ROOT, "tests/e2e/docker-compose.e2e.yml")]
                            + ([os.environ["E2E_OVERRIDE"]] if os.environ.get("E2E_OVERRIDE") else [])))
        self.env.pop("ECOLE_IMAGE", None)
        if os.environ.get("E2E_IMAGE"):  # an image already built: no `make up` build
            self.env["ECOLE_IMAGE"] = os.environ["E2E_IMAGE"]
        self.env.pop("DOCKER", None)

    # -- commands ---------------------------------------------------------------------------
    def sh(self, args, check_rc=True, timeout=1800, env=None, quiet=False):
        started = time.monotonic()
        # Own process group: on a timeout the whole tree goes (a `docker build` left behind
        # by a killed `make up` kept compiling for minutes).
        with subprocess.Popen(args, cwd=ROOT, env=env or self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise
        p = subprocess.CompletedProcess(args, proc.returncode, out, err)
        if p.returncode != 0 and check_rc:
            sys.stdout.write(p.stdout[-4000:] + p.stderr[-4000:])
            raise RuntimeError(f"{' '.join(args)} : code {p.returncode}")
        if not quiet and p.returncode != 0:
            log(f"{' '.join(args)} → code {p.returncode}")
        p.seconds = time.monotonic() - started
        return p

    def make(self, *args, **kw):
        return self.sh(["make", "--no-print-directory", *args], **kw)

    def compose(self, *args, **kw):
        return self.sh(["bash", "scripts/compose.sh", "compose", *args], **kw)

    def ids(self, service):
        return self.compose("ps", "-q", service).stdout.split()

    def psql(self, sql):
        (pg,) = self.ids("postgres")
        p = self.sh([DOCKER, "exec", pg, "psql", "-U", "ecole", "-d", "ecole", "-At", "-c", sql])
        return p.stdout.strip()

    def inspect(self, cid, fmt):
        return self.sh([DOCKER, "inspect", "--format", fmt, cid]).stdout.strip()

    # -- setup ------------------------------------------------------------------------------
    def write_settings(self):
        pebble = os.path.join(self.work, "pebble")
        os.makedirs(pebble)
        # pebble's own HTTPS certificate, from a CA that certbot is told to trust.
        ca_key, ca = os.path.join(pebble, "ca.key"), os.path.join(pebble, "ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=ACME e2e CA", "-keyout", ca_key, "-out", ca], check=True, capture_output=True)
        key, csr, cert = (os.path.join(pebble, n) for n in ("key.pem", "cert.csr", "cert.pem"))
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pebble",
                        "-keyout", key, "-out", csr], check=True, capture_output=True)
        ext = os.path.join(pebble, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:pebble\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                        "-days", "2", "-extfile", ext, "-out", cert], check=True, capture_output=True)
        for name in os.listdir(pebble):
            os.chmod(os.path.join(pebble, name), 0o644)
        with open(os.path.join(pebble, "pebble.json"), "w") as f:
            json.dump({"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
                                  "certificate": "/e2e/cert.pem", "privateKey": "/e2e/key.pem",
                                  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
                                  "externalAccountBindingRequired": False}}, f)
        # The settings, as an administrator fills deploy/.env.example.
        with open(os.path.join(ROOT, "deploy/.env.example")) as f:
            example = f.read()
        values = {
            "SERVER_NAME": DOMAIN,
            "CERTBOT_EMAIL": "admin@ecole.e2e.test",
            "HTTP_PORT": str(self.http),
            "HTTPS_PORT": str(self.https),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "POSTGRES_PASSWORD": secrets.token_hex(24),
            "POSTGRES_APP_PASSWORD": secrets.token_hex(24),
            "REDIS_PASSWORD": secrets.token_hex(24),
            "CORS_ALLOWED_ORIGINS": f"https://{DOMAIN}",
            "PUBLIC_BASE_URL": f"https://{DOMAIN}",
            "SMTP_URL": "smtp://faux:2525",
            "ORANGE_CLIENT_ID": "e2e",
            "ORANGE_CLIENT_SECRET": "e2e-secret",
            "BACKUP_OFFSITE": "externe",
            "WORKER_REPLICAS": "2",
            "CERTS_DIR": os.path.join(self.work, "certs"),
            "ACME_SERVER": "https://pebble:14000/dir",
        }
        lines = []
        for line in example.splitlines():
            key = line.split("=", 1)[0]
            if "=" in line and not line.startswith("#") and key in values:
                line = f"{key}={values.pop(key)}"
            lines.append(line)
        lines += [f"{k}={v}" for k, v in values.items()]
        lines += ["ORANGE_API_BASE=http://faux:8080", "PUBLISH_ADDR=127.0.0.1", f"E2E_DIR={self.work}",
                  "SMS_SILENCE_DEBUT=off"]
        with open(self.env_file, "w") as f:
            f.write("\n".join(lines) + "\n")

    def served_certificate(self):
        pem = ssl.get_server_certificate(("127.0.0.1", self.https), timeout=10)
        p = subprocess.run(["openssl", "x509", "-noout", "-serial", "-issuer", "-enddate"], input=pem,
                           capture_output=True, text=True)
        return p.stdout

    def wait_certificate(self, predicate, timeout=120):
        deadline = time.monotonic() + timeout
        info = ""
        while time.monotonic() < deadline:
            try:
                info = self.served_certificate()
                if predicate(info):
                    return info
            except OSError:
                pass
            time.sleep(1)
        return None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(url, method="GET", headers=None, body=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx),
                                         urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def table_snapshot(stack):
    tables = stack.psql("SELECT string_agg(format('SELECT %L, count(*) FROM %I', tablename, tablename), "
                        "' UNION ALL ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
    rows = stack.psql(tables)
    return dict(line.split("|") for line in rows.splitlines())


def media_snapshot(stack):
    # The API mounts the media volume too, and is always running (a worker may be stopped).
    (api,) = stack.ids("api")
    p = stack.sh([DOCKER, "exec", api, "sh", "-c",
                  "cd /var/lib/ecole/media && find . -type f -exec sha256sum {} + | sort"])
    return p.stdout


def main():
    work = tempfile.mkdtemp(prefix="ecole-e2e-")
    os.chmod(work, 0o755)
    stack = Stack(work)
    stack.write_settings()
    print(f"projet {stack.project}, HTTPS 127.0.0.1:{stack.https}, dossier {work}", flush=True)
    try:
        run(stack)
    except Exception as e:  # noqa: BLE001 — any crash is one more failure, then the summary
        check(f"déroulé interrompu : {e}", False)
    finally:
        try:
            logs = stack.compose("logs", "--no-color", "--tail=80", check_rc=False, quiet=True).stdout
            with open(os.path.join(work, "logs.txt"), "w") as f:
                f.write(logs)
            if any(not ok for _, ok in RESULTS):
                print(f"journaux des conteneurs : {work}/logs.txt", flush=True)
            stack.compose("down", "-v", "--remove-orphans", "-t", "20", check_rc=False, quiet=True)
        finally:
            if all(ok for _, ok in RESULTS) and not os.environ.get("E2E_GARDER"):
                shutil.rmtree(work, ignore_errors=True)
    if FIGURES:
        print("Chiffres :")
        for f in FIGURES:
            print(f"  - {f}")
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def run(stack):
    # 1. Image and first start, as the README says: make up (self-signed certificate first).
    # The image build: over 30 min on a busy 2-core machine.
    p = stack.make("up", timeout=3600)
    image = open(os.path.join(stack.work, f".image-{stack.project}")).read().strip()
    stack.env.pop("ECOLE_IMAGE", None)
    size = int(stack.sh([DOCKER, "image", "inspect", "--format", "{{.Size}}", image]).stdout)
    base = int(stack.sh([DOCKER, "image", "inspect", "--format", "{{.Size}}", "debian:bookworm-slim"]).stdout)
    figure(f"make up (construction comprise) : {p.seconds:.0f} s ; image {image} : {size / 1e6:.0f} Mo "
           f"(dont base debian:bookworm-slim locale {base / 1e6:.0f} Mo)")
    # The local stand-in base (debootstrap) is larger than the official slim image (75 MB).
    check("image sous 150 Mo sur la base officielle (75 Mo)", size - base + 75e6 < 150e6,
          f"{(size - base) / 1e6:.0f} Mo au-dessus de la base")
    workers = stack.ids("worker")
    check("make up démarre WORKER_REPLICAS=2 workers", len(workers) == 2, f"{len(workers)}")
    for service in ("api", "worker", "beat", "nginx", "postgres", "redis"):
        for cid in stack.ids(service):
            health = stack.inspect(cid, "{{if .State.Health}}{{.State.Health.Status}}{{end}}")
            check(f"{service} en bonne santé (health check)", health == "healthy", health)

    # nginx, which faces the internet, cannot even resolve PostgreSQL or Redis.
    (ngx,) = stack.ids("nginx")
    for backend in ("postgres", "redis"):
        p = stack.sh([DOCKER, "exec", ngx, "getent", "hosts", backend], check_rc=False, quiet=True)
        check(f"nginx hors du réseau de {backend}", p.returncode != 0, p.stdout.strip())
    # The API's environment carries no owner password.
    (api_id,) = stack.ids("api")
    env_lines = stack.inspect(api_id, "{{range .Config.Env}}{{println .}}{{end}}")
    check("l'API se connecte en ecole_app, sans le mot de passe du propriétaire",
          "postgres://ecole_app:" in env_lines and "POSTGRES_PASSWORD=\n" in env_lines + "\n"
          and "@postgres:5432/ecole" in env_lines)

    # 2. Certificates: issued by the ACME server through nginx's webroot, then renewed.
    info = stack.served_certificate()
    check("certificat auto-signé provisoire servi", DOMAIN in info, info.splitlines()[1] if info else "")
    p = stack.sh(["make", "--no-print-directory", "certs", f"DOMAIN={DOMAIN}", "EMAIL=admin@ecole.e2e.test"])
    issued = stack.wait_certificate(lambda i: "Pebble" in i, 60)
    check("make certs : certificat ACME émis par le webroot et servi par nginx", issued is not None, issued or "")
    figure(f"make certs (pebble) : {p.seconds:.1f} s")
    if issued:
        serial = issued.splitlines()[0]
        started = time.monotonic()
        (cb,) = stack.ids("certbot")
        r = stack.sh([DOCKER, "exec", cb, "sh", "/opt/ecole/renouveler.sh", "--une-fois", "--force-renewal"],
                     check_rc=False)
        renewed = stack.wait_certificate(lambda i: "Pebble" in i and i.splitlines()[0] != serial, 90)
        check("renouvellement (service certbot) puis rechargement de nginx sans redémarrage",
              r.returncode == 0 and renewed is not None, (r.stdout + r.stderr)[-300:])
        figure(f"renouvellement forcé jusqu'au nouveau certificat servi : {time.monotonic() - started:.1f} s")

    # 3. First administrator, backup, pre-production checklist.
    admin_pw = "Adm-" + secrets.token_urlsafe(12)
    env = dict(stack.env, ECOLE_SUPERUSER_USERNAME="directeur", ECOLE_SUPERUSER_PASSWORD=admin_pw,
               ECOLE_SUPERUSER_EMAIL="directeur@ecole.e2e.test")
    p = stack.sh(["make", "--no-print-directory", "createsuperuser"], env=env, check_rc=False)
    check("make createsuperuser dans les conteneurs", p.returncode == 0, (p.stdout + p.stderr)[-300:])
    p = stack.make("backup", check_rc=False)
    check("make backup", p.returncode == 0, (p.stdout + p.stderr)[-300:])
    p = stack.make("check-deploy", check_rc=False)
    check("make check-deploy sans ERREUR", p.returncode == 0, "\n" + p.stdout + p.stderr)
    out = p.stdout
    for needle in ("certificat servi", "2 worker(s) actif(s)", "UTF8"):
        check(f"check --deploy vérifie : {needle}", needle in out)

    # 4. A school's day over HTTPS through nginx.
    started = time.monotonic()
    facts = scenario_api.scenario(stack.base, "directeur", admin_pw, insecure=True, log=log)
    check("scénario HTTPS complet (connexion, année, classe, 30 élèves, notes, bulletins, PDF, paiement, reçu, parent)",
          True)
    figure(f"scénario : {time.monotonic() - started:.1f} s")
    api = scenario_api.Api(stack.base, insecure=True)
    api.login("directeur", admin_pw)
    # The PDF went through X-Accel-Redirect: the API itself answers with the header, no body.
    (ngx,) = stack.ids("nginx")
    p = stack.sh([DOCKER, "exec", ngx, "wget", "-S", "-O", "/dev/null",
                  "--header", f"Authorization: Bearer {api.token}",
                  f"http://api:8000{facts['bulletin_pdf_path']}"], check_rc=False)
    check("PDF servi par nginx (X-Accel-Redirect de l'API)",
          "x-accel-redirect: /_media_protege/" in p.stderr.lower(),
          p.stderr[-300:])
    journal = journal_faux(stack)
    check("reçu et notifications envoyés (e-mails ou SMS reçus par les faux services)",
          len(journal["emails"]) + len(journal["sms"]) > 0,
          f"{len(journal['emails'])} e-mail(s), {len(journal['sms'])} SMS")
    for path in ("/metrics", "/metrics/", "/metrics//", "/metrics/x"):
        status, _, _ = http(stack.base + path)
        check(f"{path} fermé de l'extérieur", status in (403, 404), str(status))
    status, headers, body = http(f"http://127.0.0.1:{stack.http}/api/v1/users/me/")
    check("HTTP redirigé vers HTTPS", status == 301, str(status))

    # Memory of each container after the day, then after 10 more logins (argon2, 19 MiB each).
    figure("mémoire après le scénario : " + memory(stack))
    for _ in range(10):
        scenario_api.Api(stack.base, insecure=True).login("directeur", admin_pw)
    figure("mémoire après 10 connexions de plus : " + memory(stack, "api"))

    # 5. Faults.
    fault_worker_killed(stack, api)
    fault_postgres_restart(stack, api)
    fault_down_up(stack)
    fault_scale(stack)
    fault_backup_restore(stack)
    fault_deploy_rollback(stack)
    throttling(stack)


def memory(stack, only=None):
    ids = stack.compose("ps", "-q", *([only] if only else [])).stdout.split()
    p = stack.sh([DOCKER, "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *ids])
    return "; ".join(line.replace(stack.project + "_", "").split(" / ")[0]
                     for line in sorted(p.stdout.splitlines()))


def journal_faux(stack):
    """What the SMTP sink and the fake SMS API received (asked inside their container)."""
    (faux,) = stack.ids("faux")
    p = stack.sh([DOCKER, "exec", faux, "python3", "-c",
                  "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/_journal').read().decode())"])
    return json.loads(p.stdout)


def fault_worker_killed(stack, api):
    """docker kill a worker in the middle of the PDF jobs: every PDF is still made, once."""
    # Enough PDFs (a few ms each) for the jobs to run several seconds: a watch started after
    # the generation request still finds one running.
    MASSE = 3000
    year, period, klass, subject = stack.psql(
        "SELECT b.annee_scolaire_id, b.periode, b.classe_id, n.matiere_id FROM bulletins b "
        "JOIN notes n ON n.classe_id = b.classe_id ORDER BY b.id DESC LIMIT 1").split("|")
    admin = stack.psql("SELECT id FROM users WHERE username = 'directeur'")
    stack.psql(f"""
        WITH u AS (INSERT INTO users (username, email, password_hash, first_name, last_name, role)
                   SELECT 'masse' || g, NULL, '!', 'Élève', 'Nº' || g, 'ELEVE' FROM generate_series(1, {MASSE}) g
                   RETURNING id, username)
        INSERT INTO eleves (user_id, matricule, classe_actuelle_id, sexe, date_admission)
        SELECT id, 'M/' || username, {klass}, 'F', current_date - 30 FROM u""")
    stack.psql(f"""
        INSERT INTO notes (eleve_id, matiere_id, classe_id, annee_scolaire_id, periode, type_note, valeur, sur,
                           date_evaluation, saisie_par)
        SELECT e.id, {subject}, {klass}, {year}, '{period}', 'DEVOIR', (e.id % 20), 20, current_date - 1, {admin}
        FROM eleves e JOIN users u ON u.id = e.user_id WHERE u.username LIKE 'masse%'""")
    before = int(stack.psql("SELECT coalesce(max(id), 0) FROM jobs"))
    status, body = api.request("POST", "/api/v1/bulletins/generer/",
                               {"annee_scolaire": int(year), "periode": period, "classe": int(klass),
                                "force": True})[0:3:2]
    check(f"génération de {MASSE + 30} bulletins demandée", status == 202, f"{status} {body}")
    # Watch from inside the database container (a psql every few ms, not a docker exec each).
    (pg,) = stack.ids("postgres")
    watch = (f"end=$(( $(date +%s) + 120 )); while [ $(date +%s) -lt $end ]; do "
             f"w=$(psql -U ecole -d ecole -At -c \"SELECT worker FROM jobs WHERE id > {before} "
             "AND status = 'EN_COURS' AND name = 'pedagogie.generer_bulletin_pdf' LIMIT 1\"); "
             '[ -n "$w" ] && { echo "$w"; exit 0; }; done; exit 1')
    p = stack.sh([DOCKER, "exec", pg, "sh", "-c", watch], check_rc=False, timeout=180)
    running = p.stdout.strip()
    victim = next((cid for cid in stack.ids("worker") if running and f"worker-{cid[:12]}-" in running), None)
    check("un worker pris en plein PDF", victim is not None)
    if victim is None:
        return
    killed_at = time.monotonic()
    stack.sh([DOCKER, "kill", victim])
    deadline = time.monotonic() + 240
    total = int(stack.psql(f"SELECT count(*) FROM bulletins WHERE classe_id = {klass} AND periode = '{period}'"))
    while time.monotonic() < deadline:
        pending = int(stack.psql(f"SELECT count(*) FROM jobs WHERE id > {before} AND status IN ('EN_ATTENTE', 'EN_COURS')"))
        if pending == 0:
            break
        time.sleep(1)
    elapsed = time.monotonic() - killed_at
    rows = stack.psql(f"SELECT count(*) FILTER (WHERE status = 'SUCCES'), count(*) FILTER (WHERE status = 'ECHEC'), "
                      f"count(*) FROM jobs WHERE id > {before} AND name = 'pedagogie.generer_bulletin_pdf'")
    ok_jobs, failed_jobs, all_jobs = (int(x) for x in rows.split("|"))
    with_pdf = int(stack.psql(f"SELECT count(*) FROM bulletins WHERE classe_id = {klass} AND periode = '{period}' "
                              "AND fichier_pdf IS NOT NULL"))
    check("worker tué : chaque PDF fait, une fois (un job réussi par bulletin, aucun en échec)",
          ok_jobs == total and failed_jobs == 0 and with_pdf == total,
          f"{ok_jobs} jobs SUCCES / {all_jobs}, {failed_jobs} ECHEC, {with_pdf} bulletins avec PDF sur {total}")
    figure(f"docker kill d'un worker en plein PDF : {total} bulletins, {ok_jobs} PDF, tout fini {elapsed:.1f} s "
           f"après le kill")
    # `docker kill` is an operator's stop: Docker does not restart it; `make up` does.
    started = time.monotonic()
    ok = stack.sh(["make", "--no-print-directory", "up"], env=dict(stack.env, NO_BUILD="1"),
                  check_rc=False).returncode == 0
    running = [c for c in stack.ids("worker") if stack.inspect(c, "{{.State.Status}}") == "running"]
    check("après docker kill, make up remet le worker arrêté en service", ok and len(running) == 2,
          f"{len(running)} worker(s) en marche")
    figure(f"make up après docker kill d'un worker : {time.monotonic() - started:.1f} s")
    # A crash (the process killed from outside, as the kernel's OOM killer does) is not a stop:
    # Docker restarts the container (restart: unless-stopped) and it becomes healthy again.
    victim = running[0]
    restarts = int(stack.inspect(victim, "{{.RestartCount}}"))
    pid = stack.inspect(victim, "{{.State.Pid}}")
    crashed_at = time.monotonic()
    stack.sh(["kill", "-9", pid])
    deadline = time.monotonic() + 120
    state = ""
    while time.monotonic() < deadline:
        state = stack.inspect(victim, "{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}}")
        count, status, health = state.split()
        if int(count) > restarts and status == "running" and health == "healthy":
            break
        time.sleep(1)
    check("un worker qui plante (kill -9 du processus) est relancé par Docker et redevient sain",
          state.split()[0] != str(restarts) and state.endswith("running healthy"), state)
    figure(f"worker planté : relancé et sain en {time.monotonic() - crashed_at:.1f} s")


def fault_postgres_restart(stack, api):
    """docker restart PostgreSQL under load: 503s, no 500, recovery time."""
    result = {}
    t = threading.Thread(target=lambda: result.update(
        scenario_api.load(stack.base, api.token, seconds=40, concurrency=8, insecure=True)))
    t.start()
    time.sleep(8)
    (pg,) = stack.ids("postgres")
    restart_at = time.time()
    stack.sh([DOCKER, "restart", "-t", "10", pg])
    back_at = time.time()
    t.join()
    counts = result.get("counts", {})
    timeline = result.get("timeline", [])
    first_ok = next((ts for ts, st in timeline if ts > back_at and st == 200), None)
    bad = {k: v for k, v in counts.items() if int(k) not in (200, 503)}
    check("PostgreSQL relancé sous charge : aucune 500 ni erreur de connexion (503 seulement)", not bad,
          json.dumps(counts))
    recovery = (first_ok - back_at) if first_ok else None
    check("retour au service après la relance", recovery is not None and recovery < 30, f"{recovery}")
    figure(f"docker restart postgres sous charge (8 clients, 40 s) : réponses {json.dumps(counts)}, relance "
           f"{back_at - restart_at:.1f} s, première réussite {recovery if recovery is None else round(recovery, 2)} s "
           f"après, latence max {result.get('max_latency', 0):.2f} s")


def stop_and_exit_codes(stack):
    started = time.monotonic()
    ids = stack.compose("ps", "-q").stdout.split()
    stack.compose("stop")
    took = time.monotonic() - started
    codes = {}
    for cid in ids:
        name, code = stack.inspect(cid, "{{.Name}} {{.State.ExitCode}}").split()
        codes[name.lstrip("/")] = int(code)
    return codes, took


def fault_down_up(stack):
    """docker compose down then up: every row and file is still there; every container exits 0."""
    tables, media = table_snapshot(stack), media_snapshot(stack)
    codes, took = stop_and_exit_codes(stack)
    # pebble and faux are the test's fakes, not part of the product.
    nonzero = {k: v for k, v in codes.items() if v != 0 and "pebble" not in k and "faux" not in k}
    check("arrêt : chaque conteneur sort avec le code 0 dans son délai", not nonzero, json.dumps(nonzero))
    figure(f"arrêt de la pile ({len(codes)} conteneurs) : {took:.1f} s, codes de sortie non nuls : {nonzero or 'aucun'}")
    stack.compose("down")
    started = time.monotonic()
    stack.sh(["make", "--no-print-directory", "up"], env=dict(stack.env, NO_BUILD="1"))
    figure(f"redémarrage après down (sans construction) jusqu'à tous sains : {time.monotonic() - started:.1f} s")
    after_tables, after_media = table_snapshot(stack), media_snapshot(stack)
    diff = {k: (v, after_tables.get(k)) for k, v in tables.items()
            if v != after_tables.get(k) and k not in ("process_heartbeats", "jobs")}
    check("down puis up : toutes les lignes sont là", not diff, json.dumps(diff))
    check("down puis up : tous les fichiers sont là, identiques", media == after_media,
          f"{len(media.splitlines())} fichiers")


def fault_scale(stack):
    """Scale workers to 3 and back to WORKER_REPLICAS."""
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=3")
    ok = stack.sh(["bash", "scripts/compose.sh", "wait", "120"], check_rc=False).returncode == 0
    n = len(stack.ids("worker"))
    time.sleep(12)
    beats = stack.psql("SELECT count(*) FROM process_heartbeats WHERE kind = 'worker' AND seen_at > now() - interval '30 seconds'")
    check("3 workers en service", ok and n == 3 and beats == "3", f"{n} conteneurs, {beats} battements")
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=2")
    n = len(stack.ids("worker"))
    (api,) = stack.ids("api")
    # core.debug is refused in production: the daily purge is as quick and harmless.
    p = stack.sh([DOCKER, "exec", api, "ecole", "enqueue-job", "core.purger_donnees"])
    found = re.search(r"Job (\d+)", p.stdout)
    job = found.group(1) if found else ""
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and job:
        status = stack.psql(f"SELECT status FROM jobs WHERE id = {job}")
        if status == "SUCCES":
            break
        time.sleep(0.5)
    check("retour à 2 workers, les jobs tournent", n == 2 and status == "SUCCES", f"{n} workers, job {job} {status}")


def fault_backup_restore(stack):
    """make backup, then make restore into a fresh volume: identical tables."""
    p = stack.make("backup")
    name = next((w for w in p.stdout.split() if w.endswith(".dump")), "")
    check("make backup écrit une sauvegarde", bool(name), p.stdout[-200:])
    if not name:
        return
    (worker, *_) = stack.ids("worker")
    local = os.path.join(stack.work, os.path.basename(name))
    for suffix in ("", ".sha256"):
        stack.sh([DOCKER, "cp", f"{worker}:{name}{suffix}", local + suffix])
    before = table_snapshot(stack)
    codes, _ = stop_and_exit_codes(stack)
    stack.compose("down", "-v")
    stack.sh(["make", "--no-print-directory", "up"], env=dict(stack.env, NO_BUILD="1"))
    empty = table_snapshot(stack)
    check("nouveau volume PostgreSQL vide", int(empty.get("eleves", 0)) == 0, empty.get("eleves"))
    started = time.monotonic()
    p = stack.sh(["make", "--no-print-directory", "restore", f"FILE={local}", "FORCE=1"], check_rc=False)
    check("make restore", p.returncode == 0, (p.stdout + p.stderr)[-500:])
    figure(f"make restore dans un volume neuf (arrêt, restauration, redémarrage sain) : {time.monotonic() - started:.1f} s")
    after = table_snapshot(stack)
    diff = {k: (v, after.get(k)) for k, v in before.items()
            if v != after.get(k) and k not in ("process_heartbeats", "jobs")}
    check("tables identiques après restauration", not diff, json.dumps(diff))
    # The application role still has its rights after the restore.
    status, _, _ = http(stack.base + "/health/ready")
    check("API prête après la restauration", status == 200, str(status))


def fault_deploy_rollback(stack):
    """deploy.sh fails closed: an ERREUR of check --deploy puts the previous image back."""
    current = open(os.path.join(stack.work, f".image-{stack.project}")).read().strip()
    previous = "ecole:e2e-precedente"
    stack.sh([DOCKER, "tag", current, previous])
    with open(os.path.join(stack.work, f".image-{stack.project}"), "w") as f:
        f.write(previous)
    stack.sh(["make", "--no-print-directory", "up"], env=dict(stack.env, ECOLE_IMAGE=previous))
    with open(stack.env_file) as f:
        settings = f.read()
    with open(stack.env_file, "w") as f:
        f.write(settings.replace("SMTP_URL=smtp://faux:2525", "SMTP_URL=smtp://nulle-part.invalid:2525"))
    p = stack.sh(["bash", "deploy/deploy.sh", "--no-pull"], check_rc=False, timeout=1200)
    out = p.stdout + p.stderr
    (api,) = stack.ids("api")
    running = stack.inspect(api, "{{.Config.Image}}")
    check("deploy.sh s'arrête sur une ERREUR de check --deploy et remet l'image précédente",
          p.returncode != 0 and "retour à l'image précédente" in out and running == previous,
          f"code {p.returncode}, image en service {running}")
    with open(stack.env_file, "w") as f:
        f.write(settings)
    p = stack.sh(["bash", "deploy/deploy.sh", "--no-pull"], check_rc=False, timeout=1200)
    check("deploy.sh réussit quand tout est vert", p.returncode == 0, (p.stdout + p.stderr)[-600:])
    figure(f"deploy/deploy.sh --no-pull (image en cache) : {p.seconds:.0f} s")


def throttling(stack):
    """nginx's limit_req on auth/: 429 in the API's JSON error format (run last: it throttles)."""
    statuses = []
    last = None
    for i in range(80):
        status, headers, body = http(stack.base + "/api/v1/auth/login/", "POST",
                                     {"Content-Type": "application/json"},
                                     json.dumps({"username": f"inconnu{i}", "password": "x"}).encode())
        statuses.append(status)
        if status == 429:
            last = (headers, body)
    n429 = statuses.count(429)
    # nginx's own body (the API's is compact JSON): the limit is nginx's, not only the API's.
    ok = last is not None and last[1].startswith(b'{"detail": ') and json.loads(last[1]).get("code") == "throttled"
    check("limit_req de nginx sur auth/ : 429 au format d'erreur JSON de l'API", n429 > 0 and ok,
          f"{n429} × 429 sur 80, corps {last[1][:80] if last else b''!r}")


if __name__ == "__main__":
    sys.exit(main())
