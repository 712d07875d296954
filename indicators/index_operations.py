"""Service layer of the composite neighbourhood index: build, edit, publish and read a partnership's index.

Operations take the actor, change objects, flush and record to the audit log; they never commit. Reading an index
(:func:`reading`) takes the reader's audience: the indicator part of a published version is computed from the
values frozen at publication, the optional community domain is counted live and every count in it is released
through :mod:`webapp.disclosure` for that audience (an area whose share cannot be released is "not enough
observations", never 0). The arithmetic is :mod:`indicators.index_method`; the method and its limits are in
docs/neighbourhood-index.md.
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from indicators import aggregation, area_themes, community, index_method
from indicators.index_models import IndexStatus, IndexVersion, NeighbourhoodIndex
from indicators.maps import map_areas, map_indicators, map_layer
from indicators.models import Indicator, ValueKind
from indicators.values import latest_period_key, period_label, values_frame
from nlp.themes import queries as theme_queries
from webapp.disclosure import Audience, Released, State, Tally, release, threshold
from webapp.extensions import db
from webapp.hierarchy import lsoas_under
from webapp.models import Area, AreaLevel, Partnership, User
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)

LEVELS = (AreaLevel.WARD, AreaLevel.LSOA)
MAX_WEIGHT = 100.0
COMMUNITY = "Community"


# Which indicators an index can use, and the value of each for an area ------------------------------------------------


def available_indicators(level: AreaLevel) -> list[Indicator]:
    """Indicators published at ``level`` or below it (LSOA figures roll up to wards), never local-authority-only
    ones (one figure for every area says nothing about where need is). Ranks count only where scores were given."""
    return list(map_indicators(level))


def default_direction(indicator: Indicator) -> str:
    """What the form proposes: an IoD domain is read by its score (higher is more deprived); else its polarity."""
    if indicator.value_kind is ValueKind.RANK:
        return index_method.WORSE
    return index_method.BETTER if indicator.polarity.value == "better" else index_method.WORSE


def _measure(indicator: Indicator, level: AreaLevel) -> str:
    if indicator.value_kind is ValueKind.RANK:
        rolled = "; a ward's figure is the unweighted mean of its LSOAs' scores" if level is AreaLevel.WARD else ""
        return f"score (higher is more deprived){rolled}"
    return f"value as mapped ({indicator.unit or 'no unit'})"


def area_values(indicator: Indicator, level: AreaLevel, areas: list[Area]) -> dict[int, float | None]:
    """The value of ``indicator`` for each of ``areas`` (at ``level``), latest period: what the map shows, except
    that a ranked index (IoD) is read by its score — a rank or a share in the most deprived 10% is too coarse to
    standardise."""
    if indicator.value_kind is not ValueKind.RANK:
        layer = map_layer(areas, level, indicator)
        by_code = {r["code"]: r["value"] for r in layer.rows}
        return {a.id: by_code.get(a.code) for a in areas}
    period_key = latest_period_key(indicator)
    if indicator.level is level:
        frame = values_frame([a.id for a in areas], [indicator.id])
        frame = frame[frame["period_key"] == period_key]
        found = {int(r.area_id): None if pd.isna(r.value) else float(r.value) for r in frame.itertuples()}
        return {a.id: found.get(a.id) for a in areas}
    children = lsoas_under([a.id for a in areas], indicator.vintage)
    if not children:
        return {a.id: None for a in areas}
    parents = pd.Series({child: parent for child, parent in children}, dtype="int64")
    frame = values_frame(list(parents.index), [indicator.id])
    frame = frame[frame["period_key"] == period_key].set_index("area_id")
    rolled = aggregation.rollup_frame(frame[["value", "rank", "decile"]], parents, "score")
    found = {int(i): None if pd.isna(r["value"]) else float(r["value"]) for i, r in rolled.iterrows()}
    return {a.id: found.get(a.id) for a in areas}


def source_of(indicator: Indicator, level: AreaLevel) -> dict:
    ds = indicator.dataset
    return {
        "id": indicator.id,
        "indicator": indicator.name,
        "dataset": ds.title,
        "publisher": ds.publisher,
        "licence": ds.licence,
        "released": ds.release_label,
        "url": ds.source_url,
        "period": period_label(latest_period_key(indicator)),
        "geography": indicator.geography_label,
        "measure": _measure(indicator, level),
    }


# The definition: parsed from a form, checked, stored ---------------------------------------------------------------


@dataclass
class Choice:
    """One indicator as the form sends it: the domain it goes in (blank: not used), direction and weight (text)."""

    indicator_id: int
    domain: str = ""
    direction: str = index_method.WORSE
    weight: str = "1"


def _weight(text: str, what: str, field_name: str) -> float:
    try:
        value = float((text or "1").strip())
    except ValueError:
        message = f"{what}: the weight must be a number, such as 1 or 2.5 (not “{text}”)."
        raise OperationError(message, field_name) from None
    if not math.isfinite(value) or value <= 0 or value > MAX_WEIGHT:
        raise OperationError(f"{what}: the weight must be above 0 and at most {MAX_WEIGHT:g}.", field_name)
    return value


def parse_domain_weights(text: str) -> dict[str, float]:
    """``"Deprivation = 2; Health = 1"`` (or one a line) → ``{"Deprivation": 2.0, "Health": 1.0}``."""
    out: dict[str, float] = {}
    for part in (text or "").replace("\n", ";").split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise OperationError(f"Domain weights: write each as “Domain = weight” (not “{part.strip()}”).",
                                 "domain_weights")  # fmt: skip
        name, value = (s.strip() for s in part.split("=", 1))
        out[name] = _weight(value, f"Domain weights, “{name}”", "domain_weights")
    return out


def build_definition(
    level: AreaLevel | str,
    choices: list[Choice],
    domain_weights: str = "",
    community_theme_id: int | None = None,
    community_weight: str = "1",
    community_direction: str = index_method.WORSE,
    partnership: Partnership | None = None,
) -> dict:
    """Check a convenor's choices and return the stored definition; raises OperationError naming the bad field
    (``indicator-<id>``, ``domain_weights``, ``community_theme``...)."""
    try:
        level = AreaLevel(level)
    except ValueError:
        raise OperationError("Areas: choose wards or LSOAs.", "level") from None
    if level not in LEVELS:
        raise OperationError("Areas: choose wards or LSOAs.", "level")
    usable = {i.id: i for i in available_indicators(level)}
    domains: dict[str, list[dict]] = {}
    for c in choices:
        name = " ".join((c.domain or "").split())[:80]
        if not name:
            continue
        indicator = usable.get(c.indicator_id)
        if indicator is None:
            raise OperationError(f"Indicator {c.indicator_id} is not available for {level.label}s.",
                                 f"indicator-{c.indicator_id}")  # fmt: skip
        if c.direction not in index_method.DIRECTIONS:
            raise OperationError(f"“{indicator.name}”: choose whether higher is worse or better.",
                                 f"indicator-{c.indicator_id}")  # fmt: skip
        if name == COMMUNITY:
            raise OperationError(f"“{indicator.name}”: the domain name “{COMMUNITY}” is kept for the community "
                                 "domain.", f"indicator-{c.indicator_id}")  # fmt: skip
        weight = _weight(c.weight, f"“{indicator.name}”", f"indicator-{c.indicator_id}")
        domains.setdefault(name, []).append({"id": indicator.id, "direction": c.direction, "weight": weight})
    if not domains:
        raise OperationError("Choose at least one indicator: give it a domain name.", "indicators")
    weights = parse_domain_weights(domain_weights)
    unknown = sorted(set(weights) - set(domains) - {COMMUNITY})
    if unknown:
        raise OperationError(f"Domain weights: no domain is called {', '.join(f'“{u}”' for u in unknown)}.",
                             "domain_weights")  # fmt: skip
    community = None
    if community_theme_id:
        themes = {t.id: t for t in theme_queries.visible_themes(partnership)} if partnership is not None else {}
        theme = themes.get(int(community_theme_id))
        if theme is None:
            raise OperationError("Community domain: choose one of the partnership's themes.", "community_theme")
        if community_direction not in index_method.DIRECTIONS:
            raise OperationError("Community domain: choose whether a higher share is worse or better.",
                                 "community_direction")  # fmt: skip
        community = {
            "theme_id": theme.id,
            "label": theme.label,
            "direction": community_direction,
            "weight": weights.get(COMMUNITY) or _weight(community_weight, "Community domain", "community_weight"),
        }
    return {
        "level": level.value,
        "domains": [{"name": n, "weight": weights.get(n, 1.0), "indicators": inds} for n, inds in domains.items()],
        "community": community,
    }


# Operations -----------------------------------------------------------------------------------------------------------


def _check_method(method: str) -> str:
    if method not in index_method.METHODS:
        raise OperationError("Standardisation: choose z-scores or ranks.", "method")
    return method


def create_index(partnership: Partnership, title: str, definition: dict, method: str, actor: User | None,
                 seed: int | None = None) -> IndexVersion:  # fmt: skip
    """A new index of ``partnership`` with its first draft version."""
    title = " ".join((title or "").split())
    if len(title) < 3:
        raise OperationError("Title: give the index a name of at least 3 characters.", "title")
    index = NeighbourhoodIndex(partnership=partnership, title=title[:200], created_by_id=actor.id if actor else None)
    db.session.add(index)
    version = _new_version(index, definition, method, actor, seed)
    db.session.flush()
    record("index.create", "neighbourhood_index", index.id, actor, partnership_id=partnership.id)
    log.info("index %s created for partnership %s", index.id, partnership.id)
    return version


def _new_version(index: NeighbourhoodIndex, definition: dict, method: str, actor: User | None,
                 seed: int | None) -> IndexVersion:  # fmt: skip
    version = IndexVersion(
        number=(index.latest.number + 1) if index.latest else 1,
        status=IndexStatus.DRAFT,
        level=AreaLevel(definition["level"]),
        method=_check_method(method),
        definition={k: v for k, v in definition.items() if k != "level"},
        # The stability report's seed, drawn once and kept with the version: the same version always reports the
        # same ranges.
        seed=secrets.randbelow(2**31) if seed is None else int(seed),
        draws=index_method.DEFAULT_DRAWS,
        concentration=index_method.DEFAULT_CONCENTRATION,
        snapshot={},
        created_by_id=actor.id if actor else None,
    )
    index.versions.append(version)
    return version


def save_draft(index: NeighbourhoodIndex, definition: dict, method: str, actor: User | None,
               title: str | None = None) -> IndexVersion:  # fmt: skip
    """Change the index: its draft is edited in place; when the latest version is published, a new draft is made
    (a published version never changes). The draft keeps its seed."""
    latest = index.latest
    if title is not None and len(" ".join(title.split())) >= 3:
        index.title = " ".join(title.split())[:200]
    if latest is not None and not latest.is_published:
        latest.check_editable()
        latest.level = AreaLevel(definition["level"])
        latest.method = _check_method(method)
        latest.definition = {k: v for k, v in definition.items() if k != "level"}
        version = latest
    else:
        version = _new_version(index, definition, method, actor, None)
    db.session.flush()
    record("index.edit", "neighbourhood_index", index.id, actor, version=version.number)
    return version


def publish_version(version: IndexVersion, actor: User | None) -> IndexVersion:
    """Publish a draft: freeze the indicator values it is computed from (and their sources) with it."""
    if version.is_published:
        raise OperationError(f"Version {version.number} is already published.", "version")
    if version is not version.index.latest:
        raise OperationError("Only the latest draft can be published.", "version")
    areas = map_areas(version.index.partnership, version.level)
    if not areas:
        raise OperationError(f"The partnership has no {version.level.label}s to rank.", "level")
    values: dict[str, dict[str, float | None]] = {}
    sources = []
    for indicator_id in version.indicator_ids:
        indicator = db.session.get(Indicator, indicator_id)
        if indicator is None:
            raise OperationError(f"Indicator {indicator_id} is no longer stored: edit the index.", "indicators")
        found = area_values(indicator, version.level, areas)
        values[str(indicator_id)] = {str(a): v for a, v in found.items()}
        sources.append(source_of(indicator, version.level))
    version.publish(actor, {"values": values, "sources": sources, "areas": [a.id for a in areas]})
    db.session.flush()
    record("index.publish", "neighbourhood_index", version.index_id, actor, version=version.number)
    log.info("index %s version %s published", version.index_id, version.number)
    return version


# Reading an index ----------------------------------------------------------------------------------------------------


@dataclass
class CommunityCell:
    """An area's community share as released: the theme's observations and all observations, both released."""

    theme: Released
    total: Released
    share: float | None

    def __str__(self) -> str:
        if self.share is None:
            return "not enough observations"
        return f"{self.share:.0%} ({self.theme} of {self.total})"


@dataclass
class Reading:
    version: IndexVersion
    audience: Audience
    areas: list[Area]
    result: index_method.Result
    sources: list[dict]
    domain_labels: dict[str, str]
    community: dict[int, CommunityCell] = field(default_factory=dict)
    community_note: str = ""

    @property
    def area_by_id(self) -> dict[int, Area]:
        return {a.id: a for a in self.areas}

    @property
    def method_label(self) -> str:
        return index_method.METHOD_LABELS[self.version.method]

    def rows(self) -> list[dict]:
        by_id = self.area_by_id
        return [{"area": by_id[r.area_id], "r": r, "community": self.community.get(r.area_id)}
                for r in self.result.areas if r.area_id in by_id]  # fmt: skip


def _specs(version: IndexVersion) -> list[index_method.DomainSpec]:
    return [
        index_method.DomainSpec(
            d["name"],
            tuple(
                index_method.IndicatorSpec(str(i["id"]), i["direction"], float(i["weight"])) for i in d["indicators"]
            ),
            float(d.get("weight", 1.0)),
        )
        for d in version.domains
    ]


def _values(version: IndexVersion, areas: list[Area]) -> tuple[dict[str, dict[int, float | None]], list[dict]]:
    if version.is_published:
        snap = version.snapshot or {}
        values = {k: {int(a): v for a, v in by_area.items()} for k, by_area in snap.get("values", {}).items()}
        return values, list(snap.get("sources", []))
    values, sources = {}, []
    for indicator_id in version.indicator_ids:
        indicator = db.session.get(Indicator, indicator_id)
        if indicator is None:
            continue
        values[str(indicator_id)] = area_values(indicator, version.level, areas)
        sources.append(source_of(indicator, version.level))
    return values, sources


def community_shares(partnership: Partnership, audience: Audience, areas: list[Area], level: AreaLevel,
                     theme_id: int) -> dict[int, CommunityCell]:  # fmt: skip
    """Each area's share of observations in a theme, from the theme's count and the area's total as the theme map
    and the area pages release them for ``audience`` (the same cells, so the same values: nothing new to subtract).
    A share is computed only when both are shown as numbers (or the theme's count is a released 0)."""
    if audience is not Audience.PARTNERSHIP:  # themes are counted for the partnership's own people only
        raise ValueError("the community domain is read by the partnership's members and convenors only")
    # The theme map's own tallies and total (kept for the request: an area page has counted them already).
    tallies = area_themes.theme_map_tallies(partnership, theme_id)
    theme_total = area_themes.theme_totals(partnership).get((theme_id, None), Tally())
    totals = community.area_totals(partnership, audience, areas, None)
    out = {}
    for area, total in zip(areas, totals, strict=True):
        within = [theme_total]
        if level is AreaLevel.LSOA and area.parent_id is not None:
            within.append(tallies.get(area.parent_id, Tally()))
        theme = release(tallies.get(area.id, Tally()), within)
        share = None
        if total.state is State.SHOWN and total.value and theme.state in (State.SHOWN, State.ZERO):
            share = min(1.0, (theme.value or 0) / total.value)  # a released 0 has the value 0
        out[area.id] = CommunityCell(theme, total, share)
    return out


_RESULTS: dict[tuple, index_method.Result] = {}


def reading(version: IndexVersion, audience: Audience) -> Reading:
    """The index of ``version`` as ``audience`` reads it: scores, ranks, domain breakdown and stability."""
    partnership = version.index.partnership
    if version.is_published and version.snapshot.get("areas"):
        # The areas it was published for, in one query (working them out again asks once per ward for its LSOAs).
        snapshot = select(Area).where(Area.id.in_(version.snapshot["areas"]), Area.current.is_(True))
        areas = list(db.session.scalars(snapshot.order_by(Area.name)))
    else:
        areas = map_areas(partnership, version.level)
    values, sources = _values(version, areas)
    labels = {d["name"]: d["name"] for d in version.domains}
    extra = {}
    cells: dict[int, CommunityCell] = {}
    note = ""
    community = version.community
    if community:
        if audience is Audience.PARTNERSHIP:
            labels[COMMUNITY] = f"{COMMUNITY}: {community.get('label', 'theme')}"
            cells = community_shares(partnership, audience, areas, version.level, int(community["theme_id"]))
            standardised = index_method.orient(
                index_method.standardise({a: c.share for a, c in cells.items()}, version.method),
                community.get("direction", index_method.WORSE),
                version.method,
            )
            extra[COMMUNITY] = (float(community.get("weight", 1.0)), standardised)
            missing = sum(1 for c in cells.values() if c.share is None)
            note = (
                f"Community domain: the share of each area's observations in the theme “{community.get('label')}”, "
                f"from counts released for {audience.label}. {missing} of {len(cells)} areas have not enough "
                f"observations (fewer than {threshold()} shown, or not broken down): their index leaves the domain "
                "out rather than counting it as 0."
            )
        else:
            note = (
                "This index has a community domain (a theme's share of observations per area); like the theme pages "
                "it is read only by the partnership's members and convenors, so for you the index is made from its "
                "official indicators alone and its ranks may differ from theirs."
            )
    # A published version read without a community domain never changes: its result (1,000 weightings ranked) is
    # kept per process, so an LSOA's profile does not recompute it on every request.
    frozen = version.is_published and not extra
    # Keyed by what identifies the published version in any database (ids alone repeat across databases).
    key = (version.id, version.index_id, version.number, version.seed, str(version.published_at), len(areas))
    result = _RESULTS.get(key) if frozen else None
    if result is None:
        result = index_method.combine(
            _specs(version), values, [a.id for a in areas], version.method, extra, version.draws, version.seed,
            version.concentration,
        )  # fmt: skip
        if frozen:
            if len(_RESULTS) >= 32:
                _RESULTS.pop(next(iter(_RESULTS)))
            _RESULTS[key] = result
    return Reading(version, audience, areas, result, sources, labels, cells, note)


def indexes_of(partnership: Partnership) -> list[NeighbourhoodIndex]:
    return list(db.session.scalars(
        select(NeighbourhoodIndex).where(NeighbourhoodIndex.partnership_id == partnership.id)
        .order_by(NeighbourhoodIndex.title)))  # fmt: skip


def latest_published(partnership: Partnership) -> IndexVersion | None:
    """What a briefing briefs on: the most recently published ward index of the partnership (a briefing's tables
    suit wards), else its most recently published LSOA index."""
    stmt = (
        select(IndexVersion)
        .join(NeighbourhoodIndex, IndexVersion.index_id == NeighbourhoodIndex.id)
        .where(NeighbourhoodIndex.partnership_id == partnership.id, IndexVersion.status == IndexStatus.PUBLISHED)
        .order_by(
            (IndexVersion.level == AreaLevel.WARD).desc(), IndexVersion.published_at.desc(), IndexVersion.id.desc()
        )  # fmt: skip
        .limit(1)
    )
    return db.session.scalar(stmt)
