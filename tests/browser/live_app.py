"""The real app for browser tests and screenshots: a fresh SQLite database with the demo data, served for real.

The steps are the ones a newcomer runs (`make demo`): build the schema, load the demo with the `commintel demo`
command itself, then `commintel serve` (waitress plus the embedded background worker), each in its own process so the
browser talks to exactly what users get. Only the schema step differs: it uses ``db.create_all()`` like the rest of
the suite, so the journeys do not depend on the migration chain being joined up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMMINTEL = Path(sys.executable).with_name("commintel")
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - the published demo password (webapp.demo.DEMO_PASSWORD)
# One sign-in per role, as printed by `make demo` (webapp.demo.LOGINS).
DEMO_LOGINS = {
    "admin": "admin@demo.commintel.org",
    "convenor": "convenor@demo.commintel.org",
    "funder": "funder@demo.commintel.org",
    "org_admin": "orgadmin@demo.commintel.org",
    "member": "member@demo.commintel.org",
    "resident": "resident@demo.commintel.org",
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LINK_PATTERN = re.compile(r"one-time link \(token (\d+)\): (\S+)")


def chromium_path() -> str:
    """Debian's Chromium (apt-get install chromium); COMMINTEL_CHROMIUM points elsewhere. Nothing is downloaded."""
    return os.environ.get("COMMINTEL_CHROMIUM", "/usr/bin/chromium")


# Two-step sign-in of the demo logins whose role requires it, per served app: the key read from the set-up page
# (as a phone's app would scan it), the last 30-second step a code was typed for, and the remembered-device cookie.
_SECOND_FACTOR: dict[tuple[str, str], dict] = {}
DEVICE_COOKIE = "commintel_device"


def _state(page, role: str) -> dict:
    origin = "/".join(page.url.split("/")[:3])
    return _SECOND_FACTOR.setdefault((origin, role), {})


def fresh_code(state: dict) -> str:
    """The authenticator's current code, waiting for the next 30-second step if this one's code was used (the app
    accepts each code once)."""
    import pyotp

    step = int(time.time() // 30)
    if state.get("last_step", -1) >= step:
        time.sleep((step + 1) * 30 - time.time() + 0.2)
        step = int(time.time() // 30)
    state["last_step"] = step
    return pyotp.TOTP(state["secret"]).now()


def complete_second_step(page, role: str, remember: bool = True):
    """After the password: set up two-step sign-in (first time) or type a code, as the demo person would.

    With ``remember`` the browser is remembered, and later sign-ins in new browsers reuse that cookie (as one
    person's own device would), so a suite that signs the convenor in dozens of times does not wait for fresh codes.
    """
    page.wait_for_url(lambda url: "/auth/login" not in url)
    state = _state(page, role)
    path = page.url.split("?")[0]
    if path.endswith("/auth/mfa/setup"):
        state["secret"] = page.locator("#totp-secret").inner_text().strip()
        page.get_by_label("Code from the app").fill(fresh_code(state))
        if remember:
            page.get_by_label(re.compile(r"^Remember this device")).check()
        page.get_by_role("button", name="Turn on two-step sign-in").click()
        page.get_by_role("heading", name="Your recovery codes").wait_for()
        state["recovery_codes"] = page.locator(".codes code").all_inner_texts()
        _keep_device_cookie(page, state)
        page.get_by_role("link", name=re.compile("I have saved them")).click()
    elif path.endswith("/auth/mfa"):
        if state.get("device"):
            page.context.add_cookies([state["device"]])
            page.goto("/auth/mfa")  # the remembered device finishes the sign-in
        else:
            page.get_by_label(re.compile(r"^Code\b(?! from)")).fill(fresh_code(state))
            if remember:
                page.get_by_label(re.compile(r"^Remember this device")).check()
            page.get_by_role("button", name="Continue").click()
            page.wait_for_load_state()
            _keep_device_cookie(page, state)
    return page


def _keep_device_cookie(page, state: dict) -> None:
    for cookie in page.context.cookies():
        if cookie["name"] == DEVICE_COOKIE:
            state["device"] = {k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}


def sign_in(page, role: str):
    """Sign in through the forms as the demo login of ``role`` (second step included) and wait for the home page."""
    page.goto("/auth/login")
    device = _state(page, role).get("device")
    if device:
        page.context.add_cookies([device])
    page.get_by_label("Email address").fill(DEMO_LOGINS[role])
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    complete_second_step(page, role)
    page.wait_for_url(re.compile(r"/home$"))
    return page


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_environment(instance_dir: Path, port: int) -> dict[str, str]:
    """The settings of the served app: everything in ``instance_dir``, nothing from a developer's own setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMINTEL_", "DATABASE_URL", "REDIS_URL"))}
    env.pop("SECRET_KEY", None)
    env.update(
        COMMINTEL_ENV="demo",
        DATABASE_URL=f"sqlite:///{instance_dir}/commintel.db",
        COMMINTEL_INSTANCE_DIR=str(instance_dir),
        COMMINTEL_BASE_URL=f"http://127.0.0.1:{port}",
        # Every journey signs in from 127.0.0.1; the real limit is tested in tests/webapp.
        COMMINTEL_LOGIN_RATE_LIMIT="10000 per minute",
        PYTHONUNBUFFERED="1",
    )
    return env


def _run(args: list[str], env: dict[str, str], log: Path, what: str, timeout: float) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
            args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if result.returncode != 0:
        tail = log.read_text()[-4000:]
        raise RuntimeError(f"{what} failed (exit {result.returncode}); end of {log}:\n{tail}")


SCHEMA_SCRIPT = """
from webapp import create_app
from webapp.extensions import db
app = create_app()
with app.app_context():
    db.create_all()
"""


# Every route of the app and which demo login may reach it, as the app's own policy decides (JSON on stdout).
ROUTES_SCRIPT = """
import json
from sqlalchemy import select
from webapp import create_app, policy
from webapp.extensions import db
from webapp.models import User
logins = json.loads(%r)
app = create_app()
with app.app_context():
    users = {role: db.session.scalar(select(User).where(User.email == email)) for role, email in logins.items()}
    users["anonymous"] = None
    rules = []
    for rule in app.url_map.iter_rules():
        allowed = [r for r, u in users.items() if policy.decide(rule.endpoint, u) is policy.Decision.ALLOW]
        rules.append({"rule": rule.rule, "endpoint": rule.endpoint, "methods": sorted(rule.methods or ()),
                      "arguments": sorted(rule.arguments), "allowed": allowed})
print(json.dumps(rules))
"""


@dataclass
class LiveApp:
    """A served commintel: its address, its log (where one-time links are written) and its process."""

    base_url: str
    instance_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None
    demo_seconds: float = 0.0
    from_cache: bool = False
    env: dict[str, str] = field(default_factory=dict)
    _routes: list[dict] | None = None

    def one_time_links(self) -> list[str]:
        """Every one-time link the app has written to its log so far, oldest first."""
        return [m.group(2) for m in LINK_PATTERN.finditer(self.log_path.read_text(errors="replace"))]

    def wait_for_new_link(self, seen: int, timeout: float = 30.0) -> str:
        """The first link written after the first ``seen`` links (the log is written by another process; reset links
        by the background worker, which polls its queue)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.one_time_links()
            if len(links) > seen:
                return links[seen]
            time.sleep(0.1)
        raise AssertionError(f"no new one-time link in {self.log_path} after {timeout} s")

    def routes(self) -> list[dict]:
        """Every rule of the app's URL map with the roles its policy lets in (read once, from the app itself)."""
        if self._routes is None:
            import json

            script = ROUTES_SCRIPT % json.dumps(DEMO_LOGINS)
            result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                [sys.executable, "-c", script],
                cwd=PROJECT_ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            self._routes = json.loads(result.stdout.strip().splitlines()[-1])
        return self._routes

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # SIGINT lets `commintel serve` stop its embedded worker in its `finally`.
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
        # Still there: end the process group we started (the server and its worker), politely first.
        for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


# What the demo database is made from: if none of these files changed, a copy of the last one built is the same.
SOURCE_DIRS = ("webapp", "submissions", "nlp", "indicators", "convening")
SOURCE_SUFFIXES = {".py", ".csv", ".json", ".geojson", ".xlsx", ".txt", ".md", ".toml", ".yaml", ".yml", ".ods"}
# Files of the instance folder that are not the demo: the task queue (see `prepare`) and our log.
NOT_DEMO = shutil.ignore_patterns("celery-*.db*", "celerybeat-schedule*", "server.log", "*.db-wal", "*.db-shm")


def source_fingerprint() -> str:
    digest = hashlib.sha256()
    files = [PROJECT_ROOT / "pyproject.toml", PROJECT_ROOT / "constraints.txt"]
    for name in SOURCE_DIRS:
        files += sorted(p for p in (PROJECT_ROOT / name).rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file())
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _checkpoint(database: Path) -> None:
    """Fold SQLite's write-ahead log into the database file, so the file alone is the whole database."""
    with sqlite3.connect(database) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def prepare(instance_dir: Path, port: int, cache_root: Path | None = None) -> LiveApp:
    """Build the schema and load the demo into a fresh database under ``instance_dir``.

    Loading the demo fits the themes model and takes minutes on a busy machine. With ``cache_root``, the instance
    folder `commintel demo` produced is kept there under a fingerprint of the sources it is made from, and later
    sessions start from a copy of it (still a fresh database: nothing a test does reaches the cache).
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    env = app_environment(instance_dir, port)
    live = LiveApp(f"http://127.0.0.1:{port}", instance_dir, instance_dir / "server.log", env=env)
    live.log_path.write_text("")
    if cache_root is None:
        return _load_demo(live, None, None)
    # Several processes may want the demo at once (the suite's workers, the benchmarks the suite runs): one builds it
    # while the others wait for it and copy it, instead of building it again or renaming over each other's copy.
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _load_demo(live, cache_root, cache_root / source_fingerprint())


def _load_demo(live: LiveApp, cache_root: Path | None, cached: Path | None) -> LiveApp:
    instance_dir, env = live.instance_dir, live.env
    if cached is not None and (cached / "commintel.db").is_file():
        shutil.copytree(cached, instance_dir, dirs_exist_ok=True)
        live.from_cache = True
        with live.log_path.open("a") as log:
            log.write(f"demo database copied from {cached}\n")
    else:
        _run([sys.executable, "-c", SCHEMA_SCRIPT], env, live.log_path, "creating the schema", 300)
        started = time.monotonic()
        _run([str(COMMINTEL), "demo"], env, live.log_path, "`commintel demo`", 1800)
        live.demo_seconds = time.monotonic() - started
        _checkpoint(instance_dir / "commintel.db")
        if cached is not None:
            staging = cached.with_name(cached.name + f".tmp{os.getpid()}")
            shutil.copytree(instance_dir, staging, ignore=NOT_DEMO, dirs_exist_ok=True)
            for old in cache_root.iterdir():  # one demo is enough: drop those built from older sources
                if old != staging and old.name != ".lock":
                    shutil.rmtree(old, ignore_errors=True)
            staging.rename(cached)
    return live


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve(live: LiveApp, timeout: float = 90.0) -> LiveApp:
    """Start `commintel serve` on the prepared database and wait until it answers /healthz."""
    port = live.base_url.rsplit(":", 1)[1]
    out = live.log_path.open("a")
    live.process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
        [str(COMMINTEL), "serve", "--host", "127.0.0.1", "--port", port, "--threads", "6"],
        cwd=PROJECT_ROOT,
        env=live.env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a hung server and its worker can be killed together
        # A shell's background jobs ignore SIGINT, and children inherit that; `stop` needs it to end cleanly.
        preexec_fn=_default_sigint,  # noqa: PLW1509 - only resets a signal disposition, before exec
    )
    out.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.process.poll() is not None:
            raise RuntimeError(f"`commintel serve` exited with {live.process.returncode}; see {live.log_path}")
        try:
            with urllib.request.urlopen(f"{live.base_url}/healthz", timeout=2) as response:  # noqa: S310 - local
                if response.status == 200:
                    return live
        except OSError:
            time.sleep(0.25)
    live.stop()
    raise RuntimeError(f"`commintel serve` did not answer within {timeout} s; see {live.log_path}")


def start(instance_dir: Path, cache_root: Path | None = None) -> LiveApp:
    port = free_port()
    return serve(prepare(instance_dir, port, cache_root))
