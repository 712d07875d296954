"""The theme list and theme pages: totals that cannot give a hidden month away, the month chart, the link to the
theme against deprivation. Themes are stored directly (no model fit): these tests are about what the pages show."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from nlp import queries
from nlp.models import Theme, ThemeAssignment, ThemeModel
from webapp import operations
from webapp.extensions import db

# Observations per month, counted back from this month: every month below k = 5 but one. The four hidden months
# (3, 4, 2, 1) sum to 10: the total 16 tells a reader only that sum, and each hidden month could still be any of
# several values, so the exact total may be shown (secondary suppression).
MONTHS = {2: 3, 3: 4, 4: 2, 5: 1, 6: 6}
TOTAL = sum(MONTHS.values())
# Two hidden months of 1 each: a total of 8 beside the 6 shown would tell that both are exactly 1.
GIVEAWAY = {2: 1, 3: 1, 6: 6}


@pytest.fixture
def theme(world):
    return _theme(world, [(back, n, None) for back, n in MONTHS.items()])


def _theme(world, batches: list[tuple[int, int, str | None]]) -> Theme:
    """A theme with batches of (months back from this one, observations, code of the area they are placed in)."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    agreement = operations.publish_agreement(partnership, "We share observations at partnership level.", None)
    operations.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    theme = Theme(partnership_id=partnership.id, auto_label="Damp in rented homes", auto_label_machine_made=False)
    db.session.add(theme)
    db.session.flush()
    model = ThemeModel(
        partnership_id=partnership.id, embedding_model="test", path="test", active=True, corpus_size=TOTAL,
        changes={"topic_theme_ids": [theme.id]},
    )  # fmt: skip
    db.session.add(model)
    housing = db.session.scalar(select(Category).where(Category.slug == "housing-and-homelessness"))
    this_month = queries.month_start(date.today())
    from webapp.models import Area

    for back, n, code in batches:
        area_id = db.session.scalar(select(Area.id).where(Area.code == code)) if code else None
        for _ in range(n):
            obs = Observation(
                organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
                area_id=area_id, category_id=housing.id, text="Damp and mould in the flat",
                redacted_text="Damp and mould in the flat",
                period_start=queries.add_months(this_month, -back), status=ObservationStatus.SUBMITTED,
                sharing_level=SharingLevel.PARTNERSHIP,
            )  # fmt: skip
            db.session.add(obs)
            db.session.flush()
            db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
    db.session.commit()
    return theme


def _row(page: str, label: str) -> str:
    match = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{label}</a>.*?</tr>", page, re.S)
    assert match, f"no row for {label}"
    return match.group(0)


def test_theme_list_shows_a_total_that_cannot_give_any_hidden_month_away(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[0] == str(TOTAL)
    assert row.count("fewer than 5") == 4  # the four small months, still hidden
    assert "<td>6</td>" in row


def test_theme_list_total_does_not_give_hidden_months_away(world, client_for):
    _theme(world, [(back, n, None) for back, n in GIVEAWAY.items()])
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[0] == "at least 6"  # the month shown, as a lower bound
    assert ">8<" not in row
    assert row.count("fewer than 5") == 2


def test_theme_page_charts_only_the_shown_months(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert f"Observations in this theme, all time: {TOTAL}." in page
    spec = json.loads(re.search(r'id="theme-months-chart-spec">(.*?)</script>', page, re.S).group(1))
    bars = spec["datasets"]["bars"]
    assert len(bars) == 12 - 4  # the four hidden months are not drawn at all (zero is not hidden)
    assert [bar["value"] for bar in bars if bar["value"]] == [6]
    assert "not drawn" in spec["description"]
    six = queries.add_months(queries.month_start(date.today()), -6).strftime("%B %Y")
    assert re.search(rf'<th scope="row">{six}</th><td>6</td>', page)  # the text alternative: every month
    assert page.count("<td>fewer than 5</td>") == 4


def test_theme_page_guards_a_total_that_would_give_hidden_months_away(world, client_for):
    theme = _theme(world, [(back, n, None) for back, n in GIVEAWAY.items()])
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "Observations in this theme, all time: at least 6." in page
    # The places add up to the total as well: the only one is not shown, rather than giving the 8 away.
    assert re.search(r"Whole partnership area</th><td>not shown</td>", page)


def test_theme_page_links_to_the_theme_against_deprivation(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    href = f'href="/areas/themes/{theme.id}"'
    assert href in page
    assert client_for("convenor").get(f"/areas/themes/{theme.id}").status_code == 200


def test_theme_list_total_does_not_give_a_hidden_place_away(world, client_for):
    from webapp.models import Area, AreaLevel

    db.session.add(Area(code="E05000001", name="Small Ward", level=AreaLevel.WARD))
    db.session.flush()
    # Every month shown (6 and 7), but 3 of the 13 are in a ward of their own: its count is hidden on the theme page.
    theme = _theme(world, [(2, 6, None), (3, 4, None), (3, 3, "E05000001")])
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[0] == "at least 13"
    detail = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "Small Ward</th><td>fewer than 5</td>" in detail
    assert "all time: at least 13." in detail


def test_need_and_asset_rows_are_each_guarded_by_their_own_counts(world, client_for):
    """A row's lower bound comes from its own months, never from the theme's places (which count both kinds), and
    the two rows together never give away the total the theme page guards."""
    from submissions.models import ObservationKind, ObservationStatus
    from webapp.models import Area, AreaLevel

    for code, name in (("E05000011", "North Ward"), ("E05000012", "South Ward")):
        db.session.add(Area(code=code, name=name, level=AreaLevel.WARD))
    db.session.flush()
    theme = _theme(
        world, [(back, n, None) for back, n in GIVEAWAY.items()] + [(6, 10, "E05000011"), (6, 10, "E05000012")]
    )
    # The last 20 become assets: the theme has 8 needs (months 1, 1, 6) and 20 assets (one month of 20).
    assigned = db.session.scalars(select(ThemeAssignment).where(ThemeAssignment.theme_id == theme.id)).all()
    from submissions.models import Observation

    for a in assigned:
        obs = db.session.get(Observation, a.observation_id)
        if obs.area_id is not None:
            obs.kind = ObservationKind.ASSET
            obs.status = ObservationStatus.SUBMITTED
    db.session.commit()
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    needs, assets = page.split("<h2>Assets</h2>")
    need_total = re.findall(r"<td>(.*?)</td>", _row(needs, "Damp in rented homes"), re.S)[0]
    asset_total = re.findall(r"<td>(.*?)</td>", _row(assets, "Damp in rented homes"), re.S)[0]
    assert need_total == "at least 6"  # its own shown month, not the 18 shown in the theme's places
    assert asset_total == "at least 20"  # exactly 20 would give away the 28 that the theme page guards
    detail = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "all time: at least" in detail
