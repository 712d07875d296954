"""Load and faults against a served commintel: the embedded default (SQLite, the SQLite task queue, the worker
`commintel serve` starts and restarts) and PostgreSQL + Redis (a separate Celery worker process).

    .venv/bin/python benchmarks/load_and_fault.py                       # the embedded default
    BENCH_DATABASE_URL=postgresql://commintel:commintel@127.0.0.1:5432/scratch \\
    BENCH_REDIS_URL=redis://127.0.0.1:6390/12 .venv/bin/python benchmarks/load_and_fault.py --backend postgres

The PostgreSQL database is emptied (drop_all) and the Redis database flushed first: point them at scratch ones.

What it does, against the demo (built by `commintel demo`, or copied from the browser tests' cache for SQLite),
served on a free port, through HTTP only (plus read-only SQL to see what the worker has done):

1. Load: a 20,000-row CSV is imported through the web import (upload, mapping, confirm); while its redaction runs,
   ``--submitters`` concurrent submitters (half through the API with a token, half through the web form, each
   signed in and fetching the form before each POST) submit for ``--seconds`` s, and /healthz is asked every
   second. Prints responses by status, 5xx, p50/p95/max latency per kind, and observations lost (acknowledged
   with 201/302 but not stored). Targets: 0 5xx, 0 lost, p95 < 1 s.
2. Backlog: once everything is processed, ``--backlog`` rows are imported and timed from the confirmation to the
   last of them redacted, embedded and themed (assigned under the active theme version). Target < 10 min.
3. Faults: the worker is SIGKILLed in the middle of redacting an import, then in the middle of a theme refit;
   it is started again (the embedded one by `commintel serve` itself); prints how long until every observation is
   redacted and themed, whether any job is left "running", and the active theme version while the refit was dead
   (it must stay the previous one until the new one is stored).
4. Hostile files: the XLSX bombs of tests/submissions/hostile_files.py are uploaded; prints the status, seconds
   and the server's extra memory (RSS sampled every 20 ms during the request). Targets: 422 within 5 s, < 200 MB.

The machine's load average is printed with every figure: timed numbers on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402 - after the path set-up

from tests.browser import live_app  # noqa: E402
from tests.browser.screenshots import DEMO_CACHE  # noqa: E402
from tests.submissions import hostile_files  # noqa: E402
from webapp.cli import EMBEDDED_WORKER_NICE  # noqa: E402

PARTNERSHIP = "bristol"
IMPORTER = "orgadmin@demo.commintel.org"  # Lawrence Hill Food Share
FORM_USER = "member@demo.commintel.org"  # Easton Mutual Aid
CONVENOR = "convenor@demo.commintel.org"
WARDS = ["Ashley", "Easton", "Lawrence Hill", "Lockleaze", "Southmead", "Filwood", "Bedminster", "Southville"]
CATEGORIES = ["food", "housing-and-homelessness", "money-and-debt", "mental-health-and-wellbeing", "physical-health"]
API_ACCESS_SCRIPT = """
from sqlalchemy import select
from submissions.operations import create_api_token
from webapp import create_app
from webapp.extensions import db
from webapp.models import User
app = create_app()
with app.app_context():
    admin = db.session.scalar(select(User).where(User.email == %r))
    _, raw = create_api_token(admin.memberships[0].organisation, "load and fault benchmark", admin)
    db.session.commit()
    print(raw)
"""
RESET_SCRIPT = """
from webapp import create_app
from webapp.extensions import db
app = create_app()
with app.app_context():
    db.drop_all()
    db.create_all()
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}  ({load()})", flush=True)


def texts() -> list[str]:
    """Realistic texts with personal details to redact: the vendored demo texts, each given a name and a phone."""
    from submissions.demo import demo_texts

    base = demo_texts()
    people = ["Mrs Patel", "Kwame Mensah", "Jo Smith", "Aisha Begum", "Tom O'Brien", "Li Wei", "Maria Silva"]
    return [f"{t} {people[i % len(people)]} rang on 07700 900{i % 1000:03d}." for i, t in enumerate(base)]


TEXTS = texts()


# HTTP ----------------------------------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Reply:
    status: int
    body: str
    location: str
    seconds: float


class Browser:
    """A person's browser: cookies, no automatic redirects, the CSRF token of the last page read."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
        self.csrf = ""

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None,
                timeout: float = 120) -> Reply:  # fmt: skip
        url = self.base_url + path  # always http://127.0.0.1:<port>/...
        request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)  # noqa: S310
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                body, status, location = response.read().decode("utf-8", "replace"), response.status, ""
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")
            status, location = exc.code, exc.headers.get("Location", "")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            return Reply(599, f"{type(exc).__name__}: {exc}", "", time.perf_counter() - started)
        reply = Reply(status, body, location, time.perf_counter() - started)
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
        if found:
            self.csrf = found.group(1)
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict | list) -> Reply:
        items = list(fields.items()) if isinstance(fields, dict) else list(fields)
        data = urllib.parse.urlencode([("csrf_token", self.csrf), *items]).encode()
        return self.request("POST", path, data, {"Content-Type": "application/x-www-form-urlencoded"})

    def post_file(self, path: str, fields: dict, name: str, content: bytes, timeout: float = 300) -> Reply:
        boundary = uuid.uuid4().hex
        parts = []
        for key, value in {"csrf_token": self.csrf, **fields}.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")  # fmt: skip
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, b"".join(parts),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"}, timeout=timeout)  # fmt: skip

    def sign_in(self, email: str) -> None:
        """Sign in through the forms; a role that needs two-step sign-in sets it up (reading the key off the set-up
        page, as a phone's app would) or types a code from the key read before."""
        self.get("/auth/login")
        reply = self.post_form("/auth/login", {"email": email, "password": live_app.DEMO_PASSWORD})
        if reply.status != 302:
            raise RuntimeError(f"sign-in as {email} answered {reply.status}")
        step = path_of(reply.location)
        if step.endswith("/auth/mfa/setup"):
            page = self.get(step).body
            found = re.search(r'id="totp-secret">\s*([A-Z2-7]+)\s*<', page)
            if not found:
                raise RuntimeError(f"no two-step key on the set-up page of {email}")
            _TOTP_KEYS[email] = found.group(1)
            reply = self.post_form(step, {"code": _totp_code(email)})
            if reply.status != 200 or "recovery codes" not in reply.body:
                raise RuntimeError(f"two-step set-up of {email} answered {reply.status}")
        elif step.endswith("/auth/mfa"):
            if email not in _TOTP_KEYS:
                raise RuntimeError(f"{email} has two-step sign-in set up by someone else: use a fresh demo")
            self.get(step)
            reply = self.post_form(step, {"code": _totp_code(email)})
            if reply.status != 302:
                raise RuntimeError(f"the second step of {email} answered {reply.status}")
        self.get("/home")


# Two-step keys read off the set-up pages, and the last 30-second step a code was typed in (each code works once).
_TOTP_KEYS: dict[str, str] = {}
_TOTP_LAST_STEP: dict[str, int] = {}


def _totp_code(email: str) -> str:
    import pyotp

    step = int(time.time() // 30)
    if _TOTP_LAST_STEP.get(email, -1) >= step:
        time.sleep((step + 1) * 30 - time.time() + 0.2)
        step = int(time.time() // 30)
    _TOTP_LAST_STEP[email] = step
    return pyotp.TOTP(_TOTP_KEYS[email]).now()


def path_of(location: str) -> str:
    return urllib.parse.urlsplit(location).path


# The served app ------------------------------------------------------------------------------------------------


@dataclass
class Served:
    backend: str
    folder: Path
    env: dict
    base_url: str
    database_url: str
    server: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None  # PostgreSQL + Redis only: the embedded one is the server's child
    worker_nice: int = 0  # PostgreSQL + Redis only: COMMINTEL_WORKER_NICE of the separate worker
    beat: subprocess.Popen | None = None  # PostgreSQL + Redis only
    engine: object = None
    log: Path = field(default=None)

    def sql(self, statement: str, **params) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    def pending(self, prefix: str) -> tuple[int, int, int]:
        """(stored, redacted, themed) of the observations whose reference starts with ``prefix``."""
        like = prefix + "%"
        stored = self.sql("SELECT count(*) FROM observations WHERE external_ref LIKE :p", p=like)
        redacted = self.sql(
            "SELECT count(*) FROM observations WHERE external_ref LIKE :p AND redacted_text IS NOT NULL", p=like
        )
        themed = self.sql(
            "SELECT count(*) FROM observations o WHERE o.external_ref LIKE :p AND o.redacted_text IS NOT NULL AND "
            "EXISTS (SELECT 1 FROM theme_assignments a JOIN theme_models m ON m.id = a.model_id "
            "WHERE a.observation_id = o.id AND m.active = :yes)", p=like, yes=True,
        )  # fmt: skip
        return stored, redacted, themed

    def running_jobs(self) -> int:
        return self.sql("SELECT count(*) FROM jobs WHERE status = 'running'")

    def active_versions(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT version FROM theme_models WHERE active = :yes"), {"yes": True})
            return sorted(r[0] for r in rows)

    def worker_pid(self) -> int | None:
        if self.worker is not None:
            return self.worker.pid if self.worker.poll() is None else None
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                status = (proc / "status").read_text()
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(re.search(r"PPid:\s+(\d+)", status).group(1))
            if ppid == self.server.pid and "celery" in cmdline and " worker " in cmdline:
                return int(proc.name)
        return None

    def start_worker(self) -> None:
        """PostgreSQL + Redis: the separate worker, as production runs it (beat is another process)."""
        command = [sys.executable, "-m", "celery", "-A", "webapp.worker", "worker", "--pool=threads",
                   "--concurrency=2", "--loglevel=INFO"]  # fmt: skip
        env = {**self.env, "COMMINTEL_WORKER_NICE": str(self.worker_nice)}
        with self.log.open("a") as out:
            self.worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603

    def kill_worker(self) -> int:
        pid = self.worker_pid()
        if pid is None:
            raise RuntimeError("no worker to kill")
        os.kill(pid, signal.SIGKILL)
        if self.worker is not None:
            self.worker.wait(timeout=30)
            self.worker = None
        return pid

    def restart_worker(self, killed: int) -> float:
        """Start the worker again (the embedded one: wait for `commintel serve` to do it); seconds until it runs."""
        started = time.perf_counter()
        if self.backend == "postgres":
            self.start_worker()
        while True:
            pid = self.worker_pid()
            if pid is not None and pid != killed:
                return time.perf_counter() - started
            if time.perf_counter() - started > 120:
                raise RuntimeError("the worker did not start again")
            time.sleep(0.1)

    def cpu_seconds(self) -> tuple[float, float]:
        """Processor time used so far by the web server and by the worker (user + system)."""

        def used(pid: int | None) -> float:
            if pid is None:
                return 0.0
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        return used(self.server.pid), used(self.worker_pid())

    def server_rss_mb(self) -> float:
        status = Path(f"/proc/{self.server.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def stop(self) -> None:
        for process in (self.beat, self.worker, self.server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT if process is self.server else signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    if process is self.server:
                        os.killpg(process.pid, signal.SIGKILL)
                    else:
                        process.kill()
        if self.engine is not None:
            self.engine.dispose()


def start(backend: str, folder: Path, threads: int | None = None, worker_nice: int = 0) -> Served:
    port = live_app.free_port()
    if backend == "embedded":
        live = live_app.prepare(folder, port, DEMO_CACHE)
        env, database_url = live.env, f"sqlite:///{folder}/commintel.db"
        say(f"demo database {'copied from the cache' if live.from_cache else 'built'}")
    else:
        database_url, redis_url = os.environ.get("BENCH_DATABASE_URL"), os.environ.get("BENCH_REDIS_URL")
        if not database_url or not redis_url:
            raise SystemExit("set BENCH_DATABASE_URL (postgresql://...) and BENCH_REDIS_URL (redis://...)")
        env = live_app.app_environment(folder, port)
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        log = folder / "server.log"
        live_app._run([sys.executable, "-c", RESET_SCRIPT], env, log, "resetting the database", 300)
        started = time.perf_counter()
        live_app._run([str(live_app.COMMINTEL), "demo"], env, log, "`commintel demo`", 3600)
        say(f"demo loaded into PostgreSQL in {time.perf_counter() - started:.0f} s")
    served = Served(backend, folder, env, f"http://127.0.0.1:{port}", database_url, log=folder / "server.log",
                    worker_nice=worker_nice)  # fmt: skip
    served.engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    command = [str(live_app.COMMINTEL), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    if backend == "postgres":
        command.append("--no-worker")
        served.start_worker()
        beat = [sys.executable, "-m", "celery", "-A", "webapp.worker", "beat", "--loglevel=INFO", "--schedule",
                str(folder / "celerybeat-schedule")]  # fmt: skip
        with served.log.open("a") as out:
            served.beat = subprocess.Popen(beat, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    with served.log.open("a") as out:
        served.server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                         start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if Browser(served.base_url).get("/healthz").status == 200 and served.worker_pid():
            say(f"served on {served.base_url} ({backend}), worker pid {served.worker_pid()}")
            return served
        time.sleep(0.5)
    served.stop()
    raise RuntimeError(f"the server did not start; see {served.log}")


def api_token(served: Served) -> str:
    done = subprocess.run([sys.executable, "-c", API_ACCESS_SCRIPT % IMPORTER], cwd=ROOT, env=served.env,  # noqa: S603
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


# Importing -----------------------------------------------------------------------------------------------------


def csv_rows(prefix: str, rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Ref", "Date", "Ward", "Need or asset", "Category", "Notes"])
    for i in range(rows):
        writer.writerow([f"{prefix}{i}", f"2025-{1 + i % 12:02d}", WARDS[i % len(WARDS)],
                         "asset" if i % 5 == 0 else "need", CATEGORIES[i % len(CATEGORIES)],
                         f"{TEXTS[i % len(TEXTS)]} ({prefix}{i})"])  # fmt: skip
    return out.getvalue().encode()


def web_import(served: Served, prefix: str, rows: int) -> dict:
    """Import through the web pages as a person does; returns the steps' statuses and seconds."""
    browser = Browser(served.base_url)
    browser.sign_in(IMPORTER)
    browser.get("/observations/import")
    out = {}
    upload = browser.post_file("/observations/import", {"organisation": "lawrence-hill-food-share"},
                               f"{prefix}.csv", csv_rows(prefix, rows))  # fmt: skip
    out["upload"] = (upload.status, upload.seconds)
    if upload.status != 302:
        raise RuntimeError(f"upload answered {upload.status}: {upload.body[:300]}")
    mapping = path_of(upload.location)
    browser.get(mapping)
    fields = {"map-external_ref": "Ref", "map-period": "Date", "map-area": "Ward", "map-kind": "Need or asset",
              "map-category": "Category", "map-text": "Notes", "default-partnership": PARTNERSHIP,
              "default-sharing_level": "partnership"}  # fmt: skip
    mapped = browser.post_form(mapping, fields)
    out["mapping"] = (mapped.status, mapped.seconds)
    preview = path_of(mapped.location)
    shown = browser.get(preview)
    out["preview"] = (shown.status, shown.seconds)
    confirmed = browser.post_form(preview, {"valid_rows_only": "y"})
    out["confirm"] = (confirmed.status, confirmed.seconds)
    found = re.search(r"Imported ([\d,]+) observation", confirmed.body)
    out["imported"] = int(found.group(1).replace(",", "")) if found else 0
    if out["imported"] != rows:
        raise RuntimeError(f"imported {out['imported']} of {rows} rows: {confirmed.status} {confirmed.body[:300]}")
    return out


def wait_processed(served: Served, prefix: str, expected: int, timeout: float, every: float = 30) -> float | None:
    """Seconds until ``expected`` observations of ``prefix`` are redacted and themed (None: not within timeout)."""
    started = last = time.perf_counter()
    while time.perf_counter() - started < timeout:
        stored, redacted, themed = served.pending(prefix)
        if themed >= expected:
            return time.perf_counter() - started
        if time.perf_counter() - last >= every:
            say(f"  {prefix}: {stored} stored, {redacted} redacted, {themed} themed after "
                f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            last = time.perf_counter()
        time.sleep(1)
    return None


# 1. Load -------------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    acknowledged: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, reply: Reply) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(reply.seconds)
            self.statuses[(kind, reply.status)] += 1
            if reply.status >= 500 and len(self.errors) < 10:
                self.errors.append(f"{kind} {reply.status}: {reply.body[:200]}")


def _submission(ref: str, i: int) -> dict:
    return {"kind": "need" if i % 4 else "asset", "category": CATEGORIES[i % len(CATEGORIES)],
            "text": f"{TEXTS[(i * 7) % len(TEXTS)]} ({ref})", "area": "", "period": "2025-03",
            "trend": "worse", "source": "frontline_contact", "confidence": "medium",
            "sharing_level": "partnership", "partnership": PARTNERSHIP, "external_ref": ref}  # fmt: skip


def api_submitter(served: Served, token: str, n: int, until: float, tally: Tally, think: float) -> None:
    browser = Browser(served.base_url)
    i = 0
    while time.monotonic() < until:
        i += 1
        ref = f"lf-api-{n}-{i}"
        body = {k: v for k, v in _submission(ref, i).items() if v != ""}
        reply = browser.request("POST", "/api/v1/observations", json.dumps(body).encode(),
                                {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
        tally.add("api POST", reply)
        if reply.status == 201:
            with tally.lock:
                tally.acknowledged.append(json.loads(reply.body)["id"])
        time.sleep(think)


def form_submitter(served: Served, n: int, until: float, tally: Tally, think: float) -> None:
    browser = Browser(served.base_url)
    try:
        browser.sign_in(FORM_USER)
    except RuntimeError as exc:
        tally.add("sign-in", Reply(599, str(exc), "", 0))
        return
    i = 0
    while time.monotonic() < until:
        i += 1
        page = browser.get("/observations/new")
        tally.add("form GET", page)
        fields = _submission(f"lf-web-{n}-{i}", i)
        fields["organisation"] = "easton-mutual-aid"
        reply = browser.post_form("/observations/new", fields)
        tally.add("form POST", reply)
        if reply.status == 302 and "/observations/" in reply.location:
            found = re.search(r"/observations/(\d+)$", path_of(reply.location))
            if found:
                with tally.lock:
                    tally.acknowledged.append(int(found.group(1)))
        time.sleep(think)


def health_checker(served: Served, until: float, tally: Tally) -> None:
    browser = Browser(served.base_url)
    while time.monotonic() < until:
        tally.add("healthz", browser.get("/healthz"))
        time.sleep(1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def scenario_load(served: Served, args) -> dict:
    if args.import_rows:
        say(f"1. load: importing {args.import_rows:,} rows through the web import")
        started = time.perf_counter()
        steps = web_import(served, "ld-", args.import_rows)
        say(f"  import: {steps} ({time.perf_counter() - started:.1f} s in all)")
    token = api_token(served)
    stored, redacted, _ = served.pending("ld-")
    say(f"  {args.submitters} submitters for {args.seconds} s start with {stored - redacted:,} of the import "
        f"still to redact")  # fmt: skip
    tally = Tally()
    until = time.monotonic() + args.seconds
    threads = [threading.Thread(target=health_checker, args=(served, until, tally))]
    for n in range(args.submitters):
        if n % 2 == 0:
            threads.append(threading.Thread(target=api_submitter, args=(served, token, n, until, tally, args.think)))
        else:
            threads.append(threading.Thread(target=form_submitter, args=(served, n, until, tally, args.think)))
    cpu_before, wall, client_before = served.cpu_seconds(), time.perf_counter(), sum(os.times()[:2])
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_after, wall, client = served.cpu_seconds(), time.perf_counter() - wall, sum(os.times()[:2]) - client_before
    say(f"  processor time in {wall:.0f} s on {os.cpu_count()} cores: web server {cpu_after[0] - cpu_before[0]:.1f} s, "
        f"worker {cpu_after[1] - cpu_before[1]:.1f} s, this benchmark's submitters {client:.1f} s")  # fmt: skip
    stored, redacted, _ = served.pending("ld-")
    say(f"  after the load: {stored - redacted:,} of the import still to redact (redaction ran during the load)")
    everything = [s for values in tally.latencies.values() for s in values]
    five = sum(c for (kind, status), c in tally.statuses.items() if status >= 500)
    say(f"  responses: {sum(tally.statuses.values())}, 5xx: {five}")
    for kind, values in sorted(tally.latencies.items()):
        statuses = {s: c for (k, s), c in tally.statuses.items() if k == kind}
        say(f"  {kind:10} n={len(values):5}  p50 {percentile(values, 50):.3f} s  p95 {percentile(values, 95):.3f} s  "
            f"max {max(values):.3f} s  statuses {statuses}")  # fmt: skip
    p95 = percentile(everything, 95)
    found = 0
    ids = sorted(set(tally.acknowledged))
    for i in range(0, len(ids), 500):
        chunk = ",".join(str(x) for x in ids[i : i + 500])
        found += served.sql(f"SELECT count(*) FROM observations WHERE id IN ({chunk})")  # noqa: S608 - ints
    lost = len(ids) - found
    say(f"  all requests p95 {p95:.3f} s (target < 1 s); acknowledged submissions {len(ids)}, lost {lost}")
    for error in tally.errors:
        say(f"  error: {error}")
    return {"5xx": five, "p95_s": p95, "lost": lost, "acknowledged": len(ids), "requests": len(everything)}


# 2. Backlog ----------------------------------------------------------------------------------------------------


def drain(served: Served, label: str, timeout: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        unredacted = served.sql("SELECT count(*) FROM observations WHERE redacted_text IS NULL")
        if unredacted == 0 and all(served.pending(p)[2] == served.pending(p)[0] for p in ("ld-", "lf-")):
            return time.perf_counter() - started
        time.sleep(5)
    say(f"  {label}: not drained after {timeout:.0f} s")
    return None


def scenario_backlog(served: Served, args) -> dict:
    say("2. backlog: waiting until the load's observations are all processed")
    drained = drain(served, "load", args.timeout)
    say(f"  drained {drained if drained is None else round(drained)} s after the load ended")
    say(f"  importing {args.backlog:,} rows")
    web_import(served, "bk-", args.backlog)
    seconds = wait_processed(served, "bk-", args.backlog, args.timeout)
    shown = "not within the timeout" if seconds is None else f"{seconds:.0f} s ({args.backlog / seconds:.1f}/s)"
    say(f"  backlog of {args.backlog:,}: imported to redacted, embedded and themed in {shown} (target < 600 s)")
    return {"backlog_s": seconds}


# 3. Faults -----------------------------------------------------------------------------------------------------


def scenario_faults(served: Served, args) -> dict:
    out = {}
    say(f"3a. SIGKILL mid-redaction: importing {args.crash_rows:,} rows")
    web_import(served, "kr-", args.crash_rows)
    deadline = time.monotonic() + args.timeout
    while served.pending("kr-")[1] < args.crash_rows // 5 and time.monotonic() < deadline:
        time.sleep(0.5)
    stored, redacted, themed = served.pending("kr-")
    killed = served.kill_worker()
    say(f"  killed worker {killed} with {redacted:,} of {stored:,} redacted, {themed:,} themed")
    back = served.restart_worker(killed)
    say(f"  a worker runs again {back:.1f} s later")
    seconds = wait_processed(served, "kr-", args.crash_rows, args.timeout)
    out["redaction_recovered_s"] = seconds
    say(f"  every observation redacted and themed {seconds if seconds is None else round(seconds)} s after the "
        f"restart; jobs left running: {served.running_jobs()}")  # fmt: skip

    say("3b. SIGKILL mid-refit")
    before = served.active_versions()
    convenor = Browser(served.base_url)
    convenor.sign_in(CONVENOR)
    convenor.get(f"/themes/{PARTNERSHIP}")
    reply = convenor.post_form(f"/themes/{PARTNERSHIP}/refresh", {})
    job_id = path_of(reply.location).rsplit("/", 1)[-1]
    say(f"  refresh asked ({reply.status}), job {job_id}; active versions {before}")

    def job() -> tuple[str, int, str]:
        with served.engine.connect() as conn:
            row = conn.execute(text("SELECT status, progress, message FROM jobs WHERE id = :id"), {"id": job_id}).one()
        return row[0], row[1], row[2]

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status, progress, message = job()
        if status == "running" and progress >= 40:
            break
        time.sleep(0.2)
    killed = served.kill_worker()
    say(f"  killed worker {killed} at {progress}% ({message!r})")
    during = served.active_versions()
    back = served.restart_worker(killed)
    started = time.perf_counter()
    while time.perf_counter() - started < args.timeout:
        status, progress, message = job()
        if status in ("done", "failed"):
            break
        time.sleep(1)
    after = served.active_versions()
    out.update(refit_status=status, versions_before=before, versions_while_dead=during, versions_after=after)
    say(f"  worker back in {back:.1f} s; job {status} {time.perf_counter() - started:.0f} s later ({message!r}); "
        f"active versions before {before}, while the worker was dead {during}, after {after}; "
        f"jobs left running: {served.running_jobs()}")  # fmt: skip
    out["jobs_running"] = served.running_jobs()
    return out


# 4. Hostile files ----------------------------------------------------------------------------------------------


def scenario_bombs(served: Served) -> dict:
    say("4. hostile files")
    browser = Browser(served.base_url)
    browser.sign_in(IMPORTER)
    browser.get("/observations/import")
    out = {}
    for name, make in hostile_files.HOSTILE.items():
        content = make()
        peak, stop = [served.server_rss_mb()], threading.Event()
        base = peak[0]

        def sample(peak=peak, stop=stop) -> None:
            while not stop.is_set():
                peak.append(served.server_rss_mb())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        reply = browser.post_file("/observations/import", {"organisation": "lawrence-hill-food-share"}, name, content)
        stop.set()
        sampler.join()
        extra = max(peak) - base
        message = re.search(r'class="error-message"[^>]*>(?:<span[^>]*>[^<]*</span>)?\s*([^<]+)', reply.body)
        out[name] = {"status": reply.status, "seconds": reply.seconds, "extra_mb": extra}
        say(f"  {name} ({len(content) / 1024:,.1f} KB): {reply.status} in {reply.seconds:.2f} s, server +{extra:.0f} MB"
            f"{': ' + message.group(1).strip()[:100] if message else ''}")  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--submitters", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--import-rows", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--crash-rows", type=int, default=3_000)
    parser.add_argument("--timeout", type=float, default=3600, help="longest wait for any one step (s)")
    parser.add_argument("--only", nargs="*", choices=["load", "backlog", "faults", "bombs"])
    parser.add_argument("--threads", type=int, help="web server threads (default: commintel serve's)")
    parser.add_argument("--think", type=float, default=0.0, help="pause of each submitter between submissions (s)")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (and print where it is)")
    parser.add_argument("--worker-nice", type=int, choices=range(20), default=EMBEDDED_WORKER_NICE, metavar="0-19",
                        help="PostgreSQL + Redis: COMMINTEL_WORKER_NICE of the separate worker; the default is what "
                        "`commintel serve` gives its own worker, for a worker on the site's machine (0: a worker "
                        "at the site's priority, as on a machine of its own)")  # fmt: skip
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix=f"commintel-load-{args.backend}-"))
    say(f"load and fault benchmark, {args.backend}, in {folder}")
    served = start(args.backend, folder, args.threads, args.worker_nice)
    results = {}
    try:
        wanted = args.only or ["load", "backlog", "faults", "bombs"]
        if "load" in wanted:
            results["load"] = scenario_load(served, args)
        if "backlog" in wanted:
            results["backlog"] = scenario_backlog(served, args)
        if "faults" in wanted:
            results["faults"] = scenario_faults(served, args)
        if "bombs" in wanted:
            results["bombs"] = scenario_bombs(served)
    finally:
        served.stop()
        setup = {"backend": args.backend, "load_average": os.getloadavg()}
        if args.backend == "postgres":
            setup["worker_nice"] = args.worker_nice
        print(json.dumps({**setup, **results}, default=str))
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
