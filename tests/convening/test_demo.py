"""The convening demo: with nothing to brief on yet it skips the briefings and leaves no session behind, while what
the same `commintel demo` transaction wrote before it stays (it is undone in a savepoint, not by a rollback)."""

from __future__ import annotations

from sqlalchemy import select

from convening import demo
from convening.models import Session
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Organisation, OrgKind


def test_the_demo_without_data_skips_the_briefings_and_keeps_what_came_before(cworld):
    # What the demo loaders before this one wrote in the same transaction (not committed yet).
    cworld["partnership"].slug = "bristol"
    earlier = webapp_ops.create_organisation("Loaded earlier in the same transaction", OrgKind.CHARITY)
    db.session.flush()

    lines = demo._load_sessions()

    assert len(lines) == 1
    assert lines[0].startswith("Briefings: skipped (")
    assert "there is nothing to brief on yet" in lines[0]
    assert db.session.scalars(select(Session)).all() == []  # the session made for the briefing went with it
    assert earlier in db.session  # not thrown away by a rollback of the whole transaction
    assert db.session.scalar(select(Organisation.id).where(Organisation.id == earlier.id)) == earlier.id
    assert cworld["partnership"].slug == "bristol"
