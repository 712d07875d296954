"""The one commit point: a request commits once after its view returned (whatever the status), rolls back when the
view raised or asked to discard; a CLI command stores all of its work or none of it.

These run on an app of their own with a real SQLite file (no outer test transaction), so that what a request or a
command committed is read back by a fresh connection exactly as the next request would see it.
"""

from __future__ import annotations

import click
import pytest
from flask.cli import with_appcontext
from sqlalchemy import func, select

from tests.conftest import app_config
from webapp import create_app, policy, transactions
from webapp.cli import transaction
from webapp.extensions import db
from webapp.models import Area, AreaLevel
from webapp.operations import OperationError


def _add_area(code: str) -> None:
    db.session.add(Area(code=code, name=f"Ward {code}", level=AreaLevel.WARD))
    db.session.flush()


def _codes(app) -> set[str]:
    with app.app_context():
        codes = set(db.session.scalars(select(Area.code)))
        db.session.remove()
    return codes


@pytest.fixture
def probe_app(tmp_path, monkeypatch):
    """An app with four probe routes that each write an area and then end in a different way."""
    app = create_app(app_config(f"sqlite:///{tmp_path / 'app.db'}", tmp_path))

    def wrote_then_raised():
        _add_area("E05000001")
        raise RuntimeError("the view failed after writing")

    def wrote_then_refused():
        _add_area("E05000002")
        return "refused, but what was noted is kept", 429

    def wrote_then_discarded():
        _add_area("E05000003")
        transactions.discard()
        _add_area("E05000004")  # discarding is for the whole request, not only what came before
        return "shown again", 422

    def wrote_then_succeeded():
        _add_area("E05000005")
        return "done", 200

    for view in (wrote_then_raised, wrote_then_refused, wrote_then_discarded, wrote_then_succeeded):
        app.add_url_rule(f"/probe/{view.__name__}", f"probe.{view.__name__}", view, methods=["POST"])
        monkeypatch.setitem(policy.POLICY, f"probe.{view.__name__}", policy.Rule(policy.EVERYONE))

    @click.command("probe-half-way")
    @click.option("--fail/--no-fail", default=True)
    @with_appcontext
    def probe_half_way(fail: bool) -> None:
        with transaction():
            _add_area("E05000006")
            if fail:
                raise RuntimeError("the command failed half-way")
            _add_area("E05000007")

    app.cli.add_command(probe_half_way)
    with app.app_context():
        db.create_all()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_view_that_wrote_and_then_raised_leaves_nothing(probe_app):
    response = probe_app.test_client().post("/probe/wrote_then_raised")
    assert response.status_code == 500
    assert _codes(probe_app) == set()


def test_a_view_that_wrote_and_returned_an_error_status_keeps_its_write(probe_app):
    """A refused sign-in's counted attempt, a lock-out record: the response is 4xx and the write is kept."""
    response = probe_app.test_client().post("/probe/wrote_then_refused")
    assert response.status_code == 429
    assert _codes(probe_app) == {"E05000002"}


def test_discard_drops_every_write_of_the_request(probe_app):
    response = probe_app.test_client().post("/probe/wrote_then_discarded")
    assert response.status_code == 422
    assert _codes(probe_app) == set()
    # The next request is not affected by the previous one's discard.
    assert probe_app.test_client().post("/probe/wrote_then_succeeded").status_code == 200
    assert _codes(probe_app) == {"E05000005"}


def test_a_command_that_fails_half_way_leaves_nothing(probe_app):
    runner = probe_app.test_cli_runner()
    failed = runner.invoke(args=["probe-half-way", "--fail"])
    assert failed.exit_code != 0
    assert _codes(probe_app) == set()
    done = runner.invoke(args=["probe-half-way", "--no-fail"])
    assert done.exit_code == 0, done.output
    assert _codes(probe_app) == {"E05000006", "E05000007"}


def test_a_command_refused_by_an_operation_says_why_and_leaves_nothing(probe_app):
    """An OperationError half-way: a one-line message (no stack trace), exit 1, nothing stored."""

    @click.command("probe-refused")
    @with_appcontext
    def probe_refused() -> None:
        with transaction():
            _add_area("E05000008")
            raise OperationError("That partnership does not exist.")

    probe_app.cli.add_command(probe_refused)
    result = probe_app.test_cli_runner().invoke(args=["probe-refused"])
    assert result.exit_code == 1
    assert "That partnership does not exist." in result.output
    assert "Traceback" not in result.output
    with probe_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Area)) == 0
        db.session.remove()
