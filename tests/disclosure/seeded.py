"""A seeded partnership whose area pages release hundreds of small cells: what the attack test and
``benchmarks/disclosure_attack.py`` read.

Bristol's local authority, ``wards`` wards of ``lsoas`` LSOAs each, ten member organisations (an accepted agreement),
and observations spread thinly over LSOAs, categories, kinds, dates and sharing levels, so that most cells of the LSOA
pages hold 1 to 4 observations. Record keys come from ``seed`` (reproducible); everything else is stored as the app
stores it.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from submissions import operations as submission_ops
from submissions.models import Category, Observation, ObservationKind, ObservationStatus
from webapp import operations as webapp_ops
from webapp.disclosure import SharingLevel
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation, OrgKind

LEVEL_WEIGHTS = {
    SharingLevel.ORG_ONLY: 1,
    SharingLevel.PARTNERSHIP: 3,
    SharingLevel.FUNDERS_AGGREGATE: 3,
    SharingLevel.PUBLIC_AGGREGATE: 3,
}


def seed_partnership(world: dict, seed: int, wards: int = 3, lsoas: int = 6, observations: int = 700) -> dict:
    """Areas, members and ``observations`` observations for ``world``'s partnership (tests/conftest.py ``world``)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data; the app draws keys with secrets
    lad = Area(code="E06000023", name="Bristol, City of", level=AreaLevel.LAD)
    areas = [lad]
    leaves = []
    for w in range(wards):
        ward = Area(code=f"E0501{w:04d}", name=f"Ward {w + 1}", level=AreaLevel.WARD, parent=lad)
        areas.append(ward)
        for n in range(lsoas):
            lsoa = Area(code=f"E0101{w:02d}{n:02d}", name=f"Bristol {w + 1:02d}{chr(65 + n)}", level=AreaLevel.LSOA,
                        parent=ward)  # fmt: skip
            areas.append(lsoa)
            leaves.append(lsoa)
    db.session.add_all(areas)
    submission_ops.ensure_default_categories()
    partnership = world["partnership"]
    partnership.areas = [lad]
    kinds = [
        OrgKind.CHARITY,
        OrgKind.MUTUAL_AID,
        OrgKind.RESIDENTS_ASSOCIATION,
        OrgKind.CHARITY,
        OrgKind.COMMUNITY_BUSINESS,
    ]
    members = [world["org"], world["other_org"]]
    for i in range(8):
        org = Organisation(name=f"Seeded member {i + 1}", slug=f"seeded-member-{i + 1}", kind=kinds[i % len(kinds)])
        db.session.add(org)
        members.append(org)
    for org in members:
        if org not in partnership.members:
            partnership.members.append(org)
    db.session.flush()
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
    for org in members:
        webapp_ops.accept_agreement(agreement, org, world["users"]["admin"])
    categories = list(db.session.scalars(db.select(Category).where(Category.active).order_by(Category.position)))[:6]
    levels, weights = list(LEVEL_WEIGHTS), list(LEVEL_WEIGHTS.values())
    today = date.today()
    rows = []
    for _ in range(observations):
        where = rng.random()
        area = rng.choice(leaves) if where < 0.85 else rng.choice(areas[1 : 1 + wards]) if where < 0.95 else None
        rows.append(
            Observation(
                organisation=rng.choice(members),
                partnership=partnership,
                kind=rng.choice([ObservationKind.NEED, ObservationKind.NEED, ObservationKind.ASSET]),
                category=rng.choice(categories),
                text="A seeded observation.",
                redacted_text="A seeded observation.",
                area=area,
                period_start=today - timedelta(days=rng.randrange(0, 800)),
                sharing_level=rng.choices(levels, weights)[0],
                record_key=rng.randrange(256),
                status=ObservationStatus.APPROVED,
            )
        )
    db.session.add_all(rows)
    db.session.commit()
    return {"areas": areas, "wards": areas[1 : 1 + wards], "members": members, "observations": len(rows)}
