"""Demo observations: about 250 needs and assets from six demo organisations and residents, across Bristol wards and
the last fourteen months.

Community groups' texts were written for the demo (some carry invented names, phone numbers and addresses so the
redaction step has work to do); Bristol Patient Voice's are real NHS Friends and Family Test comments (MIT, NHS
England / The Strategy Unit, pxtextmining; see demo_data/PROVENANCE.md). Everything goes through the same operation
as the web form. Loading twice changes nothing: demo rows carry a ``demo-`` reference and are loaded only once.
"""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from submissions import operations as submission_ops
from submissions.models import Confidence, Observation, SharingLevel, Source
from submissions.validation import parse_bool
from webapp.extensions import db
from webapp.models import Area, AreaLevel, Organisation, Partnership, User

DATA = Path(__file__).resolve().parent / "demo_data"
PATIENT_VOICE = "bristol-patient-voice"
DEMO_REF = "demo-"
# The NHS comments are from 2021-2022; moved forward four years to sit beside the other demo observations.
NHS_YEAR_SHIFT = 4

# Where each organisation works (Bristol ward names); patient comments are spread across the city.
PATIENT_WARDS = ("Southmead", "Lawrence Hill", "Filwood", "Hartcliffe and Withywood", "Easton", "Bedminster",
                 "Lockleaze", "Ashley", "Henbury and Brentry", "Stockwood", "Knowle", "Hillfields")  # fmt: skip
ASSET_WORDS = ("excellent", "brilliant", "fantastic", "great", "kind", "caring", "helpful", "thank", "lovely",
               "friendly", "professional", "amazing", "good", "supportive", "reassuring", "polite")  # fmt: skip
NEED_WORDS = ("wait", "late", "never", "didn't", "did not", "no one", "nobody", "rude", "delay", "improve",
              "better", "long", "poor", "cancel", "could", "should", "more", "not ")  # fmt: skip


def _months_ago(today: date, months: int, day: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    candidate = date(year, month + 1, min(day, 28))
    return min(candidate, today)


def _patient_kind(text: str) -> str:
    lower = text.lower()
    praise = sum(word in lower for word in ASSET_WORDS)
    complaint = sum(word in lower for word in NEED_WORDS)
    return "asset" if praise > complaint else "need"


def _patient_category(text: str) -> str:
    lower = text.lower()
    if any(w in lower for w in ("mental", "anxiety", "depress", "counsell", "therap", "talk", "listen")):
        return "mental-health-and-wellbeing"
    if any(w in lower for w in ("transport", "driver", "pick up", "picked up", "journey", "collect")):
        return "transport-and-access"
    if any(w in lower for w in ("alone", "lonely", "company")):
        return "loneliness-and-isolation"
    return "physical-health"


def load() -> list[str]:
    """Load the demo observations (once); return lines to print."""
    added = submission_ops.ensure_default_categories()
    lines = [f"Categories: {added} default categories added."] if added else []
    already = db.session.scalar(
        select(func.count()).select_from(Observation).where(Observation.external_ref.like(f"{DEMO_REF}%"))
    )
    if already:
        return [*lines, f"Observations: {already} demo observations already loaded."]
    orgs = {o.slug: o for o in db.session.scalars(select(Organisation))}
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    # Observations sit on current areas (wards of the newest geography loaded), never on superseded ones.
    wards = {
        a.name: a for a in db.session.scalars(select(Area).where(Area.level == AreaLevel.WARD, Area.current.is_(True)))
    }
    if partnership is None or not wards:
        return [*lines, "Observations: skipped (load the ground-floor demo first: partnership and wards)."]
    authors = _authors(orgs)
    today = datetime.now(UTC).date()
    counts: dict[str, int] = {}
    n = 0

    community = _read("community_observations.csv")
    sharing_cycle = itertools.cycle([SharingLevel.PARTNERSHIP] * 6 + [SharingLevel.FUNDERS_AGGREGATE,
                                     SharingLevel.PUBLIC_AGGREGATE, SharingLevel.ORG_ONLY])  # fmt: skip
    residents = []
    for i, row in enumerate(community):
        n += 1
        period = _months_ago(today, (i * 5) % 14, (i * 11) % 27 + 1)
        data: dict[str, Any] = {
            "kind": row["kind"],
            "category": row["category"],
            "text": row["text"],
            "area": row["ward"] if row["ward"] in wards else "",
            "period": period.strftime("%Y-%m") if i % 3 == 0 else period.isoformat(),
            "people_affected": row["people_affected"],
            "groups": row["groups"],
            "trend": row["trend"],
            "consent_to_quote": row["consent_to_quote"],
            "external_ref": f"{DEMO_REF}{n}",
        }
        org = orgs.get(row["org"]) if row["org"] else None
        if row["org"] and org is None:
            continue
        if org is None:
            residents.append(
                submission_ops.submit_observation(
                    data, organisation=None, author=None, partnership=partnership, via="demo"
                )
            )
            counts["residents (public form)"] = counts.get("residents (public form)", 0) + 1
            continue
        data["sharing_level"] = next(sharing_cycle).value
        # Where an observation is counted for funders and its people agreed to a quote, they agreed to the funders'
        # edition too (so the demo's funders' edition has quotes to show).
        data["consent_to_quote_funders"] = bool(
            parse_bool(row["consent_to_quote"])
            and data["sharing_level"] in (SharingLevel.FUNDERS_AGGREGATE.value, SharingLevel.PUBLIC_AGGREGATE.value)
        )
        data["source"] = (Source.SERVICE_DATA if org.slug == "city-public-health" else Source.FRONTLINE_CONTACT).value
        data["confidence"] = (Confidence.HIGH if i % 4 == 0 else Confidence.MEDIUM).value
        submission_ops.submit_observation(data, organisation=org, author=authors.get(org.slug), partnership=partnership,
                               via="demo")  # fmt: skip
        counts[org.name] = counts.get(org.name, 0) + 1

    # A convenor has approved the first residents' messages; the others wait in the moderation queue.
    convenor = partnership.convenors[0] if partnership.convenors else None
    if convenor is not None:
        for obs in residents[:3]:
            submission_ops.approve_observation(obs, convenor)

    patient_org = orgs.get(PATIENT_VOICE)
    if patient_org is not None:
        reader = _read("nhs_fft_comments_sample.csv")
        ward_cycle = itertools.cycle(PATIENT_WARDS)
        for i, row in enumerate(reader):
            n += 1
            seen = date.fromisoformat(row["date"])
            shifted = min(date(seen.year + NHS_YEAR_SHIFT, seen.month, min(seen.day, 28)), today)
            text = row["comment"]
            ward = next(ward_cycle)
            submission_ops.submit_observation(
                {
                    "kind": _patient_kind(text),
                    "category": _patient_category(text),
                    "text": text,
                    "area": ward if ward in wards and i % 5 else "",
                    "period": shifted.isoformat(),
                    "source": Source.SURVEY.value,
                    "confidence": Confidence.MEDIUM.value,
                    "sharing_level": SharingLevel.PARTNERSHIP.value,
                    "consent_to_quote": True,  # published Friends and Family Test answers
                    "external_ref": f"{DEMO_REF}{n}",
                },
                organisation=patient_org,
                author=None,
                partnership=partnership,
                via="demo",
            )
            counts[patient_org.name] = counts.get(patient_org.name, 0) + 1
    n = _network_observations(orgs, partnership, wards, authors, today, n, counts)
    total = sum(counts.values())
    detail = ", ".join(f"{name}: {count}" for name, count in counts.items())
    return [*lines, f"Observations: {total} loaded ({detail}); {len(residents) - 3} wait for moderation."]


# The organisation network (convening/network.py) links organisations that report the same theme in the same ward,
# each side with at least k observations. These give it something to draw: food in Lawrence Hill and Easton (the food
# share, the mutual aid and the public health team), energy debt in Filwood (the residents' association and the
# public health team) and food in Southmead (the community kitchen and the public health team), all in the last five
# months. Each theme's observations say the same sentence (as a monthly return would), so that the theme model keeps
# them in one theme: varied texts split into several themes, none with k observations of two organisations.
FOOD_TEXTS = ("Food bank referrals rose again: more households asked us for emergency food parcels.",)
ENERGY_TEXTS = ("Energy debt again: more households on prepayment meters asked us for fuel vouchers.",)
NETWORK_DEMO = (  # organisation, ward, texts, how many, shared with funders (counts) as well
    ("lawrence-hill-food-share", "Easton", FOOD_TEXTS, 6, True),
    ("lawrence-hill-food-share", "Lawrence Hill", FOOD_TEXTS, 5, False),
    ("easton-mutual-aid", "Lawrence Hill", FOOD_TEXTS, 6, False),
    ("easton-mutual-aid", "Easton", FOOD_TEXTS, 5, True),
    ("city-public-health", "Lawrence Hill", FOOD_TEXTS, 5, False),
    ("city-public-health", "Southmead", FOOD_TEXTS, 5, False),
    ("southmead-community-kitchen", "Southmead", FOOD_TEXTS, 6, False),
    ("knowle-west-residents", "Filwood", ENERGY_TEXTS, 6, False),
    ("city-public-health", "Filwood", ENERGY_TEXTS, 5, False),
)
NETWORK_NAMED = ("lawrence-hill-food-share", "easton-mutual-aid", "city-public-health")


def _network_observations(orgs: dict[str, Organisation], partnership: Partnership, wards: dict[str, Area],
                          authors: dict[str, User], today: date, n: int, counts: dict[str, int]) -> int:  # fmt: skip
    """Observations that link demo organisations in the network, and three organisations that agreed to be named
    there (the others are only counted). Returns the last reference number used."""
    for slug in NETWORK_NAMED:
        if slug in orgs:
            orgs[slug].network_named = True
    i = 0
    for slug, ward, texts, how_many, funders in NETWORK_DEMO:
        org = orgs.get(slug)
        if org is None or ward not in wards:
            continue
        for j in range(how_many):
            n, i = n + 1, i + 1
            level = SharingLevel.FUNDERS_AGGREGATE if funders else SharingLevel.PARTNERSHIP
            submission_ops.submit_observation(
                {
                    "kind": "need",
                    "category": "food" if texts is FOOD_TEXTS else "money-and-debt",
                    "text": texts[(i + j) % len(texts)],
                    "area": ward,
                    "period": date.fromordinal(today.toordinal() - 7 - (i * 13) % 140).isoformat(),
                    "sharing_level": level.value,
                    "consent_to_quote": False,
                    "source": (Source.SERVICE_DATA if slug == "city-public-health" else Source.FRONTLINE_CONTACT).value,
                    "confidence": Confidence.MEDIUM.value,
                    "external_ref": f"{DEMO_REF}{n}",
                },
                organisation=org,
                author=authors.get(slug),
                partnership=partnership,
                via="demo",
            )
            counts[org.name] = counts.get(org.name, 0) + 1
    return n


def _read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def demo_texts() -> list[str]:
    """The vendored demo texts, in file order: the 150 NHS Friends and Family Test answers, then the 98 community
    observations (what the theme tests fit and several benchmarks embed when ../shared/data is absent)."""
    return [
        row[column].strip()
        for name, column in (("nhs_fft_comments_sample.csv", "comment"), ("community_observations.csv", "text"))
        for row in _read(name)
        if row[column].strip()
    ]


def _authors(orgs: dict[str, Organisation]) -> dict[str, User]:
    """The first member of each organisation, as the demo author of its observations."""
    authors = {}
    for slug, org in orgs.items():
        if org.memberships:
            authors[slug] = org.memberships[0].user
    return authors
