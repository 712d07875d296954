"""The theme against deprivation when observations are placed at ward level (issue 16): the page leads with the
wards grouped by their share of deprived LSOAs and draws no empty decile chart; with LSOA placements it leads with
the deciles as before."""

from __future__ import annotations

import re

from tests.indicators.conftest import CENTRAL_WARD
from tests.indicators.test_pages import loaded  # noqa: F401 - a fixture themed uses
from tests.indicators.test_warnings import LAST_MONTH, _observe, themed  # noqa: F401 - the fixture


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
