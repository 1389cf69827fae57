"""A black-box client of École's REST API for `make e2e-deploy` (Python 3.11, standard library only).

It talks HTTP(S) to a running stack exactly as a frontend would: nothing here reads the
database or the files. Three entry points:

- `Api`: a small JSON client (Bearer token, refresh on 401, no redirect following, no proxy).
- `scenario(...)`: a school's day (year, periods, class, subjects, 30 pupils with their
  parents, grades, report cards and their PDFs, fees, an invoice, an idempotent payment, its
  receipt, the parent's own view). Every step is checked; the first failed check raises an
  `AssertionError` whose message (in French) names the step, the request and the answer.
  Returns the facts the caller needs afterwards (ids, paths, credentials, timings).
- `load(...)`: authenticated GETs from several threads for a while, to watch a fault and the
  recovery after it.

Usage from the command line (prints the facts as JSON):

    python3 tests/e2e/scenario_api.py https://127.0.0.1:8443 admin 'mot-de-passe' --insecure
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import random
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from fractions import Fraction

API = "/api/v1"

# Jobs (`jobs/<id>/`): statuses as the API writes them.
JOB_EN_COURS = ("EN_ATTENTE", "EN_COURS")
JOB_SUCCES = "SUCCES"
JOB_ECHEC = "ECHEC"

# Pupil names (UTF-8 on purpose: they end up in JSON, PDFs, e-mails and SMS).
PRENOMS_F = ["Mariama", "Fatoumata", "Aïssatou", "Kadiatou", "Oumou", "Hawa", "Nènè", "Djénabou",
             "Mabinty", "Saran"]
PRENOMS_M = ["Mamadou", "Ibrahima", "Alpha", "Ousmane", "Sékou", "Thierno", "Lansana", "Moussa",
             "Abdoulaye", "Fodé"]
NOMS = ["Diallo", "Bah", "Barry", "Camara", "Condé", "Soumah", "Sylla", "Touré", "Keïta", "Sow",
        "Kourouma", "Cissé", "Baldé", "Kaba", "Doumbouya"]


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at (HTTP → HTTPS 301), not something to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        return None


class Api:
    """A small JSON client of the API.

    `request` returns `(status, headers, body)`: `headers` is case-insensitive
    (`headers.get("Content-Type")`), `body` the decoded JSON (or `None` when empty), or the raw
    bytes when `raw=True` or when the answer is not JSON (a PDF, nginx's HTML page…).
    Network errors (refused, reset, timeout) are raised as `OSError`/`http.client.HTTPException`.
    """

    def __init__(self, base_url: str, *, cafile: str | None = None, insecure: bool = False,
                 timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token: str | None = None
        self.refresh_token: str | None = None
        self.user: dict | None = None
        handlers: list = [urllib.request.ProxyHandler({}), _NoRedirect()]
        if self.base_url.startswith("https://"):
            ctx = ssl.create_default_context(cafile=cafile)
            if insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        self._opener = urllib.request.build_opener(*handlers)

    # -- raw HTTP ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method, path, body=None, *, headers=None, raw=False, auth=True,
                refresh=True):
        """One request. `body`: a JSON-serialisable value, or `bytes` sent as they are.
        On a 401 with a refresh token, the pair is renewed once and the request sent again."""
        hdrs = {"Accept": "*/*" if raw else "application/json", "User-Agent": "ecole-e2e/1"}
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            else:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                hdrs["Content-Type"] = "application/json"
        if auth and self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url(path), data=data, method=method.upper(),
                                     headers=hdrs)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status, rheaders, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, rheaders = e.code, e.headers
            try:
                payload = e.read()
            except (OSError, http.client.HTTPException):
                payload = b""
            finally:
                e.close()
        if (status == 401 and auth and refresh and self.refresh_token
                and "/auth/" not in path and self._refresh()):
            return self.request(method, path, body, headers=headers, raw=raw, auth=auth,
                                refresh=False)
        return status, rheaders, self._decode(rheaders, payload, raw)

    @staticmethod
    def _decode(headers, payload: bytes, raw: bool):
        if raw:
            return payload
        if not payload:
            return None
        if "json" in (headers.get("Content-Type") or ""):
            try:
                return json.loads(payload.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return payload
        return payload

    # -- authentication ---------------------------------------------------------------------

    def login(self, username, password) -> None:
        """`POST auth/login/`; keeps the access token (and the refresh token). A 429 (nginx's or
        the API's throttling) is waited out (Retry-After, at most 3 times)."""
        for _ in range(4):
            status, headers, body = self.request(
                "POST", f"{API}/auth/login/", {"username": username, "password": password},
                auth=False)
            if status != 429:
                break
            time.sleep(min(float(headers.get("Retry-After") or 5), 65))
        _verifier(status == 200,
                  f"connexion de « {username} » : HTTP {status} (attendu 200) — {_extrait(body)}")
        _verifier(isinstance(body, dict) and body.get("access") and body.get("refresh"),
                  f"connexion de « {username} » : jetons absents — {_extrait(body)}")
        self.token, self.refresh_token = body["access"], body["refresh"]
        self.user = body.get("user")

    def _refresh(self) -> bool:
        status, _, body = self.request("POST", f"{API}/auth/refresh/",
                                       {"refresh": self.refresh_token}, auth=False)
        if status == 200 and isinstance(body, dict) and body.get("access"):
            self.token, self.refresh_token = body["access"], body.get("refresh",
                                                                       self.refresh_token)
            return True
        return False

    # -- checked calls ----------------------------------------------------------------------

    def ok(self, method, path, body=None, *, status=200, what=None, headers=None, raw=False):
        """`request` that must answer `status` (an int or a tuple); returns the body."""
        return self.ok_full(method, path, body, status=status, what=what, headers=headers,
                            raw=raw)[1]

    def ok_full(self, method, path, body=None, *, status=200, what=None, headers=None,
                raw=False):
        """Same, returns `(headers, body)`."""
        expected = (status,) if isinstance(status, int) else tuple(status)
        got, rheaders, rbody = self.request(method, path, body, headers=headers, raw=raw)
        if got not in expected:
            attendu = " ou ".join(str(s) for s in expected)
            raise AssertionError(f"{what or 'requête'} : {method} {path} → HTTP {got} "
                                 f"(attendu {attendu}) — {_extrait(rbody)}")
        return rheaders, rbody


def _extrait(body, limit=600) -> str:
    if body is None:
        return "corps vide"
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body[:limit]).decode("utf-8", "replace")
    else:
        text = json.dumps(body, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _verifier(condition, message) -> None:
    if not condition:
        raise AssertionError(message)


# --------------------------------------------------------------------------------------------
# Small helpers of the scenario
# --------------------------------------------------------------------------------------------

def _aujourdhui() -> dt.date:
    """Today in Conakry (UTC+0, no daylight saving): the server's `today`."""
    return dt.datetime.now(dt.timezone.utc).date()


def _tous(api: Api, path: str, what: str) -> list:
    """Every result of a paginated list (`{"count", "next", "previous", "results"}`), page by
    page with `?page=` (the absolute `next` URL is not followed: behind a proxy its host may be
    the internal one)."""
    sep = "&" if "?" in path else "?"
    results: list = []
    page = 1
    while True:
        body = api.ok("GET", f"{path}{sep}page_size=200&page={page}", what=what)
        _verifier(isinstance(body, dict) and isinstance(body.get("results"), list),
                  f"{what} : liste paginée attendue — {_extrait(body)}")
        results.extend(body["results"])
        if not body.get("next") or page >= 50:
            break
        page += 1
    _verifier(len(results) == body["count"],
              f"{what} : {len(results)} résultats reçus pour count={body['count']}")
    return results


def _compte(api: Api, path: str, what: str) -> int:
    sep = "&" if "?" in path else "?"
    body = api.ok("GET", f"{path}{sep}page_size=1", what=what)
    _verifier(isinstance(body, dict) and isinstance(body.get("count"), int),
              f"{what} : champ count attendu — {_extrait(body)}")
    return body["count"]


def _attendre_job(api: Api, status_url: str, timeout: float, what: str) -> dict:
    """Polls `jobs/<id>/` until SUCCES (returned) or ECHEC / the timeout (AssertionError)."""
    deadline = time.monotonic() + timeout
    pause = 0.2
    while True:
        job = api.ok("GET", status_url, what=f"{what} (suivi du job)")
        statut = job.get("status")
        if statut == JOB_SUCCES:
            return job
        _verifier(statut != JOB_ECHEC,
                  f"{what} : le job {job.get('id')} ({job.get('name')}) a échoué après "
                  f"{job.get('attempts')} tentative(s) — {job.get('error')}")
        _verifier(statut in JOB_EN_COURS, f"{what} : statut de job inconnu — {_extrait(job)}")
        _verifier(time.monotonic() < deadline,
                  f"{what} : job {job.get('id')} toujours {statut} après {timeout:.0f} s "
                  f"(progression {job.get('progress')})")
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)


def _attendre(condition, timeout: float, message, pause: float = 0.3):
    """Calls `condition()` until it returns something true (returned); AssertionError after
    `timeout` with `message()` (a callable, to describe the last state)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        _verifier(time.monotonic() < deadline, message())
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)


def _verifier_pdf(headers, body, what: str) -> str:
    """Checks a PDF answer (type, disposition, magic bytes); returns its SHA-256."""
    ctype = headers.get("Content-Type") or ""
    _verifier(ctype.startswith("application/pdf"),
              f"{what} : Content-Type « {ctype} » au lieu de application/pdf")
    _verifier(isinstance(body, (bytes, bytearray)) and bytes(body[:5]) == b"%PDF-",
              f"{what} : le corps ne commence pas par %PDF- — {_extrait(body, 80)}")
    _verifier(b"%%EOF" in bytes(body[-1024:]), f"{what} : PDF tronqué (pas de %%EOF final)")
    disposition = headers.get("Content-Disposition") or ""
    _verifier("attachment" in disposition and ".pdf" in disposition,
              f"{what} : Content-Disposition inattendu « {disposition} »")
    return hashlib.sha256(body).hexdigest()


def _arrondi_centimes(x: Fraction) -> int:
    """Half-up to hundredths, as the server stores averages (x ≥ 0)."""
    return int((x * 100 + Fraction(1, 2)) // 1)


def _rangs(valeurs: list) -> list:
    """Competition ranks (1, 2, 2, 4), higher is better, with the ex-aequo flag."""
    out = []
    for v in valeurs:
        better = sum(1 for w in valeurs if w > v)
        same = sum(1 for w in valeurs if w == v)
        out.append((better + 1, same > 1))
    return out


def _note(i: int, j: int, type_note: str) -> float:
    """The grade of pupil `i` in subject `j` (out of 20, halves and quarters, spread out)."""
    if type_note == "COMPOSITION":
        return ((i * 53 + j * 17 + 7) % 81) / 4
    return ((i * 37 + j * 11 + 5) % 41) / 2


def _telephone(rng: random.Random) -> tuple[str, str]:
    """A Guinean mobile number as typed (`+224 62x xx xx xx`) and as the API stores it."""
    digits = "6" + rng.choice("2356") + "".join(rng.choice("0123456789") for _ in range(7))
    typed = f"+224 {digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"
    return typed, "+224" + digits


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------

class _Etapes:
    def __init__(self, log):
        self.log = log
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, cle: str, titre: str):
        self.log(f"▶ {titre}")
        started = time.monotonic()
        try:
            yield
        except AssertionError as e:
            raise AssertionError(f"étape « {titre} » : {e}") from None
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError(f"étape « {titre} » : erreur réseau — "
                                 f"{type(e).__name__}: {e}") from None
        took = time.monotonic() - started
        self.timings[cle] = round(took, 3)
        self.log(f"✔ {titre} ({took:.1f} s)")


def scenario(base_url, admin_username, admin_password, *, cafile=None, insecure=False, log=print,
             pupils: int = 30, ready_timeout: float = 60, job_timeout: float = 180,
             receipt_timeout: float = 120, workers: int = 4) -> dict:
    """Black-box school day, as a frontend would do it, through HTTP(S). Raises AssertionError
    (message in French) at the first failed check. Returns facts: ids of the year, class,
    pupils, bulletins, one bulletin id with its PDF path, the invoice and payment ids, the
    receipt, the parent's credentials, timings in seconds of each step.

    Safe to run again on the same database: the year and its periods are reused, everything
    else gets a random suffix."""
    _verifier(pupils >= 2, "il faut au moins 2 élèves (le parent de l'un ne doit pas voir l'autre)")
    started = time.monotonic()
    etape = _Etapes(log)
    api = Api(base_url, cafile=cafile, insecure=insecure)
    suffixe = uuid.uuid4().hex[:6].upper()
    rng = random.Random(suffixe)
    today = _aujourdhui()
    facts: dict = {"base_url": api.base_url, "suffix": suffixe, "date": today.isoformat()}
    log(f"Scénario e2e « {suffixe} » sur {api.base_url} ({pupils} élèves, {today.isoformat()})")

    # 1. ---------------------------------------------------------------------------------------
    with etape("1_sante_connexion", "1. santé de la pile et connexion de l'administrateur"):
        def pret():
            try:
                status, _, body = api.request("GET", "/health/ready", auth=False)
            except (OSError, http.client.HTTPException) as e:
                if isinstance(getattr(e, "reason", e), ssl.SSLError):
                    raise AssertionError(f"/health/ready : TLS refusé — {e}") from None
                pret.last = f"{type(e).__name__}: {e}"
                return None
            pret.last = f"HTTP {status} — {_extrait(body)}"
            return body if status == 200 else None
        pret.last = "aucune réponse"
        body = _attendre(pret, ready_timeout,
                         lambda: f"/health/ready pas prêt après {ready_timeout:.0f} s : {pret.last}",
                         pause=1.0)
        _verifier(isinstance(body, dict) and body.get("status") == "ok"
                  and body.get("postgresql") == "ok" and body.get("redis") == "ok",
                  f"/health/ready : PostgreSQL et Redis « ok » attendus — {_extrait(body)}")
        status, _, body = api.request("GET", f"{API}/users/me/", auth=False)
        _verifier(status == 401, f"users/me/ sans jeton : HTTP {status} au lieu de 401")
        api.login(admin_username, admin_password)
        me = api.ok("GET", f"{API}/users/me/", what="profil de l'administrateur")
        _verifier(me.get("username") == admin_username and me.get("role") in ("ADMIN", "DIRECTION"),
                  f"users/me/ : ADMIN « {admin_username} » attendu — {_extrait(me)}")
        facts["admin_user"] = me["id"]

    # 2. ---------------------------------------------------------------------------------------
    with etape("2_structure", "2. année scolaire active, périodes, classe, matières, enseignements"):
        annee = _annee_du_jour(api, today, log)
        periode = _periode_du_jour(api, annee, today, log)
        facts.update(year=annee["id"], year_name=annee["nom"], period=periode["id"],
                     period_code=periode["code"])

        classe_nom = f"7ème E2E-{suffixe}"
        classe = api.ok("POST", f"{API}/classes/",
                        {"niveau": "SEPTIEME", "nom": classe_nom, "annee_scolaire": annee["id"],
                         "capacite": 60, "bareme": 20},
                        status=201, what="création de la classe")
        _verifier(classe.get("nom") == classe_nom and classe.get("annee_scolaire") == annee["id"]
                  and classe.get("bareme") == 20 and classe.get("niveau") == "SEPTIEME",
                  f"classe créée inattendue — {_extrait(classe)}")
        double = api.request("POST", f"{API}/classes/",
                             {"niveau": "SEPTIEME", "nom": classe_nom, "annee_scolaire": annee["id"]})
        _verifier(double[0] == 400 and "nom" in (double[2] or {}),
                  f"une 2e classe du même nom doit être refusée (400 sur « nom ») : HTTP {double[0]} "
                  f"— {_extrait(double[2])}")

        # (code, name, subject coefficient, coefficient of the class, None = the subject's)
        definitions = [(f"MATH_{suffixe}", "Mathématiques", 4, None),
                       (f"FR_{suffixe}", "Français", 3, None),
                       (f"HG_{suffixe}", "Histoire-Géographie", 2, 1)]
        matieres = []
        for code, nom, coef, coef_classe in definitions:
            m = api.ok("POST", f"{API}/matieres/",
                       {"code": code.lower(), "nom": f"{nom} (e2e {suffixe})", "coefficient": coef},
                       status=201, what=f"création de la matière {code}")
            _verifier(m.get("code") == code and m.get("coefficient") == coef,
                      f"matière {code} : code mis en majuscules et coefficient {coef} attendus — "
                      f"{_extrait(m)}")
            body = {"classe": classe["id"], "matiere": m["id"]}
            if coef_classe is not None:
                body["coefficient"] = coef_classe
            e = api.ok("POST", f"{API}/enseignements/", body, status=201,
                       what=f"enseignement de {code} dans la classe")
            _verifier(e.get("classe") == classe["id"] and e.get("matiere") == m["id"]
                      and e.get("coefficient") == coef_classe,
                      f"enseignement inattendu — {_extrait(e)}")
            matieres.append({"id": m["id"], "code": code, "enseignement": e["id"],
                             "coefficient": coef_classe if coef_classe is not None else coef})
        liste = _tous(api, f"{API}/enseignements/?classe={classe['id']}", "enseignements de la classe")
        _verifier(sorted(e["matiere"] for e in liste) == sorted(m["id"] for m in matieres),
                  f"enseignements de la classe : {_extrait(liste)}")
        facts.update(**{"class": classe["id"]}, class_name=classe_nom,
                     subjects=[m["id"] for m in matieres],
                     teachings=[m["enseignement"] for m in matieres])

    # 3. ---------------------------------------------------------------------------------------
    with etape("3_eleves_parents", f"3. {pupils} élèves, chacun avec un compte parent"):
        def famille(i: int) -> dict:
            return _creer_famille(api, i, suffixe, classe["id"], _telephone(rng))

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            familles = list(pool.map(famille, range(pupils)))
        inscrits = _tous(api, f"{API}/classes/{classe['id']}/eleves/", "élèves de la classe")
        _verifier(sorted(e["id"] for e in inscrits) == sorted(f["eleve"] for f in familles),
                  f"classes/<id>/eleves/ : {len(inscrits)} élèves au lieu des {pupils} créés")
        liens = api.ok("GET", f"{API}/eleves/{familles[0]['eleve']}/parents/",
                       what="parents du premier élève")
        _verifier(isinstance(liens, list) and len(liens) == 1
                  and liens[0]["parent"]["id"] == familles[0]["parent"]
                  and liens[0]["lien"] == familles[0]["lien"],
                  f"eleves/<id>/parents/ : le parent lié attendu — {_extrait(liens)}")
        facts.update(pupils=[f["eleve"] for f in familles], parents=[f["parent"] for f in familles])

    # 4. ---------------------------------------------------------------------------------------
    with etape("4_notes", "4. notes de chaque élève dans chaque matière (saisie par classe)"):
        regles = api.ok("GET", f"{API}/bulletins/regles/", what="règles des bulletins")
        types = ("DEVOIR", "COMPOSITION")
        for j, m in enumerate(matieres):
            for type_note in types:
                saisie = {"classe": classe["id"], "matiere": m["id"], "periode": periode["code"],
                          "type_note": type_note, "date_evaluation": today.isoformat(), "sur": 20,
                          "notes": [{"eleve": f["eleve"], "valeur": _note(i, j, type_note)}
                                    for i, f in enumerate(familles)]}
                body = api.ok("POST", f"{API}/notes/saisie/", saisie, status=201,
                              what=f"saisie {type_note} en {m['code']}")
                _verifier(body.get("count") == pupils and len(body.get("notes", [])) == pupils,
                          f"saisie {type_note} en {m['code']} : {pupils} notes attendues — "
                          f"{_extrait(body)}")
        n_notes = _compte(api, f"{API}/notes/?classe={classe['id']}&periode={periode['code']}",
                          "notes de la classe")
        attendu = pupils * len(matieres) * len(types)
        _verifier(n_notes == attendu, f"notes/ : {n_notes} notes au lieu de {attendu}")
        hors = api.request("POST", f"{API}/notes/",
                           {"eleve": familles[0]["eleve"], "matiere": matieres[0]["id"],
                            "classe": classe["id"], "periode": periode["code"],
                            "type_note": "DEVOIR", "valeur": 21, "sur": 20,
                            "date_evaluation": today.isoformat()})
        _verifier(hors[0] == 400, f"une note de 21/20 doit être refusée (400) : HTTP {hors[0]} — "
                                  f"{_extrait(hors[2])}")
        facts["grades"] = n_notes

    # 5. ---------------------------------------------------------------------------------------
    cible = {"annee_scolaire": annee["id"], "periode": periode["code"], "classe": classe["id"]}
    filtre = (f"classe={classe['id']}&periode={periode['code']}&annee_scolaire={annee['id']}")
    with etape("5_bulletins", "5. génération (job), PDF, publication et contrôle des bulletins"):
        t0 = time.monotonic()
        acc = api.ok("POST", f"{API}/bulletins/generer/", cible, status=202,
                     what="génération des bulletins")
        _verifier(str(acc.get("job_id", "")).isdigit()
                  and acc.get("status_url") == f"{API}/jobs/{acc['job_id']}/",
                  f"bulletins/generer/ : {{job_id, status_url}} attendu — {_extrait(acc)}")
        job = _attendre_job(api, acc["status_url"], job_timeout, "génération des bulletins")
        _verifier((job.get("result") or {}).get("bulletins") == pupils,
                  f"job de génération : {pupils} bulletins attendus — {_extrait(job.get('result'))}")
        facts["bulletin_job"] = int(acc["job_id"])
        facts["timings_detail"] = {"bulletins_calcules": round(time.monotonic() - t0, 3)}

        restant = max(5.0, job_timeout - (time.monotonic() - t0))
        dernier = {}

        def pdf_faits():
            dernier["calcule"] = _compte(api, f"{API}/bulletins/?{filtre}&statut=CALCULE",
                                         "bulletins sans PDF")
            return dernier["calcule"] == 0
        _attendre(pdf_faits, restant,
                  lambda: f"{dernier.get('calcule')} bulletin(s) encore sans PDF après "
                          f"{job_timeout:.0f} s (jobs pedagogie.generer_bulletin_pdf)")
        facts["timings_detail"]["bulletins_pdf"] = round(time.monotonic() - t0, 3)

        pub = api.ok("POST", f"{API}/bulletins/publier/", cible, what="publication des bulletins")
        _verifier(pub.get("publies") == pupils and pub.get("en_attente_pdf") == 0
                  and pub.get("deja_publies") == 0 and pub.get("notifications", 0) >= pupils,
                  f"publication : {pupils} bulletins publiés et au moins {pupils} notifications "
                  f"attendus — {_extrait(pub)}")
        encore = api.ok("POST", f"{API}/bulletins/publier/", cible,
                        what="publication répétée des bulletins")
        _verifier(encore.get("publies") == 0 and encore.get("deja_publies") == pupils,
                  f"publier deux fois ne republie rien — {_extrait(encore)}")

        bulletins = _tous(api, f"{API}/bulletins/?{filtre}", "bulletins de la classe")
        _verifier(len(bulletins) == pupils, f"{len(bulletins)} bulletins au lieu de {pupils}")
        _verifier_bulletins(bulletins, familles, matieres, regles)
        par_eleve = {b["eleve"]: b for b in bulletins}
        b0 = par_eleve[familles[0]["eleve"]]
        detail = api.ok("GET", f"{API}/bulletins/{b0['id']}/", what="détail d'un bulletin")
        _verifier_lignes(detail, 0, matieres, regles)
        facts.update(bulletins=[b["id"] for b in bulletins], bulletin=b0["id"],
                     publication=pub)

    # 6. ---------------------------------------------------------------------------------------
    with etape("6_pdf_bulletin", "6. téléchargement du PDF d'un bulletin (administrateur)"):
        chemin = f"{API}/bulletins/{b0['id']}/pdf/"
        _verifier(b0.get("pdf_url") == chemin, f"pdf_url « {b0.get('pdf_url')} » au lieu de {chemin}")
        headers, pdf = api.ok_full("GET", chemin, raw=True, what="PDF du bulletin")
        sha = _verifier_pdf(headers, pdf, "PDF du bulletin")
        cache = headers.get("Cache-Control") or ""
        _verifier("no-store" in cache, f"PDF du bulletin : Cache-Control « {cache} » sans no-store")
        absent = api.request("GET", f"{API}/bulletins/999999999/pdf/", raw=True)[0]
        _verifier(absent == 404, f"PDF d'un bulletin inexistant : HTTP {absent} au lieu de 404")
        facts.update(bulletin_pdf_path=chemin, bulletin_pdf_sha256=sha, bulletin_pdf_bytes=len(pdf))

    # 7. ---------------------------------------------------------------------------------------
    with etape("7_finances", "7. frais, factures (job), paiement idempotent, reçu PDF"):
        t0 = time.monotonic()
        frais = api.ok("POST", f"{API}/frais/",
                       {"annee_scolaire": annee["id"], "niveau": "SEPTIEME",
                        "libelle": f"Scolarité 1er trimestre (e2e {suffixe})", "montant": 1_500_000},
                       status=201, what="création des frais de scolarité")
        grille = _tous(api, f"{API}/frais/?annee_scolaire={annee['id']}&niveau=SEPTIEME",
                       "grille des frais de 7ème")
        total = sum(f["montant"] for f in grille)
        _verifier(frais["id"] in {f["id"] for f in grille}, "les frais créés manquent à la grille")

        acc = api.ok("POST", f"{API}/factures/generer/",
                     {"annee_scolaire": annee["id"], "classe": classe["id"]}, status=202,
                     what="génération des factures de la classe")
        job = _attendre_job(api, acc["status_url"], job_timeout, "génération des factures")
        factures = _tous(api, f"{API}/factures/?classe={classe['id']}&annee_scolaire={annee['id']}",
                         "factures de la classe")
        _verifier(len(factures) == pupils,
                  f"{len(factures)} factures au lieu de {pupils} — résultat du job "
                  f"{_extrait(job.get('result'))}")
        for f in factures:
            _verifier(f["statut"] == "EMISE" and (f.get("numero") or "").startswith("FAC-")
                      and f["montant_total"] == total and f["montant_paye"] == 0,
                      f"facture émise de {total} GNF attendue — {_extrait(f)}")
        fac_par_eleve = {f["eleve"]: f for f in factures}
        facture = fac_par_eleve[familles[0]["eleve"]]

        montant = total // 3
        cle = str(uuid.uuid4())
        corps = {"facture": facture["id"], "montant": montant, "mode": "ORANGE_MONEY",
                 "reference": f"OM-E2E-{suffixe}"}
        h1, p1 = api.ok_full("POST", f"{API}/paiements/", corps, status=201,
                             headers={"Idempotency-Key": cle}, what="enregistrement du paiement")
        _verifier(p1.get("facture") == facture["id"] and p1.get("montant") == montant
                  and p1.get("eleve") == familles[0]["eleve"]
                  and (p1.get("recu_numero") or "").startswith("REC-")
                  and p1.get("facture_statut") == "PARTIELLEMENT_PAYEE"
                  and p1.get("facture_montant_restant") == total - montant,
                  f"paiement enregistré inattendu — {_extrait(p1)}")
        _verifier((h1.get("Idempotent-Replayed") or "") != "true",
                  "le premier paiement ne doit pas être marqué rejoué")
        h2, p2 = api.ok_full("POST", f"{API}/paiements/", corps, status=201,
                             headers={"Idempotency-Key": cle}, what="paiement rejoué (même clé)")
        _verifier((h2.get("Idempotent-Replayed") or "").lower() == "true",
                  "paiement rejoué : en-tête Idempotent-Replayed: true attendu")
        _verifier(p2 == p1, f"paiement rejoué : la même réponse attendue — {_extrait(p2)}")
        autre = dict(corps, montant=montant + 1)
        status, _, body = api.request("POST", f"{API}/paiements/", autre,
                                      headers={"Idempotency-Key": cle})
        _verifier(status == 409, f"même clé, autre corps : HTTP {status} au lieu de 409 — "
                                 f"{_extrait(body)}")
        paiements = _tous(api, f"{API}/factures/{facture['id']}/paiements/", "paiements de la facture")
        _verifier(len(paiements) == 1 and paiements[0]["id"] == p1["id"],
                  f"un seul paiement attendu sur la facture — {_extrait(paiements)}")
        apres = api.ok("GET", f"{API}/factures/{facture['id']}/", what="facture après paiement")
        _verifier(apres["montant_paye"] == montant and apres["statut"] == "PARTIELLEMENT_PAYEE"
                  and apres["montant_restant"] == total - montant,
                  f"facture après paiement inattendue — {_extrait(apres)}")

        recu_path = f"{API}/paiements/{p1['id']}/recu/"
        etat = {}

        def recu_pret():
            etat["p"] = api.ok("GET", f"{API}/paiements/{p1['id']}/", what="suivi du reçu")
            return etat["p"].get("recu_url")
        url = _attendre(recu_pret, receipt_timeout,
                        lambda: f"reçu du paiement {p1['id']} toujours absent après "
                                f"{receipt_timeout:.0f} s — {_extrait(etat.get('p'))}")
        _verifier(url == recu_path, f"recu_url « {url} » au lieu de {recu_path}")
        headers, recu = api.ok_full("GET", recu_path, raw=True, what="PDF du reçu")
        recu_sha = _verifier_pdf(headers, recu, "PDF du reçu")
        facts["timings_detail"]["recu"] = round(time.monotonic() - t0, 3)

        def facture_pdf():
            etat["f"] = api.ok("GET", f"{API}/factures/{facture['id']}/", what="suivi du PDF de facture")
            return etat["f"].get("pdf_url")
        fac_pdf = _attendre(facture_pdf, receipt_timeout,
                            lambda: f"PDF de la facture {facture['id']} toujours absent — "
                                    f"{_extrait(etat.get('f'))}")
        headers, pdf = api.ok_full("GET", fac_pdf, raw=True, what="PDF de la facture")
        _verifier_pdf(headers, pdf, "PDF de la facture")
        facts.update(fee=frais["id"], invoices_job=int(acc["job_id"]),
                     invoices=[f["id"] for f in factures], invoice=facture["id"],
                     invoice_number=facture["numero"], invoice_total=total, invoice_pdf_path=fac_pdf,
                     payment=p1["id"], payment_amount=montant, idempotency_key=cle,
                     receipt={"numero": p1["recu_numero"], "path": recu_path,
                              "sha256": recu_sha, "bytes": len(recu)})

    # 8. ---------------------------------------------------------------------------------------
    with etape("8_parent", "8. le parent voit son enfant, son bulletin, sa facture — rien d'autre"):
        fam, autre_fam = familles[0], familles[1]
        parent = Api(base_url, cafile=cafile, insecure=insecure)
        parent.login(fam["username"], fam["password"])
        me = parent.ok("GET", f"{API}/users/me/", what="profil du parent")
        _verifier(me.get("role") == "PARENT" and me.get("telephone") == fam["telephone"]
                  and me.get("email") == fam["email"],
                  f"profil du parent inattendu — {_extrait(me)}")
        enfants = _tous(parent, f"{API}/eleves/", "élèves vus par le parent")
        _verifier([e["id"] for e in enfants] == [fam["eleve"]],
                  f"le parent doit voir son seul enfant — {[e['id'] for e in enfants]}")
        parent.ok("GET", f"{API}/eleves/{fam['eleve']}/", what="fiche de son enfant")
        for path, quoi in ((f"{API}/eleves/{autre_fam['eleve']}/", "l'élève d'une autre famille"),
                           (f"{API}/bulletins/{par_eleve[autre_fam['eleve']]['id']}/",
                            "le bulletin d'une autre famille"),
                           (f"{API}/bulletins/{par_eleve[autre_fam['eleve']]['id']}/pdf/",
                            "le PDF du bulletin d'une autre famille"),
                           (f"{API}/factures/{fac_par_eleve[autre_fam['eleve']]['id']}/",
                            "la facture d'une autre famille"),
                           (f"{API}/eleves/{autre_fam['eleve']}/releve/",
                            "le relevé d'une autre famille")):
            status = parent.request("GET", path, raw=path.endswith("/pdf/"))[0]
            _verifier(status == 404, f"{quoi} ({path}) : HTTP {status} au lieu de 404")
        bul = _tous(parent, f"{API}/bulletins/", "bulletins vus par le parent")
        _verifier(b0["id"] in {b["id"] for b in bul}
                  and all(b["eleve"] == fam["eleve"] and b["statut"] == "PUBLIE" for b in bul),
                  f"le parent doit voir le bulletin publié de son enfant, et lui seul — {_extrait(bul)}")
        parent.ok("GET", f"{API}/bulletins/{b0['id']}/", what="bulletin de son enfant")
        headers, pdf = parent.ok_full("GET", f"{API}/bulletins/{b0['id']}/pdf/", raw=True,
                                      what="PDF du bulletin de son enfant")
        _verifier(hashlib.sha256(pdf).hexdigest() == facts["bulletin_pdf_sha256"],
                  "le parent et l'administrateur doivent recevoir le même PDF")
        fac = _tous(parent, f"{API}/factures/", "factures vues par le parent")
        _verifier([f["id"] for f in fac] == [facture["id"]],
                  f"le parent doit voir la seule facture de son enfant — {[f['id'] for f in fac]}")
        vue = parent.ok("GET", f"{API}/factures/{facture['id']}/", what="facture de son enfant")
        _verifier(vue["montant_paye"] == montant, f"facture vue par le parent — {_extrait(vue)}")
        releve = parent.ok("GET", f"{API}/eleves/{fam['eleve']}/releve/", what="relevé de son enfant")
        _verifier(releve.get("eleve") == fam["eleve"] and releve.get("total_facture") == total
                  and releve.get("total_paye") == montant and releve.get("solde_du") == total - montant
                  and [f["id"] for f in releve.get("factures", [])] == [facture["id"]],
                  f"relevé de son enfant inattendu — {_extrait(releve)}")
        pay = _tous(parent, f"{API}/paiements/", "paiements vus par le parent")
        _verifier([p["id"] for p in pay] == [p1["id"]],
                  f"le parent doit voir le seul paiement de son enfant — {_extrait(pay)}")
        headers, pdf = parent.ok_full("GET", recu_path, raw=True, what="reçu vu par le parent")
        _verifier_pdf(headers, pdf, "reçu vu par le parent")
        status, _, body = parent.request("POST", f"{API}/paiements/", dict(corps, montant=1),
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        _verifier(status == 403, f"un parent ne peut pas enregistrer de paiement : HTTP {status} — "
                                 f"{_extrait(body)}")
        notifs = _notifications_parent(parent, b0["id"], facture["id"], log)
        facts.update(parent={"username": fam["username"], "password": fam["password"],
                             "user_id": me["id"], "parent_id": fam["parent"], "pupil": fam["eleve"],
                             "email": fam["email"], "telephone": fam["telephone"]},
                     other_pupil=autre_fam["eleve"], parent_notifications=notifs,
                     statement_balance=releve["solde_du"])

    facts["timings"] = etape.timings
    facts["total_seconds"] = round(time.monotonic() - started, 3)
    log(f"Scénario e2e « {suffixe} » réussi en {facts['total_seconds']:.1f} s")
    return facts


def _annee_du_jour(api: Api, today: dt.date, log) -> dict:
    """The active year covering today: reused when it exists, else a year covering today is
    activated, else one is created (named `AAAA-AAAA`, a free name) and activated."""
    jour = today.isoformat()
    annees = _tous(api, f"{API}/annees-scolaires/", "années scolaires")
    couvrantes = [a for a in annees if a["date_debut"] <= jour <= a["date_fin"]]
    annee = next((a for a in couvrantes if a["est_active"]), None) or \
        (couvrantes[0] if couvrantes else None)
    if annee is None:
        debut, fin = today - dt.timedelta(days=120), today + dt.timedelta(days=240)
        pris = {a["nom"] for a in annees}
        noms = [f"{y}-{y + 1}" for k in range(60)
                for y in ((debut.year + k, debut.year - k) if k else (debut.year,))]
        nom = next(n for n in noms if n not in pris)
        annee = api.ok("POST", f"{API}/annees-scolaires/",
                       {"nom": nom, "date_debut": debut.isoformat(), "date_fin": fin.isoformat()},
                       status=201, what="création de l'année scolaire")
        _verifier(annee.get("nom") == nom and annee.get("date_debut") == debut.isoformat(),
                  f"année créée inattendue — {_extrait(annee)}")
        log(f"  année {nom} créée ({debut} → {fin})")
    else:
        log(f"  année {annee['nom']} réutilisée")
    if not annee["est_active"]:
        annee = api.ok("POST", f"{API}/annees-scolaires/{annee['id']}/activer/",
                       what="activation de l'année scolaire")
        _verifier(annee.get("est_active") is True, f"année non active — {_extrait(annee)}")
    actives = _tous(api, f"{API}/annees-scolaires/?est_active=true", "années actives")
    _verifier([a["id"] for a in actives] == [annee["id"]],
              f"une seule année active attendue ({annee['id']}) — {[a['id'] for a in actives]}")
    return annee


def _periode_du_jour(api: Api, annee: dict, today: dt.date, log) -> dict:
    """The year's period containing today; created when missing (three trimesters for a year
    without periods, else the free gap around today with a free code)."""
    jour = today.isoformat()
    periodes = _tous(api, f"{API}/periodes/?annee_scolaire={annee['id']}", "périodes de l'année")
    courante = next((p for p in periodes if p["date_debut"] <= jour <= p["date_fin"]), None)
    if courante is not None:
        log(f"  période {courante['code']} réutilisée ({courante['date_debut']} → "
            f"{courante['date_fin']})")
        return courante
    debut = dt.date.fromisoformat(annee["date_debut"])
    fin = dt.date.fromisoformat(annee["date_fin"])
    a_creer = []
    if not periodes:
        t1 = max(today, min(today + dt.timedelta(days=30), fin - dt.timedelta(days=2)))
        if t1 >= fin - dt.timedelta(days=1):
            a_creer = [("TRIMESTRE_1", debut, fin)]
        else:
            t2 = t1 + (fin - t1) / 2
            a_creer = [("TRIMESTRE_1", debut, t1), ("TRIMESTRE_2", t1 + dt.timedelta(days=1), t2),
                       ("TRIMESTRE_3", t2 + dt.timedelta(days=1), fin)]
    else:
        trimestres = periodes[0]["code"].startswith("TRIMESTRE")
        codes = (["TRIMESTRE_1", "TRIMESTRE_2", "TRIMESTRE_3"] if trimestres
                 else ["SEMESTRE_1", "SEMESTRE_2"])
        libres = [c for c in codes if c not in {p["code"] for p in periodes}]
        _verifier(libres, f"aucune période de l'année {annee['nom']} ne contient le {jour} et "
                          f"tous ses codes sont pris — {_extrait(periodes)}")
        avant = [dt.date.fromisoformat(p["date_fin"]) for p in periodes if p["date_fin"] < jour]
        apres = [dt.date.fromisoformat(p["date_debut"]) for p in periodes if p["date_debut"] > jour]
        lo = max([debut] + [d + dt.timedelta(days=1) for d in avant])
        hi = min([fin] + [d - dt.timedelta(days=1) for d in apres])
        a_creer = [(libres[0], lo, hi)]
    courante = None
    for code, d1, d2 in a_creer:
        p = api.ok("POST", f"{API}/periodes/",
                   {"annee_scolaire": annee["id"], "code": code, "date_debut": d1.isoformat(),
                    "date_fin": d2.isoformat()}, status=201, what=f"création de la période {code}")
        log(f"  période {code} créée ({d1} → {d2})")
        if p["date_debut"] <= jour <= p["date_fin"]:
            courante = p
    _verifier(courante is not None, "aucune période créée ne contient aujourd'hui")
    return courante


def _creer_famille(api: Api, i: int, suffixe: str, classe: int, telephone) -> dict:
    """A parent account (role PARENT), a pupil in the class, the link between them."""
    fille = i % 2 == 0
    nom = NOMS[i % len(NOMS)]
    prenom = (PRENOMS_F if fille else PRENOMS_M)[(i // 2) % 10]
    tape, stocke = telephone
    bas = suffixe.lower()
    p_user, p_pass = f"parent.{bas}.{i:02d}", f"Parent-{suffixe}-{i:02d}!"
    email = f"parent.{bas}.{i:02d}@e2e.ecole.gn"
    mere = i % 3 != 0
    parent = api.ok("POST", f"{API}/parents/",
                    {"username": p_user, "password": p_pass, "email": email,
                     "first_name": ("Fatoumata" if mere else "Mamadou"), "last_name": nom,
                     "telephone": tape, "profession": "Commerçante" if mere else "Chauffeur",
                     "adresse": "Kaloum, Conakry"},
                    status=201, what=f"création du parent {p_user}")
    user = parent.get("user") or {}
    _verifier(user.get("role") == "PARENT" and user.get("telephone") == stocke
              and user.get("email") == email and user.get("username") == p_user,
              f"parent {p_user} : rôle PARENT et téléphone {stocke} attendus — {_extrait(parent)}")
    matricule = f"E2E/{suffixe}/{i + 1:03d}"
    eleve = api.ok("POST", f"{API}/eleves/",
                   {"username": f"eleve.{bas}.{i:02d}", "password": f"Eleve-{suffixe}-{i:02d}!",
                    "first_name": prenom, "last_name": nom, "matricule": matricule,
                    "classe_actuelle": classe, "sexe": "F" if fille else "M",
                    "date_naissance": dt.date(2013, 1 + i % 12, 1 + i % 28).isoformat(),
                    "lieu_naissance": "Conakry", "adresse": "Kaloum, Conakry",
                    "contact_urgence_nom": f"{'Fatoumata' if mere else 'Mamadou'} {nom}",
                    "contact_urgence_phone": tape,
                    "contact_urgence_relation": "Mère" if mere else "Père"},
                   status=201, what=f"création de l'élève {matricule}")
    _verifier(eleve.get("classe_actuelle") == classe and eleve.get("matricule") == matricule
              and (eleve.get("user") or {}).get("role") == "ELEVE"
              and eleve.get("contact_urgence_phone") == stocke and eleve.get("statut") == "ACTIF",
              f"élève {matricule} inattendu — {_extrait(eleve)}")
    lien = "MERE" if mere else "PERE"
    lie = api.ok("POST", f"{API}/eleves/{eleve['id']}/parents/", {"parent": parent["id"], "lien": lien},
                 status=201, what=f"lien parent → élève {matricule}")
    _verifier(lie.get("lien") == lien and (lie.get("parent") or {}).get("id") == parent["id"],
              f"lien parent inattendu — {_extrait(lie)}")
    return {"eleve": eleve["id"], "parent": parent["id"], "parent_user": user["id"],
            "username": p_user, "password": p_pass, "email": email, "telephone": stocke,
            "lien": lien, "matricule": matricule}


def _moyennes_attendues(n: int, matieres: list, regles: dict):
    """Per pupil: (general average in hundredths, [subject averages in hundredths])."""
    wc, wk = Fraction(regles["poids_cours"]), Fraction(regles["poids_composition"])
    out = []
    for i in range(n):
        num, den, lignes = Fraction(0), 0, []
        for j, m in enumerate(matieres):
            c = Fraction(str(_note(i, j, "DEVOIR")))
            k = Fraction(str(_note(i, j, "COMPOSITION")))
            avg = (c * wc + k * wk) / (wc + wk) if wc + wk else c
            lignes.append(_arrondi_centimes(avg))
            num += avg * m["coefficient"]
            den += m["coefficient"]
        out.append((_arrondi_centimes(num / den), lignes))
    return out


def _verifier_bulletins(bulletins: list, familles: list, matieres: list, regles: dict) -> None:
    """Every bulletin: published, with its PDF, the expected average (computed here from the
    grades sent and the rules), the competition rank, the class's size."""
    attendues = _moyennes_attendues(len(familles), matieres, regles)
    rangs = _rangs([g for g, _ in attendues])
    index = {f["eleve"]: i for i, f in enumerate(familles)}
    n = len(familles)
    for b in bulletins:
        _verifier(b["eleve"] in index, f"bulletin d'un élève inconnu — {_extrait(b)}")
        i = index[b["eleve"]]
        _verifier(b["statut"] == "PUBLIE" and b.get("pdf_url") == f"{API}/bulletins/{b['id']}/pdf/",
                  f"bulletin {b['id']} : publié avec son PDF attendu — {_extrait(b)}")
        _verifier(b.get("moyenne_generale") is not None and b.get("rang") is not None
                  and b.get("effectif") == n and b.get("mention"),
                  f"bulletin {b['id']} : moyenne, rang, mention et effectif {n} attendus — {_extrait(b)}")
        obtenu = round(float(b["moyenne_generale"]) * 100)
        _verifier(obtenu == attendues[i][0],
                  f"bulletin {b['id']} (élève {i}) : moyenne {b['moyenne_generale']} au lieu de "
                  f"{attendues[i][0] / 100:.2f}")
        _verifier((b["rang"], bool(b["ex_aequo"])) == rangs[i],
                  f"bulletin {b['id']} : rang {b['rang']} (ex æquo {b['ex_aequo']}) au lieu de "
                  f"{rangs[i][0]} ({rangs[i][1]})")
    generales = [g for g, _ in attendues]
    b = bulletins[0]
    for champ, valeur in (("moyenne_max", max(generales)), ("moyenne_min", min(generales))):
        _verifier(round(float(b[champ]) * 100) == valeur,
                  f"{champ} de la classe : {b[champ]} au lieu de {valeur / 100:.2f}")


def _verifier_lignes(detail: dict, i: int, matieres: list, regles: dict) -> None:
    lignes = detail.get("lignes") or []
    _verifier(len(lignes) == len(matieres),
              f"bulletin {detail.get('id')} : {len(lignes)} lignes au lieu de {len(matieres)}")
    attendues = _moyennes_attendues(i + 1, matieres, regles)[i][1]
    par_matiere = {ligne["matiere"]: ligne for ligne in lignes}
    for j, m in enumerate(matieres):
        ligne = par_matiere.get(m["id"])
        _verifier(ligne is not None, f"bulletin {detail.get('id')} : pas de ligne pour {m['code']}")
        _verifier(ligne["coefficient"] == m["coefficient"],
                  f"ligne {m['code']} : coefficient {ligne['coefficient']} au lieu de "
                  f"{m['coefficient']} (coefficient de la classe)")
        _verifier(ligne.get("moyenne") is not None
                  and round(float(ligne["moyenne"]) * 100) == attendues[j],
                  f"ligne {m['code']} : moyenne {ligne.get('moyenne')} au lieu de "
                  f"{attendues[j] / 100:.2f}")


def _notifications_parent(parent: Api, bulletin: int, facture: int, log) -> dict:
    """The parent's notifications of the published bulletin and of the payment (e-mail and
    SMS asked for); waits up to 30 s for their delivery to settle and reports the statuses
    (an SMS may wait for the end of the night's silence: not a failure)."""
    etat = {}

    def trouvees():
        notifs = _tous(parent, f"{API}/notifications/", "notifications du parent")
        bul = next((x for x in notifs if x["type_notification"] == "BULLETIN"
                    and x.get("lien_url") == f"{API}/bulletins/{bulletin}/"), None)
        pay = next((x for x in notifs if x["type_notification"] == "PAIEMENT_RECU"), None)
        etat.update(bul=bul, pay=pay, toutes=notifs)
        return bul is not None and pay is not None
    _attendre(trouvees, 10, lambda: "notifications BULLETIN et PAIEMENT_RECU attendues pour le "
                                    f"parent — {_extrait(etat.get('toutes'))}")
    pay = etat["pay"]
    _verifier(pay["envoyer_par_email"] and pay["envoyer_par_sms"],
              f"le paiement doit être annoncé par e-mail et SMS — {_extrait(pay)}")

    def livrees():
        trouvees()
        p, b = etat["pay"], etat["bul"]
        return all(s not in ("EN_ATTENTE", "EN_COURS")
                   for s in (p["email_statut"], p["sms_statut"], b["email_statut"]))
    try:
        _attendre(livrees, 30, lambda: "")
    except AssertionError:
        pass
    p, b = etat["pay"], etat["bul"]
    statuts = {"paiement_email": p["email_statut"], "paiement_sms": p["sms_statut"],
               "bulletin_email": b["email_statut"]}
    echecs = {k: v for k, v in statuts.items() if v == "ECHEC"}
    _verifier(not echecs, f"envoi des notifications en échec — {echecs}")
    log(f"  notifications du parent : {statuts}")
    return statuts


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------

def load(base_url, token, *, seconds: float, concurrency: int = 8,
         paths=("/api/v1/users/me/",), cafile=None, insecure=False, timeout: float = 10) -> dict:
    """Sends authenticated GETs for `seconds` from `concurrency` threads; returns counts per
    status code (including 0 for connection errors), max latency, and a sorted list of
    (time, status) so the caller can measure the recovery time after a fault.

    Returned keys: `counts` ({status: n}, int keys), `total`, `max_latency`, `p50_latency`,
    `p95_latency` (seconds), `timeline` (sorted `(time.time() when the answer came, status)`),
    `started_at`, `ended_at` (time.time()), `errors` (a few connection errors, by kind)."""
    paths = list(paths)
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    records: list[tuple[float, int, float]] = []
    errors: dict[str, str] = {}

    def worker(k: int) -> None:
        client = Api(base_url, cafile=cafile, insecure=insecure, timeout=timeout)
        client.token = token
        i = k
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.monotonic()
            try:
                status = client.request("GET", path, refresh=False)[0]
            except (OSError, http.client.HTTPException) as e:
                status = 0
                with lock:
                    errors.setdefault(type(e).__name__, str(e)[:200])
            latency = time.monotonic() - t0
            with lock:
                records.append((time.time(), status, latency))
            if status == 0:
                time.sleep(0.05)  # a refused connection answers at once: do not spin

    started_at = time.time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    records.sort()
    counts: dict[int, int] = {}
    for _, status, _ in records:
        counts[status] = counts.get(status, 0) + 1
    latencies = sorted(r[2] for r in records)

    def centile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 4) if latencies else 0.0
    return {"counts": counts, "total": len(records),
            "max_latency": round(latencies[-1], 4) if latencies else 0.0,
            "p50_latency": centile(0.50), "p95_latency": centile(0.95),
            "timeline": [(t, s) for t, s, _ in records],
            "started_at": started_at, "ended_at": time.time(), "errors": errors}


def recovery_time(timeline, since: float, ok=(200,)) -> float | None:
    """Seconds from `since` (time.time()) to the first answer in `ok` after the last answer not
    in `ok` that followed `since`; 0 when nothing failed after `since`, None when no success."""
    after = [(t, s) for t, s in timeline if t >= since]
    last_bad = max((t for t, s in after if s not in ok), default=None)
    if last_bad is None:
        return 0.0
    first_ok = next((t for t, s in after if t > last_bad and s in ok), None)
    return None if first_ok is None else round(first_ok - since, 3)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Scénario e2e de l'API École (boîte noire).")
    parser.add_argument("base_url", help="ex. https://127.0.0.1:8443 ou http://127.0.0.1:8000")
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("--cafile", help="certificat de l'autorité (PEM) pour vérifier TLS")
    parser.add_argument("--insecure", action="store_true", help="ne pas vérifier le certificat")
    parser.add_argument("--pupils", type=int, default=30)
    parser.add_argument("--load", type=float, default=0, metavar="SECONDES",
                        help="après le scénario, charge authentifiée pendant SECONDES")
    args = parser.parse_args(argv)
    try:
        facts = scenario(args.base_url, args.username, args.password, cafile=args.cafile,
                         insecure=args.insecure, pupils=args.pupils,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    except AssertionError as e:
        print(f"ÉCHEC : {e}", file=sys.stderr)
        return 1
    if args.load > 0:
        api = Api(args.base_url, cafile=args.cafile, insecure=args.insecure)
        api.login(args.username, args.password)
        result = load(args.base_url, api.token, seconds=args.load, cafile=args.cafile,
                      insecure=args.insecure)
        result.pop("timeline")
        facts["load"] = result
    print(json.dumps(facts, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
