"""The real app for browser tests and screenshots: a fresh SQLite database with the demo data, served for real.

The steps are the ones a newcomer runs (`make demo`): build the schema, load the demo with the `commintel demo`
command itself, then `commintel serve` (waitress plus the embedded background worker), each in its own process so the
browser talks to exactly what users get. Only the schema step differs: it uses ``db.create_all()`` like the rest of
the suite, so the journeys do not depend on the migration chain being joined up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
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
LINK_PATTERN = re.compile(r"one-time link \(token (\d+)\): (\S+)")


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
    env: dict[str, str] = field(default_factory=dict)
    _routes: list[dict] | None = None

    def one_time_links(self) -> list[str]:
        """Every one-time link the app has written to its log so far, oldest first."""
        return [m.group(2) for m in LINK_PATTERN.finditer(self.log_path.read_text(errors="replace"))]

    def wait_for_new_link(self, seen: int, timeout: float = 10.0) -> str:
        """The first link written after the first ``seen`` links (the log is written by another process)."""
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
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def prepare(instance_dir: Path, port: int) -> LiveApp:
    """Build the schema and load the demo into a fresh database under ``instance_dir``."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    env = app_environment(instance_dir, port)
    live = LiveApp(f"http://127.0.0.1:{port}", instance_dir, instance_dir / "server.log", env=env)
    live.log_path.write_text("")
    _run([sys.executable, "-c", SCHEMA_SCRIPT], env, live.log_path, "creating the schema", 300)
    started = time.monotonic()
    _run([str(COMMINTEL), "demo"], env, live.log_path, "`commintel demo`", 900)
    live.demo_seconds = time.monotonic() - started
    return live


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


def start(instance_dir: Path) -> LiveApp:
    port = free_port()
    return serve(prepare(instance_dir, port))
