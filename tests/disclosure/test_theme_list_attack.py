"""The differencing attack on the theme list and theme pages when the list's columns are quarters.

The theme list shows one grain for a whole table: months, else quarters, else the year (nlp.themes.periods.table_grain),
while each theme's page and each row's sparkline choose their own. Here the needs table is in quarters and some theme
pages are in months, so a convenor reads a theme's month cells (all kinds) beside its quarter cells of one kind and the
totals. Every number is scraped from the rendered pages and solved together (tests/disclosure/attack.py): no cell
shown "fewer than k" may be pinned. With a perturbation table of zeros the same attack pins cells: it can fail.
(The demo's attack, tests/disclosure/test_attack_demo.py, reads a list in years; tests/disclosure/test_attack.py
reads area pages only.)
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from tests.conftest import sign_in
from tests.disclosure import attack, scrape
from tests.themed import add_themed, theme_model
from webapp.disclosure import max_perturbation, threshold
from webapp.extensions import db

SEED = 20261203
THEMES = 5


def _themed(world) -> None:
    """One active model with THEMES themes; each theme's needs and assets, month by month over the last 12 complete
    months, draw 0-4 observations (a few themes get a busy month of needs, so their pages are in months)."""
    from nlp.themes import queries
    from submissions.models import ObservationKind

    rng = random.Random(SEED)  # noqa: S311 - seeded test data, not a secret
    themes, model = theme_model(world, [f"Theme {i}" for i in range(THEMES)])
    this_month = queries.month_start(date.today())
    for i, theme in enumerate(themes):
        for kind in (ObservationKind.NEED, ObservationKind.ASSET):
            for back in range(1, 13):
                n = rng.randint(0, 4)
                if kind is ObservationKind.NEED and i < 2 and back % 2 == 0:
                    n += 5  # every other month is busy: these themes' pages (all kinds) stay in months
                add_themed(world, model, theme, n, queries.add_months(this_month, -back), kind=kind, text="Text")
    db.session.commit()


def _attack(app, world, **options) -> tuple[attack.Result, str, list[str]]:
    k = threshold()
    scraped = scrape.World.load(db.session.connection(), world["partnership"].slug)
    client = sign_in(app.test_client(), world["users"]["convenor"])
    reader = scrape.Reader(scraped, client, "partnership", k)
    listing = reader.get(f"/themes/{world['partnership'].slug}")
    pages = [reader.theme_page(world["partnership"].slug, t) for t in reader.theme_list(world["partnership"].slug)]
    dims, cells, truth = reader.finish()
    attack.check_truthful(cells, k, max_perturbation())
    attack.check_consistency(cells)
    return attack.attack(dims, cells, truth, k, max_perturbation(), **options), listing, pages


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_quarterly_theme_list_beside_monthly_theme_pages_pins_no_hidden_cell(app, world):
    _themed(world)
    result, listing, pages = _attack(app, world)
    print(f"convenor, theme list and pages: {result.summary()}")  # noqa: T201 - pytest -s
    needs = listing.split("<h2>Needs</h2>")[1].split("</section>")[0]
    assert "per theme and quarter" in needs  # the grain this test is about, beside theme pages in months
    assert sum("<caption>Observations per month" in page for page in pages) >= 2
    assert result.hidden > 20, "too few hidden cells for the attack to mean anything"
    assert not result.pinned, f"{result.summary()}; pinned: {result.pinned[:5]}"
    assert not result.undecided


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_without_perturbation_the_same_theme_pages_give_cells_away(app, world):
    _themed(world)
    with attack.released_without_perturbation(app):
        assert max_perturbation() == 0
        result, _, _ = _attack(app, world, max_pinned=3)
    print(f"convenor, perturbation table of zeros: {result.summary()}")  # noqa: T201
    assert result.pinned, "a threshold alone should let differencing pin small cells; the attack is too weak"
