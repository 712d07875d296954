"""The embedded task queue: how many messages a second a real worker moves, and whether a killed worker's message
is delivered again. kombu's SQLAlchemy transport (the embedded default before, with its default 1 s polling and
tuned to 0.05 s) beside commintel's SQLite transport (webapp.sqlite_queue, the embedded default now).

    .venv/bin/python benchmarks/embedded_queue.py [--messages 500] [--transport N]

Each transport gets a fresh folder, a Celery worker configured as `commintel serve` starts it (threads pool,
concurrency 2, prefetch 1, acks_late) and ``--messages`` no-op tasks (each writes one row to a small SQLite file so
that completion is counted outside the broker). Then one task that sleeps is sent, the worker is SIGKILLed while it
runs, a new worker starts, and the script waits up to 60 s for the task to run again.

This file is also the worker's Celery app (``celery -A benchmarks.embedded_queue``), configured from the
environment by the driver.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent

app = Celery("queue-benchmark")
if os.environ.get("QUEUE_BENCH_POLL"):
    # kombu's SQLAlchemy transport hands its transport options to create_engine(), so its polling interval cannot
    # be set through them: tuning it means changing the class.
    from kombu.transport import sqlalchemy as kombu_sqlalchemy

    kombu_sqlalchemy.Transport.polling_interval = float(os.environ["QUEUE_BENCH_POLL"])
if os.environ.get("QUEUE_BENCH_BROKER"):
    app.conf.update(
        broker_url=os.environ["QUEUE_BENCH_BROKER"],
        broker_transport=os.environ.get("QUEUE_BENCH_TRANSPORT") or None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
    )


def _done_db() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ["QUEUE_BENCH_DONE"], timeout=30, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS done (n INTEGER, pid INTEGER)")
    return conn


@app.task(name="bench.noop")
def noop(n: int) -> None:
    conn = _done_db()
    conn.execute("INSERT INTO done VALUES (?, ?)", (n, os.getpid()))
    conn.close()


@app.task(name="bench.sleepy")
def sleepy(n: int, seconds: float) -> None:
    conn = _done_db()
    conn.execute("INSERT INTO done VALUES (?, ?)", (-n, os.getpid()))  # started
    conn.close()
    marker = Path(os.environ["QUEUE_BENCH_DONE"] + ".slept")
    if not marker.exists():  # the first delivery sleeps (and is killed); a second one finishes at once
        marker.touch()
        time.sleep(seconds)
    noop(n)


TRANSPORTS = {
    "kombu SQLAlchemy, 1 s polling (before)": ("sqla+sqlite:///{dir}/broker.db", None, None),
    "kombu SQLAlchemy, 0.05 s polling": ("sqla+sqlite:///{dir}/broker.db", None, "0.05"),
    "commintel SQLite transport (now)": ("sqlite-queue://{dir}/celery-queue.db", "webapp.sqlite_queue:Transport", None),
}


def _count(done: Path, where: str = "n >= 0") -> int:
    try:
        with sqlite3.connect(done, timeout=30) as conn:
            return conn.execute(f"SELECT count(*) FROM done WHERE {where}").fetchone()[0]  # noqa: S608 - fixed text
    except sqlite3.OperationalError:
        return 0


def _worker(env: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "benchmarks.embedded_queue", "worker", "--pool=threads",
               "--concurrency=2", "--without-gossip", "--without-mingle", "--loglevel=WARNING"]  # fmt: skip
    with log.open("a") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def _wait(predicate, timeout: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(0.05)
    return None


def measure(name: str, url: str, transport: str | None, poll: str | None, messages: int, folder: Path) -> None:
    url = url.format(dir=folder)
    done = folder / "done.db"
    env = {**os.environ, "QUEUE_BENCH_BROKER": url, "QUEUE_BENCH_TRANSPORT": transport or "",
           "QUEUE_BENCH_POLL": poll or "", "QUEUE_BENCH_DONE": str(done), "PYTHONPATH": str(ROOT)}  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("QUEUE_BENCH")})
    app.conf.update(broker_url=url, broker_transport=transport)
    log = folder / "worker.log"
    worker = _worker(env, log)
    try:
        noop.apply_async(args=[0])  # the worker is up when this one is done
        if _wait(lambda: _count(done) >= 1, 120) is None:
            print(f"{name}: the worker did not start; see {log}")
            return
        started = time.perf_counter()
        for n in range(1, messages + 1):
            noop.apply_async(args=[n])
        published = time.perf_counter() - started
        drained = _wait(lambda: _count(done) >= messages + 1, 1800)
        total = (published + drained) if drained is not None else float("nan")
        print(f"{name}: {messages} messages published in {published:.1f} s, all run {total:.1f} s after the first "
              f"was sent: {messages / total:.1f} messages/s; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        sleepy.apply_async(args=[10_000, 60])
        if _wait(lambda: _count(done, "n = -10000") >= 1, 60) is None:
            print(f"{name}: the slow task did not start")
            return
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        worker = _worker(env, log)
        again = _wait(lambda: _count(done, "n = 10000") >= 1, 60)
        print(f"{name}: a message held by a SIGKILLed worker "
              + (f"ran again {again:.1f} s after a new worker was started" if again is not None
                 else "was NOT delivered again within 60 s"))  # fmt: skip
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--transport", choices=range(len(TRANSPORTS)), type=int, help="measure only this one")
    args = parser.parse_args()
    if args.transport is None:
        print(f"load average at start: {os.getloadavg()}")
        for index in range(len(TRANSPORTS)):  # each in a fresh process: Celery keeps its broker connections
            command = [sys.executable, __file__, "--messages", str(args.messages), "--transport", str(index)]
            subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603 - this script
        return
    name, (url, transport, poll) = list(TRANSPORTS.items())[args.transport]
    with tempfile.TemporaryDirectory(prefix="commintel-queue-") as tmp:
        measure(name, url, transport, poll, args.messages, Path(tmp))


if __name__ == "__main__":
    main()
