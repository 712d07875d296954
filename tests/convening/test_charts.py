"""The briefing's weekly line chart: a week that is not released is a gap in the line, not a straight line joining
its neighbours as if it had been counted (seen in a screenshot of the demo's composer), and its labels are the
weeks' own Mondays without overlapping."""

from __future__ import annotations

import re

from convening.composer.charts import line_chart
from convening.composer.counts import Count
from convening.composer.sections.headlines import WeekCounts, weekly_rows
from convening.pdf import vegalite_svg
from webapp.disclosure import Released, State

K = 5


def _count(value: int | None, state: State = State.SHOWN) -> Count:
    return Count("w", Released(state, value if state is State.SHOWN else None, K))


def _week(day: str, need: Count, asset: Count | None = None) -> WeekCounts:
    return WeekCounts(day, need, asset or _count(None, State.ZERO))


def test_unreleased_and_unrecorded_weeks_are_nulls_and_a_kind_never_drawn_is_left_out():
    weeks = (
        _week("2026-07-06", _count(8)),
        _week("2026-07-13", _count(None, State.HIDDEN), _count(None, State.HIDDEN)),  # fewer than k of each
        # 2026-07-20: nothing recorded that week, so no WeekCounts at all
        _week("2026-07-27", _count(6)),
    )
    rows = weekly_rows(weeks)
    assert rows == [
        {"week": "2026-07-06", "series": "Needs", "value": 8},
        {"week": "2026-07-13", "series": "Needs", "value": None},
        {"week": "2026-07-20", "series": "Needs", "value": None},
        {"week": "2026-07-27", "series": "Needs", "value": 6},
    ]
    assert weekly_rows((_week("2026-07-06", _count(None, State.HIDDEN)),)) == []
    # Weeks before the first and after the last released week are not drawn, not even as gaps: the axis would say
    # when the first (suppressed) observations were recorded.
    edges = (_week("2026-06-29", _count(None, State.HIDDEN)), *weeks, _week("2026-08-10", _count(None, State.HIDDEN)))
    assert weekly_rows(edges) == rows


def _line_paths(svg: str) -> list[str]:
    return [d for d in re.findall(r'<path[^>]*d="([^"]+)"', svg) if "L" in d]


def test_the_drawn_line_breaks_at_a_gap_and_its_labels_are_the_mondays():
    weeks = tuple(_week(f"2026-06-{day:02d}", _count(None if day == 15 else 7)) for day in (1, 8, 15, 22, 29))
    spec = line_chart(weekly_rows(weeks), "Observations per week", "test")
    svg = vegalite_svg(spec).decode()
    (line,) = _line_paths(svg)
    assert line.count("M") == 2, line  # two pieces: 1-8 June and 22-29 June; nothing drawn across 15 June
    labels = re.findall(r">(\d{1,2} [A-Z][a-z]{2})<", svg)
    assert labels == ["1 Jun", "8 Jun", "15 Jun", "22 Jun", "29 Jun"]
    assert "Assets" not in svg  # no asset week was released: no legend key for a line that is not there
    long = tuple(_week(f"2026-{1 + i // 4:02d}-{1 + 7 * (i % 4):02d}", _count(6)) for i in range(26))
    svg = vegalite_svg(line_chart(weekly_rows(long), "t", "d")).decode()
    labels = re.findall(r">([A-Z][a-z]{2}(?: 2026)?)<", svg)
    assert labels[:4] == ["Jan 2026", "Feb", "Mar", "Apr"]  # a label a month on half a year, the year once


def test_count_axes_tick_on_whole_numbers():
    """A funders' edition whose largest bar was 5 drew ticks at 0.5, 1.0, 1.5 ... observations."""
    from convening.composer.charts import bar_chart

    rows = [{"label": "Food", "value": 5, "period": "This period"}, {"label": "Housing", "value": 5,
                                                                     "period": "This period"}]  # fmt: skip
    svg = vegalite_svg(bar_chart(rows, "Observations by theme", "Observations", "d", color_field="period")).decode()
    ticks = re.findall(r">(\d+(?:\.\d+)?)</text>", svg)
    assert ticks == ["0", "1", "2", "3", "4", "5"], ticks
    weeks = tuple(_week(f"2026-06-{day:02d}", _count(5)) for day in (1, 8))
    line = vegalite_svg(line_chart(weekly_rows(weeks), "Observations per week", "d")).decode()
    assert not re.findall(r">\d+\.\d+</text>", line)
