"""Demo indicators: real Bristol data imported through the same pipeline as `commintel indicators import`.

Idempotent: a release already stored is left alone. Sources and licences: demo_data/ATTRIBUTION.md.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from indicators import index_operations as index_ops
from indicators import operations as indicator_ops
from indicators.grants import demo as grants_demo
from indicators.index_models import NeighbourhoodIndex
from indicators.models import Indicator, IndicatorDataset, PeriodKind, Polarity, ValueKind
from indicators.readers import Options
from nlp.themes import queries as theme_queries
from webapp.extensions import db
from webapp.models import AreaLevel, Partnership

DATA = Path(__file__).resolve().parent / "demo_data"
OGL = "Open Government Licence v3.0"

DATASETS: tuple[tuple[str, Options], ...] = (
    # IoD2025 on 2021 LSOAs, the current release; IoD2019 on 2011 LSOAs, the earlier one. Their titles, release
    # dates and number of LSOAs ranked are read from their headers.
    (
        "iod2025_bristol_lsoa21.csv",
        Options(format="iod", dataset_title="English Indices of Deprivation 2025", release_date=date(2025, 10, 30)),
    ),
    (
        "iod2019_file2_bristol.csv",
        Options(format="iod", dataset_title="English Indices of Deprivation 2019", release_date=date(2019, 9, 26)),
    ),
    (
        "beis_fuel_poverty_bristol.csv",
        Options(
            format="wide",
            dataset_title="Sub-regional fuel poverty statistics (local authorities, 2010–2019)",
            publisher="Department for Business, Energy and Industrial Strategy",
            licence=OGL,
            source_url="https://www.gov.uk/government/collections/fuel-poverty-sub-regional-statistics",
            methodology_note="Low Income High Costs measure to 2018; Low Income Low Energy Efficiency from 2019, so "
            "2019 is not directly comparable with earlier years. Published for local authorities in this table "
            "(BEIS also models LSOA estimates; they are not in the demo data).",
            # The table compiles ten yearly BEIS releases; the copy used is dated 15 November 2021.
            release_date=date(2021, 11, 15),
            release_note="date of the compiled copy used; the 2019 figures are from BEIS's 2021 release",
            indicator="Households in fuel poverty",
            unit="%",
            polarity=Polarity.HIGHER_IS_WORSE,
            value_kind=ValueKind.RATE,
            level="lad",
        ),
    ),
    (
        "dfe_fsm_bristol.csv",
        Options(
            format="tidy",
            dataset_title="Free school meals: autumn term 2020/21 (time series)",
            publisher="Department for Education",
            licence=OGL,
            source_url="https://explore-education-statistics.service.gov.uk/find-statistics/free-school-meals-autumn-term",
            methodology_note="Published for local authorities (and schools), not for wards or LSOAs.",
            release_date=date(2022, 2, 1),
            release_note="at the latest: date of the copy used; DfE's release date is not in the file",
            indicator="Pupils eligible for free school meals",
            unit="%",
            polarity=Polarity.HIGHER_IS_WORSE,
            value_kind=ValueKind.RATE,
            level="lad",
            year_type=PeriodKind.ACADEMIC_YEAR,
            area_column="new_la_code",
            period_column="time_period",
            value_column="fsm_eligible_percent",
            filters=[("geographic_level", "Local authority"), ("phase", "Total")],
        ),
    ),
    (
        "fixmystreet_bristol_lsoa_monthly.csv",
        Options(
            format="tidy",
            dataset_title="FixMyStreet reports by LSOA and month",
            publisher="mySociety",
            licence="Open Data Commons Attribution (ODC-By) 1.0",
            source_url="https://github.com/mysociety/fms_geographic_data",
            methodology_note="Street problems (potholes, fly-tipping, broken lights...) reported through FixMyStreet; "
            "a measure of reporting as much as of problems. This release ends in December 2020.",
            release_date=date(2021, 7, 21),  # mySociety's "Updated to end of 2020 data"
            vintage=2011,
            indicator="FixMyStreet reports",
            unit="count",
            polarity=Polarity.NEUTRAL,
            value_kind=ValueKind.COUNT,
            level="lsoa",
            area_column="lsoa",
            period_column="month",
            value_column="reports",
        ),
    ),
)


def load() -> list[str]:
    """Import each demo dataset unless that release is already stored; return lines to print."""
    lines = []
    for filename, options in DATASETS:
        key = indicator_ops.release_key(options.dataset_title or "", options.release_date)
        if db.session.scalar(select(IndicatorDataset.id).where(IndicatorDataset.release_key == key)) is not None:
            continue
        report = indicator_ops.import_file(DATA / filename, options)
        lines.append(f"Indicators: {report.stored.title}: {report.imported:,} values ({len(report.skipped)} skipped).")
    lines += grants_demo.load()  # invented 360Giving grants beside need (indicators/grants/demo_data)
    return lines


# The neighbourhood index (issue 19 part 1) ---------------------------------------------------------------------------

INDEX_TITLES = ("Bristol neighbourhood need: wards", "Bristol neighbourhood need: LSOAs")
# IoD2025 domains grouped as the Urban Health Index groups its indicators: basic needs, foundations, surroundings.
INDEX_DOMAINS = (
    ("Income and work", ("income", "employment")),
    ("Health and skills", ("health", "education")),
    ("Surroundings", ("crime", "barriers", "environment")),
)
INDEX_SEED = 2025  # fixed, so the demo's rank ranges are the same on every machine


def load_index() -> list[str]:
    """(Called by the convening demo, before it composes the briefings, so that they brief on the index.) Two
    published indexes of the Bristol partnership from the IoD2025 domains (scores): by ward, with a
    community domain (the share of observations in its most reported need theme), and by LSOA. Skipped when they
    exist."""
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    if partnership is None or not partnership.convenors:
        return ["Neighbourhood index: skipped (no Bristol partnership)."]
    existing = set(db.session.scalars(select(NeighbourhoodIndex.title)
                                      .where(NeighbourhoodIndex.partnership_id == partnership.id)))  # fmt: skip
    if set(INDEX_TITLES) <= existing:
        return ["Neighbourhood index: already loaded."]
    iod = {
        i.key: i
        for i in db.session.scalars(
            select(Indicator)
            .join(IndicatorDataset)
            .where(IndicatorDataset.key == "iod")
            .order_by(IndicatorDataset.release_date)
        )
    }  # fmt: skip  (the latest release wins: IoD2025)
    convenor = partnership.convenors[0]
    counts = theme_queries.theme_counts(partnership, "need")  # the most reported need theme
    themes = theme_queries.visible_themes(partnership)
    theme = max(themes, key=lambda t: (c.count if (c := counts.get(t.id)) else 0, -t.id), default=None)
    lines = []
    for title, level in zip(INDEX_TITLES, (AreaLevel.WARD, AreaLevel.LSOA), strict=True):
        if title in existing:
            continue
        choices = [
            index_ops.Choice(iod[key].id, domain, "worse", "1")
            for domain, keys in INDEX_DOMAINS
            for key in keys
            if key in iod
        ]
        community = theme.id if theme is not None and level is AreaLevel.WARD else None
        definition = index_ops.build_definition(level, choices, community_theme_id=community,
                                                       partnership=partnership)  # fmt: skip
        version = index_ops.create_index(partnership, title, definition, "zscore", convenor, INDEX_SEED)
        index_ops.publish_version(version, convenor)
        named = f", community domain “{theme.label}”" if community and theme is not None else ""
        lines.append(f"Neighbourhood index: “{title}” published ({len(choices)} IoD2025 domains{named}).")
    return lines
