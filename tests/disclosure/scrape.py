"""Everything a reader can read about observations, scraped from the pages as rendered, each number tied to the set
of observations it counts — computed here, from the database, without the app's counting code.

:class:`World` is the test's own model of the data (which observations each audience counts, their areas, dates,
categories, kinds, themes and organisations), read with plain SQL. :class:`Reader` signs in as one role, requests
every page that role can reach (the area profiles in every period, the theme maps, the theme list and pages, the
theme-by-deprivation pages, every briefing edition it can read on the web and in the PDF, "your observations
informed"), parses what is shown and records each count as an :class:`attack.Cell`: its definition over the
dimensions of :data:`DIMENSIONS` and its true set of observations. A page that printed a number without the
disclosure layer would still be scraped, and caught by :func:`attack.check_consistency` or by the attack itself.
"""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import tinyhtml5
from sqlalchemy import text

from tests.disclosure.attack import Cell, Shown

WINDOWS = {"3": 91, "6": 182, "12": 365, "24": 730, "all": None}
DIMENSIONS = ("area", "date", "kind", "cat", "theme", "org", "level")
GRAINS = {"month": 1, "quarter": 3, "year": 12}  # the theme page's periods (nlp.themes.queries.periods)
LIVE = ("submitted", "approved")
LEVELS = {
    "partnership": ("partnership", "funders_aggregate", "public_aggregate"),
    "funders": ("funders_aggregate", "public_aggregate"),
    "public": ("public_aggregate",),
}


@dataclass(frozen=True)
class Obs:
    id: int
    area: int | None
    day: date
    cat: str
    kind: str
    theme: int | None  # theme under the partnership's active model (merged themes followed; hidden: None)
    org: int | None
    level: str


@dataclass
class World:
    """The test's own reading of the database."""

    today: date
    partnership: int
    areas: dict[int, tuple[int | None, str, str, str]]  # id -> (parent, level, code, name)
    obs: dict[str, list[Obs]]  # audience -> the observations it counts
    categories: list[str]
    themes: dict[int, str]  # visible theme id -> label
    theme_ids_by_label: dict[str, int]
    org_kind: dict[int, str]
    members: list[int]
    deciles: dict[int, int]  # LSOA id -> IMD decile

    @classmethod
    def load(cls, connection, partnership_slug: str = "bristol", today: date | None = None) -> World:
        q = lambda sql, **kw: connection.execute(text(sql), kw).all()  # noqa: E731
        pid = q("select id from partnerships where slug = :s", s=partnership_slug)[0][0]
        areas = {
            i: (p, lvl, code, name) for i, p, lvl, code, name in q("select id, parent_id, level, code, name from areas")
        }
        members = [r[0] for r in q("select organisation_id from partnership_members where partnership_id = :p", p=pid)]
        agreement = q(
            "select id from data_sharing_agreements where partnership_id = :p order by version desc limit 1", p=pid
        )
        accepted = set()
        if agreement:
            accepted = {r[0] for r in q("select organisation_id from agreement_acceptances where agreement_id = :a",
                                        a=agreement[0][0])} & set(members)  # fmt: skip
        model = q("select id, changes from theme_models where partnership_id = :p and active", p=pid)
        themes: dict[int, str] = {}
        theme_of: dict[int, int] = {}
        if model:
            import json

            model_id, changes = model[0]
            changes = json.loads(changes) if isinstance(changes, str) else changes
            rows = q(
                "select id, curated_label, auto_label, hidden, merged_into_id from themes where partnership_id = :p",
                p=pid,
            )
            info = {i: (curated or machine, hidden, merged) for i, curated, machine, hidden, merged in rows}

            def canonical(i):
                seen = 0
                while info[i][2] is not None and seen < 10:
                    i, seen = info[i][2], seen + 1
                return i

            visible_ids = set(changes.get("topic_theme_ids", []))
            themes = {i: info[i][0] for i in visible_ids if i in info and not info[i][1] and info[i][2] is None}
            for obs_id, theme_id in q(
                "select observation_id, theme_id from theme_assignments where model_id = :m and theme_id is not null",
                m=model_id,
            ):
                c = canonical(theme_id)
                if not info[c][1]:
                    theme_of[obs_id] = c
        cats = {i: name for i, name in q("select id, name from observation_categories")}
        categories = [r[0] for r in q("select name from observation_categories where active order by position")]
        org_kind = {i: k for i, k in q("select id, kind from organisations")}
        rows = q(
            "select id, organisation_id, area_id, period_start, category_id, kind, sharing_level, status, "
            "redacted_text is not null from observations where partnership_id = :p",
            p=pid,
        )
        shared: list[Obs] = []
        for i, org, area, day, cat, kind, level, status, redacted in rows:
            if not redacted:
                continue
            if org is None:
                if status != "approved":
                    continue
            elif org not in accepted or status not in LIVE:
                continue
            if isinstance(day, str):
                day = date.fromisoformat(day[:10])
            shared.append(Obs(i, area, day, cats[cat], kind, theme_of.get(i), org, level))
        obs = {aud: [o for o in shared if o.level in levels] for aud, levels in LEVELS.items()}
        deciles = {}
        imd = q(
            "select i.id from indicators i join indicator_datasets d on d.id = i.dataset_id "
            "where i.value_kind = 'rank' and i.level = 'lsoa' and i.name like '%Multiple%' "
            "order by d.release_date desc, i.id desc limit 1"
        )
        if imd:
            for area, dec, rank in q("select area_id, decile, rank from indicator_values where indicator_id = :i",
                                     i=imd[0][0]):  # fmt: skip
                if dec is None and rank is not None:
                    dec = min(10, int((rank - 1) // 3284.4) + 1)
                if dec is not None:
                    deciles[area] = int(dec)
        labels: dict[str, list[int]] = defaultdict(list)
        for i, label in themes.items():
            labels[label].append(i)
        return cls(
            today=today or date.today(),
            partnership=pid,
            areas=areas,
            obs=obs,
            categories=categories,
            themes=themes,
            theme_ids_by_label={label: ids[0] for label, ids in labels.items() if len(ids) == 1},
            org_kind=org_kind,
            members=members,
            deciles=deciles,
        )

    # Geography ------------------------------------------------------------------------------------------------------

    def code(self, area: int) -> str:
        return self.areas[area][2]

    def by_code(self, code: str) -> int:
        return next(i for i, a in self.areas.items() if a[2] == code)

    def within(self, area: int) -> frozenset:
        """The area and every area below it."""
        out, frontier = {area}, {area}
        children = self._children()
        while frontier:
            frontier = {c for f in frontier for c in children.get(f, ())} - out
            out |= frontier
        return frozenset(out)

    def _children(self) -> dict[int, list[int]]:
        if not hasattr(self, "_kids"):
            kids: dict[int, list[int]] = defaultdict(list)
            for i, (parent, *_rest) in self.areas.items():
                if parent is not None:
                    kids[parent].append(i)
            self._kids = kids
        return self._kids

    def ancestors(self, area: int) -> list[int]:
        out, current = [], self.areas[area][0]
        while current is not None:
            out.append(current)
            current = self.areas[current][0]
        return out

    def ward_of(self, area: int | None) -> int | None:
        node = area
        while node is not None and self.areas[node][1] not in ("ward", "lad", "custom"):
            node = self.areas[node][0]
        return node if node is not None and self.areas[node][1] == "ward" else None

    def wards(self) -> list[int]:
        return sorted(i for i, a in self.areas.items() if a[1] == "ward")

    def lad(self) -> int:
        return next(i for i, a in self.areas.items() if a[1] == "lad")

    def since(self, window: str) -> date | None:
        days = WINDOWS[window]
        return None if days is None else self.today - timedelta(days=days)


@dataclass
class Definition:
    """A cell's definition before the date dimension is cut into classes: area set, date interval, other dims."""

    areas: frozenset | None = None  # area ids (None stands for "the whole partnership area", i.e. no area)
    start: date | None = None  # inclusive
    end: date | None = None  # exclusive
    kind: str | None = None
    cat: str | None = None
    cats: frozenset | None = None
    theme: object = "any"  # a theme id, None for unthemed, or "any"
    orgs: frozenset | None = None  # organisation ids (None in it: residents)
    levels: frozenset | None = None  # sharing levels (None: every level the reader's audience counts)

    def holds(self, o: Obs) -> bool:
        if self.levels is not None and o.level not in self.levels:
            return False
        if self.areas is not None and o.area not in self.areas:
            return False
        if self.start is not None and o.day < self.start:
            return False
        if self.end is not None and o.day >= self.end:
            return False
        if self.kind is not None and o.kind != self.kind:
            return False
        if self.cat is not None and o.cat != self.cat:
            return False
        if self.cats is not None and o.cat not in self.cats:
            return False
        if self.theme != "any" and o.theme != self.theme:
            return False
        return self.orgs is None or o.org in self.orgs


@dataclass
class Reader:
    """One role reading every page it can, collecting (definition, shown) pairs."""

    world: World
    client: object
    audience: str  # "partnership", "funders" or "public"
    k: int
    cells: list[tuple[str, Definition, Shown]] = field(default_factory=list)
    pages: int = 0
    # The first page of each kind read (path with its numbers blanked), for the check of the parser.
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def observations(self) -> list[Obs]:
        return self.world.obs[self.audience]

    def get(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        self.pages += 1
        page = response.get_data(as_text=True)
        self.samples.setdefault(re.sub(r"\d+", "N", path), page)
        return page

    def add(self, where: str, definition: Definition, display: str) -> None:
        shown = Shown.parse(display, self.k)
        if shown is not None:
            self.cells.append((where, definition, shown))

    def finish(self) -> tuple[dict, list[Cell], list[dict]]:
        """The dimensions, the cells and the true observations, ready for :func:`attack.attack`."""
        cuts = {self.world.today + timedelta(days=1)}
        for _, d, _ in self.cells:
            cuts |= {x for x in (d.start, d.end) if x is not None}
        cuts = sorted(cuts)

        def date_class(day: date) -> int:
            return sum(1 for c in cuts if c <= day)

        date_classes = list(range(len(cuts) + 1))
        all_areas = [*self.world.areas, None]
        dims = {
            "area": all_areas,
            "date": date_classes,
            "kind": ["need", "asset"],
            "cat": list(self.world.categories)
            + sorted({o.cat for o in self.observations} - set(self.world.categories)),
            "theme": sorted({*self.world.themes, *(o.theme for o in self.observations if o.theme is not None)})
            + [None],
            "org": [*self.world.members, None],
            "level": list(LEVELS["partnership"]),
        }
        cells = []
        for where, d, shown in self.cells:
            predicate = {}
            if d.areas is not None:
                predicate["area"] = frozenset(d.areas)
            if d.start is not None or d.end is not None:
                lo = date_class(d.start) if d.start is not None else 0
                hi = date_class(d.end) if d.end is not None else len(cuts) + 1
                predicate["date"] = frozenset(range(lo, hi))
            if d.kind is not None:
                predicate["kind"] = frozenset([d.kind])
            if d.cat is not None:
                predicate["cat"] = frozenset([d.cat])
            if d.cats is not None:
                predicate["cat"] = frozenset(d.cats)
            if d.theme != "any":
                predicate["theme"] = frozenset([d.theme])
            if d.orgs is not None:
                predicate["org"] = frozenset(d.orgs)
            if d.levels is not None:
                predicate["level"] = frozenset(d.levels)
            truth = frozenset(o.id for o in self.observations if d.holds(o))
            cells.append(Cell(where, predicate, shown, truth))
        truth = [
            {
                "area": o.area,
                "date": date_class(o.day),
                "kind": o.kind,
                "cat": o.cat,
                "theme": o.theme,
                "org": o.org,
                "level": o.level,
            }
            for o in self.observations
        ]
        return dims, cells, truth

    # Pages ----------------------------------------------------------------------------------------------------------

    def area_page(self, area: int, window: str) -> None:
        path = f"/areas/{self.world.code(area)}?months={window}"
        doc = parse(self.get(path))
        since = self.world.since(window)
        base = Definition(areas=self.world.within(area), start=since)
        sections = doc.findall(".//{*}div[@class='community-section']")
        assert len(sections) == 1, f"{path}: expected one partnership's community section"
        section = sections[0]
        total = section.find(".//{*}strong[@class='community-total']")
        self.add(f"{path} total", base, text_of(total))
        table = section.find(".//{*}table[@class='data-table community-table']")
        if table is not None:
            for row in rows_of(table):
                name, need, asset, total_ = row
                self.add(f"{path} {name} needs", _with(base, cat=name, kind="need"), need)
                self.add(f"{path} {name} assets", _with(base, cat=name, kind="asset"), asset)
                self.add(f"{path} {name} all", _with(base, cat=name), total_)
        themes = doc.find(".//{*}div[@class='themes-grid']")
        if themes is not None:
            for table, kind in zip(themes.findall("{*}table"), ("need", "asset"), strict=True):
                for row in rows_of(table):
                    if len(row) < 2:
                        continue
                    label = re.sub(r"\s*\(machine label\)$", "", row[0])
                    theme = self.world.theme_ids_by_label.get(label)
                    if theme is not None:
                        self.add(f"{path} theme {label} {kind}", _with(base, theme=theme, kind=kind), row[1])

    def grants_page(self, slug: str, window: str) -> None:
        """Grants beside need: each ward's observations as released to the reader (the per-observation figure is
        money divided by that same released value, so it adds no count)."""
        path = f"/grants/?partnership={slug}&months={window}"
        doc = parse(self.get(path))
        since = self.world.since(window)
        wards = {self.world.areas[w][3]: w for w in self.world.wards()}
        table = next(t for t in doc.findall(".//{*}main//{*}table")
                     if "recorded funding" in text_of(t.find("{*}caption")))  # fmt: skip
        head = [text_of(th) for th in table.findall(".//{*}thead//{*}th")]
        column = head.index("Observations")
        for row in rows_of(table):
            if row[0] in wards:
                cell = Definition(areas=self.world.within(wards[row[0]]), start=since)
                self.add(f"{path} {row[0]}", cell, row[column])

    def theme_map(self, theme: int, level: str) -> None:
        path = f"/areas/?{urlencode({'indicator': f'theme-{theme}', 'level': level})}"
        doc = parse(self.get(path))
        table = doc.find(".//{*}div[@class='map-table']//{*}table")
        assert table is not None, path
        for tr in table.findall(".//{*}tbody/{*}tr"):
            link = tr.find(".//{*}a")
            code = link.get("href").rsplit("/", 1)[-1] if link is not None else None
            cells = tr.findall("{*}td")
            if code is None or len(cells) < 2:
                continue
            area = self.world.by_code(code)
            self.add(f"{path} {code}", Definition(areas=self.world.within(area), theme=theme), text_of(cells[1]))

    def neighbourhood_index(self, path: str, theme: int | None) -> None:
        """A neighbourhood index's page: its community domain shows, per area, the theme's count and the area's total
        (all time) behind each share released ("12% (5 of 40)"); a share not released says "not enough"."""
        doc = parse(self.get(path))
        table = next((t for t in doc.findall(".//{*}table") if "by rank" in text_of(t.find("{*}caption"))), None)
        assert table is not None, path
        for tr in table.findall(".//{*}tbody/{*}tr"):
            link = tr.find(".//{*}th//{*}a")
            cells = tr.findall("{*}td")
            match = re.search(r"\((.+?) of (.+?)\)\s*$", text_of(cells[-1])) if cells else None
            if link is None or match is None:
                continue
            assert theme is not None, f"{path}: counts shown without a community domain"
            area = self.world.by_code(link.get("href").rsplit("/", 1)[-1])
            self.add(f"{path} {area} theme", Definition(areas=self.world.within(area), theme=theme), match.group(1))
            self.add(f"{path} {area} total", Definition(areas=self.world.within(area)), match.group(2))

    def theme_list(self, slug: str) -> list[int]:
        path = f"/themes/{slug}"
        doc = parse(self.get(path))
        months = self._months()
        seen = []
        for section in doc.findall(".//{*}main//{*}section"):
            heading = section.find("{*}h2")
            if heading is None or text_of(heading) not in ("Needs", "Assets"):
                continue
            kind = "need" if text_of(heading) == "Needs" else "asset"
            table = section.find(".//{*}table")
            if table is None:
                continue
            # Months, or quarters or the year when months say too little: the caption names the table's grain.
            caption = text_of(table.find("{*}caption"))
            size = next(n for g, n in GRAINS.items() if f"per theme and {g}" in caption)
            periods = [(months[i][0], months[i + size - 1][1]) for i in range(0, len(months), size)]
            for tr in table.findall(".//{*}tbody/{*}tr"):
                th = tr.find("{*}th")
                link = th.find(".//{*}a")
                theme = int(link.get("href").rstrip("/").rsplit("/", 1)[-1])
                seen.append(theme)
                tds = [text_of(td) for td in tr.findall("{*}td")]
                self.add(f"{path} {theme} {kind} all", Definition(theme=theme, kind=kind), tds[0])
                for (start, end), display in zip(periods, tds[3:], strict=True):  # after all, trend, sparkline
                    self.add(f"{path} {theme} {kind} {start:%Y-%m}",
                             Definition(theme=theme, kind=kind, start=start, end=end), display)  # fmt: skip
        return seen

    def _months(self) -> list[tuple[date, date]]:
        first = date(self.world.today.year, self.world.today.month, 1)
        out = []
        for i in range(12, 0, -1):
            y, m = divmod(first.year * 12 + first.month - 1 - i, 12)
            start = date(y, m + 1, 1)
            y2, m2 = divmod(start.year * 12 + start.month, 12)
            out.append((start, date(y2, m2 + 1, 1)))
        return out

    def theme_page(self, slug: str, theme: int) -> str:
        path = f"/themes/{slug}/{theme}"
        page = self.get(path)
        doc = parse(page)
        total = doc.find(".//{*}strong[@class='theme-total']")
        if total is not None:
            self.add(f"{path} total", Definition(theme=theme), text_of(total))
        tables = doc.findall(".//{*}main//{*}table")
        wards = {self.world.areas[w][3]: w for w in self.world.wards()}
        for table in tables:
            caption = table.find("{*}caption")
            rows = rows_of(table)
            grain = next((g for g in GRAINS if caption is not None and f"per {g}" in text_of(caption)), None)
            if grain is not None:  # months, or quarters or the year when months say too little
                size, months = GRAINS[grain], self._months()
                periods = [(months[i][0], months[i + size - 1][1]) for i in range(0, len(months), size)]
                for (start, end), (label, display) in zip(periods, rows, strict=True):
                    self.add(f"{path} {label}", Definition(theme=theme, start=start, end=end), display)
            elif caption is None and rows:
                for label, display in rows:
                    if label in wards:
                        self.add(f"{path} {label}", Definition(theme=theme, areas=self.world.within(wards[label])),
                                 display)  # fmt: skip
                    elif label == "Whole partnership area":
                        self.add(f"{path} {label}", Definition(theme=theme, areas=frozenset([None])), display)
        return page

    def theme_deprivation(self, theme: int, window: str) -> None:
        path = f"/areas/themes/{theme}?months={window}"
        doc = parse(self.get(path))
        since = self.world.since(window)
        lsoa_by_decile: dict[int, set[int]] = defaultdict(set)
        for area, d in self.world.deciles.items():
            lsoa_by_decile[d].add(area)
        tables = doc.findall(".//{*}main//{*}table")
        if not tables:
            return
        # By caption: the page leads with the wards when the theme is placed at ward level (the deciles follow).
        deciles = next(t for t in tables if "deprivation decile" in text_of(t.find("{*}caption")))
        wards = next(t for t in tables if "Observations by ward" in text_of(t.find("{*}caption")))
        for label, display, *_ in rows_of(deciles):
            decile = int(label.split()[0])
            cell = Definition(theme=theme, start=since, areas=frozenset(lsoa_by_decile[decile]))
            self.add(f"{path} decile {decile}", cell, display)
        placed_areas = frozenset(a for ids in lsoa_by_decile.values() for a in ids)
        lead = " ".join(text_of(p) for p in doc.findall(".//{*}main//{*}p"))
        m = re.search(r"(fewer than \d+|not shown|[\d,]+) observations placed in a neighbourhood with a decile; "
                      r"(fewer than \d+|not shown|[\d,]+) placed at ward", lead)  # fmt: skip
        if m:
            self.add(f"{path} placed", Definition(theme=theme, start=since, areas=placed_areas), m.group(1))
            unplaced = frozenset(a for a in [*self.world.areas, None] if a not in placed_areas)
            self.add(f"{path} unplaced", Definition(theme=theme, start=since, areas=unplaced), m.group(2))
        bands = self._bands()
        for label, display, *_ in rows_of(wards):
            self.add(f"{path} band {label}", Definition(theme=theme, start=since, areas=bands.get(label, frozenset())),
                     display)  # fmt: skip

    def _bands(self) -> dict[str, frozenset]:
        from indicators.theme_deprivation import WARD_BANDS  # the band edges are the page's published definition

        out: dict[str, set] = defaultdict(set)
        for ward in self.world.wards():
            lsoas = [c for c in self.world.within(ward) if c in self.world.deciles]
            if not lsoas:
                continue
            share = sum(1 for c in lsoas if self.world.deciles[c] <= 2) / len(lsoas)
            label = next(label for low, label in WARD_BANDS if share >= low)
            out[label] |= set(self.world.within(ward))
        return {label: frozenset(v) for label, v in out.items()}

    def briefing(self, path: str, focus: dict, edition: str) -> str:
        """A briefing edition on the web (version page or draft preview): its sentences and tables."""
        page = self.get(path)
        self.briefing_text(path, page_text(page), focus, edition)
        return page

    def briefing_text(self, where: str, text_: str, focus: dict, edition: str) -> None:
        """The counts a briefing's text states (web page or PDF text), tied to the focus they count."""
        now, before = focus_cells(focus)
        n = r"(fewer than \d+|not shown|[\d,]+)"
        t = " ".join(text_.split())
        m = re.search(rf"recorded \*?\*?{n}\*?\*? observations.*?, against {n} in the previous period", t)
        if m:
            self.add(f"{where} headline now", now, m.group(1))
            self.add(f"{where} headline before", before, m.group(2))
        m = re.search(rf"{n} observations from .*? \(previous period: {n}\)", t)
        if m:
            self.add(f"{where} provenance now", now, m.group(1))
            self.add(f"{where} provenance before", before, m.group(2))
        m = re.search(rf"were placed: {n} of {n} name a ward", t)
        if m:
            wards = frozenset(a for a in [*self.world.areas, None] if self.world.ward_of(a) is not None)
            self.add(f"{where} placed", _with(now, areas=_and(focus["areas"], wards)), m.group(1))
            self.add(f"{where} placed total", now, m.group(2))

    def briefing_tables(self, where: str, page: str, focus: dict, group_by: str) -> None:
        """The briefing's tables (changes by group, needs and assets, gaps, contributors) on its web page."""
        doc = parse(page)
        now, before = focus_cells(focus)
        wards = {self.world.areas[w][3]: w for w in self.world.wards()}
        for table in doc.findall(".//{*}article//{*}table"):
            head = [text_of(th) for th in table.findall(".//{*}thead//{*}th")]
            for row in rows_of(table):
                if head[:4] in (["Theme", "This period", "Previous period", "Change"],
                                ["Category", "This period", "Previous period", "Change"]):  # fmt: skip
                    group = self._group(row[0], group_by)
                    if group is not None:
                        self.add(f"{where} {row[0]} now", _with(now, **group), row[1])
                        self.add(f"{where} {row[0]} before", _with(before, **group), row[2])
                elif head[:3] in (["Theme", "Needs", "Assets"], ["Category", "Needs", "Assets"]):
                    group = self._group(row[0], group_by)
                    if group is not None:
                        self.add(f"{where} {row[0]} needs", _with(now, kind="need", **group), row[1])
                        self.add(f"{where} {row[0]} assets", _with(now, kind="asset", **group), row[2])
                elif head[:3] == ["Ward", "Most deprived 20%", "Observations"] and row[0] in wards:
                    area = _and(focus["areas"], self.world.within(wards[row[0]]))
                    self.add(f"{where} gap {row[0]}", _with(now, areas=area), row[2])
                elif head[:2] == ["Ward", "Recorded funding"] and "Observations" in head and row[0] in wards:
                    area = _and(focus["areas"], self.world.within(wards[row[0]]))
                    self.add(f"{where} grants {row[0]}", _with(now, areas=area), row[head.index("Observations")])
                elif head[:3] == ["Contributed by", "Organisations", "Observations"]:
                    orgs = self._contributors(row[0])
                    if orgs is not None:
                        self.add(f"{where} by {row[0]}", _with(now, orgs=orgs), row[2])

    def _group(self, name: str, group_by: str) -> dict | None:
        if group_by == "theme":
            if name == "Not yet themed":
                return {"theme": None}
            theme = self.world.theme_ids_by_label.get(name)
            return {"theme": theme} if theme is not None else None
        return {"cat": name}

    def _contributors(self, label: str) -> frozenset | None:
        if label == "Residents":
            return frozenset([None])
        members_of_kind = defaultdict(int)
        for o in self.world.members:
            members_of_kind[self.world.org_kind[o]] += 1
        if label == "Partner organisations":
            return frozenset(o for o in self.world.members if members_of_kind[self.world.org_kind[o]] < self.k)
        return None

    def briefing_charts(self, where: str, doc: dict, focus: dict, wards_focus: list[int]) -> None:
        """Figures drawn in the edition's charts and map (the values the reader's images are drawn from)."""
        now, _ = focus_cells(focus)
        for section in doc["sections"]:
            for c in section.get("charts", []):
                spec = c["spec"]
                values = spec.get("data", {}).get("values", [])
                if spec.get("title") == "Observations per week":
                    for v in values:
                        if v["value"] is None:  # a gap in the line: nothing released for that week
                            continue
                        start = date.fromisoformat(v["week"])
                        kind = "need" if v["series"] == "Needs" else "asset"
                        d = _with(now, kind=kind, start=max(start, focus["start"]), end=min(start + timedelta(days=7),
                                                                                             focus["end"]))  # fmt: skip
                        self.add(f"{where} week {v['week']} {kind}", d, str(v["value"]))
                elif spec.get("title") == "Observations by ward":
                    names = {self.world.areas[w][3]: w for w in wards_focus}
                    for feature in values:
                        p = feature["properties"]
                        if p["name"] in names:
                            area = _and(focus["areas"], self.world.within(names[p["name"]]))
                            self.add(f"{where} map {p['name']}", _with(now, areas=area), p["display"])

    def informed(self, focus_by_version: dict[int, dict], orgs: list[int]) -> None:
        path = "/convening/informed"
        doc = parse(self.get(path))
        for li in doc.findall(".//{*}li[@class='card']"):
            link = li.find(".//{*}h3/{*}a")
            version = int(link.get("href").rstrip("/").rsplit("/", 1)[-1])
            focus = focus_by_version.get(version)
            m = re.search(r"drew on (fewer than \d+|[\d,]+) of your observations", text_of(li))
            if focus is None or m is None:
                continue
            assert len(orgs) == 1, "the test's readers belong to one organisation"
            now, _ = focus_cells(focus)
            self.add(f"{path} v{version} org {orgs[0]}", _with(now, orgs=frozenset(orgs)), m.group(1))

    # The organisation network (docs/network.md) ------------------------------------------------------------------

    def _names(self, connection) -> tuple[dict[str, int], dict[str, int]]:
        wards = {self.world.areas[w][3]: w for w in self.world.wards()}
        orgs = {name: i for i, name in connection.execute(text("select id, name from organisations")).all()}
        return wards, orgs

    def _in_wards(self, names: str, wards: dict[str, int]) -> frozenset | None:
        ids = [wards.get(n.strip()) for n in names.split(";")]
        if not ids or None in ids:
            return None
        return frozenset().union(*(self.world.within(w) for w in ids))

    def network_page(self, slug: str, window: str, connection) -> None:
        """A convenor's network page: each edge's two released sides (an organisation's observations in the cells it
        shares with the other) where the edge shares one theme (then its cells are that theme × the shared wards;
        several themes make a union of cells the definitions here cannot express), and each single-organisation
        theme's count."""
        path = f"/network/{slug}?months={window}"
        doc = parse(self.get(path))
        since = self.world.since(window)
        wards, orgs = self._names(connection)
        for table in doc.findall(".//{*}main//{*}table"):
            caption = text_of(table.find("{*}caption"))
            for row in rows_of(table):
                if caption.startswith("Links between organisations"):
                    first, first_n, second, second_n, themes, ward_names = row[:6]
                    theme = self.world.theme_ids_by_label.get(themes)
                    areas = self._in_wards(ward_names, wards)
                    if ";" in themes or theme is None or areas is None:
                        continue
                    for org, shown in ((first, first_n), (second, second_n)):
                        if org in orgs:
                            d = Definition(areas=areas, start=since, theme=theme, orgs=frozenset([orgs[org]]))
                            self.add(f"{path} {org} with {first if org == second else second}", d, shown)
                elif caption.startswith("Themes whose observations in this period all come from one organisation"):
                    label, org, shown = row[:3]
                    theme = self.world.theme_ids_by_label.get(label)
                    if theme is not None and org in orgs:
                        d = Definition(start=since, theme=theme, orgs=frozenset([orgs[org]]))
                        self.add(f"{path} only {org} {label}", d, shown)

    def who_else(self, window: str, connection, own: list[int]) -> None:
        """A contributor's "who else": their own observations of each theme in their wards, and each named other
        organisation's there ("Name (n)")."""
        path = f"/network/mine?months={window}"
        doc = parse(self.get(path))
        since = self.world.since(window)
        wards, orgs = self._names(connection)
        for table in doc.findall(".//{*}main//{*}table"):
            caption = text_of(table.find("{*}caption"))
            if not caption.startswith("Themes "):
                continue
            reporting = caption[len("Themes ") : caption.index(" reports")]
            for row in rows_of(table):
                label, ward_names, own_n = row[:3]
                theme = self.world.theme_ids_by_label.get(label)
                areas = self._in_wards(ward_names, wards)
                if theme is None or areas is None or reporting not in orgs or orgs[reporting] not in own:
                    continue
                base = Definition(areas=areas, start=since, theme=theme)
                self.add(f"{path} {reporting} {label}", _with(base, orgs=frozenset([orgs[reporting]])), own_n)
                if len(row) >= 5:
                    for name, shown in re.findall(r"([^;()]+?) \((fewer than \d+|[\d,]+)\)", row[3]):
                        if name.strip() in orgs:
                            d = _with(base, orgs=frozenset([orgs[name.strip()]]))
                            self.add(f"{path} {name.strip()} {label}", d, shown)


def focus_cells(focus: dict) -> tuple[Definition, Definition]:
    """The briefing's two periods over its focus, for the edition's audience (``focus["levels"]``)."""
    now = Definition(areas=focus["areas"], cats=focus["cats"], start=focus["start"], end=focus["end"],
                     levels=focus.get("levels"))  # fmt: skip
    before = _with(now, start=focus["prev_start"], end=focus["start"])
    return now, before


def session_focus(world: World, connection, session_id: int, edition: str) -> dict:
    """A session's focus and periods, read from its row (the composer's rule: the period ends on ``period_end`` or
    the meeting day and lasts from ``period_start`` or twelve weeks; the previous period is as long, just before)."""
    import json

    row = connection.execute(
        text("select held_on, period_start, period_end, focus_area_ids, focus_category_ids, focus_theme_ids "
             "from convening_sessions where id = :i"), {"i": session_id}
    ).one()  # fmt: skip

    def day(v):
        return v if v is None or isinstance(v, date) else date.fromisoformat(str(v)[:10])

    held, start, end = day(row[0]), day(row[1]), day(row[2])
    ids = [json.loads(x) if isinstance(x, str) else (x or []) for x in row[3:6]]
    assert not ids[2], "the test reads sessions without a theme focus"
    end = end or held
    start = start or end - timedelta(days=83)
    length = (end - start).days + 1
    prev_start = start - timedelta(days=length)
    areas = None
    if ids[0]:
        areas = frozenset().union(*(world.within(a) for a in ids[0]))
    cats = None
    if ids[1]:
        names = dict(connection.execute(text("select id, name from observation_categories")).all())
        cats = frozenset(names[c] for c in ids[1])
    return {"areas": areas, "cats": cats, "start": start, "end": end + timedelta(days=1), "prev_start": prev_start,
            "levels": frozenset(LEVELS[edition])}  # fmt: skip


def _with(d: Definition, **changes) -> Definition:
    return Definition(**{**d.__dict__, **changes})


def _and(a: frozenset | None, b: frozenset) -> frozenset:
    return b if a is None else frozenset(a & b)


class _TreeBuilder(HTMLParser):
    """The app's own pages into an ElementTree with the standard library's tokenizer: several times faster than an
    HTML5 parser, which matters at some 1,100 pages per module. It relies on the templates closing what they open
    (void elements aside); test_attack_demo.py ``test_the_pages_parse_as_an_html5_parser_parses_them`` checks that
    on a page of each kind a role reads."""

    VOID = frozenset(
        ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = ET.TreeBuilder()
        self.open: list[str] = []
        self.builder.start("document", {})

    def handle_starttag(self, tag, attrs) -> None:
        self.builder.start(tag, {k: v or "" for k, v in attrs})
        if tag in self.VOID:
            self.builder.end(tag)
        else:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self.builder.start(tag, {k: v or "" for k, v in attrs})
        self.builder.end(tag)

    def handle_endtag(self, tag) -> None:
        if tag not in self.open:
            return
        while self.open:
            last = self.open.pop()
            self.builder.end(last)
            if last == tag:
                break

    def handle_data(self, data) -> None:
        self.builder.data(data)

    def finish(self):
        self.close()
        while self.open:
            self.builder.end(self.open.pop())
        self.builder.end("document")
        return self.builder.close()


def parse(page: str):
    builder = _TreeBuilder()
    builder.feed(page)
    return builder.finish()


def parse_html5(page: str):
    return tinyhtml5.parse(page, namespace_html_elements=False)


def outline(element) -> tuple:
    """An element as the scraper sees it: tag, attributes, text and tail (whitespace folded) and children's
    outlines. Tags without their namespace and attribute names in lower case: an HTML5 parser puts inline SVG (the
    network's drawing) in the SVG namespace and keeps ``viewBox``'s capital, the standard library's tokenizer does
    neither, and neither difference moves a count."""

    def fold(t):
        return " ".join((t or "").split())

    return (
        re.sub(r"^\{[^}]*\}", "", element.tag) if isinstance(element.tag, str) else element.tag,
        tuple(sorted((name.lower(), value) for name, value in element.attrib.items())),
        fold(element.text),
        tuple(outline(child) for child in element),
        fold(element.tail),
    )


def text_of(element) -> str:
    """An element's text as a screen reader reads it: parts marked aria-hidden are left out."""
    if element is None:
        return ""
    parts: list[str] = []

    def walk(e) -> None:
        if e.get("aria-hidden") == "true":
            if e.tail:
                parts.append(e.tail)
            return
        if e.text:
            parts.append(e.text)
        for child in e:
            walk(child)
        if e.tail and e is not element:
            parts.append(e.tail)

    walk(element)
    return " ".join("".join(parts).split())


def rows_of(table) -> list[list[str]]:
    out = []
    for tr in table.findall(".//{*}tbody/{*}tr"):
        out.append([text_of(c) for c in tr if c.tag.rsplit("}", 1)[-1] in ("th", "td")])
    return out


def page_text(page: str) -> str:
    doc = parse(page)
    main = doc.find(".//{*}main")
    return text_of(main if main is not None else doc)


# The text of every PDF extracted so far, by the file's sha256: the roles that read one edition download the same
# file, and pdftotext gives the same text for the same bytes.
_PDF_TEXTS: dict[str, str] = {}


def pdf_text(pdf: bytes, tmp_path) -> str:
    digest = hashlib.sha256(pdf).hexdigest()
    if digest not in _PDF_TEXTS:
        path = tmp_path / "edition.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True,  # noqa: S607
                             timeout=60)  # fmt: skip
        _PDF_TEXTS[digest] = html.unescape(out.stdout)
    return _PDF_TEXTS[digest]


ROLE_AUDIENCE = {
    "resident": "public",
    "member": "partnership",
    "org_admin": "partnership",
    "convenor": "partnership",
    "admin": "partnership",
    "funder": "funders",
}


def read_everything(reader: Reader, role: str, slug: str, connection, tmp_path, pdfs: bool = True) -> None:
    """Every page ``role`` can reach that shows counts of observations, in every period option and edition."""
    from convening import publishing
    from convening.models import Briefing, BriefingVersion, Session
    from webapp.disclosure import Audience
    from webapp.extensions import db

    world = reader.world
    areas = {world.lad(), *world.wards()}
    # LSOA pages count only observations placed in LSOAs (and their ancestors' pages contain them): read the LSOAs
    # where observations are placed, and the pages above them.
    placed = {o.area for o in world.obs["partnership"] if o.area is not None}
    for area in placed:
        areas |= {area, *world.ancestors(area)}
    for area in sorted(areas):
        for window in WINDOWS:
            reader.area_page(area, window)
    if reader.audience == "partnership" and world.themes:
        for theme in world.themes:
            for level in ("ward", "lsoa"):
                reader.theme_map(theme, level)
    if role in ("convenor", "admin") and world.themes:
        for theme in reader.theme_list(slug):
            reader.theme_page(slug, theme)
            for window in WINDOWS:
                reader.theme_deprivation(theme, window)
    if role in ("convenor", "admin", "funder"):
        for window in WINDOWS:
            reader.grants_page(slug, window)
    if role != "resident":
        from indicators.index_models import NeighbourhoodIndex

        for index in db.session.scalars(db.select(NeighbourhoodIndex)
                                        .where(NeighbourhoodIndex.partnership_id == world.partnership)):  # fmt: skip
            if index.published is not None:
                community = index.published.community
                reader.neighbourhood_index(f"/indexes/{index.id}", int(community["theme_id"]) if community else None)
    group_by = "theme" if world.themes else "category"
    if role != "resident":
        library = parse(reader.get("/convening/library"))
        versions = sorted({int(a.get("href").rsplit("/", 1)[-1]) for a in library.findall(".//{*}main//{*}a")
                           if re.fullmatch(r"/convening/versions/\d+", a.get("href") or "")})  # fmt: skip
        edition = "funders" if reader.audience == "funders" else "partnership"
        focus_by_version = {}
        for version_id in versions:
            version = db.session.get(BriefingVersion, version_id)
            focus = session_focus(world, connection, version.briefing.session_id, edition)
            focus_by_version[version_id] = focus
            path = f"/convening/versions/{version_id}"
            page = reader.briefing(path, focus, edition)
            reader.briefing_tables(path, page, focus, group_by)
            doc = publishing.version_document(version, Audience(edition))
            reader.briefing_charts(path, doc, focus, world.wards())
            if pdfs:
                response = reader.client.get(f"{path}/pdf")
                assert response.status_code == 200, (path, response.status_code)
                reader.pages += 1
                reader.briefing_text(f"{path}/pdf", pdf_text(response.data, tmp_path), focus, edition)
        if role in ("member", "org_admin"):
            orgs = [o for o in world.members if o in reader_orgs(connection, reader)]
            reader.informed(focus_by_version, orgs)
            for window in WINDOWS:  # the organisation network's "who else" (docs/network.md)
                reader.who_else(window, connection, orgs)
    if role in ("convenor", "admin") and world.themes:
        for window in WINDOWS:  # the organisation network (docs/network.md)
            reader.network_page(slug, window, connection)
    if role in ("convenor", "admin"):
        sessions = db.session.scalars(
            db.select(Session.id).join(Briefing, Briefing.session_id == Session.id)
            .where(Session.partnership_id == world.partnership)
        ).all()  # fmt: skip
        for session_id in sessions:
            briefing = db.session.scalar(db.select(Briefing).where(Briefing.session_id == session_id))
            if not briefing.facts:
                continue
            for edition, query in (("partnership", ""), ("funders", "?edition=funders")):
                focus = session_focus(world, connection, session_id, edition)
                path = f"/convening/sessions/{session_id}/briefing/preview{query}"
                page = reader.briefing(path, focus, edition)
                reader.briefing_tables(path, page, focus, group_by)
                reader.briefing_charts(
                    path, publishing.briefing_document(briefing, Audience(edition)), focus, world.wards()
                )


def reader_orgs(connection, reader: Reader) -> set[int]:
    """The organisations of the signed-in reader (from the home page's list)."""
    doc = parse(reader.get("/home"))
    slugs = {a.get("href").rsplit("/", 1)[-1] for a in doc.findall(".//{*}main//{*}a")
             if (a.get("href") or "").startswith("/orgs/")}  # fmt: skip
    rows = connection.execute(text("select id, slug from organisations")).all()
    return {i for i, s in rows if s in slugs}
