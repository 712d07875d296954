"""The facts of a briefing: what the composer counts for a session's focus, once per edition, before any section is
written (:class:`Composer`, :func:`compose`).

The partnership's edition counts every observation shared with the partnership, the funders' edition only those
whose sharing level includes funders, and each picks its quotes by its own audience's rules (level and consent).
What is stored (``facts``, a JSON dict kept on the briefing and on each published version) are tallies — count,
record-key sum and the observations' ids — never numbers as shown, so that every figure is released through
:func:`webapp.disclosure.release` whenever an edition is shown, and an erasure recounts a published composition
without the erased observation (:func:`without_observation`).

Each section's inputs are explicit: the shared part (period, wards with their deprivation share, the indicator
context of :mod:`convening.composer.indicator_context`, carried actions, grants and index facts) is computed once,
each edition's part (cells, groups, weeks, kinds, quotes, network) from that edition's rows; no section reads
another's results.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from convening.composer.focus import Geography, Row, _d, focus_of, focus_rows
from convening.composer.indicator_context import indicator_context
from convening.composer.sections import grants, index, network
from convening.composer.text import slug, trim
from convening.models import Action, Session
from indicators import warnings
from nlp.themes.models import Theme, ThemeModel, active_model
from submissions.models import Category, Observation, ObservationKind
from webapp import disclosure
from webapp.disclosure import EDITIONS, Audience, Tally, threshold
from webapp.extensions import db
from webapp.models import Area, Organisation, OrgKind

UNTHEMED = "Not yet themed"
QUOTES_PER_GROUP = 2
MAX_QUOTES = 10


def _cell_facts(rows: list[Row], within: tuple[str, ...] = ()) -> dict:
    """A cell as stored: its tally, its observations' ids (so an erasure can recount it) and the keys of the larger
    cells of the same edition that contain it (a total of fewer than k is not broken down). ``rows`` come in id
    order (:func:`focus_rows`), so the ids are too."""
    tally = Tally(len(rows), sum(map(_RECORD_KEY, rows)))
    return {"n": tally.count, "ks": tally.key_sum, "ids": list(map(_ID, rows)), "within": list(within)}


_ID, _RECORD_KEY = attrgetter("id"), attrgetter("record_key")


def _quote_order(row: Row) -> tuple[int, int]:
    """Quotes affecting most people first, then the earliest recorded."""
    return -(row.people_affected or 0), row.id


class Composer:
    """Counts a session's focus once per edition: the partnership's (observations shared with it) and the funders'
    (only those whose sharing level includes funders), and picks each edition's quotes by its own rules.

    The observations in focus are read once, as narrow rows (:func:`focus_rows`: ids, record keys and the columns
    cells are grouped by, with their theme joined in SQL), and every cell is tallied in one pass over them; only the
    quotes picked are read with their text. The facts keep every cell's observation ids (an erasure recounts a
    published briefing from them), so each observation is read once rather than once per cell."""

    def __init__(self, session: Session):
        self.session = session
        self.partnership = session.partnership
        self.focus = focus_of(session)
        self.categories = {c.id: c.name for c in db.session.scalars(select(Category))}
        self.theme_model = self._active_model()
        # {assigned theme id: (theme id after merges, label)}, None for a hidden theme; None without a theme model
        # (then observations are grouped by category).
        self.theme_of: dict[int, tuple[int, str] | None] | None = None
        rows = focus_rows(
            self.focus,
            self.focus.previous_start,
            self.focus.end,
            self.theme_model.id if self.theme_model is not None else None,
        )
        if self.theme_model is not None:
            self.theme_of = self._themes({r.assigned_theme_id for r in rows if r.assigned_theme_id is not None})
            if self.focus.theme_ids:
                rows = [r for r in rows if self.theme_id(r) in self.focus.theme_ids]
        current = [r for r in rows if r.period_start >= self.focus.start]
        previous = [r for r in rows if r.period_start <= self.focus.previous_end]
        # The funders count a subset of what the partnership counts (the same rules, fewer sharing levels).
        levels = {audience: frozenset(audience.counted_levels) for audience in EDITIONS}
        self.observations = {
            audience: (
                [r for r in current if r.sharing_level in levels[audience]],
                [r for r in previous if r.sharing_level in levels[audience]],
            )
            for audience in EDITIONS
        }
        self.geo = Geography({r.area_id for r in current})  # wards are counted this period only
        org_ids = {r.organisation_id for r in rows if r.organisation_id is not None}
        self.org_kinds: dict[int, OrgKind] = (
            {
                org_id: kind
                for org_id, kind in db.session.execute(
                    select(Organisation.id, Organisation.kind).where(Organisation.id.in_(org_ids))
                )
            }
            if org_ids
            else {}
        )

    @property
    def current(self) -> list[Row]:
        return self.observations[Audience.PARTNERSHIP][0]

    @property
    def previous(self) -> list[Row]:
        return self.observations[Audience.PARTNERSHIP][1]

    def _active_model(self) -> ThemeModel | None:
        return active_model(self.partnership.id)

    def _themes(self, assigned: set[int]) -> dict[int, tuple[int, str] | None]:
        """``{theme id: (theme id after merges, label)}`` (None: hidden) for the themes observations are assigned."""
        if not assigned:
            return {}
        # The partnership's themes in one query, so that following merges finds them in the session.
        themes = {
            t.id: t
            for t in db.session.scalars(
                select(Theme).where(or_(Theme.partnership_id == self.partnership.id, Theme.id.in_(assigned)))
            )
        }
        out: dict[int, tuple[int, str] | None] = {}
        for theme_id in assigned:
            theme = themes[theme_id].canonical()
            out[theme_id] = None if theme.hidden else (theme.id, theme.label)
        return out

    def theme_id(self, row: Row) -> int | None:
        """The theme (after merges) ``row`` is counted under; None when unthemed or its theme is hidden."""
        themed = self.theme_of.get(row.assigned_theme_id) if self.theme_of and row.assigned_theme_id else None
        return themed[0] if themed else None

    @property
    def group_word(self) -> str:
        return "Theme" if self.theme_of is not None else "Category"

    def theme_ids_used(self) -> list[int]:
        if self.theme_of is None:
            return []
        return sorted({t for t in map(self.theme_id, self.current) if t is not None})

    @property
    def has_data(self) -> bool:
        return bool(self.current or self.previous)

    def group_name(self, row: Row) -> str:
        if self.theme_of is not None:
            themed = self.theme_of.get(row.assigned_theme_id) if row.assigned_theme_id is not None else None
            return themed[1] if themed else UNTHEMED
        return self.categories.get(row.category_id, "Uncategorised")

    # Facts ----------------------------------------------------------------------------------------------------------

    def facts(self) -> dict:
        """Everything the sections are written from: per edition, its cells (tallies with ids), groups, weeks,
        wards, contributor kinds and quotes; shared by both, the indicator context, carried actions and labels."""
        wards = self.geo.wards(self.partnership, self.focus)
        context = indicator_context(self.partnership, self.focus, self.geo, wards)
        shares = context.deprived_shares
        actions = self.carried_actions()
        links = action_links(actions)
        picked = {audience: self.pick_quotes(self.observations[audience][0], audience) for audience in EDITIONS}
        texts = self._quote_texts({r.id for rows in picked.values() for _, r in rows})
        facts = {
            "shared": {
                "group_word": self.group_word,
                "period": self.focus.period_label,
                "previous": self.focus.previous_label,
                "where": list(self.focus.area_names),
                "partnership": self.partnership.name,
                "wards": [{"id": w.id, "name": w.name, "share": shares.get(w.id)} for w in wards],
                "indicators": context.rows,
                "sources": context.sources,
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
                "grants": grants.facts(self.partnership, wards, self.focus),
                **index.facts(self.partnership),
            },
            **{
                audience.value: self._edition_facts(audience, wards, self._quotes(picked[audience], texts))
                for audience in EDITIONS
            },
        }
        # Early warnings are the partnership's to discuss (themes over its own observations); the funders' edition
        # has none. Theme, ward and indicators only, no counts: the facts then hold nothing an erasure must change.
        facts[Audience.PARTNERSHIP.value]["warnings"] = [w.as_fact() for w in self.early_warnings(wards)]
        members = sorted(o.id for o in self.partnership.members if o.kind is not OrgKind.FUNDER)
        for audience in EDITIONS:
            network.add_facts(facts[audience.value], self.observations[audience][0], members, self.theme_of,
                              self.geo.ward_id_of)  # fmt: skip
        return facts

    def early_warnings(self, wards: list[Area]) -> list:
        """Need themes rising in the focus wards while their official indicators look stable
        (:mod:`indicators.warnings`), over the 6 complete months before the period's end."""
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

    def _edition_facts(self, audience: Audience, wards: list[Area], quotes: list[dict]) -> dict:
        now, before = self.observations[audience]
        # One pass over the rows, each into the parts it belongs to; the cells below are written in a fixed order.
        names_now = list(map(self.group_name, now))
        names_before = list(map(self.group_name, before))
        ward_of = self.geo.ward_id_of
        g_now: dict[str, list[Row]] = defaultdict(list)
        g_kind: dict[tuple[str, str], list[Row]] = defaultdict(list)
        g_before: dict[str, list[Row]] = defaultdict(list)
        week_kind: dict[tuple[str, str], list[Row]] = defaultdict(list)
        weeks_seen: dict[date, str] = {}
        placed: list[Row] = []
        by_ward: dict[int, list[Row]] = defaultdict(list)
        by_org: dict[int, list[Row]] = defaultdict(list)
        for r, name in zip(now, names_now, strict=True):
            g_now[name].append(r)
            g_kind[(name, r.kind)].append(r)
            week = weeks_seen.get(r.period_start)
            if week is None:
                week = weeks_seen[r.period_start] = (
                    r.period_start - timedelta(days=r.period_start.weekday())
                ).isoformat()
            week_kind[(week, r.kind)].append(r)
            ward = ward_of(r.area_id)
            if ward is not None:
                placed.append(r)
                by_ward[ward].append(r)
            if r.organisation_id is not None:
                by_org[r.organisation_id].append(r)
        for r, name in zip(before, names_before, strict=True):
            g_before[name].append(r)

        cells: dict[str, dict] = {
            "total.now": _cell_facts(now),
            "total.before": _cell_facts(before),
        }
        groups: dict[str, str] = {}
        for name in sorted({*names_now, *names_before}):
            key = slug(name)
            while key in groups.values():
                key += "-"
            groups[name] = key
            cells[f"g.{key}.now"] = _cell_facts(g_now.get(name, []), ("total.now",))
            cells[f"g.{key}.before"] = _cell_facts(g_before.get(name, []), ("total.before",))
            for kind in ObservationKind:
                cells[f"g.{key}.{kind.value}"] = _cell_facts(
                    g_kind.get((name, kind), []), (f"g.{key}.now", "total.now")
                )
        weeks = sorted(set(weeks_seen.values()))
        for week in weeks:
            for kind in ObservationKind:
                cells[f"w.{week}.{kind.value}"] = _cell_facts(week_kind.get((week, kind), []), ("total.now",))
        cells["placed"] = _cell_facts(placed, ("total.now",))
        for w in wards:
            cells[f"ward.{w.id}"] = _cell_facts(by_ward.get(w.id, []), ("placed", "total.now"))
        kinds: dict[str, dict] = {}
        for label, members in self._contributor_kinds(now).items():
            key = slug(label)
            cells[f"kind.{key}"] = _cell_facts(members, ("total.now",))
            orgs = {r.organisation_id for r in members if r.organisation_id is not None}
            kinds[key] = {"label": label, "organisations": len(orgs), "resident": label == "Residents"}
        contributors = {}
        for org_id in sorted(by_org):
            cells[f"org.{org_id}"] = _cell_facts(by_org[org_id])
            contributors[str(org_id)] = f"org.{org_id}"
        return {
            "audience": audience.value,
            "cells": cells,
            "groups": groups,
            "weeks": weeks,
            "kinds": kinds,
            "contributors": contributors,
            "quotes": quotes,
        }

    def _contributor_kinds(self, rows: list[Row]) -> dict[str, list[Row]]:
        """Observations by who contributed them, never narrower than k organisations: a kind of organisation has its
        own row only when the partnership has at least k members of that kind; the others are "Partner
        organisations"; residents are a row of their own."""
        k = threshold()
        members_of_kind = Counter(o.kind for o in self.partnership.members)
        out: dict[str, list[Row]] = defaultdict(list)
        label_of: dict[int, str] = {}
        for r in rows:
            if r.organisation_id is None:
                out["Residents"].append(r)
                continue
            label = label_of.get(r.organisation_id)
            if label is None:
                kind = self.org_kinds.get(r.organisation_id)
                label = OrgKind(kind).label if kind and members_of_kind[kind] >= k else "Partner organisations"
                label_of[r.organisation_id] = label
            out[label].append(r)
        return dict(sorted(out.items()))

    def pick_quotes(self, rows: list[Row], audience: Audience) -> list[tuple[str, Row]]:
        """``(group, row)`` of up to two quotes per group, ten in all, among the observations ``audience`` may read
        as quotes (webapp.disclosure.may_quote: level, consent, redacted, live), those affecting most people first;
        the groups with most quotable observations first."""
        # The layer's rule alone decides (looked up on the module, so that a test that replaces it reaches here).
        by_group: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            if disclosure.may_quote(r, audience):
                by_group[self.group_name(r)].append(r)
        best = {g: heapq.nsmallest(QUOTES_PER_GROUP, found, key=_quote_order) for g, found in by_group.items()}
        picked: list[tuple[str, Row]] = []
        # Most quotable observations first; between equals, the group with the strongest quote first.
        for group in sorted(by_group, key=lambda g: (-len(by_group[g]), _quote_order(best[g][0]))):
            for r in best[group]:
                if len(picked) >= MAX_QUOTES:
                    break
                picked.append((group, r))
        return picked

    def _quote_texts(self, ids: set[int]) -> dict[int, str]:
        """The redacted text of the quotes picked (at most MAX_QUOTES per edition): the only text the composer reads."""
        if not ids:
            return {}
        rows = db.session.execute(select(Observation.id, Observation.redacted_text).where(Observation.id.in_(ids)))
        return {obs_id: text or "" for obs_id, text in rows}

    def _quotes(self, picked: list[tuple[str, Row]], texts: dict[int, str]) -> list[dict]:
        return [
            {
                "observation_id": r.id,
                "group": group,
                "text": trim(texts[r.id]),
                "resident": r.organisation_id is None,
                "org_kind": self.org_kinds[r.organisation_id].value if r.organisation_id is not None else None,
            }
            for group, r in picked
        ]

    # Actions ---------------------------------------------------------------------------------------------------------

    def carried_actions(self) -> list[Action]:
        """Every action of the last earlier session, and the open ones of the sessions before it (one query for the
        sessions, one for their actions with their owners)."""
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
        by_session: dict[int, list[Action]] = defaultdict(list)
        for action in db.session.scalars(
            select(Action)
            .options(selectinload(Action.owner))
            .where(Action.session_id.in_([s.id for s in earlier]))
            .order_by(Action.id)
        ):
            by_session[action.session_id].append(action)
        actions = list(by_session[earlier[0].id])
        for s in earlier[1:]:
            actions += [a for a in by_session[s.id] if a.status.is_open]
        return actions


def compose(session: Session) -> tuple[dict, Composer]:
    """The facts of ``session``'s briefing from the latest data, and the composer that counted them."""
    composer = Composer(session)
    return composer.facts(), composer


def quoted_ids(facts: dict) -> list[int]:
    """Every observation quoted in any edition of these facts."""
    return sorted(
        {int(q["observation_id"]) for a in EDITIONS for q in (facts or {}).get(a.value, {}).get("quotes", [])}
    )


def without_observation(facts: dict, observation_id: int, record_key: int | None) -> tuple[dict, bool]:
    """The facts recounted without an erased observation (its quotes gone, every cell that counted it one fewer);
    and whether they held it at all."""
    changed = False
    out = {**facts}
    for audience in EDITIONS:
        edition = facts.get(audience.value)
        if not edition:
            continue
        cells = {}
        for key, cell in edition.get("cells", {}).items():
            if observation_id in cell.get("ids", []):
                changed = True
                if record_key is None:
                    raise ValueError("the erased observation's record key is needed to recount")
                cell = {**cell, "n": cell["n"] - 1, "ks": cell["ks"] - record_key,
                        "ids": [i for i in cell["ids"] if i != observation_id]}  # fmt: skip
            cells[key] = cell
        quotes = [q for q in edition.get("quotes", []) if int(q["observation_id"]) != observation_id]
        changed = changed or len(quotes) != len(edition.get("quotes", []))
        out[audience.value] = {**edition, "cells": cells, "quotes": quotes}
    return out, changed


def contributions(facts: dict) -> dict[int, Tally]:
    """``{organisation id: tally}`` of the partnership edition's observations this period, per organisation."""
    edition = (facts or {}).get(Audience.PARTNERSHIP.value, {})
    cells = edition.get("cells", {})
    return {int(org): Tally.from_json(cells.get(key)) for org, key in edition.get("contributors", {}).items()}


@dataclass(frozen=True)
class ActionLinks:
    """What an action is about, by name: its themes' labels, its areas' names, its observations' ids."""

    themes: list[str]
    areas: list[str]
    observations: list[int]


def theme_labels(theme_ids: set[int]) -> dict[int, str]:
    """Current labels of themes (following merges)."""
    if not theme_ids:
        return {}
    return {t.id: t.canonical().label for t in db.session.scalars(select(Theme).where(Theme.id.in_(theme_ids)))}


def action_links(actions: list[Action]) -> dict[int, ActionLinks]:
    """``{action id: ActionLinks}`` for actions, with two queries whatever their number."""
    themes = theme_labels({i for a in actions for i in a.theme_ids or []})
    area_ids = {i for a in actions for i in a.area_ids or []}
    areas = {a.id: a.name for a in db.session.scalars(select(Area).where(Area.id.in_(area_ids)))} if area_ids else {}
    return {
        a.id: ActionLinks(
            themes=sorted({themes[i] for i in a.theme_ids or [] if i in themes}),
            areas=sorted({areas[i] for i in a.area_ids or [] if i in areas}),
            observations=sorted(a.observation_ids or []),
        )
        for a in actions
    }
