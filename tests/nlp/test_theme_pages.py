"""The theme list and theme pages: totals that cannot give a hidden month away, the month chart, the link to the
theme against deprivation. Themes are stored directly (no model fit): these tests are about what the pages show."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from nlp.themes import queries
from nlp.themes.models import Theme, ThemeAssignment
from tests.themed import add_themed, theme_model
from webapp.extensions import db

# Observations per month, counted back from this month: every month below k = 5 but one. Every count is released
# through webapp.disclosure: months below k as "fewer than 5", the others and the totals with the noise of the cell
# key method (the same observations, the same value on every page), so that a total minus its shown parts no longer
# pins the hidden ones (tests/disclosure/test_attack.py measures that).
MONTHS = {2: 3, 3: 4, 4: 2, 5: 1, 6: 6}
TOTAL = sum(MONTHS.values())
# Two hidden months of 1 each: an exact total of 8 beside an exact 6 would tell that both are exactly 1.
GIVEAWAY = {2: 1, 3: 1, 6: 6}


@pytest.fixture
def theme(world):
    return _theme(world, [(back, n, None) for back, n in MONTHS.items()])


def _theme(world, batches: list[tuple[int, int, str | None]]) -> Theme:
    """A theme with batches of (months back from this one, observations, code of the area they are placed in)."""
    from webapp.models import Area

    (theme,), model = theme_model(world, ["Damp in rented homes"], corpus_size=TOTAL)
    this_month = queries.month_start(date.today())
    for back, n, code in batches:
        area_id = db.session.scalar(select(Area.id).where(Area.code == code)) if code else None
        add_themed(world, model, theme, n, queries.add_months(this_month, -back), area_id=area_id,
                   text="Damp and mould in the flat")  # fmt: skip
    db.session.commit()
    return theme


def _unthemed(world, code: str, n: int) -> None:
    """``n`` observations in the area ``code`` in no theme (the area page counts them; no theme page does)."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from webapp.models import Area

    housing = db.session.scalar(select(Category).where(Category.slug == "housing-and-homelessness"))
    area_id = db.session.scalar(select(Area.id).where(Area.code == code))
    for _ in range(n):
        db.session.add(
            Observation(
                organisation_id=world["org"].id,
                partnership_id=world["partnership"].id,
                kind=ObservationKind.NEED,
                area_id=area_id,
                category_id=housing.id,
                text="Other",
                redacted_text="Other",
                period_start=queries.add_months(queries.month_start(date.today()), -3),
                status=ObservationStatus.SUBMITTED,
                sharing_level=SharingLevel.PARTNERSHIP,
            )  # fmt: skip
        )
    db.session.commit()


def _row(page: str, label: str) -> str:
    match = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{label}</a>.*?</tr>", page, re.S)
    assert match, f"no row for {label}"
    return match.group(0)


HIDDEN = re.compile(
    r'<td>(?:fewer than 5|<span aria-hidden="true">–</span><span class="visually-hidden">not shown</span>)</td>'
)


def released(theme, kind=None, back=None, code="any") -> str:
    """What the layer releases for the theme's observations (of a kind, a month back, an area), from the database."""
    from submissions.models import Observation
    from webapp.disclosure import Tally, release
    from webapp.models import Area

    ids = db.session.scalars(select(ThemeAssignment.observation_id).where(ThemeAssignment.theme_id == theme.id))
    chosen = [db.session.get(Observation, i) for i in ids]
    if kind is not None:
        chosen = [o for o in chosen if o.kind.value == kind]
    if back is not None:
        month = queries.add_months(queries.month_start(date.today()), -back)
        chosen = [o for o in chosen if o.period_start == month]
    if code != "any":
        area_id = db.session.scalar(select(Area.id).where(Area.code == code)) if code else None
        chosen = [o for o in chosen if o.area_id == area_id]
    return str(release(Tally.of(chosen)))


def test_theme_list_releases_the_total_and_hides_small_months(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[0] == released(theme)
    assert abs(int(cells[0]) - TOTAL) <= 4
    # The four small months: not shown (each month's total over all themes is below k too: not broken down).
    assert len(HIDDEN.findall(row)) == 4
    assert f"<td>{released(theme, back=6)}</td>" in row


def test_theme_list_total_is_noisy_where_an_exact_one_would_give_hidden_months_away(world, client_for):
    theme = _theme(world, [(back, n, None) for back, n in GIVEAWAY.items()])
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    total = re.findall(r"<td>(.*?)</td>", row, re.S)[0]
    assert total == released(theme)
    # The two months of 1 share a quarter (the last 3 complete months: 0, 1, 1) whose 2 is fewer than k, so its
    # empty month is "not shown" too: the theme's page may show that quarter, and a small total is not broken down.
    assert len(HIDDEN.findall(row)) == 3
    # Total minus the shown month, each within 4 of the truth: the two hidden months (2 in all) are not pinned.
    month = int(released(theme, back=6))
    assert len({int(total) + a - month - b for a in range(-4, 5) for b in range(-4, 5)} & {2, 3, 4, 5, 6, 7, 8}) > 1


def test_theme_page_charts_only_the_shown_months(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert f'all time: <strong class="theme-total">{released(theme)}</strong>.' in page
    spec = json.loads(re.search(r'id="theme-months-chart-spec">(.*?)</script>', page, re.S).group(1))
    periods = spec["datasets"]["periods"]
    assert len(periods) == 12  # eight of twelve months are numbers: the page stays at months
    gaps = [p for p in periods if p["value"] is None]
    assert [p["short"] for p in gaps] == ["<5"] * 4  # the four hidden months are gaps with their words, not bars of 0
    assert [p["value"] for p in periods if p["value"]] == [int(released(theme, back=6))]
    assert "gaps" in spec["description"]
    six = queries.add_months(queries.month_start(date.today()), -6).strftime("%B %Y")
    assert re.search(rf'<th scope="row">{six}</th><td>{released(theme, back=6)}</td>', page)  # every month
    assert len(HIDDEN.findall(page)) == 4


def test_the_same_observations_show_the_same_value_on_the_theme_page(world, client_for):
    theme = _theme(world, [(back, n, None) for back, n in GIVEAWAY.items()])
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert f'all time: <strong class="theme-total">{released(theme)}</strong>.' in page
    # Every observation is unplaced: the whole partnership area counts the same set, so it shows the same value.
    assert re.search(rf"Whole partnership area</th><td>{released(theme)}</td>", page)


def test_theme_page_links_to_the_theme_against_deprivation(theme, world, client_for):
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    href = f'href="/areas/themes/{theme.id}"'
    assert href in page
    assert client_for("convenor").get(f"/areas/themes/{theme.id}").status_code == 200


def test_a_hidden_place_stays_hidden_beside_the_released_total(world, client_for):
    from webapp.models import Area, AreaLevel

    db.session.add(Area(code="E05000001", name="Small Ward", level=AreaLevel.WARD))
    db.session.flush()
    # Every month shown (6 and 7), but 3 of the 13 are in a ward of their own: its count is hidden on the theme page.
    theme = _theme(world, [(2, 6, None), (3, 4, None), (3, 3, "E05000001")])
    _unthemed(world, "E05000001", 5)  # the ward's own total is 8: its theme cell may be shown as fewer than k
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    row = _row(page, "Damp in rented homes")
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[0] == released(theme)
    detail = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "Small Ward</th><td>fewer than 5</td>" in detail
    assert f'all time: <strong class="theme-total">{released(theme)}</strong>.' in detail


def test_need_and_asset_rows_are_each_released_from_their_own_observations(world, client_for):
    """Each kind's row is its own cell (its own noise); the theme page's total is another."""
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
    assert need_total == released(theme, kind="need")  # each row its own observations, released
    assert asset_total == released(theme, kind="asset")
    detail = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert f'all time: <strong class="theme-total">{released(theme)}</strong>.' in detail
