"""The shared partnership and period fields (templates/_partnership.html) that the areas, gaps, index and grants
pages put in their filter forms."""

from __future__ import annotations

from types import SimpleNamespace


def test_the_partnership_field_lists_every_partnership_and_selects_the_shown_one(app):
    shown = SimpleNamespace(id=2, slug="bath", name="Bath")
    partnerships = [SimpleNamespace(id=1, slug="bristol", name="Bristol"), shown]
    with app.app_context():
        macros = app.jinja_env.get_template("_partnership.html").module
        html = str(macros.partnership_field(partnerships, shown))
    assert '<option value="bristol">Bristol</option>' in html
    assert '<option value="bath" selected>Bath</option>' in html


def test_the_period_field_carries_its_caption_and_the_chosen_period(app):
    with app.app_context():
        macros = app.jinja_env.get_template("_partnership.html").module
        html = str(macros.period_field("12", "Grants awarded and observations made in"))
    assert '<label for="months">Grants awarded and observations made in</label>' in html
    assert '<option value="12" selected>Last 12 months</option>' in html
    assert html.count(" selected") == 1
