"""The one way to find the deprivation index: the overall Index of Multiple Deprivation, by its dataset and
indicator keys (dataset ``iod``, indicator ``imd``), never by words in its name. Every page, flag and briefing that
needs "the IMD" asks here."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from indicators.models import Indicator, IndicatorDataset
from webapp.extensions import db
from webapp.models import AreaLevel

IOD_DATASET = "iod"  # the English Indices of Deprivation, across its releases (2019, 2025...)
IMD_INDICATOR = "imd"  # its overall index (the domains have keys of their own: "income", "employment"...)


def is_deprivation_index(indicator: Indicator) -> bool:
    """Whether ``indicator`` is the overall Index of Multiple Deprivation of some IoD release."""
    return indicator.dataset.key == IOD_DATASET and indicator.key == IMD_INDICATOR


def deprivation_index(indicators: list[Indicator]) -> Indicator | None:
    """The overall Index of Multiple Deprivation of the latest IoD release among ``indicators``."""
    imds = [i for i in indicators if is_deprivation_index(i)]
    return max(imds, key=lambda i: (i.dataset.release_date or date.min, i.id), default=None)


def latest_deprivation_index(level: AreaLevel | None = None) -> Indicator | None:
    """The overall Index of Multiple Deprivation of the latest IoD release stored (published on ``level``), if any."""
    stmt = (
        select(Indicator)
        .join(IndicatorDataset)
        .where(IndicatorDataset.key == IOD_DATASET, Indicator.key == IMD_INDICATOR)
    )
    if level is not None:
        stmt = stmt.where(Indicator.level == level)
    return deprivation_index(list(db.session.scalars(stmt)))
