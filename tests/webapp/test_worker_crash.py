"""A worker killed in the middle of a job (SIGKILL: no clean-up at all) leaves nothing behind: when a worker starts
again the job runs again and finishes. Real worker processes on the embedded SQLite queue.

Before: the embedded queue kept the killed worker's message invisible for ever, and the job's row said "running"
for ever (in the issue: "running 2%", and 5,000 imported observations never embedded or themed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import app_config
from webapp import create_app, jobs
from webapp.extensions import db
from webapp.models import Job, JobStatus

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "tests.webapp.crash_worker_app", "worker", "--pool=threads",
               "--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=INFO"]  # fmt: skip
    with log.open("a") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_for(app, job_id: str, status: JobStatus, timeout: float, log: Path) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id)
            db.session.expunge_all()
            db.session.remove()
        if job.status is status:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job still {job.status.value} after {timeout:.0f} s; worker log:\n{log.read_text()[-3000:]}")


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_job_whose_worker_was_killed_runs_again_and_finishes_when_a_worker_starts(tmp_path):
    database = f"sqlite:///{tmp_path}/app.db"
    app = create_app(app_config(database, tmp_path, CELERY_TASK_ALWAYS_EAGER=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMINTEL_", "DATABASE_URL", "REDIS_URL"))}
    env.update(COMMINTEL_ENV="testing", DATABASE_URL=database, COMMINTEL_INSTANCE_DIR=str(tmp_path),
               PYTHONPATH=str(PROJECT_ROOT), PYTHONUNBUFFERED="1")  # fmt: skip
    log = tmp_path / "worker.log"
    celery = app.extensions["celery"]

    @celery.task(name="tests.slow_first_time")
    def slow_first_time(job_id: str, marker: str, seconds: float) -> dict:  # sent from here, run by the worker
        raise AssertionError("runs in the worker process")

    with app.app_context():
        db.create_all()
        job = jobs.enqueue("test", slow_first_time, str(tmp_path / "ran-once"), 300)
        db.session.commit()  # the message is sent now
        job_id = job.id
        db.session.remove()

    first = _start_worker(env, log)
    second = None
    try:
        _wait_for(app, job_id, JobStatus.RUNNING, 180, log)
        time.sleep(1)  # well inside the job's 300 s
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        with app.app_context():
            assert db.session.get(Job, job_id).status is JobStatus.RUNNING, "killed mid-job: nobody recorded its end"
            db.session.remove()

        second = _start_worker(env, log)
        job = _wait_for(app, job_id, JobStatus.DONE, 180, log)
        assert job.result == {"finished_by": second.pid}
        assert job.progress == 100
        assert job.message == "Nearly there", "the last progress message reported stays on the job page"
        assert job.attempts == 2
    finally:
        if first.poll() is None:
            first.kill()
        if second is not None:
            _stop(second)
        with app.app_context():
            db.engine.dispose()


def test_serve_starts_its_worker_again_when_it_dies(tmp_path, monkeypatch):
    """The embedded worker is `commintel serve`'s child: killed (by the system, for memory, say), it is started
    again, and its start-up recovers what it was doing. Before, the site ran on with no background work at all."""
    from webapp import cli

    started: list[subprocess.Popen] = []

    def start(instance_dir=None) -> subprocess.Popen:
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
        return started[-1]

    monkeypatch.setattr(cli, "start_embedded_worker", start)
    monkeypatch.setattr(cli, "start_embedded_scheduler", start)
    app = create_app(app_config(f"sqlite:///{tmp_path}/app.db", tmp_path))
    with app.app_context():
        worker = cli.EmbeddedWorker().start()
    try:
        assert len(started) == 2, "a worker and the scheduler"
        worker.process.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(started) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(started) == 3, "the dead worker was not started again"
        assert worker.process is started[2]
        assert all(p.poll() is None for p in worker.processes.values())
    finally:
        worker.stop()
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
    assert all(p.returncode is not None for p in started), "stopping the server stops its background processes"


def test_the_embedded_worker_runs_below_the_site(tmp_path):
    """`commintel serve`'s worker yields the processor to requests: every thread of it, started after the app
    exists, runs at the lower priority (before: the same priority, and with 50 submitters during a redaction the
    worker took 42 of 61 processor-seconds and the pages' p95 was 2.3 s; benchmarks/load_and_fault.py)."""
    from webapp import cli

    env = {**cli.embedded_worker_environment(), "COMMINTEL_ENV": "testing", "COMMINTEL_INSTANCE_DIR": str(tmp_path)}
    probe = (
        "import os, threading\n"
        "import webapp.worker\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))\n"
        "t.start(); t.join()\n"
        "print(os.getpriority(os.PRIO_PROCESS, 0), seen[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    here = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(19, here + cli.EMBEDDED_WORKER_NICE)
    assert out.stdout.split()[-2:] == [str(expected), str(expected)], out.stdout + out.stderr
    # A production worker (no variable) keeps the priority it was started with.
    plain = {k: v for k, v in env.items() if k != "COMMINTEL_WORKER_NICE"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=plain, capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert out.stdout.split()[-2:] == [str(here), str(here)], out.stdout + out.stderr
    # A value that is not a niceness stops the worker with a message naming the setting, not a traceback.
    for bad in ("ten", "-5", "40"):
        out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             env={**plain, "COMMINTEL_WORKER_NICE": bad}, timeout=120)  # fmt: skip
        assert out.returncode != 0
        assert f"COMMINTEL_WORKER_NICE must be a whole number from 0 to 19, got {bad!r}" in out.stderr
        assert "Traceback" not in out.stderr


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan is adopted by init and would show as running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_server_takes_its_worker_and_scheduler_with_it(tmp_path, sig):
    """`kill`, systemd and docker stop send SIGTERM; the out-of-memory killer SIGKILL. Before, `commintel serve`
    stopped its worker and scheduler only on Ctrl+C: stopped any other way, both ran on, orphaned, and the next
    `commintel serve` started a second pair beside them (two schedulers, two workers on one SQLite queue). Now
    SIGTERM runs serve's clean-up, and each child asks Linux for SIGTERM when its parent dies (webapp/worker.py)."""
    from tests.browser.live_app import COMMINTEL, app_environment, free_port

    port = free_port()
    env = app_environment(tmp_path, port)
    log = tmp_path / "serve.log"
    subprocess.run([str(COMMINTEL), "db", "upgrade"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True,
                   timeout=120)  # fmt: skip
    with log.open("a") as out:
        server = subprocess.Popen([str(COMMINTEL), "serve", "--port", str(port)], cwd=PROJECT_ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        # Both children up, and each past importing webapp.worker (where it asks for the parent-death signal).
        while time.monotonic() < deadline and not (
            len(children := _children(server.pid)) == 2
            and log.read_text().count("celery@") + log.read_text().count("beat: Starting") >= 2  # fmt: skip
        ):
            assert server.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        assert len(children) == 2, (children, log.read_text()[-3000:])
        server.send_signal(sig)
        server.wait(timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(map(_running, children)):
            time.sleep(0.5)
        left = [pid for pid in children if _running(pid)]
        assert not left, f"still running after the server stopped: {left}\n{log.read_text()[-3000:]}"
    finally:
        for pid in [server.pid, *children]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            server.wait(timeout=10)
