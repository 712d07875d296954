"""The nightly theme refit of every partnership with 1 and with 2 real Celery worker processes, and the speed-up.

    .venv/bin/python benchmarks/refit_workers.py                                   # SQLite + the embedded queue
    BENCH_DATABASE_URL=postgresql://commintel:commintel@127.0.0.1:5432/scratch \\
        .venv/bin/python benchmarks/refit_workers.py --redis-url redis://127.0.0.1:6390/12   # PostgreSQL + Redis

The PostgreSQL database is emptied (drop_all) and the Redis database flushed first: point them at scratch ones.

1. ``--partnerships`` partnerships (default 20), each with ``--observations`` shared, redacted observations
   (default 300): NHS Friends and Family Test comments from ../shared/data when it is there, else the vendored demo
   texts; every third from the public form (a second source, so that shared words can name themes).
2. Their vectors are computed and stored first (once), so that what is timed is the refit itself, as on a night
   when the pipeline has embedded the day's observations.
3. For each worker count in ``--workers`` (default 1 and 2): the themes are cleared, that many
   `celery -A webapp.worker worker --concurrency 1` processes are started (each one process: a refit is one
   process's work), the nightly refit is sent (one job that splits into one job per partnership,
   ``webapp.jobs.fan_out``), and the wall time from sending it until the parent job is settled is printed with the
   refits each worker did, the load average before and after, and the speed-up over one worker.

The machine's load average is printed with every figure: on a machine shared with other work the speed-up of a
second worker is bounded by the cores left free (two cores shared with others here: see the README's figures).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _corpora  # noqa: E402 - beside this script

# A warm-up partnership's size: small, but enough for a fit to find themes in (40 is the least it takes).
MIN_WARM_UP = 80


def say(message: str) -> None:
    print(message, flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def corpus_texts(limit: int) -> tuple[list[str], str]:
    """Up to ``limit`` distinct texts: the NHS comments when ../shared/data is there, else the demo's."""
    if _corpora.NHS_CSV.is_file():
        texts = list(dict.fromkeys(t for t in _corpora.nhs().texts if len(t.split()) >= 3))
        return texts[:limit], "NHS Friends and Family Test comments"
    from submissions.demo import demo_texts

    return demo_texts()[:limit], "the demo's texts (../shared/data is absent)"


def environment(folder: Path, database_url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMINTEL_", "DATABASE_URL", "REDIS_URL"))}
    env.pop("SECRET_KEY", None)
    env.update(
        COMMINTEL_ENV="development",
        DATABASE_URL=database_url,
        COMMINTEL_INSTANCE_DIR=str(folder),
        # The encoder's one-off ONNX export is kept between runs (as the other benchmarks keep their vectors).
        COMMINTEL_MODEL_CACHE_DIR=os.environ.get("COMMINTEL_MODEL_CACHE_DIR", str(_corpora.CACHE / "models")),
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def build(app, partnerships: int, per: int, warm: int) -> tuple[list[int], list[int], str]:
    """The partnerships and their observations (and ``warm`` small warm-up partnerships), with every vector stored.
    Returns (partnership ids, warm-up partnership ids, corpus)."""
    from nlp import embeddings as emb
    from nlp.themes import vectors as theme_vectors
    from submissions import operations as submission_ops
    from submissions.models import Observation, ObservationStatus, SharingLevel
    from webapp import operations as webapp_ops
    from webapp.extensions import db
    from webapp.models import OrgKind, OrgRole

    texts, corpus = corpus_texts(partnerships * per)
    with app.app_context():
        db.drop_all()
        db.create_all()
        submission_ops.ensure_default_categories()
        category = submission_ops.active_categories()[0]
        ids, made = [], []
        for p in range(partnerships + warm):
            per_here = per if p < partnerships else MIN_WARM_UP
            org = webapp_ops.create_organisation(f"Bench members {p}", OrgKind.CHARITY)
            admin = webapp_ops.create_user(f"admin{p}@example.org", "a long bench password 1", organisation=org,
                                           org_role=OrgRole.ADMIN)  # fmt: skip
            name = f"Bench partnership {p:03d}" if p < partnerships else f"Warm-up {p - partnerships}"
            partnership = webapp_ops.create_partnership(name, f"bench-{p}", members=[org])
            agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations.")
            webapp_ops.accept_agreement(agreement, org, admin)
            for i in range(per_here):
                text = texts[(p * per + i) % len(texts)]
                public = i % 3 == 2
                obs = Observation(
                    organisation_id=None if public else org.id, partnership_id=partnership.id, kind="need",
                    category_id=category.id, sharing_level=SharingLevel.PARTNERSHIP, text=text, redacted_text=text,
                    period_start=date(2025, 1 + i % 12, 1), consent_to_quote=True,
                    status=ObservationStatus.APPROVED if public else ObservationStatus.SUBMITTED,
                )  # fmt: skip
                db.session.add(obs)
                made.append(obs)
            ids.append(partnership.id)
        db.session.commit()
        say(f"{partnerships} partnerships x {per} observations (and {warm} warm-up partnerships of {MIN_WARM_UP}) "
            f"stored ({corpus}); embedding them (once)...")  # fmt: skip
        started = time.perf_counter()
        model = theme_vectors.encoder()
        distinct = list(dict.fromkeys(o.redacted_text for o in made))
        vectors = dict(
            zip(distinct, emb.encode(distinct, batch_size=theme_vectors.EMBED_BATCH, model=model), strict=True)
        )
        by_id = {o.id: o.redacted_text for o in made}
        items = sorted(by_id)
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            theme_vectors.store_vectors({i: by_id[i] for i in chunk}, {i: vectors[by_id[i]] for i in chunk})
            db.session.commit()
        say(f"  {len(distinct)} distinct texts embedded and {len(items)} vectors stored in "
            f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        db.session.remove()
    return ids[:partnerships], ids[partnerships:], corpus


def clear_themes(app) -> None:
    from sqlalchemy import delete

    from nlp.themes.models import RefitLock, Theme, ThemeAssignment, ThemeModel
    from webapp.extensions import db
    from webapp.models import Job

    with app.app_context():
        for model in (ThemeAssignment, Theme, ThemeModel, RefitLock):
            db.session.execute(delete(model))
        db.session.execute(delete(Job).where(Job.parent_id.is_not(None)))
        db.session.execute(delete(Job))
        db.session.commit()
        db.session.remove()


def start_workers(n: int, env: dict[str, str], folder: Path, tag: str) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        log = folder / f"worker-{tag}-{i}.log"
        command = [sys.executable, "-m", "celery", "-A", "webapp.worker", "worker", "--pool=prefork",
                   "--concurrency=1", "--loglevel=INFO", "-n", f"refit{tag}-{i}@%h", "--without-gossip",
                   "--without-mingle"]  # fmt: skip
        with log.open("w") as out:
            workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))  # noqa: S603
    deadline = time.monotonic() + 300
    for i in range(n):
        log = folder / f"worker-{tag}-{i}.log"
        while "ready." not in log.read_text(errors="replace"):
            if workers[i].poll() is not None or time.monotonic() > deadline:
                stop_workers(workers)
                raise SystemExit(f"worker {i} did not start; see {log}:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=60)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def warm_up(app, warm_ids: list[int], timeout: float) -> None:
    """One small refit per worker before timing: a worker that has just started imports BERTopic and loads the
    encoder on its first refit (10-20 s here), which a long-running production worker has long done."""
    from nlp.themes.tasks import refit_themes
    from webapp import jobs
    from webapp.extensions import db
    from webapp.models import Job, JobStatus

    with app.app_context():
        made = [jobs.enqueue("themes.refit", refit_themes, pid) for pid in warm_ids]
        db.session.commit()
        job_ids = [j.id for j in made]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            db.session.remove()
            states = [db.session.get(Job, i).status for i in job_ids]
            if all(s in (JobStatus.DONE, JobStatus.FAILED) for s in states):
                db.session.remove()
                return
            time.sleep(0.5)
    raise SystemExit("the warm-up refits did not finish")


def run_nightly(app, timeout: float) -> tuple[float, object]:
    """Send the nightly refit as beat does and wait until its job is settled; returns (seconds, the job)."""
    from sqlalchemy import select

    from nlp.themes.tasks import refit_themes
    from webapp import jobs
    from webapp.extensions import db
    from webapp.models import Job, JobStatus

    with app.app_context():
        started = time.perf_counter()
        job = jobs.enqueue("themes.refit", refit_themes, None)
        db.session.commit()
        job_id = job.id
        last = ""
        while time.perf_counter() - started < timeout:
            db.session.remove()
            job = db.session.get(Job, job_id)
            if job.status in (JobStatus.DONE, JobStatus.FAILED):
                seconds = time.perf_counter() - started
                parts = list(db.session.scalars(select(Job).where(Job.parent_id == job_id)))
                db.session.expunge_all()
                return seconds, (job, parts)
            parts = list(db.session.scalars(select(Job).where(Job.parent_id == job_id)))
            _, message = jobs.summary(parts) if parts else (0, job.message or job.status.value)
            if message != last:
                say(f"    {time.perf_counter() - started:6.0f} s  {message}")
                last = message
            time.sleep(1.0)
        raise SystemExit(f"the nightly refit did not finish in {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partnerships", type=int, default=20)
    parser.add_argument("--observations", type=int, default=300, help="per partnership")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker process counts to time")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"),
                        help="Redis broker (default: the embedded SQLite queue)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="commintel-refit-workers-"))
    database_url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder}/commintel.db"
    env = environment(folder, database_url, args.redis_url)
    os.environ.update(env)
    for name in ("REDIS_URL",):
        if name not in env:
            os.environ.pop(name, None)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    from webapp import create_app

    app = create_app()
    backend = ("PostgreSQL" if database_url.startswith("postgresql") else "SQLite") + (
        " + Redis" if args.redis_url else " + the embedded queue"
    )
    say(f"refit_workers: {backend}; {os.cpu_count()} cores; {load()}")
    ids, warm_ids, corpus = build(app, args.partnerships, args.observations, max(args.workers))
    timings: dict[int, float] = {}
    for n in args.workers:
        clear_themes(app)
        workers = start_workers(n, env, folder, str(n))
        try:
            warm_up(app, warm_ids[:n], args.timeout)
            say(f"{n} worker process(es) ready and warm; {load()}; sending the nightly refit of {len(ids)} "
                f"partnerships (and the {len(warm_ids)} warm-up ones)")  # fmt: skip
            seconds, (job, parts) = run_nightly(app, args.timeout)
        finally:
            stop_workers(workers)
        timings[n] = seconds
        per_worker = Counter(p.worker.split(" ")[1] if p.worker else "?" for p in parts)
        busy = sum((p.finished_at - p.started_at).total_seconds() for p in parts if p.finished_at and p.started_at)
        say(f"  {n} worker(s): {seconds:.1f} s wall for {len(parts)} refits ({job.status.value}: {job.message}); "
            f"the refits took {busy:.1f} s in all; per worker process {sorted(per_worker.values(), reverse=True)}; "
            f"{load()}")  # fmt: skip
    if 1 in timings:
        for n, seconds in sorted(timings.items()):
            if n != 1:
                say(f"speed-up with {n} workers: {timings[1] / seconds:.2f}x ({timings[1]:.1f} s -> {seconds:.1f} s)")
    say(f"done; {load()}; logs in {folder}")


if __name__ == "__main__":
    main()
