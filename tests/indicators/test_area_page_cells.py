"""An area page's theme cells after issue 17's rewrite (one pass over the counted rows for the area and the areas
above it, the ward's roll-up read directly, the early-warning test rolling up only what reaches the page's area)
are the cells the page released before: the same tallies (count and record-key sum), so the same released values.

The references below are the code the page ran before, kept here verbatim in substance: every theme's tallies per
area (nlp.themes.queries.area_counts) summed per set of areas, every theme's roll-up over the whole partnership
(indicators.area_themes.theme_map_tallies) read at the ward, and every place of the partnership rolled up month by
month before the page's area was picked out."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from indicators import area_themes, community, warnings
from nlp.themes import queries as theme_queries
from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
from tests.indicators.conftest import BRISTOL, CENTRAL_WARD
from webapp import operations as webapp_ops
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.hierarchy import ancestors, area_ids_within, area_ids_within_many, parents_of
from webapp.models import Area, AreaLevel

SINCE = (None, 365, 91)


def _old_cells(partnership, kind, since, area) -> dict[int, list[Tally]]:
    """Before: area_counts of every area, added up per set (the area, then each area above it)."""
    by_area = theme_queries.area_counts(partnership, kind, since)
    sets = [set(area_ids_within(area)), *(set(area_ids_within(a)) for a in ancestors(area))]
    return {
        theme_id: [Tally.total(t for a, t in counts.items() if a in ids) for ids in sets]
        for theme_id, counts in by_area.items()
    }


def _old_area_trends(partnership, area_id: int, kind: str = "need") -> dict:
    """Before: every place rolled up, month by month and theme by theme, then the page's area picked out."""
    until = date.today()
    end = theme_queries.month_start(until)
    start = theme_queries.add_months(end, -2 * theme_queries.TREND_MONTHS)
    exact = theme_queries.monthly_area_counts(partnership, kind, start, end)
    parents = parents_of({a for by_month in exact.values() for m in by_month.values() for a in m if a})
    months_by_area: dict = defaultdict(dict)
    for theme_id, by_month in exact.items():
        for month, by_area in by_month.items():
            for a, tally in theme_queries.rolled_up(by_area, parents).items():
                months_by_area[(theme_id, a)][month] = tally
    return {key: theme_queries.trend(months, until) for key, months in months_by_area.items() if key[1] == area_id}


@pytest.fixture
def themed_bristol(bristol, world, make_org):
    """A partnership over Bristol with a theme model of five themes (one hidden, one merged away) and 900 assigned
    observations of every kind, status, level and age over the last two years, placed in Central's LSOAs, other
    LSOAs, wards, the authority and partnership-wide; more of one theme in Central's LSOAs lately (a rising need)."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    bristol_area = db.session.scalar(select(Area).where(Area.code == BRISTOL))
    partnership.areas.append(bristol_area)
    second = make_org("Knowle West Pantry")
    partnership.members.append(second)
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    webapp_ops.accept_agreement(agreement, second, world["users"]["org_admin"])
    themes = [Theme(partnership_id=partnership.id, auto_label=f"theme {i}") for i in range(5)]
    db.session.add_all(themes)
    db.session.flush()
    themes[3].hidden = True
    themes[4].merged_into_id = themes[0].id
    model = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True)
    model.changes = {"topic_theme_ids": [t.id for t in themes]}
    db.session.add(model)
    central = db.session.scalar(select(Area).where(Area.code == CENTRAL_WARD))
    wards = list(db.session.scalars(select(Area).where(Area.parent_id == bristol_area.id)))
    lsoas = list(db.session.scalars(select(Area).where(Area.parent_id.in_([w.id for w in wards]))))
    central_lsoas = [a for a in lsoas if a.parent_id == central.id]
    places = [*central_lsoas, *central_lsoas, *lsoas[:60], central, *wards[:6], bristol_area, None]
    categories = list(db.session.scalars(select(Category.id)))
    rng = random.Random(17)  # noqa: S311 - test data, not security
    today = date.today()
    for i in range(900):
        rising, earlier = i % 4 == 0, i % 16 == 2  # one theme's needs in Central: many lately, some before
        org = rng.choice([world["org"].id, second.id, None])
        status = rng.choice(
            [ObservationStatus.APPROVED, ObservationStatus.NEEDS_MODERATION]
            if org is None
            else [ObservationStatus.SUBMITTED] * 6 + [ObservationStatus.WITHDRAWN]
        )
        place = rng.choice(central_lsoas) if rising or earlier else rng.choice(places)
        obs = Observation(
            organisation_id=org, partnership_id=partnership.id,
            kind=ObservationKind.NEED if rising or earlier else rng.choice(list(ObservationKind)),
            category_id=rng.choice(categories), text=f"Observation {i}",
            redacted_text=None if i % 29 == 0 else f"Observation {i}",
            area_id=place.id if place is not None else None,
            period_start=today - timedelta(
                days=rng.randrange(1, 80) if rising else rng.randrange(100, 170) if earlier else rng.randrange(730)
            ),
            status=status, sharing_level=rng.choice(list(SharingLevel)),
        )  # fmt: skip
        db.session.add(obs)
        db.session.flush()
        theme = themes[1] if rising or earlier else rng.choice(themes)
        theme_id = None if rng.random() < 0.08 else theme.id
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme_id))
    db.session.commit()
    pages = [central_lsoas[0], central, bristol_area, next(w for w in wards if w.id != central.id)]
    return {"partnership": partnership, "pages": pages, "themes": themes}


def test_an_area_pages_theme_cells_are_the_cells_it_released_before(app, themed_bristol):
    partnership = themed_bristol["partnership"]
    compared = 0
    for area in themed_bristol["pages"]:
        ward = area if area.level is AreaLevel.WARD else next(
            (a for a in ancestors(area) if a.level is AreaLevel.WARD), None
        )  # fmt: skip
        for days in SINCE:
            since = date.today() - timedelta(days=days) if days else None
            with app.test_request_context("/"):
                places = [set(area_ids_within(area)), *(set(area_ids_within(a)) for a in ancestors(area))]
                for kind in community.KINDS:
                    new = area_themes._theme_tallies_in(partnership, kind, since, places)
                    old = _old_cells(partnership, kind, since, area)
                    assert new == old, (area.code, days, kind)
                    compared += sum(len(cells) for cells in new.values())
                if ward is not None:
                    before = {t: theme_map for t in old if (theme_map := area_themes.theme_map_tallies(partnership, t))}
                    new_ward = area_themes._ward_tallies(partnership, ward.id)
                    for theme_id, rolled in before.items():
                        assert new_ward.get(theme_id, Tally()) == rolled.get(ward.id, Tally()), (area.code, theme_id)
                    assert set(new_ward) <= set(before)
    assert compared > 100


@pytest.mark.parametrize("days", SINCE)
def test_an_area_pages_released_theme_rows_are_the_same(app, themed_bristol, world, days):
    """The rows the page shows (released counts) from the rewritten path equal those released from the old cells."""
    partnership = themed_bristol["partnership"]
    since = date.today() - timedelta(days=days) if days else None
    shown = 0
    for area in themed_bristol["pages"]:
        with app.test_request_context("/"):
            section = area_themes.area_themes(area, world["users"]["convenor"], since)
            assert section is not None
            grand = community.grand_total(community.category_tallies(partnership, Audience.PARTNERSHIP, area, since))
            totals = area_themes.theme_totals(partnership)
            ward = area if area.level is AreaLevel.WARD else next(
                (a for a in ancestors(area) if a.level is AreaLevel.WARD), None
            )  # fmt: skip
            for kind, rows in (("need", section.needs), ("asset", section.assets)):
                old = _old_cells(partnership, kind, since, area)
                shown += len(rows)
                for row in rows:
                    cell, *around = old.get(row.theme_id) or [Tally()] * (1 + len(ancestors(area)))
                    within = [grand, totals[(row.theme_id, kind)], totals[(row.theme_id, None)], *around]
                    if ward is not None:
                        within.append(area_themes.theme_map_tallies(partnership, row.theme_id).get(ward.id, Tally()))
                    assert row.count == release(cell, within), (area.code, kind, row.theme_id)
    assert shown >= 4


def test_the_early_warning_test_of_one_area_is_the_test_of_every_area_picked_out(app, themed_bristol):
    partnership = themed_bristol["partnership"]
    rising = 0
    for area in themed_bristol["pages"]:
        with app.test_request_context("/"):
            new = warnings.area_trends(partnership, only={area.id})
        with app.test_request_context("/"):
            old = _old_area_trends(partnership, area.id)
        assert new == old, area.code
        rising += sum(1 for t in new.values() if t.direction == "rising")
    assert rising >= 2  # the fixture's rising need in Central is found (ward, authority): the comparison says something


def test_the_areas_inside_an_area_and_those_above_it_read_together_are_each_areas_own(app, themed_bristol):
    for area in themed_bristol["pages"]:
        chain = [area, *ancestors(area)]
        with app.test_request_context("/"):
            together = area_ids_within_many(chain)
        for a, ids in zip(chain, together, strict=True):
            with app.test_request_context("/"):
                assert sorted(ids) == sorted(area_ids_within(a)), a.code
    assert len(together[-1]) > 300  # Bristol, its 34 wards and their LSOAs (both vintages)
