"""What the organisation network reads from the database, and the contributor's "who else" view.

Observations are read only through :func:`submissions.queries.partnership_observations` for the reader's audience
(so a funder's network counts only what was shared with funders, and nothing of another partnership), as narrow
rows: id, record key, organisation, area and theme under the partnership's active theme model (after merges;
hidden themes and residents' observations left out). Areas are placed in their ward with the composer's
:class:`~convening.composer.focus.Geography`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import and_, select

from convening.composer.focus import Geography
from convening.network import Mark, cells_of
from nlp.themes.models import Theme, ThemeAssignment, active_model
from nlp.themes.queries import area_total_tallies
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp.disclosure import RECORD_KEYS, Audience, Released, Tally, release, threshold
from webapp.extensions import db
from webapp.models import Organisation, OrgKind, Partnership


def themes_after_merges(partnership: Partnership, assigned: set[int]) -> dict[int, tuple[int, str] | None]:
    """``{assigned theme id: (theme id after merges, label)}``; None for a hidden theme."""
    if not assigned:
        return {}
    themes = {
        t.id: t
        for t in db.session.scalars(
            select(Theme).where((Theme.partnership_id == partnership.id) | Theme.id.in_(sorted(assigned)))
        )
    }
    out: dict[int, tuple[int, str] | None] = {}
    for theme_id in assigned:
        theme = themes[theme_id].canonical()
        out[theme_id] = None if theme.hidden else (theme.id, theme.label)
    return out


@dataclass
class Reading:
    """The marks an audience counts, with the labels of their themes."""

    marks: list[Mark] = field(default_factory=list)
    theme_labels: dict[int, str] = field(default_factory=dict)
    themed: bool = False  # the partnership has an active theme model


def read_marks(partnership: Partnership, audience: Audience, since: date | None, until: date | None = None) -> Reading:
    """The organisations' themed observations of ``partnership`` that ``audience`` counts, from ``since`` (None: all
    time) to ``until`` (inclusive; None: no end)."""
    model = active_model(partnership.id)
    if model is None:
        return Reading()
    stmt = (
        partnership_observations(partnership, audience)
        .with_only_columns(
            Observation.id,
            Observation.record_key,
            Observation.organisation_id,
            Observation.area_id,
            ThemeAssignment.theme_id,
            maintain_column_froms=True,
        )
        .join(
            ThemeAssignment,
            and_(ThemeAssignment.observation_id == Observation.id, ThemeAssignment.model_id == model.id),
        )
        .where(Observation.organisation_id.is_not(None), ThemeAssignment.theme_id.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(Observation.period_start >= since)
    if until is not None:
        stmt = stmt.where(Observation.period_start <= until)
    rows = db.session.connection().execute(stmt).all()
    themes = themes_after_merges(partnership, {r[4] for r in rows})
    geo = Geography({r[3] for r in rows})
    marks = []
    for obs_id, key, org_id, area_id, theme_id in rows:
        theme = themes.get(theme_id)
        if theme is None:
            continue
        marks.append(Mark(obs_id, key, org_id, theme[0], geo.ward_id_of(area_id)))
    labels = {t[0]: t[1] for t in themes.values() if t is not None}
    return Reading(marks, labels, True)


def member_organisations(partnership: Partnership) -> list[Organisation]:
    """The organisations in the picture: the partnership's members (never its funders, who record nothing)."""
    return [o for o in partnership.members if o.kind is not OrgKind.FUNDER]


# Counting organisations -------------------------------------------------------------------------------------------


def organisation_key(org_id: int) -> int:
    """An organisation's record key for counts of organisations (0..255): keyed by the app's secret, so that nobody
    can undo the perturbation from ids, and fixed, so the same organisations always show the same count."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"network-organisation:{org_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:2], "big") % RECORD_KEYS


def organisations_released(org_ids: set[int]) -> Released:
    """A count of organisations, released like every count: "fewer than k" below k, perturbed above."""
    return release(Tally(len(org_ids), sum(organisation_key(o) for o in org_ids)))


# "Who else is reporting this theme in your wards" -----------------------------------------------------------------


@dataclass
class OtherOrganisation:
    organisation: Organisation
    observations: Released


@dataclass
class WhoElse:
    theme_id: int
    label: str
    wards: list[int]  # the wards where the reader's organisation reports the theme
    own: Released  # the reader's organisation's observations of the theme in those wards
    enough_own: bool  # at least k of them: otherwise no comparison is made
    named: list[OtherOrganisation]
    others: Released  # organisations passing the k rule that did not agree to be named


def who_else(partnership: Partnership, organisation: Organisation, since: date | None) -> tuple[list[WhoElse], bool]:
    """For each theme ``organisation`` reports in a ward: the other organisations reporting it in the same wards.

    The k rule of edges applies to each theme: an organisation is listed (or counted) only when it has at least k
    observations of the theme in those wards *and* the reader's organisation has at least k. Organisations that
    agreed to be named are named; the others are only counted, and the count is released (fewer than k is not
    shown as a number). Returns the rows and whether the partnership has themes at all.

    The reader's own count of a theme in its wards is released within each of those wards' all-time totals (as the
    theme map is): a ward whose area page says "fewer than k" is broken down by theme nowhere. The demo attack pinned
    a member's cells without it: an organisation reporting four themes in a ward of four observations, each theme
    "fewer than 5" here, pinned each theme and the ward's total.
    """
    reading = read_marks(partnership, Audience.PARTNERSHIP, since)
    k = threshold()
    cells = cells_of(reading.marks)
    own_cells = cells.get(organisation.id, {})
    wards_of: dict[int, set[int]] = {}
    for theme_id, ward_id in own_cells:
        wards_of.setdefault(theme_id, set()).add(ward_id)
    named_orgs = {o.id: o for o in member_organisations(partnership) if o.id != organisation.id}
    area_totals = area_total_tallies(partnership)
    rows = []
    for theme_id, wards in wards_of.items():
        own = Tally.total(Tally.of(own_cells[(theme_id, w)]) for w in wards)
        named, unnamed = [], set()
        if own.count >= k:
            for org_id in sorted(cells):
                if org_id == organisation.id or org_id not in named_orgs:
                    continue
                theirs = Tally.total(Tally.of(cells[org_id].get((theme_id, w), [])) for w in wards)
                if theirs.count < k:
                    continue
                if named_orgs[org_id].network_named:
                    named.append(OtherOrganisation(named_orgs[org_id], release(theirs)))
                else:
                    unnamed.add(org_id)
        rows.append(
            WhoElse(
                theme_id=theme_id,
                label=reading.theme_labels.get(theme_id, "Theme"),
                wards=sorted(wards),
                own=release(own, [area_totals.get(w, Tally()) for w in wards]),
                enough_own=own.count >= k,
                named=sorted(named, key=lambda o: o.organisation.name),
                others=organisations_released(unnamed),
            )
        )
    rows.sort(key=lambda r: (not (r.named or r.others.shown_value), -r.own.shown_value, r.label))
    return rows, reading.themed
