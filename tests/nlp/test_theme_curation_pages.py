"""Curation on the theme page is safe: merging needs a target the person chose and a ticked confirmation, hiding
needs a ticked confirmation, and both are checked by the server (no JavaScript involved). A refused request
changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from nlp.themes.models import Theme, ThemeAssignment, active_model
from tests.nlp.test_theme_pages import _theme
from webapp.extensions import db
from webapp.models import AuditEvent


@pytest.fixture
def themes(world):
    first = _theme(world, [(2, 6, None)])
    second = Theme(partnership_id=first.partnership_id, auto_label="Cold homes", auto_label_machine_made=False)
    db.session.add(second)
    db.session.flush()
    model = active_model(first.partnership_id)
    model.changes = {**model.changes, "topic_theme_ids": [first.id, second.id]}
    db.session.commit()
    return first, second


def _url(theme: Theme, what: str = "") -> str:
    return f"/themes/{theme.partnership.slug}/{theme.id}" + (f"/{what}" if what else "")


def _assigned(theme: Theme) -> int:
    return db.session.scalar(select(func.count()).where(ThemeAssignment.theme_id == theme.id))


def _audited(action: str) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.action == action))


def test_merge_form_preselects_no_target_and_asks_for_confirmation(themes, client_for):
    first, second = themes
    page = client_for("convenor").get(_url(first)).get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="target".*?</select>', page, re.S).group(0)
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select_html)
    assert options[0][1] == "Choose a theme…"
    assert not any("selected" in attrs for attrs, _ in options)
    assert any(label == "Cold homes" for _, label in options)
    assert 'name="confirm"' in page
    assert "Yes, hide this theme" in page


def test_merge_without_a_chosen_target_changes_nothing(themes, client_for):
    first, second = themes
    before = _assigned(first)
    client = client_for("convenor")
    response = client.post(_url(first, "merge"), data={"target": "0", "confirm": "y"}, follow_redirects=True)
    assert response.status_code == 200
    assert "choose the theme to merge this one into. Nothing was merged." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Theme, first.id).merged_into_id is None
    assert _assigned(first) == before
    assert _audited("themes.merge") == 0
    # No target at all (a hand-made request) is refused the same way.
    client.post(_url(first, "merge"), data={"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(Theme, first.id).merged_into_id is None


def test_merge_without_confirmation_changes_nothing_and_with_it_merges(themes, client_for):
    first, second = themes
    before = _assigned(first)
    client = client_for("convenor")
    response = client.post(_url(first, "merge"), data={"target": str(second.id)}, follow_redirects=True)
    assert "Tick the box to confirm the merge. Nothing was merged." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Theme, first.id).merged_into_id is None
    assert _assigned(second) == 0

    response = client.post(_url(first, "merge"), data={"target": str(second.id), "confirm": "y"})
    assert response.headers["Location"].endswith(_url(second))
    db.session.expire_all()
    assert db.session.get(Theme, first.id).merged_into_id == second.id
    assert _assigned(second) == before
    assert _audited("themes.merge") == 1


def test_hide_needs_confirmation_and_showing_again_does_not(themes, client_for):
    first, _ = themes
    client = client_for("convenor")
    response = client.post(_url(first, "hide"), data={}, follow_redirects=True)
    assert "Tick the box to confirm hiding the theme. It was not hidden." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Theme, first.id).hidden is False

    client.post(_url(first, "hide"), data={"confirm": "y"})
    db.session.expire_all()
    assert db.session.get(Theme, first.id).hidden is True

    client.post(_url(first, "hide"), data={})
    db.session.expire_all()
    assert db.session.get(Theme, first.id).hidden is False
