"""The demo data set: real Bristol geography, invented organisations, people and a partnership.

`commintel demo` calls :func:`load` inside one transaction. Loading twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from webapp import geography
from webapp import operations as webapp_ops
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation, OrgKind, OrgRole, Partnership, PlatformRole, User

DATA = Path(__file__).resolve().parent / "demo_data"
BRISTOL = "E06000023"
# Demo accounts only exist in demo databases; this password is printed by `make demo` and written in the README.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - a published demo password, never used outside demo data

ORGANISATIONS = (
    ("Lawrence Hill Food Share", "lawrence-hill-food-share", OrgKind.CHARITY),
    ("Easton Mutual Aid", "easton-mutual-aid", OrgKind.MUTUAL_AID),
    ("Knowle West Residents' Association", "knowle-west-residents", OrgKind.RESIDENTS_ASSOCIATION),
    ("Bristol Patient Voice", "bristol-patient-voice", OrgKind.CHARITY),
    ("Southmead Community Kitchen CIC", "southmead-community-kitchen", OrgKind.COMMUNITY_BUSINESS),
    ("City Public Health Team", "city-public-health", OrgKind.PUBLIC_BODY),
    ("Avon Community Fund", "avon-community-fund", OrgKind.FUNDER),
)


AGREEMENT_TEXT = """Members share observations at partnership level to understand local needs and assets
and planning joint responses. Personal data is removed before observations are shared. Counts below the suppression
threshold are never published. Quotes are used only where the submitter confirmed consent, and are attributed only
to the kind of organisation. Any member may withdraw an observation, and erased observations are removed from
everything derived from them."""


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str
    platform_role: PlatformRole | None = None
    org_slug: str | None = None
    org_role: OrgRole | None = None


LOGINS = (
    DemoLogin("admin", "admin@demo.commintel.org", "Alex Admin", PlatformRole.ADMIN),
    DemoLogin("convenor", "convenor@demo.commintel.org", "Chris Convenor", PlatformRole.CONVENOR),
    DemoLogin("funder", "funder@demo.commintel.org", "Fran Funder", PlatformRole.FUNDER, "avon-community-fund"),
    DemoLogin(
        "org_admin",
        "orgadmin@demo.commintel.org",
        "Olu Orgadmin",
        None,
        "lawrence-hill-food-share",
        OrgRole.ADMIN,
    ),
    DemoLogin("member", "member@demo.commintel.org", "Morgan Member", None, "easton-mutual-aid", OrgRole.MEMBER),
    DemoLogin("resident", "resident@demo.commintel.org", "Robin Resident", PlatformRole.RESIDENT),
)


LOOKUP_2021 = "bristol_lsoa21_ward24_lad24_lookup.csv"  # current: LSOA 2021 → ward 2024 → LA 2024
LOOKUP_2011 = "bristol_lsoa11_ward19_lad19_lookup.csv"  # for datasets published on 2011 LSOAs (IoD2019)
BRIDGE = "bristol_lsoa11_lsoa21_lad22_bridge.csv"  # ONS LSOA 2011 → 2021 with change codes
NEIGHBOURHOODS = "bristol_neighbourhoods.csv"  # named neighbourhoods → 2024 wards (see ATTRIBUTION.md)


def load_geography() -> list[str]:
    """Bristol's geography: the current vintage, the 2011 one for older datasets, the bridge and boundaries.
    Every loader is idempotent: a second run changes nothing."""
    lines = []
    for name in (LOOKUP_2021, LOOKUP_2011):
        report = geography.load_lookup(DATA / name, BRISTOL)
        if sum(report.created.values()) or sum(report.updated.values()):
            lines.append(f"Geography: {report.summary()}.")
    bridge = geography.load_bridge(DATA / BRIDGE, BRISTOL)
    lines.append(f"Bridge: {bridge.summary()}.")
    wards = geography.load_boundaries(DATA / "bristol_wards.geojson", AreaLevel.WARD)
    lsoas = geography.load_boundaries(DATA / "bristol_lsoa21.geojson", AreaLevel.LSOA)
    lines.append(f"Boundaries: {wards.rows} wards, {lsoas.rows} LSOAs (2021).")
    places = geography.load_neighbourhoods(DATA / NEIGHBOURHOODS)
    lines.append(f"Neighbourhoods: {places.summary()}.")
    return lines


def load() -> list[str]:
    """Load (or complete) the demo; return lines to print."""
    lines = load_geography()

    orgs: dict[str, Organisation] = {}
    for name, slug, kind in ORGANISATIONS:
        org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
        orgs[slug] = org or webapp_ops.create_organisation(name, kind, slug)

    users: dict[str, User] = {}
    for login in LOGINS:
        user = webapp_ops.get_user_by_email(login.email)
        if user is None:
            user = webapp_ops.create_user(
                login.email,
                DEMO_PASSWORD,
                login.name,
                platform_role=login.platform_role,
                organisation=orgs[login.org_slug] if login.org_slug else None,
                org_role=login.org_role or OrgRole.MEMBER,
            )
        users[login.role] = user

    if db.session.scalar(select(Partnership).where(Partnership.slug == "bristol")) is None:
        bristol = db.session.scalar(select(Area).where(Area.code == BRISTOL))
        if bristol is None:
            raise RuntimeError(f"The demo needs the area {BRISTOL}: load the geography first.")
        ward_areas = list(db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True))))
        partnership = webapp_ops.create_partnership(
            "Bristol Community Intelligence Partnership",
            "bristol",
            areas=[bristol, *ward_areas],
            members=[o for o in orgs.values() if o.kind is not OrgKind.FUNDER],
            funders=[orgs["avon-community-fund"]],
            convenors=[users["convenor"]],
        )
        partnership.public_form_enabled = True
        agreement = webapp_ops.publish_agreement(partnership, AGREEMENT_TEXT, users["convenor"])
        for org in partnership.members:
            webapp_ops.accept_agreement(agreement, org, users["admin"])
        lines.append("Partnership: Bristol Community Intelligence Partnership (agreement v1 accepted by all members).")
    lines.append(f"{len(orgs)} organisations, {len(users)} demo logins.")
    return lines


def logins_text(base_url: str) -> str:
    """What `make demo` prints: one login per role."""
    rows = [f"Demo logins (password for all: {DEMO_PASSWORD}) at {base_url}/auth/login"]
    rows += [f"  {login.role:<10} {login.email}" for login in LOGINS]
    rows += [
        "The admin and convenor set up two-step sign-in at their first sign-in: scan the QR code with an",
        "authenticator app, or copy the key shown under it and print the current code with",
        "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('THE-KEY').now())\"",
    ]
    return "\n".join(rows)
