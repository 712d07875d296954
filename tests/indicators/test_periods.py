"""Period spellings of official statistics, read into one key, kind and date range."""

from __future__ import annotations

from datetime import date

import pytest

from indicators import periods
from indicators.models import PeriodKind


@pytest.mark.parametrize(
    ("text", "key", "kind", "start", "end"),
    [
        ("2019", "2019", PeriodKind.YEAR, date(2019, 1, 1), date(2019, 12, 31)),
        ("2019/20", "FY2019/20", PeriodKind.FINANCIAL_YEAR, date(2019, 4, 1), date(2020, 3, 31)),
        ("2019-20", "FY2019/20", PeriodKind.FINANCIAL_YEAR, date(2019, 4, 1), date(2020, 3, 31)),
        ("2019/2020", "FY2019/20", PeriodKind.FINANCIAL_YEAR, date(2019, 4, 1), date(2020, 3, 31)),
        ("201920", "FY2019/20", PeriodKind.FINANCIAL_YEAR, date(2019, 4, 1), date(2020, 3, 31)),
        ("FYE March 2020", "FY2019/20", PeriodKind.FINANCIAL_YEAR, date(2019, 4, 1), date(2020, 3, 31)),
        ("AY2019/20", "AY2019/20", PeriodKind.ACADEMIC_YEAR, date(2019, 9, 1), date(2020, 8, 31)),
        ("2019/20 academic year", "AY2019/20", PeriodKind.ACADEMIC_YEAR, date(2019, 9, 1), date(2020, 8, 31)),
        ("August 2015", "2015-08", PeriodKind.MONTH, date(2015, 8, 1), date(2015, 8, 31)),
        ("Aug-15", "2015-08", PeriodKind.MONTH, date(2015, 8, 1), date(2015, 8, 31)),
        ("2015-08", "2015-08", PeriodKind.MONTH, date(2015, 8, 1), date(2015, 8, 31)),
        ("2016-02", "2016-02", PeriodKind.MONTH, date(2016, 2, 1), date(2016, 2, 29)),
        ("2019 Q2", "2019-Q2", PeriodKind.QUARTER, date(2019, 4, 1), date(2019, 6, 30)),
        ("Q4 2019", "2019-Q4", PeriodKind.QUARTER, date(2019, 10, 1), date(2019, 12, 31)),
    ],
)
def test_spellings(text, key, kind, start, end):
    period = periods.parse(text)
    assert (period.key, period.kind, period.start, period.end) == (key, kind, start, end)


def test_two_year_spellings_are_academic_when_the_source_says_so():
    assert periods.parse("202021", periods.PeriodKind.ACADEMIC_YEAR).key == "AY2020/21"


@pytest.mark.parametrize("text", ["", "soon", "2019/22", "13/2019", "2019 Q5", "Smarch 2019"])
def test_not_periods(text):
    with pytest.raises(periods.PeriodError):
        periods.parse(text)


def test_a_series_is_read_as_one_kind():
    # "2011-12" alone is the year 2011/12; beside "2011-03" it is December 2011.
    found, problems = periods.parse_series(["2011-12"])
    assert found["2011-12"].kind is PeriodKind.FINANCIAL_YEAR
    assert not problems
    found, problems = periods.parse_series(["2011-03", "2011-12"])
    assert found["2011-12"].key == "2011-12"
    assert found["2011-12"].kind is PeriodKind.MONTH
    assert not problems


def test_mixed_periods_are_a_problem():
    found, problems = periods.parse_series(["2018", "2019/20"])
    assert not found
    assert problems
    assert problems[0].startswith("mixed periods")


def test_periods_order_on_one_time_line():
    ordered = sorted(periods.parse(t) for t in ["2020-01", "2019 Q4", "2019-12"])
    assert [p.key for p in ordered] == ["2019-Q4", "2019-12", "2020-01"]
