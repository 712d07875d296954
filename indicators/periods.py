"""Periods as official statistics write them, normalised to one key, a kind and the days they cover.

Accepted spellings (case and surrounding spaces ignored):

=====================  ==================================================  ===============
kind                   spellings                                           key
=====================  ==================================================  ===============
calendar year          ``2019``, ``CY2019``                                ``2019``
quarter                ``2019 Q2``, ``2019-Q2``, ``Q2 2019``, ``2019Q2``    ``2019-Q2``
month                  ``2015-08``, ``2015-8``, ``August 2015``,            ``2015-08``
                       ``Aug 2015``, ``Aug-15``, ``2015-08-01`` (a date)
financial year         ``2019/20``, ``2019-20``, ``2019/2020``, ``201920``,  ``FY2019/20``
                       ``FY2019/20``, ``FYE March 2020``
academic year          the same two-year spellings with ``year_type=academic``,  ``AY2019/20``
                       or ``AY2019/20``, ``2019/20 academic year``
pooled years           ``2017 - 19``, ``2017-2019`` (three or more years,      ``2017-2019``
                       as OHID Fingertips pools small numbers)
=====================  ==================================================  ===============

A two-year spelling is a financial year (April to March) unless the caller says the source counts academic years
(September to August; DfE publications). ``2011-12`` could be December 2011 or the year 2011/12: a column of
periods is read as a whole (:func:`parse_series`), so a series that also holds ``2011-03`` is months, and a series
whose every value could be either is read as years, the commoner meaning in UK official statistics.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from indicators.models import PeriodKind

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9


class PeriodError(ValueError):
    """Not a period we can read."""


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    kind: PeriodKind
    key: str

    @property
    def label(self) -> str:
        if self.kind in (PeriodKind.FINANCIAL_YEAR, PeriodKind.ACADEMIC_YEAR):
            return f"{self.key[2:]} ({'financial' if self.kind is PeriodKind.FINANCIAL_YEAR else 'academic'} year)"
        if self.kind is PeriodKind.MONTH:
            return f"{calendar.month_abbr[self.start.month]} {self.start.year}"
        if self.kind is PeriodKind.YEARS:
            return f"{self.key[:4]}–{self.key[-4:]}"
        return self.key.replace("-Q", " Q")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def year(y: int) -> Period:
    return Period(date(y, 1, 1), date(y, 12, 31), PeriodKind.YEAR, f"{y:04d}")


def quarter(y: int, q: int) -> Period:
    if not 1 <= q <= 4:
        raise PeriodError(f"quarter {q} does not exist")
    first = 3 * (q - 1) + 1
    return Period(date(y, first, 1), _month_end(y, first + 2), PeriodKind.QUARTER, f"{y:04d}-Q{q}")


def month(y: int, m: int) -> Period:
    if not 1 <= m <= 12:
        raise PeriodError(f"month {m} does not exist")
    return Period(date(y, m, 1), _month_end(y, m), PeriodKind.MONTH, f"{y:04d}-{m:02d}")


def pooled_years(first: int, last: int) -> Period:
    return Period(date(first, 1, 1), date(last, 12, 31), PeriodKind.YEARS, f"{first:04d}-{last:04d}")


def two_year(y: int, kind: PeriodKind) -> Period:
    label = f"{y:04d}/{(y + 1) % 100:02d}"
    if kind is PeriodKind.ACADEMIC_YEAR:
        return Period(date(y, 9, 1), date(y + 1, 8, 31), kind, f"AY{label}")
    return Period(date(y, 4, 1), date(y + 1, 3, 31), PeriodKind.FINANCIAL_YEAR, f"FY{label}")


_YEAR = re.compile(r"^(?:cy\s*)?((?:19|20)\d\d)(?:\.0)?$")
_QUARTER = [
    re.compile(r"^((?:19|20)\d\d)\s*[-/ ]?\s*q([1-4])$"),
    re.compile(r"^q([1-4])\s*[-/ ]?\s*((?:19|20)\d\d)$"),
]
_YEAR_MONTH = re.compile(r"^((?:19|20)\d\d)[-/](\d{1,2})(?:[-/](\d{1,2}))?(?:[ t]00:00(?::00)?)?$")
_NAMED_MONTH = re.compile(r"^([a-z]+)[\s\-]+(\d{2}|\d{4})$")
_PAIR = re.compile(r"^(fy|ay)?\s*((?:19|20)\d\d)\s*[-/–]\s*(\d{2}|\d{4})(?:\s*\((fy|ay|academic|financial)[a-z ]*\))?$")
_PAIR_COMPACT = re.compile(r"^(fy|ay)?((?:19|20)\d\d)(\d\d)$")
_FYE = re.compile(r"^fye\s+(?:march\s+)?((?:19|20)\d\d)$")
_ACADEMIC_WORDS = re.compile(r"\bacademic(?: year)?\b")
_FINANCIAL_WORDS = re.compile(r"\bfinancial(?: year)?\b")


def candidates(text: str, year_type: PeriodKind = PeriodKind.FINANCIAL_YEAR) -> list[Period]:
    """Every reading of ``text`` as a period, most likely first; empty when it is not a period at all."""
    raw = str(text).strip().lower().replace("\u2013", "-").replace("\u2014", "-")
    if not raw:
        return []
    if _ACADEMIC_WORDS.search(raw):
        year_type, raw = PeriodKind.ACADEMIC_YEAR, _ACADEMIC_WORDS.sub("", raw).strip()
    elif _FINANCIAL_WORDS.search(raw):
        year_type, raw = PeriodKind.FINANCIAL_YEAR, _FINANCIAL_WORDS.sub("", raw).strip()
    found: list[Period] = []
    if m := _YEAR.match(raw):
        return [year(int(m.group(1)))]
    for pattern in _QUARTER:
        if m := pattern.match(raw):
            a, b = m.groups()
            y, q = (int(a), int(b)) if len(a) == 4 else (int(b), int(a))
            return [quarter(y, q)]
    if m := _FYE.match(raw):
        return [two_year(int(m.group(1)) - 1, PeriodKind.FINANCIAL_YEAR)]
    if m := _PAIR.match(raw):
        prefix, first, second, suffix = m.groups()
        y = int(first)
        kind = year_type
        if prefix == "ay" or suffix in ("ay", "academic"):
            kind = PeriodKind.ACADEMIC_YEAR
        elif prefix == "fy" or suffix in ("fy", "financial"):
            kind = PeriodKind.FINANCIAL_YEAR
        follows = int(second) == y + 1 if len(second) == 4 else int(second) == (y + 1) % 100
        if follows:
            found.append(two_year(y, kind))
        # Three or more calendar years pooled ("2017 - 19"); "2010-12" without spaces stays December 2010.
        last = int(second) if len(second) == 4 else y - y % 100 + int(second)
        could_be_month = len(second) == 2 and int(second) <= 12 and " " not in raw
        if not (follows or prefix or suffix or could_be_month or "/" in raw) and y + 2 <= last <= y + 10:
            found.append(pooled_years(y, last))
        if not prefix and not suffix and len(second) == 2 and 1 <= int(second) <= 12 and "-" in raw:
            found.append(month(y, int(second)))
        return found
    if m := _PAIR_COMPACT.match(raw):
        prefix, first, second = m.groups()
        y = int(first)
        kind = {"fy": PeriodKind.FINANCIAL_YEAR, "ay": PeriodKind.ACADEMIC_YEAR}.get(prefix or "", year_type)
        if int(second) == (y + 1) % 100:
            found.append(two_year(y, kind))
        if not prefix and 1 <= int(second) <= 12:
            found.append(month(y, int(second)))
        return found
    if m := _YEAR_MONTH.match(raw):
        year_text, mo, day = m.groups()
        if day is not None and not 1 <= int(day) <= 31:
            return []
        try:
            return [month(int(year_text), int(mo))]
        except PeriodError:
            return []
    if m := _NAMED_MONTH.match(raw):
        name, year_text = m.groups()
        if name in MONTHS:
            y_int = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
            return [month(y_int, MONTHS[name])]
    return []


def parse(text: str, year_type: PeriodKind = PeriodKind.FINANCIAL_YEAR) -> Period:
    """One period from its spelling; raises :class:`PeriodError` naming the text when it is not one."""
    if isinstance(text, datetime | date):
        return month(text.year, text.month)
    found = candidates(text, year_type)
    if not found:
        raise PeriodError(f"{text!r} is not a period (expected e.g. 2019, 2019/20, 2019 Q1, 2015-08, August 2015)")
    return found[0]


def is_period(text: object) -> bool:
    if isinstance(text, datetime | date):
        return True
    return bool(candidates(str(text)))


def parse_series(
    texts: Iterable[str], year_type: PeriodKind = PeriodKind.FINANCIAL_YEAR
) -> tuple[dict[str, Period], list[str]]:
    """Read a column of period spellings together so that they share one kind.

    Returns (period per distinct text, problems). A problem is a text that is no period, or a mix of kinds
    (``2019`` beside ``2019/20``): a series of one indicator must be of one kind to sit on one time line.
    """
    texts = list(dict.fromkeys(str(t).strip() for t in texts))
    options: dict[str, list[Period]] = {}
    problems: list[str] = []
    for text in texts:
        found = candidates(text, year_type)
        if not found:
            problems.append(f"{text!r} is not a period")
        else:
            options[text] = found
    if not options:
        return {}, problems
    kinds_possible = None
    for found in options.values():
        kinds = {p.kind for p in found}
        kinds_possible = kinds if kinds_possible is None else kinds_possible & kinds
    if not kinds_possible:
        by_kind: dict[PeriodKind, list[str]] = {}
        for text, found in options.items():
            by_kind.setdefault(found[0].kind, []).append(text)
        described = "; ".join(f"{kind.label.lower()}: {', '.join(v[:3])}" for kind, v in by_kind.items())
        problems.append(f"mixed periods ({described}): one series must use one kind of period")
        return {}, problems
    # Prefer the first reading of the first ambiguous text (years before months, see the module docstring).
    order = [p.kind for found in options.values() for p in found]
    chosen = next(k for k in order if k in kinds_possible)
    return {text: next(p for p in found if p.kind is chosen) for text, found in options.items()}, problems
