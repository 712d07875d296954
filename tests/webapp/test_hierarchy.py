"""The one walk of the area hierarchy (webapp.hierarchy): what it finds below and above an area matches a plain walk
over the areas' children and parents, and what it keeps for a request is never seen by the next request."""

from __future__ import annotations

from sqlalchemy import select

from webapp import hierarchy
from webapp.demo import BRISTOL, DATA
from webapp.extensions import db
from webapp.geography import load_lookup
from webapp.models import Area, AreaLevel

LOOKUP = DATA / "bristol_lsoa11_ward19_lad19_lookup.csv"


def _below(area: Area) -> set[int]:
    """Every area below ``area``, one child at a time."""
    found: set[int] = set()
    for child in area.children:
        found |= {child.id, *_below(child)}
    return found


def _bristol() -> Area:
    load_lookup(LOOKUP, BRISTOL)
    db.session.commit()
    return db.session.scalar(select(Area).where(Area.code == BRISTOL))


def test_the_areas_inside_match_a_walk_over_children(db_session):
    bristol = _bristol()
    wards = sorted(bristol.children, key=lambda a: a.code)[:3]
    assert set(hierarchy.area_ids_within(bristol)) == {bristol.id, *_below(bristol)}
    assert len(hierarchy.area_ids_within(bristol)) == 1 + 34 + 263
    together = hierarchy.area_ids_within_many([wards[0], bristol, wards[1]])
    assert [set(ids) for ids in together] == [{w.id, *_below(w)} for w in (wards[0], bristol, wards[1])]
    # Several roots, one inside another: each keeps its own areas, and the union is every one of them.
    assert hierarchy.ids_within({wards[0].id, bristol.id}) == {bristol.id, *_below(bristol)}
    assert hierarchy.ids_within([wards[2].id]) == {wards[2].id, *_below(wards[2])}
    assert hierarchy.ids_within([]) == set()


def test_the_lsoas_inside_and_the_areas_above(db_session):
    bristol = _bristol()
    ward = sorted(bristol.children, key=lambda a: a.code)[0]
    lsoa = sorted(ward.children, key=lambda a: a.code)[0]
    assert sorted(hierarchy.lsoa_ids_within(bristol)) == sorted(
        i for i in _below(bristol) if db.session.get(Area, i).level is AreaLevel.LSOA
    )
    assert hierarchy.lsoa_ids_within(lsoa) == [lsoa.id]
    assert hierarchy.lsoa_ids_within(bristol, 2021) == []  # this lookup carries the 2011 LSOAs only
    assert hierarchy.ancestors(lsoa) == [ward, bristol]
    assert hierarchy.local_authority_of(lsoa) == bristol
    assert hierarchy.local_authority_of(bristol) == bristol


def test_what_a_request_keeps_is_not_seen_by_the_next_request(app, db_session):
    """The cache lives in flask.g, which outlives a request when an application context is already held (as here):
    a second request inside it starts empty."""
    bristol = _bristol()
    with app.test_request_context("/"):
        hierarchy.request_cache("probe")["kept"] = 1
        assert hierarchy.request_cache("probe") == {"kept": 1}
        first = hierarchy.area_ids_within(bristol)
    with app.test_request_context("/"):
        assert hierarchy.request_cache("probe") == {}
        assert hierarchy.area_ids_within(bristol) == first
    assert hierarchy.request_cache("probe") == {}  # outside a request nothing is kept
