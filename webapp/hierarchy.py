"""The area hierarchy walked, in one place: the areas inside an area (custom area → local authority → ward → LSOA),
the LSOAs inside it (current ones, or those of a vintage), and the areas above it. Every package asks here instead
of walking ``Area.parent_id`` itself.

A walk down reads one level of the geography per query for all the areas asked about together, and only the part
below them, never the whole (national) area table; it stops at LSOAs, which have nothing below them. Within a
request what was walked is kept in :func:`request_cache` (``flask.g``: an area page asks for the same area's LSOAs
many times); outside a request (CLI, tasks) nothing is kept, so a geography loaded meanwhile is always seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Area, AreaLevel, AreaVintage, Partnership

# Lower levels first: an indicator of a lower level can be rolled up to a higher one.
LEVEL_ORDER = {AreaLevel.LSOA: 0, AreaLevel.WARD: 1, AreaLevel.LAD: 2, AreaLevel.CUSTOM: 3}
# The deepest walk down (custom area → local authority → ward → LSOA); a guard against a parent loop.
MAX_DEPTH = len(LEVEL_ORDER)


_G_CACHE = "commintel_request_cache"


def request_cache(name: str) -> dict[Any, Any]:
    """A dict named ``name`` that lives as long as the current request (empty and unshared outside one).

    Kept in ``flask.g`` together with the request it belongs to: ``g`` lives as long as the application context,
    which outlives a request when the caller already holds one (a test, a request made inside a CLI command), so a
    later request there starts with nothing kept."""
    if not has_request_context():
        return {}
    holder: tuple[dict[str, Any], dict[str, dict[Any, Any]]] | None = g.get(_G_CACHE)
    if holder is None or holder[0] is not request.environ:
        holder = (request.environ, {})
        setattr(g, _G_CACHE, holder)
    return holder[1].setdefault(name, {})


# Down ---------------------------------------------------------------------------------------------------------------


def _walk_down(roots: list[int]) -> dict[int, list[tuple[int, AreaLevel, bool]]]:
    """``{root: [(id, level, current) of every area below it]}``, nearest levels first, for all ``roots`` with one
    query per level of the geography."""
    found: dict[int, list[tuple[int, AreaLevel, bool]]] = {root: [] for root in roots}
    frontier = {root: root for root in roots}  # area to look under → the root asked about
    for _ in range(MAX_DEPTH):
        rows = db.session.execute(
            select(Area.id, Area.level, Area.current, Area.parent_id).where(Area.parent_id.in_(sorted(frontier)))
        ).all()
        next_frontier: dict[int, int] = {}
        for i, level, current, parent in rows:
            found[frontier[parent]].append((i, level, current))
            if level is not AreaLevel.LSOA:
                next_frontier[i] = frontier[parent]
        frontier = next_frontier
        if not frontier:
            break
    return found


def area_ids_within(area: Area) -> list[int]:
    """``area`` and every area below it (for observations, which may be placed at any level)."""
    return area_ids_within_many([area])[0]


def area_ids_within_many(areas: list[Area]) -> list[list[int]]:
    """:func:`area_ids_within` of each of ``areas``, with one query per level of the geography for all of them: an
    area page asks for the area and every area above it, six queries one by one, three together."""
    cache = request_cache("area_ids_within")
    todo = list(dict.fromkeys(a.id for a in areas if a.id not in cache))
    if todo:
        for root, below in _walk_down(todo).items():
            cache[root] = [root, *(i for i, _level, _current in below)]
    return [cache[a.id] for a in areas]


def ids_within(area_ids: Iterable[int]) -> set[int]:
    """``area_ids`` and the ids of every area below any of them."""
    roots = sorted(set(area_ids))
    if not roots:
        return set()
    return set(roots) | {i for below in _walk_down(roots).values() for i, _level, _current in below}


def lsoa_ids_within(area: Area, vintage: int | None = None) -> list[int]:
    """The LSOAs inside ``area`` (itself for an LSOA), through the parent links of the geography: the current
    ones, or with ``vintage`` those of that vintage (an LSOA 2011 that was split in 2021 is inside the current
    ward it was placed in). Asked once per request and vintage."""
    return lsoa_ids_within_many([area], vintage)[area.id]


def lsoa_ids_within_many(areas: list[Area], vintage: int | None = None) -> dict[int, list[int]]:
    """:func:`lsoa_ids_within` for many areas at once: ``{area id: LSOA ids}`` (in the order asked) with a query per
    level of the geography (three at most) and one for the vintage, whatever the number of areas."""
    cache = request_cache("lsoa_ids_within")
    out = {a.id: [a.id] for a in areas if a.level is AreaLevel.LSOA}
    out |= {a.id: cache[(a.id, vintage)] for a in areas if (a.id, vintage) in cache and a.id not in out}
    todo = list(dict.fromkeys(a.id for a in areas if a.id not in out))
    if todo:
        found = {
            root: [(i, current) for i, level, current in below if level is AreaLevel.LSOA]
            for root, below in _walk_down(todo).items()
        }
        if vintage is None:
            result = {root: [i for i, current in ids if current] for root, ids in found.items()}
        else:
            every = [i for ids in found.values() for i, _ in ids]
            of_vintage = _of_vintage(every, vintage)
            result = {root: [i for i, _ in ids if i in of_vintage] for root, ids in found.items()}
        for root, ids in result.items():
            cache[(root, vintage)] = ids
        out |= result
    return {a.id: out[a.id] for a in areas}


def _of_vintage(area_ids: list[int], vintage: int) -> set[int]:
    """Those of ``area_ids`` that carry ``vintage``."""
    if not area_ids:
        return set()
    return set(
        db.session.scalars(
            select(AreaVintage.area_id).where(AreaVintage.area_id.in_(area_ids), AreaVintage.year == vintage)
        )
    )


def lsoas_under(parent_ids: list[int], vintage: int | None) -> list[tuple[int, int]]:
    """``(LSOA id, parent id)`` of the LSOAs directly under ``parent_ids`` (wards): the current ones, or those of
    ``vintage``."""
    stmt = select(Area.id, Area.parent_id).where(Area.parent_id.in_(parent_ids), Area.level == AreaLevel.LSOA)
    if vintage is None:
        stmt = stmt.where(Area.current.is_(True))
    else:
        stmt = stmt.join(AreaVintage, AreaVintage.area_id == Area.id).where(AreaVintage.year == vintage)
    return [(int(i), int(parent)) for i, parent in db.session.execute(stmt).all()]


def partnership_wards(partnership: Partnership) -> list[Area]:
    """The current wards a partnership covers, by name: its wards, and the wards of its local authorities."""
    wards = {a.id: a for a in partnership.areas if a.level is AreaLevel.WARD and a.current}
    lads = [a.id for a in partnership.areas if a.level is AreaLevel.LAD]
    if lads:
        for ward in db.session.scalars(select(Area).where(Area.parent_id.in_(lads), Area.level == AreaLevel.WARD,
                                                          Area.current.is_(True))):  # fmt: skip
            wards[ward.id] = ward
    return sorted(wards.values(), key=lambda a: a.name)


# Up -----------------------------------------------------------------------------------------------------------------


def parents_of(area_ids: Iterable[int]) -> dict[int, int | None]:
    """``{area id: parent id}`` of ``area_ids`` and every area above them: one small query per level (at most six),
    not the parent of every area stored (80,000 rows with England's geography loaded). Within a request the
    parents read are kept: an area page rolls up the themes' places and then their last six months, the same
    areas or fewer."""
    known: dict[int, int | None] = request_cache("area_parents")
    parents: dict[int, int | None] = {}
    frontier = set(area_ids)
    for _ in range(6):  # LSOA → ward → local authority → custom areas: never more than six levels
        frontier -= parents.keys()
        if not frontier:
            break
        missing = frontier - known.keys()
        if missing:
            rows = db.session.execute(select(Area.id, Area.parent_id).where(Area.id.in_(sorted(missing)))).all()
            known.update((area, parent) for area, parent in rows)
        found = {i: known[i] for i in frontier if i in known}
        parents.update(found)
        frontier = {p for p in found.values() if p is not None}
    return parents


def ancestors(area: Area) -> list[Area]:
    """The areas above ``area``, nearest first (its ward, its local authority...)."""
    out: list[Area] = []
    current = area.parent
    while current is not None and len(out) < 6:
        out.append(current)
        current = current.parent
    return out


def local_authority_of(area: Area) -> Area | None:
    """The local authority ``area`` is in (itself for one), or None (a custom area, or no parent known)."""
    current: Area | None = area
    while current is not None and current.level is not AreaLevel.LAD:
        current = current.parent
    return current
