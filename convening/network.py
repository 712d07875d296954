"""The organisation network: which organisations of a partnership see the same things (docs/network.md).

Plain values in, plain values out: the observations arrive as :class:`Mark` (id, record key, organisation, theme,
ward), read by :mod:`convening.network_queries`; nothing here reads the database or Flask.

- A **cell** is a theme × ward. Two organisations *share* a cell when each has at least one observation in it.
- The **edge** between organisations A and B rests on two sides: A's observations in the cells A and B share, and
  B's observations in those same cells. Each side is a :class:`~webapp.disclosure.Tally`.
- **The k rule**: an edge is shown only when *both* sides hold at least k observations. An edge that fails it is not
  drawn, listed, counted or used to find communities and brokers: it does not exist for the reader.
- **Weights** are released, never raw: each side is released through :func:`webapp.disclosure.release` (so a side
  of exactly k shows as k, and a shown side means at least k, as the perturbation table was built for). The
  edge's weight for drawing and for community detection is the sum of the two released sides. A sum released as one
  cell would not do: a reader knows both sides are at least k, so a released sum of 2k−D would pin it to 2k
  (``tests/convening/test_network.py`` shows the table does publish such values).
- **Communities**: Louvain modularity (NetworkX, fixed seed) on the shown edges, weighted by the released weights;
  **brokers**: betweenness centrality on the same graph by hops (weights are noisy counts, not distances);
  **isolated**: organisations of the picture without a shown edge; **single-organisation themes**: themes whose
  observations (in the reader's audience) all come from one organisation.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from webapp.disclosure import Released, Tally, release, threshold

SEED = 20261201  # communities and layout: the same picture every time for the same edges
MAX_BROKERS = 5


@dataclass(frozen=True)
class Mark:
    """One observation as the network reads it: never its text, only where it counts."""

    id: int
    record_key: int
    organisation_id: int
    theme_id: int
    ward_id: int | None  # None: not placed in a ward (counts for themes, not for edges)


@dataclass
class Side:
    """One organisation's observations in the cells it shares with another."""

    ids: list[int] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def add(self, mark: Mark) -> None:
        self.ids.append(mark.id)
        self.tally = self.tally + Tally(1, mark.record_key)


@dataclass
class Edge:
    first: int  # organisation ids, first < second
    second: int
    sides: dict[int, Side]
    themes: set[int]  # the themes of the shared cells
    wards: set[int]  # the wards of the shared cells

    def rests_on_k(self, k: int) -> bool:
        """The k rule: both sides hold at least k observations."""
        return all(side.tally.count >= k for side in self.sides.values())

    def released(self, org_id: int) -> Released:
        return release(self.sides[org_id].tally)

    @property
    def weight(self) -> int:
        """The sum of the two released sides (every shown side is a number of at least k)."""
        return sum(self.released(o).shown_value for o in (self.first, self.second))


def cells_of(marks: Iterable[Mark]) -> dict[int, dict[tuple[int, int], list[Mark]]]:
    """``{organisation: {(theme, ward): [marks]}}`` of the marks placed in a ward."""
    out: dict[int, dict[tuple[int, int], list[Mark]]] = defaultdict(lambda: defaultdict(list))
    for m in marks:
        if m.ward_id is not None:
            out[m.organisation_id][(m.theme_id, m.ward_id)].append(m)
    return out


def candidate_edges(marks: Iterable[Mark]) -> list[Edge]:
    """Every pair of organisations sharing at least one cell, with both sides counted (before the k rule)."""
    cells = cells_of(marks)
    edges = []
    for a, b in itertools.combinations(sorted(cells), 2):
        shared = cells[a].keys() & cells[b].keys()
        if not shared:
            continue
        edge = Edge(a, b, {a: Side(), b: Side()}, {t for t, _ in shared}, {w for _, w in shared})
        for cell in sorted(shared):
            for org in (a, b):
                for m in cells[org][cell]:
                    edge.sides[org].add(m)
        edges.append(edge)
    return edges


def shown_edges(marks: Iterable[Mark], k: int | None = None) -> list[Edge]:
    """The edges that pass the k rule, strongest first."""
    k = threshold() if k is None else k
    edges = [e for e in candidate_edges(marks) if e.rests_on_k(k)]
    return sorted(edges, key=lambda e: (-e.weight, e.first, e.second))


@dataclass
class SingleTheme:
    theme_id: int
    organisation_id: int
    tally: Tally
    ids: list[int]


def single_organisation_themes(marks: Iterable[Mark]) -> list[SingleTheme]:
    """Themes whose observations all come from one organisation (placed in a ward or not)."""
    by_theme: dict[int, list[Mark]] = defaultdict(list)
    for m in marks:
        by_theme[m.theme_id].append(m)
    out = []
    for theme_id, members in sorted(by_theme.items()):
        orgs = {m.organisation_id for m in members}
        if len(orgs) == 1:
            out.append(SingleTheme(theme_id, orgs.pop(), Tally.of(members), [m.id for m in members]))
    return out


@dataclass
class Network:
    organisations: list[int]
    edges: list[Edge]
    communities: list[list[int]]  # two organisations or more, largest first
    community_of: dict[int, int]  # organisation → index in communities (absent: none)
    brokers: list[tuple[int, float]]  # (organisation, betweenness), betweenness > 0, highest first
    isolated: list[int]
    single_themes: list[SingleTheme]
    positions: dict[int, tuple[float, float]]  # layout in the unit square


def graph(organisations: Iterable[int], edges: Iterable[Edge]) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(sorted(organisations))
    for e in edges:
        g.add_edge(e.first, e.second, weight=e.weight)
    return g


def analyse(organisations: Iterable[int], marks: list[Mark], k: int | None = None) -> Network:
    """The network of ``organisations`` (every one in the picture, with or without observations) from ``marks``."""
    organisations = sorted(set(organisations) | {m.organisation_id for m in marks})
    return from_edges(organisations, shown_edges(marks, k), single_organisation_themes(marks))


def from_edges(organisations: Iterable[int], edges: list[Edge], single_themes: list[SingleTheme]) -> Network:
    """The network drawn from edges that already passed the k rule (a briefing's stored facts, recounted)."""
    organisations = sorted(set(organisations) | {o for e in edges for o in (e.first, e.second)})
    g = graph(organisations, edges)
    communities: list[list[int]] = []
    if g.number_of_edges():
        found = nx.community.louvain_communities(g, weight="weight", seed=SEED)
        communities = sorted((sorted(c) for c in found if len(c) > 1), key=lambda c: (-len(c), c))
    community_of = {o: i for i, c in enumerate(communities) for o in c}
    between = nx.betweenness_centrality(g, normalized=True) if g.number_of_nodes() > 2 else {}
    brokers = sorted(((o, b) for o, b in between.items() if b > 0), key=lambda ob: (-ob[1], ob[0]))[:MAX_BROKERS]
    isolated = [o for o in organisations if g.degree(o) == 0]
    return Network(
        organisations=organisations,
        edges=edges,
        communities=communities,
        community_of=community_of,
        brokers=brokers,
        isolated=isolated,
        single_themes=single_themes,
        positions=layout(g),
    )


ISOLATED_ROW = 1.0  # isolated organisations are drawn in a row along the bottom, linked ones above it
LINKED_BAND = 0.72


def layout(g: nx.Graph) -> dict[int, tuple[float, float]]:
    """Linked organisations by spring layout (fixed seed) in the upper part of the unit square; isolated ones in a
    row along the bottom (left to the spring layout they fly to the edges and squeeze the rest into a corner)."""
    linked = sorted(n for n in g.nodes if g.degree(n))
    isolated = sorted(n for n in g.nodes if not g.degree(n))
    out: dict[int, tuple[float, float]] = {}
    if len(linked) == 2:
        out = {linked[0]: (0.2, LINKED_BAND / 2), linked[1]: (0.8, LINKED_BAND / 2)}
    elif linked:
        pos = nx.spring_layout(g.subgraph(linked), seed=SEED, weight="weight")
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
        out = {n: ((p[0] - min(xs)) / span_x, (p[1] - min(ys)) / span_y * LINKED_BAND) for n, p in pos.items()}
    top = ISOLATED_ROW if linked else 0.5
    for i, n in enumerate(isolated):
        out[n] = ((i + 0.5) / len(isolated), top)
    return out
