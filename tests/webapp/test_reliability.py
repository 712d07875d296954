"""Reliability of the embedded default under load: no 500 on numbers no record can have; requests that never wait
for a whole background batch; refits that tolerate writes while they run.

The concurrency tests use a real SQLite file shared by threads, as the web process and the embedded worker share it
(the suite's usual fixture wraps each test in one transaction, which would hide exactly these races)."""

from __future__ import annotations

import re
import threading
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.models import Observation, ObservationStatus, SharingLevel
from tests.conftest import PASSWORD, app_config
from webapp import create_app, jobs
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import OrgKind, OrgRole, PlatformRole

HUGE = "99999999999999999999"
# Quick fits; the one organisation of these worlds may name themes on its own (the two-source rule has its tests).
ONE_SOURCE = {"representation": "ctfidf", "term_min_sources": 1}


# Numbers out of range ---------------------------------------------------------------------------------------------


def test_ids_and_pages_no_record_can_have_are_404_and_400_not_500(client_for, world, app):
    """Before: /observations/99999999999999999999 and ?page=99999999999999999999 raised OverflowError (500)."""
    admin = client_for("admin")
    assert admin.get(f"/observations/{HUGE}").status_code == 404
    assert admin.get(f"/observations/{2**31}").status_code == 404
    response = admin.get(f"/observations/?page={HUGE}")
    assert response.status_code == 400
    assert "page" in response.get_data(as_text=True)
    _, raw = submission_ops.create_api_token(world["org"], "Case system", world["users"]["org_admin"])
    db.session.commit()
    api = app.test_client()
    response = api.get(f"/api/v1/observations?page={HUGE}", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 400
    assert "page" in response.get_json()["error"]["message"]
    response = api.get(f"/api/v1/observations?per_page={HUGE}", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 400


def test_no_route_answers_500_to_a_huge_number_in_its_address_or_query(client_for, world, app):
    """Every GET route with a number in its address, for a signed-in admin and a member: never a 500."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        path = re.sub(r"<int:[^>]+>", HUGE, rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        paths.append(path)
        paths.append(f"{path}?page={HUGE}&per_page={HUGE}&session_id={HUGE}")
    for role in ("admin", "member", "convenor"):
        c = client_for(role)
        for path in paths:
            status = c.get(path).status_code
            assert status < 500, f"{role} GET {path}: {status}"


# Requests while the worker writes ---------------------------------------------------------------------------------


def _world_on_a_file(tmp_path, observations: int, **config):
    """An app on its own SQLite file (no background work runs inline), with a member organisation in a partnership,
    an API token and ``observations`` unredacted observations. Returns (app, token, ids)."""
    app = create_app(app_config(f"sqlite:///{tmp_path}/app.db", tmp_path, CELERY_TASK_ALWAYS_EAGER=False, **config))
    with app.app_context():
        db.create_all()
        submission_ops.ensure_default_categories()
        org = webapp_ops.create_organisation("Lawrence Hill Food Share", OrgKind.CHARITY)
        admin = webapp_ops.create_user("orgadmin@example.org", PASSWORD, organisation=org, org_role=OrgRole.ADMIN)
        convenor = webapp_ops.create_user("convenor@example.org", PASSWORD, platform_role=PlatformRole.CONVENOR)
        partnership = webapp_ops.create_partnership("Test Partnership", "test", members=[org], convenors=[convenor])
        agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
        webapp_ops.accept_agreement(agreement, org, admin)
        _, token = submission_ops.create_api_token(org, "Load test", admin)
        with jobs.work_done_inline():  # stored as an import would store them; processed by the test's "worker"
            ids = [
                submission_ops.submit_observation(
                    {"kind": "need", "category": "food", "period": "2025-03",
                     "text": f"Mrs Patel from Easton rang on 07700 900{i:03d} about food parcels for her family ({i}).",
                     "sharing_level": "partnership"},
                    organisation=org, author=admin, partnership=partnership, via="import",
                ).id
                for i in range(observations)
            ]  # fmt: skip
        db.session.commit()
        db.session.remove()
    return app, token, ids


def _submission(i: int) -> dict:
    return {"kind": "asset", "category": "food", "period": "2025-03", "sharing_level": "partnership",
            "text": f"The Saturday community meal fed sixty people again, number {i}."}  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_requests_never_wait_for_a_whole_background_batch(tmp_path):
    """Before: a request took the write lock when it began and the redaction task held it for its whole run (92 s
    for 20,000 rows): sign-ins and /healthz waited 10 s and answered 500. Now the worker holds it only to write each
    batch's results; requests wait at most for that."""
    from nlp.redaction.operations import build_redactor
    from nlp.redaction.tasks import redact_observations

    app, token, ids = _world_on_a_file(tmp_path, 400)
    with app.app_context():
        build_redactor()  # spaCy loaded before timing starts, as in a running worker
        db.session.remove()
    done = threading.Event()

    def worker() -> None:
        with app.app_context():
            try:
                redact_observations(ids)  # the task, as the worker runs it
            finally:
                db.session.remove()
                done.set()

    background = threading.Thread(target=worker)
    background.start()
    client, timings, statuses, saved = app.test_client(), [], [], 0
    auth = {"Authorization": f"Bearer {token}"}
    try:
        i = 0
        while not done.is_set():
            i += 1
            for method, path, kwargs in (
                ("get", "/healthz", {}),
                ("post", "/auth/login", {"data": {"email": "orgadmin@example.org", "password": PASSWORD}}),
                ("post", "/api/v1/observations", {"json": _submission(i), "headers": auth}),
            ):  # fmt: skip
                started = time.perf_counter()
                response = getattr(client, method)(path, **kwargs)
                timings.append(time.perf_counter() - started)
                statuses.append((path, response.status_code))
                saved += response.status_code == 201
            time.sleep(0.05)
    finally:
        background.join(timeout=600)
    assert statuses, "the background batch ended before any request was made"
    assert [s for s in statuses if s[1] >= 500] == []
    assert max(timings) < 5.0, f"a request waited {max(timings):.1f} s for the background work"
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(Observation.id.in_(ids), Observation.redacted_text.is_(None)))
            == 0
        )
        assert db.session.scalar(select(func.count()).select_from(Observation)) == len(ids) + saved
        db.engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_refit_finishes_while_observations_are_submitted_and_the_old_version_serves_until_then(tmp_path, monkeypatch):
    """Before: an observation submitted during a refresh made the refit fail at its next progress update ("database
    is locked"), and marking it failed hit the lock too: "running 40%" for ever. The fit waits until submissions
    have begun, so that they overlap it however fast the machine fits 80 texts."""
    from nlp.themes import fitting
    from nlp.themes import refit as theme_refit
    from nlp.themes.models import ThemeModel, active_model
    from nlp.themes.tasks import refit_themes
    from tests.nlp.conftest import demo_texts
    from webapp.models import Job, JobStatus, Partnership

    app, token, _ = _world_on_a_file(tmp_path, 0, COMMINTEL_THEME_PARAMS=ONE_SOURCE)
    with app.app_context():
        partnership = db.session.scalar(select(Partnership))
        org = partnership.members[0]
        category = submission_ops.active_categories()[0]
        fields = {
            "organisation_id": org.id,
            "partnership_id": partnership.id,
            "kind": "need",
            "category_id": category.id,
            "sharing_level": SharingLevel.PARTNERSHIP,
            "status": ObservationStatus.SUBMITTED,
        }
        for i, text in enumerate(demo_texts()[:80]):
            db.session.add(Observation(**fields, text=text, redacted_text=text, period_start=date(2025, 1 + i % 12, 1)))
        db.session.commit()
        first = theme_refit.refit(partnership)
        db.session.commit()
        job = jobs.enqueue("themes.refit", refit_themes, partnership.id)
        db.session.commit()
        job_id, partnership_id = job.id, partnership.id
        db.session.remove()
    finished, submitting = threading.Event(), threading.Event()
    real_fit = fitting.fit_themes

    def fit_once_submissions_began(*args, **kwargs):
        assert submitting.wait(120), "no submission began"
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fitting, "fit_themes", fit_once_submissions_began)

    def worker() -> None:
        with app.app_context():
            try:
                refit_themes(job_id, partnership_id)
            finally:
                db.session.remove()
                finished.set()

    background = threading.Thread(target=worker)
    background.start()
    client, statuses, versions = app.test_client(), [], set()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        i = 0
        while not finished.is_set():
            i += 1
            response = client.post("/api/v1/observations", json=_submission(i), headers=auth)
            statuses.append(response.status_code)
            if len(statuses) >= 3:
                submitting.set()
            with app.app_context():
                active = db.session.scalars(select(ThemeModel.version).where(ThemeModel.active.is_(True))).all()
                versions.add(tuple(active))
                db.session.remove()
            time.sleep(0.05)
    finally:
        background.join(timeout=900)
    assert len(statuses) >= 3, "the refit ended before the submissions began"
    assert set(statuses) == {201}
    assert versions <= {(1,), (2,)}, f"exactly one version active at every moment: {versions}"
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.status, job.progress) == (JobStatus.DONE, 100), job.message
        assert active_model(partnership_id).version == first.version + 1
        db.engine.dispose()


# Writes that main's later features added -----------------------------------------------------------------------


def test_a_signed_in_page_view_notes_its_session_even_when_the_worker_just_wrote(tmp_path, monkeypatch):
    """Loading the signed-in user notes the session's last use (at most once a minute) in a page view's read
    transaction. Before: when the worker committed between that read and the write, SQLite refused the write at once
    ("database is locked": a read that became a write on a stale snapshot) outside the view, and the page was a 500."""
    import sqlite3
    from datetime import timedelta

    from webapp import accounts
    from webapp.models import UserSession

    app, _token, _ids = _world_on_a_file(tmp_path, 1)
    client = app.test_client()
    response = client.post("/auth/login", data={"email": "orgadmin@example.org", "password": PASSWORD})
    assert response.status_code == 302
    with app.app_context():
        session = db.session.scalar(select(UserSession))
        session.last_seen_at -= timedelta(minutes=5)
        db.session.commit()
        before = session.last_seen_at
        db.session.remove()

    found = accounts.find_session
    writes = []

    def find_session_while_the_worker_writes(raw):
        record = found(raw)  # read in the request's transaction ...
        if not writes:  # ... then the worker commits a batch (another connection), once
            other = sqlite3.connect(f"{tmp_path}/app.db", timeout=30)
            other.execute("UPDATE observations SET redacted_text = 'x', redacted_at = CURRENT_TIMESTAMP")
            other.commit()
            other.close()
            writes.append(1)
        return record

    monkeypatch.setattr(accounts, "find_session", find_session_while_the_worker_writes)
    response = client.get("/home")
    assert response.status_code == 200
    assert writes == [1]
    with app.app_context():
        assert db.session.scalar(select(UserSession.last_seen_at)) > before
        db.engine.dispose()


def test_the_checkpoint_after_an_erasure_holds_writers_up_for_moments_not_its_whole_wait(tmp_path):
    """After an erasure, ``PRAGMA wal_checkpoint(TRUNCATE)`` holds SQLite's write lock while it waits for readers of
    an older snapshot. Before: it waited the connection's busy timeout, four times, so every submission and worker
    batch waited as long as a page kept reading (here 3 s; under load, minutes). Now each try waits 250 ms."""
    import sqlite3

    from webapp import secure_erase

    path = f"{tmp_path}/app.db"
    app = create_app(app_config(f"sqlite:///{path}", tmp_path))
    with app.app_context():
        db.create_all()
        db.session.remove()
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("CREATE TABLE scratch (x INTEGER)")
    first.execute("INSERT INTO scratch VALUES (1)")
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM scratch").fetchone()  # a page reading an older snapshot ...
    first.execute("INSERT INTO scratch VALUES (2)")
    release = threading.Timer(3.0, lambda: reader.execute("COMMIT"))  # ... for three seconds
    release.start()

    def checkpoint() -> None:
        with app.app_context():
            secure_erase.checkpoint_sqlite()
            db.engine.dispose()

    checkpointing = threading.Thread(target=checkpoint)
    checkpointing.start()
    time.sleep(0.3)
    writer = sqlite3.connect(path, isolation_level=None, timeout=30)
    started = time.perf_counter()
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO scratch VALUES (3)")
    writer.execute("COMMIT")
    waited = time.perf_counter() - started
    release.join()
    checkpointing.join()
    for connection in (first, reader, writer):
        connection.close()
    assert waited < 1.5, f"a writer waited {waited:.1f} s behind the checkpoint"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_themes_refresh_from_the_command_line_lets_the_site_write_while_it_fits(tmp_path, monkeypatch):
    """Before: `commintel themes refresh` ran the whole refit in one transaction, which took the write lock when it
    stored the first vectors and kept it through the fit (minutes on a large corpus): beside a served site, every
    submission waited and then failed. Now it writes in short transactions, as the background job does."""
    import sqlite3

    from nlp.themes import refit as theme_refit
    from nlp.themes.models import active_model
    from tests.nlp.conftest import demo_texts
    from webapp.models import Partnership

    app, _token, _ = _world_on_a_file(tmp_path, 0, COMMINTEL_THEME_PARAMS=ONE_SOURCE)
    with app.app_context():
        partnership = db.session.scalar(select(Partnership))
        org = partnership.members[0]
        category = submission_ops.active_categories()[0]
        for i, text in enumerate(demo_texts()[:80]):
            db.session.add(Observation(organisation_id=org.id, partnership_id=partnership.id, kind="need",
                                       category_id=category.id, sharing_level=SharingLevel.PARTNERSHIP,
                                       status=ObservationStatus.SUBMITTED, text=text, redacted_text=text,
                                       period_start=date(2025, 1 + i % 12, 1)))  # fmt: skip
        db.session.commit()
        partnership_id = partnership.id
        db.session.remove()
    fit, during = theme_refit.fit_snapshot, []

    def fit_while_the_site_writes(*args, **kwargs):
        site = sqlite3.connect(f"{tmp_path}/app.db", timeout=2, isolation_level=None)
        try:
            site.execute("BEGIN IMMEDIATE")  # a submission, waiting at most 2 s for the lock
            site.execute("UPDATE organisations SET name = name")
            site.execute("COMMIT")
            during.append("written")
        except sqlite3.OperationalError as exc:
            during.append(str(exc))
        finally:
            site.close()
        return fit(*args, **kwargs)

    monkeypatch.setattr(theme_refit, "fit_snapshot", fit_while_the_site_writes)
    result = app.test_cli_runner().invoke(args=["themes", "refresh", "--partnership", "test"])
    assert result.exit_code == 0, result.output
    assert during == ["written"]
    with app.app_context():
        assert active_model(partnership_id).version == 1
        db.engine.dispose()
