"""The briefing's organisation network section: communities, brokers, isolated organisations and themes reported by
only one organisation, per edition (docs/network.md).

:func:`add_facts` stores, for each edition, the tallies (with observation ids) of every pair of organisations that
share a theme × ward in the period, and of every theme only one organisation reports, as ordinary cells of the
edition (``net.<a>.<b>.<side>``, ``net.theme.<id>``): an erasure recounts them like any other cell, and the k rule
is applied when the section is written, so an edge that falls below k after an erasure disappears. The funders'
edition is counted from the funders' observations only (what the composer hands each edition).

:func:`read` gathers an edition's typed facts (:class:`NetworkFacts`) and :func:`render` writes them; :func:`read`
names an organisation only when it agreed to be named in the network (looked up when the edition is
read, so withdrawing consent takes the name out of every edition read afterwards); others are "an organisation",
and counted where they are grouped ("and fewer than 5 other organisations", a released count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from convening.composer.counts import Count
from convening.composer.focus import Row
from convening.network import Edge, Mark, Side, SingleTheme, candidate_edges, from_edges, single_organisation_themes
from convening.network_queries import organisations_released
from webapp.disclosure import Tally
from webapp.extensions import db
from webapp.models import Organisation

if TYPE_CHECKING:
    from convening.composer.edition import Edition


def _cell(side: Side) -> dict:
    return {"n": side.tally.count, "ks": side.tally.key_sum, "ids": sorted(side.ids), "within": []}


def add_facts(
    edition: dict,
    rows: list[Row],
    members: list[int],
    theme_of: dict[int, tuple[int, str] | None] | None,
    ward_id_of: Callable[[int | None], int | None],
) -> None:
    """Add the network cells and the network's shape to one edition's facts, from that edition's rows of this period
    (``theme_of``: the composer's ``{assigned theme id: (theme id after merges, label)}``, None without themes;
    ``members``: the ids of the partnership's member organisations that are not funders)."""
    if theme_of is None:
        edition["network"] = {"themed": False}
        return
    marks = []
    labels: dict[str, str] = {}
    for r in rows:
        themed = theme_of.get(r.assigned_theme_id) if r.assigned_theme_id else None
        if r.organisation_id is not None and themed:
            marks.append(Mark(r.id, r.record_key, r.organisation_id, themed[0], ward_id_of(r.area_id)))
    edges = []
    for e in candidate_edges(marks):
        for org in (e.first, e.second):
            edition["cells"][f"net.{e.first}.{e.second}.{org}"] = _cell(e.sides[org])
        edges.append([e.first, e.second, sorted(e.themes), sorted(e.wards)])
    single = []
    for s in single_organisation_themes(marks):
        edition["cells"][f"net.theme.{s.theme_id}"] = {"n": s.tally.count, "ks": s.tally.key_sum,
                                                       "ids": sorted(s.ids), "within": []}  # fmt: skip
        single.append([s.theme_id, s.organisation_id])
    for r in rows:
        themed = theme_of.get(r.assigned_theme_id) if r.assigned_theme_id else None
        if themed:
            labels[str(themed[0])] = themed[1]
    edition["network"] = {"themed": True, "organisations": members, "edges": edges, "single": single,
                          "themes": labels}  # fmt: skip


def _side(edition: Edition, key: str) -> Side:
    cell = edition.cells.get(key) or {}
    return Side(list(cell.get("ids", [])), Tally.from_json(cell))


@dataclass(frozen=True)
class NetworkLink:
    """Two organisations linked by the themes they both report in a ward, each with its observations released."""

    first: str  # its name where it agreed to be named, else "an organisation"
    first_observations: Count
    second: str
    second_observations: Count
    themes: tuple[str, ...]  # the shared themes' labels, sorted


@dataclass(frozen=True)
class LoneTheme:
    """A theme only one organisation reports, with its observations released."""

    label: str
    observations: Count
    organisation: str


@dataclass(frozen=True)
class NetworkFacts:
    """The network of one edition: the links resting on k, heaviest first, and its shape in words (groups of
    organisations named where they agreed to be, the others counted through a released count)."""

    themed: bool  # the partnership has themes (else no network)
    period: str
    k: int
    links: tuple[NetworkLink, ...]
    communities: tuple[str, ...]
    brokers: tuple[str, ...]
    isolated: str  # the organisations linked to none, or empty
    lone_themes: tuple[LoneTheme, ...]


def read(edition: Edition) -> NetworkFacts:
    net = edition.facts.get("network") or {}
    k, period = edition.k, edition.shared.get("period", "")
    if not net.get("themed"):
        return NetworkFacts(False, period, k, (), (), (), "", ())
    edges = []
    for first, second, themes, wards in net.get("edges", []):
        sides = {o: _side(edition, f"net.{first}.{second}.{o}") for o in (first, second)}
        edge = Edge(first, second, sides, set(themes), set(wards))
        if edge.rests_on_k(k):
            edges.append(edge)
    edges.sort(key=lambda e: (-e.weight, e.first, e.second))
    single = []
    for theme_id, org_id in net.get("single", []):
        side = _side(edition, f"net.theme.{theme_id}")
        if side.tally.count:
            single.append(SingleTheme(theme_id, org_id, side.tally, side.ids))
    network = from_edges(net.get("organisations", []), edges, single)
    ids = set(network.organisations)
    # Asked whether or not the network has organisations, so a draft issues the same statements whatever the data
    # (tests/convening/test_composer_queries.py).
    named: dict[int, str] = {
        org_id: org_name
        for org_id, org_name in db.session.execute(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_(sorted(ids)), Organisation.network_named.is_(True)
            )
        )
    }
    labels = net.get("themes", {})

    def name(org_id: int) -> str:
        return named.get(org_id, "an organisation")

    def group(orgs: list[int]) -> str:
        shown = sorted(named[o] for o in orgs if o in named)
        unnamed = {o for o in orgs if o not in named}
        if unnamed:
            shown.append(f"{organisations_released(unnamed)} other organisation{'s' if len(unnamed) != 1 else ''}"
                         if shown else f"{organisations_released(unnamed)} organisations")  # fmt: skip
        return ", ".join(shown)

    links = tuple(
        NetworkLink(
            name(e.first),
            edition.count(f"net.{e.first}.{e.second}.{e.first}"),
            name(e.second),
            edition.count(f"net.{e.first}.{e.second}.{e.second}"),
            tuple(sorted(labels.get(str(t), "a theme") for t in e.themes)),
        )
        for e in edges
    )
    return NetworkFacts(
        themed=True,
        period=period,
        k=k,
        links=links,
        communities=tuple(group(c) for c in network.communities),
        brokers=tuple(name(o) for o, _ in network.brokers),
        isolated=group(network.isolated) if network.isolated else "",
        lone_themes=tuple(
            LoneTheme(
                labels.get(str(s.theme_id), "a theme"),
                edition.count(f"net.theme.{s.theme_id}"),
                name(s.organisation_id),
            )
            for s in single
        ),  # fmt: skip
    )


def write(edition: Edition) -> tuple[str, list[dict]]:
    """(Markdown, charts) of the network section of ``edition``."""
    return render(read(edition))


def render(facts: NetworkFacts) -> tuple[str, list[dict]]:
    if not facts.themed:
        return ("The organisation network links organisations by the themes they report: it needs the partnership's "
                "themes, and there are none yet.", [])  # fmt: skip
    k = facts.k
    lines = [
        "Which organisations report the same themes in the same wards this period "
        f"({facts.period}). "
        f"Two organisations are linked when each has at least {k} observations of a theme in a ward they both report; "
        "organisations are named only where they agreed to be.",
        "",
    ]
    if facts.links:
        lines += ["| Organisation | Its observations | Linked to | Their observations | Shared themes |",
                  "|---|---:|---|---:|---|"]  # fmt: skip
        for link in facts.links:
            lines.append(
                f"| {_md(_capital(link.first))} | {link.first_observations} | "
                f"{_md(link.second)} | {link.second_observations} | {_md('; '.join(link.themes))} |"
            )
        lines.append("")
    else:
        lines += [f"No two organisations share {k} or more observations of a theme in a ward this period.", ""]
    if facts.communities:
        items = "; ".join(f"{i}. {c}" for i, c in enumerate(facts.communities, 1))
        lines.append(f"- **Communities** (organisations more linked to each other than to the rest): {items}.")
    if facts.brokers:
        lines.append("- **Brokers** (linking groups that would otherwise not meet): " + "; ".join(facts.brokers) + ".")
    if facts.isolated:
        lines.append(f"- **Not linked** to any other organisation this period: {facts.isolated}.")
    if facts.lone_themes:
        items = "; ".join(f"{_md(t.label)} ({t.observations}, {t.organisation})" for t in facts.lone_themes)
        lines.append(f"- **Themes only one organisation reports** (a weak signal to check): {items}.")
    return "\n".join(lines), []


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _md(text: str) -> str:
    return text.replace("|", "/").replace("*", "").replace("_", " ").replace("[", "(").replace("]", ")")
