"""Charts first (issue 16, part 4): the theme page leads with its periods (months, else quarters, else the year, so
the page says something), a theme × ward heat map and the themes rising or falling; the theme list has sparklines.
Every figure is released by webapp.disclosure and is the same cell, with the same value, wherever it appears."""

from __future__ import annotations

import json
import re
from datetime import date

from sqlalchemy import select

from nlp.themes import queries
from nlp.themes.models import ThemeAssignment
from tests.nlp.test_theme_pages import HIDDEN, _row, _theme, _unthemed
from webapp.disclosure import Tally, release
from webapp.extensions import db


def _spec(page: str, chart_id: str) -> dict:
    return json.loads(re.search(rf'id="{chart_id}-spec">(.*?)</script>', page, re.S).group(1))


def _observations(theme, backs: set[int] | None = None, code: str | None = "any") -> list:
    from submissions.models import Observation
    from webapp.models import Area

    ids = db.session.scalars(select(ThemeAssignment.observation_id).where(ThemeAssignment.theme_id == theme.id))
    chosen = [db.session.get(Observation, i) for i in ids]
    if backs is not None:
        this = queries.month_start(date.today())
        months = {queries.add_months(this, -b) for b in backs}
        chosen = [o for o in chosen if queries.month_start(o.period_start) in months]
    if code != "any":
        area_id = db.session.scalar(select(Area.id).where(Area.code == code))
        chosen = [o for o in chosen if o.area_id == area_id]
    return chosen


def test_months_of_fewer_than_k_add_up_into_quarters_that_say_something(world, client_for):
    theme = _theme(world, [(back, 2, None) for back in range(1, 13)])  # 2 a month: every month hidden
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "<caption>Observations per quarter (the last 12 complete months)</caption>" in page
    spec = _spec(page, "theme-months-chart")
    periods = spec["datasets"]["periods"]
    assert len(periods) == 4
    # Each quarter is its own three months' observations, released (6 moved by at most 4: never hidden).
    quarters = [{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}][::-1]  # oldest first
    expected = [release(Tally.of(_observations(theme, q))).value for q in quarters]
    assert [p["value"] for p in periods] == expected
    assert all(v is not None for v in expected)
    assert spec["layer"][0]["encoding"]["x"]["sort"] == [p["label"] for p in periods]  # oldest first, not A–Z
    assert periods[0]["start"] < periods[-1]["start"]
    # The last quarter is the trend's "last 3 complete months", the one before it the "3 before": the same cells.
    trend = queries.trends(world["partnership"], None)[theme.id]
    assert (trend.recent, trend.before) == (expected[3], expected[2])
    # The list's table says something too: its months would all be "not shown", so its columns are the quarters,
    # the same cells and values as the theme page's (it read twelve columns of "–"); the sparkline draws them.
    listing = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    needs = listing.split("<h2>Needs</h2>")[1].split("</section>")[0]
    assert "Observations per theme and quarter (the last 12 complete months)</caption>" in needs
    row = _row(listing, "Damp in rented homes")
    assert not HIDDEN.findall(row)
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[-4:] == [str(v) for v in expected]
    this = queries.month_start(date.today())
    months = [queries.add_months(this, -back) for back in range(12, 0, -1)]
    headers = [f"{months[i]:%b %y}\u2013{months[i + 2]:%b %y}" for i in range(0, 12, 3)]
    assert re.findall(r'<th scope="col">(.*?)</th>', needs)[4:] == headers
    spark = _spec(row, f"spark-need-{theme.id}")
    assert [s["value"] for s in spark["datasets"]["series"]] == expected
    assert "per quarter" in spark["description"]
    assert spark["background"] == "transparent"  # not a white box on the list's shaded rows
    assert '<table class="data-table compact theme-list">' in listing


def test_a_thin_year_adds_up_into_one_period(world, client_for):
    theme = _theme(world, [(back, 1, None) for back in range(1, 13)])  # quarters of 3: all hidden; the year 12
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert "<caption>Observations per year (the last 12 complete months)</caption>" in page
    year = release(Tally.of(_observations(theme, set(range(1, 13)))))
    assert re.search(rf'<th scope="row">[A-Z][a-z]{{2}} \d{{4}}–[A-Z][a-z]{{2}} \d{{4}}</th><td>{year}</td>', page)
    # The list's table has one column, the year, with the same value; no month or quarter of it is shown anywhere.
    listing = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    assert "Observations per theme and year (the last 12 complete months)</caption>" in listing
    row = _row(listing, "Damp in rented homes")
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[-1] == str(year)
    assert not HIDDEN.findall(row)
    assert "too few to draw" in row  # one period: no line


def test_the_heat_map_shows_each_ward_as_the_theme_page_and_map_do(world, client_for):
    from webapp.models import Area, AreaLevel

    for code, name in (("E05000021", "East Ward"), ("E05000022", "West Ward")):
        db.session.add(Area(code=code, name=name, level=AreaLevel.WARD))
    db.session.flush()
    theme = _theme(world, [(2, 9, "E05000021"), (3, 2, "E05000022"), (4, 6, None)])
    _unthemed(world, "E05000022", 5)  # West's own total is 7: its theme cell (2) may be shown as fewer than k
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    cells = {c["column"]: c for c in _spec(page, "theme-heatmap")["datasets"]["cells"]}
    total = Tally.of(_observations(theme))
    east = release(Tally.of(_observations(theme, code="E05000021")), [total])
    assert cells["East Ward"]["value"] == east.value
    assert re.search(rf"East Ward</th><td>{east}</td>", page)  # the "Where" table: the same cell, the same value
    assert cells["West Ward"]["value"] is None  # 2: fewer than k, a grey cell with its words, never a 0
    assert cells["West Ward"]["short"] == "<5"
    listing = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    assert {c["column"]: c["value"] for c in _spec(listing, "themes-heatmap")["datasets"]["cells"]} == {
        "East Ward": east.value,
        "West Ward": None,
    }


def test_a_ward_of_fewer_than_k_is_no_column_of_the_heat_map(world, client_for):
    from webapp.models import Area, AreaLevel

    for code, name in (("E05000021", "East Ward"), ("E05000022", "West Ward")):
        db.session.add(Area(code=code, name=name, level=AreaLevel.WARD))
    db.session.flush()
    theme = _theme(world, [(2, 9, "E05000021"), (3, 2, "E05000022"), (4, 6, None)])  # West's own total is 2
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert {c["column"] for c in _spec(page, "theme-heatmap")["datasets"]["cells"]} == {"East Ward"}
    assert "West Ward</th><td>" not in page


def test_a_rising_theme_is_listed_with_its_test(world, client_for):
    theme = _theme(world, [(1, 16, None)])  # 16 in the last month, none before
    trend = queries.trends(world["partnership"], "need")[theme.id]
    assert trend.direction == "rising"
    listing = client_for("convenor").get(f"/themes/{world['partnership'].slug}").get_data(as_text=True)
    moving = listing.split('id="moving-h"')[1].split("</section>")[0]
    assert "Damp in rented homes</a>\n    rising" in moving
    assert f"({trend.recent} in the last 3 complete months against 0 in the 3 before, p = {trend.p_value:.3f})" in (
        moving
    )
    page = client_for("convenor").get(f"/themes/{world['partnership'].slug}/{theme.id}").get_data(as_text=True)
    assert f"rising ({trend.recent} against 0, p = {trend.p_value:.3f})" in page
    # The charts come first: the periods chart is above the quotes.
    assert page.index("theme-months-chart") < page.index("<h2>What people said</h2>")
    # Members do not see the theme pages at all.
    assert client_for("member").get(f"/themes/{world['partnership'].slug}").status_code in (403, 404)
