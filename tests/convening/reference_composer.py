"""The composer as it was before issue 17 (every Observation loaded as an object, every cell counted in Python),
kept only to check the faster composer against it: both must store the same facts (the same cells with the same
tallies and ids, groups, weeks, wards, kinds and quotes), so every edition releases the same values.

Copied from convening/composer.py at 76e4f42 unchanged apart from imports and formatting; not used by the app.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import select

from convening.composer.facts import MAX_QUOTES, QUOTES_PER_GROUP, UNTHEMED, action_links
from convening.composer.focus import Focus, _d, focus_of
from convening.composer.sections import grants as sections_grants
from convening.composer.text import slug as _slug
from convening.composer.text import trim as _trim
from convening.models import Action, Session
from submissions.models import Category, Observation, ObservationKind
from submissions.queries import partnership_observations
from webapp.disclosure import EDITIONS, Audience, Tally, threshold
from webapp.disclosure import quotes as disclosure_quotes
from webapp.extensions import db
from webapp.models import Area, AreaLevel, OrgKind, Partnership


def focus_observations(focus: Focus, start: date, end: date) -> list[Observation]:
    stmt = partnership_observations(focus.partnership).where(
        Observation.period_start >= start, Observation.period_start <= end
    )
    if focus.area_ids:
        stmt = stmt.where(Observation.area_id.in_(focus.area_ids))
    if focus.category_ids:
        stmt = stmt.where(Observation.category_id.in_(focus.category_ids))
    return list(db.session.scalars(stmt))


class Geography:
    """Every area once, with the ward each LSOA belongs to (observations are placed at LSOA or ward level)."""

    def __init__(self):
        self.areas = {a.id: a for a in db.session.scalars(select(Area))}

    def ward_of(self, area_id: int | None) -> Area | None:
        area = self.areas.get(area_id) if area_id else None
        while area is not None and area.level not in (AreaLevel.WARD, AreaLevel.LAD, AreaLevel.CUSTOM):
            area = self.areas.get(area.parent_id) if area.parent_id else None
        return area if area is not None and area.level is AreaLevel.WARD else None

    def wards(self, partnership: Partnership, focus: Focus) -> list[Area]:
        wards = [a for a in partnership.areas if a.level is AreaLevel.WARD]
        if not wards:  # the partnership lists only its local authority: take the wards inside it
            las = {a.id for a in partnership.areas if a.level is AreaLevel.LAD}
            wards = [a for a in self.areas.values() if a.level is AreaLevel.WARD and a.parent_id in las]
        if focus.area_ids:
            wards = [w for w in wards if w.id in focus.area_ids] or wards
        return sorted(wards, key=lambda a: a.name)


def _cell_facts(observations: list[Observation], within: tuple[str, ...] = ()) -> dict:
    """A cell as stored: its tally, its observations' ids (so an erasure can recount it) and the keys of the larger
    cells of the same edition that contain it (a total of fewer than k is not broken down)."""
    tally = Tally.of(observations)
    return {"n": tally.count, "ks": tally.key_sum, "ids": sorted(o.id for o in observations), "within": list(within)}


class Composer:
    """Counts a session's focus once per edition: the partnership's (observations shared with it) and the funders'
    (only those whose sharing level includes funders), and picks each edition's quotes by its own rules."""

    def __init__(self, session: Session):
        self.session = session
        self.partnership = session.partnership
        self.focus = focus_of(session)
        self.geo = Geography()
        self.categories = {c.id: c for c in db.session.scalars(select(Category))}
        self.theme_model = None
        current = focus_observations(self.focus, self.focus.start, self.focus.end)
        previous = focus_observations(self.focus, self.focus.previous_start, self.focus.previous_end)
        self.obs_theme = self._themes([*current, *previous])
        if self.obs_theme is not None and self.focus.theme_ids:
            in_focus = {i for i, (theme_id, _) in self.obs_theme.items() if theme_id in self.focus.theme_ids}
            current = [o for o in current if o.id in in_focus]
            previous = [o for o in previous if o.id in in_focus]
        # The funders count a subset of what the partnership counts (the same rules, fewer sharing levels).
        self.observations = {
            audience: (
                [o for o in current if o.sharing_level in audience.counted_levels],
                [o for o in previous if o.sharing_level in audience.counted_levels],
            )
            for audience in EDITIONS
        }

    @property
    def current(self) -> list[Observation]:
        return self.observations[Audience.PARTNERSHIP][0]

    @property
    def previous(self) -> list[Observation]:
        return self.observations[Audience.PARTNERSHIP][1]

    def _themes(self, observations: list[Observation]) -> dict[int, tuple[int, str]] | None:
        """``{observation id: (theme id, label)}`` under the partnership's active theme model, or None without one
        (then observations are grouped by category)."""
        try:
            from nlp.themes.models import Theme, ThemeAssignment, active_model
        except ImportError:
            return None
        model = active_model(self.partnership.id)
        if model is None:
            return None
        self.theme_model = model
        ids = [o.id for o in observations]
        mapping: dict[int, tuple[int, str]] = {}
        if not ids:
            return mapping
        rows = db.session.execute(
            select(ThemeAssignment.observation_id, Theme)
            .join(Theme, Theme.id == ThemeAssignment.theme_id)
            .where(ThemeAssignment.model_id == model.id, ThemeAssignment.observation_id.in_(ids))
        )
        for obs_id, theme in rows:
            theme = theme.canonical()
            if not theme.hidden:
                mapping[obs_id] = (theme.id, theme.label)
        return mapping

    @property
    def group_word(self) -> str:
        return "Theme" if self.obs_theme is not None else "Category"

    def theme_ids_used(self) -> list[int]:
        if self.obs_theme is None:
            return []
        ids = {o.id for o in self.current}
        return sorted({theme_id for obs_id, (theme_id, _) in self.obs_theme.items() if obs_id in ids})

    @property
    def has_data(self) -> bool:
        return bool(self.current or self.previous)

    def group_name(self, obs: Observation) -> str:
        if self.obs_theme is not None:
            return self.obs_theme.get(obs.id, (None, UNTHEMED))[1]
        category = self.categories.get(obs.category_id)
        return category.name if category else "Uncategorised"

    # Facts ----------------------------------------------------------------------------------------------------------

    def facts(self) -> dict:
        """Everything the sections are written from: per edition, its cells (tallies with ids), groups, weeks,
        wards, contributor kinds and quotes; shared by both, the indicator context, carried actions and labels."""
        wards = self.geo.wards(self.partnership, self.focus)
        indicator_rows, shares = self._indicator_context(wards)
        actions = self.carried_actions()
        links = action_links(actions)
        facts = {
            "shared": {
                "group_word": self.group_word,
                "period": self.focus.period_label,
                "previous": self.focus.previous_label,
                "where": list(self.focus.area_names),
                "partnership": self.partnership.name,
                "wards": [{"id": w.id, "name": w.name, "share": shares.get(w.id)} for w in wards],
                "indicators": indicator_rows,
                "sources": list(self.indicator_sources),
                "deprived": bool(shares),
                "actions": [
                    {
                        "id": a.id,
                        "description": a.description,
                        "owner": a.owner.name if a.owner else "unassigned",
                        "due": _d(a.due_on) if a.due_on else "no date",
                        "status": a.status.label,
                        "open": a.status.is_open,
                        # Theme labels and area names only: a briefing never carries observation-level detail.
                        "about": "; ".join(links[a.id].themes + links[a.id].areas),
                    }
                    for a in actions
                ],
                "theme_model": self._theme_model_text(),
                "theme_ids": self.theme_ids_used(),
                # Money per ward (issue 19): no observations in it, so the reference takes the section's own facts.
                "grants": sections_grants.facts(self.partnership, wards, self.focus),
            },
            **{audience.value: self._edition_facts(audience, wards) for audience in EDITIONS},
        }
        # Early warnings are the partnership's to discuss (themes over its own observations); the funders' edition
        # has none. Theme, ward and indicators only, no counts: the facts then hold nothing an erasure must change.
        facts[Audience.PARTNERSHIP.value]["warnings"] = [w.as_fact() for w in self.early_warnings(wards)]
        return facts

    def early_warnings(self, wards: list[Area]) -> list:
        """Need themes rising in the focus wards while their official indicators look stable
        (:mod:`indicators.warnings`), over the 6 complete months before the period's end."""
        from indicators import warnings

        if self.theme_model is None or not wards:
            return []
        found = warnings.early_warnings(self.partnership, wards, until=self.focus.end + timedelta(days=1))
        return [w for w in found if not self.focus.theme_ids or w.theme_id in self.focus.theme_ids]

    def _theme_model_text(self) -> str | None:
        model = self.theme_model
        if model is None:
            return None
        return (
            f"version {model.version} ({model.embedding_model}; fitted {model.fitted_at:%d %B %Y}; "
            f"{model.theme_count} themes)"
        )

    def _edition_facts(self, audience: Audience, wards: list[Area]) -> dict:
        now, before = self.observations[audience]
        cells: dict[str, dict] = {
            "total.now": _cell_facts(now),
            "total.before": _cell_facts(before),
        }
        groups: dict[str, str] = {}
        for name in sorted({self.group_name(o) for o in [*now, *before]}):
            key = _slug(name)
            while key in groups.values():
                key += "-"
            groups[name] = key
            g_now = [o for o in now if self.group_name(o) == name]
            cells[f"g.{key}.now"] = _cell_facts(g_now, ("total.now",))
            cells[f"g.{key}.before"] = _cell_facts([o for o in before if self.group_name(o) == name], ("total.before",))
            for kind in ObservationKind:
                cells[f"g.{key}.{kind.value}"] = _cell_facts(
                    [o for o in g_now if o.kind is kind], (f"g.{key}.now", "total.now")
                )
        weeks = sorted({(o.period_start - timedelta(days=o.period_start.weekday())).isoformat() for o in now})
        for week in weeks:
            in_week = [
                o for o in now if (o.period_start - timedelta(days=o.period_start.weekday())).isoformat() == week
            ]
            for kind in ObservationKind:
                cells[f"w.{week}.{kind.value}"] = _cell_facts([o for o in in_week if o.kind is kind], ("total.now",))
        placed = [o for o in now if self.geo.ward_of(o.area_id) is not None]
        cells["placed"] = _cell_facts(placed, ("total.now",))
        for w in wards:
            cells[f"ward.{w.id}"] = _cell_facts(
                [o for o in placed if self.geo.ward_of(o.area_id).id == w.id], ("placed", "total.now")
            )
        kinds: dict[str, dict] = {}
        for label, members in self._contributor_kinds(now).items():
            key = _slug(label)
            cells[f"kind.{key}"] = _cell_facts(members, ("total.now",))
            orgs = {o.organisation_id for o in members if o.organisation_id is not None}
            kinds[key] = {"label": label, "organisations": len(orgs), "resident": label == "Residents"}
        contributors = {}
        for org_id in sorted({o.organisation_id for o in now if o.organisation_id is not None}):
            cells[f"org.{org_id}"] = _cell_facts([o for o in now if o.organisation_id == org_id])
            contributors[str(org_id)] = f"org.{org_id}"
        return {
            "audience": audience.value,
            "cells": cells,
            "groups": groups,
            "weeks": weeks,
            "kinds": kinds,
            "contributors": contributors,
            "quotes": self.pick_quotes(now, audience),
        }

    def _contributor_kinds(self, observations: list[Observation]) -> dict[str, list[Observation]]:
        """Observations by who contributed them, never narrower than k organisations: a kind of organisation has its
        own row only when the partnership has at least k members of that kind; the others are "Partner
        organisations"; residents are a row of their own."""
        k = threshold()
        members_of_kind = Counter(o.kind for o in self.partnership.members)
        out: dict[str, list[Observation]] = defaultdict(list)
        for o in observations:
            if o.organisation_id is None:
                out["Residents"].append(o)
                continue
            kind = o.organisation.kind if o.organisation else None
            label = OrgKind(kind).label if kind and members_of_kind[kind] >= k else "Partner organisations"
            out[label].append(o)
        return dict(sorted(out.items()))

    def pick_quotes(self, observations: list[Observation], audience: Audience) -> list[dict]:
        """Up to two quotes per group, ten in all, among the observations ``audience`` may read as quotes
        (webapp.disclosure.quotes: level, consent, redacted, live), those affecting most people first."""
        by_group: dict[str, list[Observation]] = defaultdict(list)
        ordered = sorted(observations, key=lambda o: (-(o.people_affected or 0), o.id))
        allowed = {q.observation_id for q in disclosure_quotes(ordered, audience, self.partnership)}
        for o in ordered:
            if o.id in allowed:
                by_group[self.group_name(o)].append(o)
        quotes: list[dict] = []
        for group in sorted(by_group, key=lambda g: -len(by_group[g])):
            for o in by_group[group][:QUOTES_PER_GROUP]:
                if len(quotes) >= MAX_QUOTES:
                    break
                quotes.append(
                    {
                        "observation_id": o.id,
                        "group": group,
                        "text": _trim(o.redacted_text),
                        "resident": o.organisation_id is None,
                        "org_kind": o.organisation.kind.value if o.organisation is not None else None,
                    }
                )
        return quotes

    # Indicators (the same for every edition) -------------------------------------------------------------------------

    def _indicator_context(self, wards: list[Area]) -> tuple[list[dict], dict[int, float]]:
        """Latest values per indicator for the focus wards, and each ward's share of LSOAs in the most deprived 20%."""
        self.indicator_sources: list[dict] = []
        try:
            from indicators.models import Indicator, IndicatorDataset, IndicatorValue, ValueKind
        except ImportError:
            return [], {}
        ward_ids = {w.id for w in wards}
        lsoa_ward = {a.id: a.parent_id for a in self.geo.areas.values() if a.level is AreaLevel.LSOA}
        results: list[dict] = []
        deprived_share: dict[int, float] = {}
        indicators = list(
            db.session.scalars(
                select(Indicator)
                .join(IndicatorDataset)
                .order_by(IndicatorDataset.release_date.desc(), Indicator.position)
            )
        )
        seen_names: set[str] = set()
        for ind in indicators:
            # An older release of the same measure: found by the dataset and indicator keys, else by name.
            same = f"{ind.dataset.key}:{ind.key}" if ind.dataset.key and ind.key else ind.name
            if same in seen_names:
                continue
            values = list(db.session.scalars(select(IndicatorValue).where(IndicatorValue.indicator_id == ind.id)))
            if not values:
                continue
            seen_names.add(same)
            ds = ind.dataset
            if ind.value_kind is ValueKind.RANK and ind.level is AreaLevel.LSOA:
                per_ward: dict[int, list[int]] = defaultdict(list)
                for v in values:
                    ward = lsoa_ward.get(v.area_id)
                    if ward in ward_ids and v.decile is not None:
                        per_ward[ward].append(v.decile)
                if not per_ward:
                    continue
                shares = {w: sum(1 for d in ds_ if d <= 2) / len(ds_) for w, ds_ in per_ward.items()}
                if (ind.dataset.key == "iod" and ind.key == "imd") or not deprived_share:
                    deprived_share = shares
                all_deciles = [d for ds_ in per_ward.values() for d in ds_]
                share = sum(1 for d in all_deciles if d <= 2) / len(all_deciles)
                results.append(
                    {
                        "indicator": ind.name,
                        "value": f"{share:.0%} of LSOAs in the most deprived 20%",
                        "period": values[0].period_key,
                        "trend": "single release",
                        "source": f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}",
                        "sort": -share,
                    }
                )
                self._cite(ds)
            else:
                in_focus = [
                    v
                    for v in values
                    if v.area_id in ward_ids
                    or v.area_id in self.focus.area_ids
                    or (not self.focus.area_ids and v.area_id in {a.id for a in self.partnership.areas})
                ]
                if not in_focus:
                    continue
                by_period: dict[str, list[float]] = defaultdict(list)
                starts: dict[str, date] = {}
                for v in in_focus:
                    if v.value is not None and not v.suppressed:
                        by_period[v.period_key].append(v.value)
                        starts[v.period_key] = v.period_start
                if not by_period:
                    continue
                ordered = sorted(by_period, key=lambda p: starts[p])
                latest = ordered[-1]
                # A count is summed over the focus areas, as the area page sums a ward's LSOAs (issue 18: it was
                # a mean per area here); rates and scores keep the plain mean.
                summed = ind.value_kind is ValueKind.COUNT
                mean = sum(by_period[latest]) / (1 if summed else len(by_period[latest]))
                trend = "single period"
                if len(ordered) > 1:
                    prev = sum(by_period[ordered[-2]]) / (1 if summed else len(by_period[ordered[-2]]))
                    trend = "up" if mean > prev * 1.02 else "down" if mean < prev * 0.98 else "about the same"
                    trend += f" since {ordered[-2]}"
                unit = f" {ind.unit}" if ind.unit and ind.unit not in ("%",) else ind.unit or ""
                results.append(
                    {
                        "indicator": ind.name,
                        "value": f"{mean:,.1f}{unit}",
                        "period": latest,
                        "trend": trend,
                        "source": f"{ds.publisher or ds.title}, released {ds.release_label}, {ind.geography_label}",
                        "sort": 0,
                    }
                )
                self._cite(ds)
        from indicators import gaps

        # Evidence gaps use the one rule of indicators.gaps (the area profiles and the city-wide list use it too):
        # the latest IMD's share of each ward's LSOAs in the most deprived 20%.
        return results[:14], gaps.deprived_shares(wards) or deprived_share

    def _cite(self, ds) -> None:
        entry = {"title": ds.title, "publisher": ds.publisher, "licence": ds.licence, "release": ds.release_label}
        if entry not in self.indicator_sources:
            self.indicator_sources.append(entry)

    # Actions ---------------------------------------------------------------------------------------------------------

    def carried_actions(self) -> list[Action]:
        earlier = list(
            db.session.scalars(
                select(Session)
                .where(
                    Session.partnership_id == self.partnership.id,
                    Session.id != self.session.id,
                    Session.held_on <= self.session.held_on,
                )
                .order_by(Session.held_on.desc(), Session.id.desc())
            )
        )
        if not earlier:
            return []
        last = earlier[0]
        actions = list(last.actions)
        for s in earlier[1:]:
            actions += [a for a in s.actions if a.status.is_open]
        return actions


def reference_facts(session: Session) -> dict:
    return Composer(session).facts()
