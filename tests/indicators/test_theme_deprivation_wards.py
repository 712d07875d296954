"""The theme against deprivation when observations are placed at ward level (issue 16): the page leads with the
wards grouped by their share of deprived LSOAs and draws no empty decile chart; with LSOA placements it leads with
the deciles as before."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.indicators.conftest import CENTRAL_WARD
from tests.indicators.test_pages import loaded  # noqa: F401 - a fixture themed uses
from tests.indicators.test_warnings import LAST_MONTH, _observe, themed  # noqa: F401 - the fixture
from webapp.extensions import db


def _page(client_for, themed) -> str:  # noqa: F811 - the fixture's name
    return client_for("convenor").get(f"/areas/themes/{themed['theme'].id}").get_data(as_text=True)


def test_ward_placements_lead_with_the_wards(themed, client_for):  # noqa: F811
    _observe(themed, CENTRAL_WARD, LAST_MONTH, 12)  # placed at the ward itself, in no LSOA
    page = _page(client_for, themed)
    assert "are placed at ward level, not in neighbourhoods" in page
    assert page.index("Observations by ward, wards grouped") < page.index("Observations by deprivation decile")
    assert 'id="theme-deciles-spec"' not in page  # no empty chart
    assert 'id="theme-ward-bands-spec"' in page
    # Central (two of its eight LSOAs with a decile in the slice in the most deprived 20%) is "A quarter to a half".
    assert re.search(r'<th scope="row">A quarter to a half</th><td>\d+</td>', page)


def test_lsoa_placements_lead_with_the_deciles(themed, client_for):  # noqa: F811
    _observe(themed, "E01014540", LAST_MONTH, 12)
    page = _page(client_for, themed)
    assert "are placed at ward level, not in neighbourhoods" not in page
    assert page.index("Observations by deprivation decile") < page.index("Observations by ward, wards grouped")
    assert 'id="theme-deciles-spec"' in page


def test_a_small_group_withholds_the_whole_table(themed, client_for):  # noqa: F811
    """One observation in a Central LSOA beside twelve in another ward: the decile and the ward band holding the one
    are fewer than k, and the theme map shows that LSOA and ward as "fewer than k" (at least 1 each). A group shown
    "fewer than k" beside its parts would bound them from above (four parts of 1 in a group of 4 are pinned: the
    demo's convenor attack found it), so every group of both tables is withheld and the page says why."""
    from webapp.models import Area

    central = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    _observe(themed, None, LAST_MONTH, 1, ward=central)
    _observe(themed, None, LAST_MONTH, 12, ward=themed["other"])
    page = _page(client_for, themed)
    assert "Not broken down by decile" in page
    assert "Not broken down by ward" in page
    decile_rows = re.findall(r'<th scope="row">(\d+)[^<]*</th>\s*<td>([^<]*)</td>', page)
    band_rows = re.findall(
        r'<th scope="row">(Half or more[^<]*|A quarter to a half|Under a quarter|None)</th><td>([^<]*)</td>', page
    )
    assert len(decile_rows) == 10
    assert len(band_rows) == 4
    assert {shown for _, shown in decile_rows + band_rows} == {"not shown"}
    assert "is not shown: one of the two is fewer than 5" in page  # placed in a neighbourhood or not: two groups
    assert "<td>fewer than 5</td>" not in page
    # The theme map withholds Central too: the ward's own total (1) is fewer than k, so it is broken down by theme on
    # no page (tests/disclosure/test_small_area_by_theme.py); a ward of k or more shows its small theme cells there.
    ward_map = client_for("convenor").get(f"/areas/?indicator=theme-{themed['theme'].id}&level=ward").get_data(True)
    assert re.search(rf"/areas/{CENTRAL_WARD}\">[^<]*</a></t[hd]>\s*<td[^>]*>not shown<", ward_map), "Central"


def test_release_groups_withholds_all_or_none(app):
    from webapp.disclosure import State, Tally, release_groups

    with app.app_context():
        shown = release_groups([Tally(0, 0), Tally(7, 300), Tally(12, 500)])
        assert [r.state for r in shown] == [State.ZERO, State.SHOWN, State.SHOWN]
        small = release_groups([Tally(0, 0), Tally(3, 100), Tally(12, 500)])
        assert [r.state for r in small] == [State.WITHHELD] * 3
        assert all(str(r) == "not shown" and r.value is None for r in small)
        # Inside a small total the groups are withheld by release's own rule, as before.
        assert [r.state for r in release_groups([Tally(2, 5), Tally(0, 0)], [Tally(2, 5)])] == [State.WITHHELD] * 2
