"""``lsoa_ids_within_many``: the LSOAs inside many areas at once, exactly as ``lsoa_ids_within`` finds them one by
one, in a few queries whatever the number of areas (the briefing's evidence gaps ask it for every ward)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from webapp.extensions import db
from webapp.hierarchy import lsoa_ids_within_many
from webapp.models import Area, AreaLevel


def _lsoas_below(area: Area, vintage: int | None) -> list[int]:
    """The LSOAs below ``area`` found one child at a time (what ``lsoa_ids_within`` finds): the current ones, or
    those carrying ``vintage``."""
    found = []
    for child in area.children:
        if child.level is AreaLevel.LSOA:
            if child.current if vintage is None else vintage in child.vintage_years:
                found.append(child.id)
        else:
            found += _lsoas_below(child, vintage)
    return found


@pytest.mark.parametrize("vintage", [None, 2011, 2021])
def test_many_areas_at_once_match_one_by_one(bristol, vintage):
    areas = list(db.session.scalars(select(Area).where(Area.level != AreaLevel.LSOA).order_by(Area.code)))
    areas += list(db.session.scalars(select(Area).where(Area.level == AreaLevel.LSOA).order_by(Area.code).limit(3)))
    assert len([a for a in areas if a.level is AreaLevel.WARD]) >= 34
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        many = lsoa_ids_within_many(areas, vintage)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert list(many) == [a.id for a in areas]
    for area in areas:
        one = [area.id] if area.level is AreaLevel.LSOA else _lsoas_below(area, vintage)
        assert sorted(many[area.id]) == sorted(one), area.code
    assert sum(len(ids) for ids in many.values()) > 268
    assert len(statements) <= 4  # three levels of the geography and the vintage, not one chain per area
