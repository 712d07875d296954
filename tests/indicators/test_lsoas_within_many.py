"""``lsoa_ids_within_many``: the LSOAs inside many areas at once, exactly as ``lsoa_ids_within`` finds them one by
one, in a few queries whatever the number of areas (the briefing's evidence gaps ask it for every ward)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from indicators.profiles import _lsoa_ids_within, lsoa_ids_within_many
from webapp.extensions import db
from webapp.models import Area, AreaLevel


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
        one = [area.id] if area.level is AreaLevel.LSOA else _lsoa_ids_within(area, vintage)
        assert sorted(many[area.id]) == sorted(one), area.code
    assert sum(len(ids) for ids in many.values()) > 268
    assert len(statements) <= 4  # three levels of the geography and the vintage, not one chain per area
