"""Official indicator datasets, their indicators, and the values per area and period.

A dataset is one *release* of a publication (title + release date). Re-importing the same release replaces its
values; a new release is a new dataset, so earlier releases stay for comparison.

Periods of every shape official statistics use (calendar year, quarter, month, financial year, academic year) are
stored as a normalised key (``2019``, ``2019-Q2``, ``2019-08``, ``FY2019/20``, ``AY2019/20``), their kind, and the
first and last day they cover, so that values of any kind sort on a time line. See :mod:`indicators.periods`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models import Area, AreaLevel, UTCDateTime, str_enum, utcnow


class Polarity(enum.StrEnum):
    HIGHER_IS_WORSE = "worse"
    HIGHER_IS_BETTER = "better"
    NEUTRAL = "neutral"

    @property
    def label(self) -> str:
        return {"worse": "Higher is worse", "better": "Higher is better", "neutral": "Neither better nor worse"}[
            self.value
        ]


class ValueKind(enum.StrEnum):
    """What a value is; it decides how values roll up the geography (see indicators.aggregation)."""

    COUNT = "count"  # summed
    RATE = "rate"  # a percentage or rate: population-weighted, else averaged with a caveat
    SCORE = "score"  # an index score: as a rate
    RANK = "rank"  # a rank with its decile (1 = most deprived): share of LSOAs in the most deprived 10%/20%

    @property
    def label(self) -> str:
        return {"count": "Count", "rate": "Rate or percentage", "score": "Score", "rank": "Rank and decile"}[self.value]


class PeriodKind(enum.StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"
    FINANCIAL_YEAR = "financial_year"
    ACADEMIC_YEAR = "academic_year"
    YEARS = "years"  # several calendar years pooled (Fingertips "2017 - 19")

    @property
    def label(self) -> str:
        return {
            "years": "Calendar years pooled",
            "year": "Calendar year",
            "quarter": "Quarter",
            "month": "Month",
            "financial_year": "Financial year",
            "academic_year": "Academic year",
        }[self.value]


class IndicatorDataset(db.Model):
    """One release of an official publication: who published it, under which licence, where it came from."""

    __tablename__ = "indicator_datasets"
    __table_args__ = (UniqueConstraint("release_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    publisher: Mapped[str] = mapped_column(String(200), default="")
    licence: Mapped[str] = mapped_column(String(200), default="")
    source_url: Mapped[str] = mapped_column(String(1000), default="")
    release_date: Mapped[date | None] = mapped_column(Date)
    methodology_note: Mapped[str] = mapped_column(Text, default="")
    # title + release date, normalised: how a re-import of the same release finds it.
    release_key: Mapped[str] = mapped_column(String(400))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    # The publication this is a release of, across releases ("iod" for the English Indices of Deprivation): how
    # code finds "the deprivation index" and its earlier release, never by words in a title.
    key: Mapped[str] = mapped_column(String(60), default="", index=True)
    # How the release date is known when it is not the publisher's own date (e.g. "date of the copy used").
    release_note: Mapped[str] = mapped_column(String(300), default="")

    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="Indicator.position"
    )

    def __repr__(self) -> str:
        return f"<IndicatorDataset {self.id} {self.release_key}>"

    @property
    def release_label(self) -> str:
        if self.release_date is None:
            return "release date not recorded"
        text = f"{self.release_date.day} {self.release_date:%B %Y}"
        return f"{text} ({self.release_note})" if self.release_note else text


class Indicator(db.Model):
    """A measure within a dataset: what it is, its unit, which direction is good, at which geography it comes."""

    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("indicator_datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(60), default="")
    polarity: Mapped[Polarity] = mapped_column(str_enum(Polarity), default=Polarity.NEUTRAL)
    value_kind: Mapped[ValueKind] = mapped_column(str_enum(ValueKind), default=ValueKind.RATE)
    level: Mapped[AreaLevel] = mapped_column(str_enum(AreaLevel))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    # The measure across releases of the dataset ("imd", "income"...): with the dataset's key it finds the same
    # measure in an earlier release.
    key: Mapped[str] = mapped_column(String(60), default="")
    # The geography vintage of its areas (2011 or 2021 for LSOAs, 2024 for wards...): which LSOAs a ward's figure
    # is rolled up from, and whether a value crosses the LSOA 2011 → 2021 bridge to reach a current area.
    vintage: Mapped[int | None] = mapped_column()
    # How many areas the publisher ranked (32,844 LSOAs for IoD2019, 33,755 for IoD2025): "rank 5 of N", and the
    # decile of a rank when the decile is missing.
    ranked_areas: Mapped[int | None] = mapped_column()

    dataset: Mapped[IndicatorDataset] = relationship(back_populates="indicators")

    @property
    def geography_label(self) -> str:
        """The geography its values are published on, e.g. "LSOA 2021"."""
        return f"{self.level.label} {self.vintage}" if self.vintage else self.level.label

    def __repr__(self) -> str:
        return f"<Indicator {self.id} {self.name!r}>"


class IndicatorValue(db.Model):
    """The value of an indicator for an area in a period (or its rank and decile, or a suppressed marker)."""

    __tablename__ = "indicator_values"
    __table_args__ = (
        UniqueConstraint("indicator_id", "area_id", "period_key"),
        Index("ix_indicator_values_area_indicator", "area_id", "indicator_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own on indicator_id: the unique (indicator_id, area_id, period_key) index starts with it, and
    # every extra index slows the bulk load of a full England file (maps cache an indicator's latest period instead
    # of an index on (indicator_id, period_start): indicators.values.latest_period_key).
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(String(20))
    period_kind: Mapped[PeriodKind] = mapped_column(str_enum(PeriodKind, length=20))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column()
    decile: Mapped[int | None] = mapped_column()
    # The source withheld the value (a marker such as "c" or ".."); ``note`` keeps the marker or footnote.
    suppressed: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    # The 95% confidence interval the source gives (Fingertips and other survey-based figures), if any.
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)

    indicator: Mapped[Indicator] = relationship()
    area: Mapped[Area] = relationship()

    def __repr__(self) -> str:
        return f"<IndicatorValue {self.indicator_id} {self.area_id} {self.period_key}>"
