"""Demo of convening: two Bristol partnership sessions.

- Last quarter's session: its briefing was reviewed and published (with its PDF), it took a decision and agreed three
  actions (one done), so funders have something to read and members can see what their observations informed.
- Next week's session: its briefing is composed (machine-written, not reviewed, not published), so the convenor can
  edit, approve and publish it during the demo.

Loading twice changes nothing: sessions are found by title.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing
from convening.models import Session
from indicators.demo import load_index
from webapp.extensions import db
from webapp.models import Organisation, Partnership
from webapp.operations import OperationError

PAST_TITLE = "Autumn review: cost of living and food"
NEXT_TITLE = "Winter partnership session"


def _org(slug: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.slug == slug))


def load() -> list[str]:
    return [*load_index(), *_load_sessions()]  # the neighbourhood index first: the briefings brief on it


def _load_sessions() -> list[str]:
    partnership = db.session.scalar(select(Partnership).where(Partnership.slug == "bristol"))
    if partnership is None or not partnership.convenors:
        return ["Briefings: skipped (load the ground-floor demo first: the Bristol partnership and its convenor)."]
    convenor = partnership.convenors[0]
    existing = {s.title for s in db.session.scalars(select(Session).where(Session.partnership_id == partnership.id))}
    if NEXT_TITLE in existing:
        return ["Briefings: demo sessions already loaded."]
    today = datetime.now(UTC).date()
    lines: list[str] = []
    members = partnership.members

    try:
        # In a savepoint: when there is nothing to brief on yet, the session goes too, so that a later run (once
        # there is data) starts clean; what the other demo loaders stored in this transaction stays.
        with db.session.begin_nested():
            past = convening_ops.create_session(
                partnership,
                PAST_TITLE,
                today - timedelta(days=84),
                convenor,
                place="Easton Community Centre, Kilburn Street",
                period_start=today - timedelta(days=84 + 182),
                period_end=today - timedelta(days=85),
                agenda=["Welcome and apologies", "What members are seeing", "Food and fuel this winter", "Actions"],
                attending=members[:4],
            )
            briefing = convening_ops.compose_briefing(past, convenor)
    except OperationError as exc:
        return [f"Briefings: skipped ({exc.message})"]
    for section in briefing.sections:
        if section.machine_written:
            convening_ops.approve_section(section, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    publishing.render_version_pdf(version)
    lines.append(f"Briefings: “{PAST_TITLE}” published as version 1 ({version.pdf_pages}).")
    convening_ops.add_decision(
        past, "Pool surplus food between the Easton and Lawrence Hill pantries over the winter.", convenor
    )
    food = _org("lawrence-hill-food-share")
    residents = _org("knowle-west-residents")
    health = _org("city-public-health")
    done = convening_ops.add_action(
        past, "Publish a shared map of food pantries and their opening hours", convenor, owner=food,
        due_on=today - timedelta(days=30),
    )  # fmt: skip
    convening_ops.set_action_status(done, "done", convenor)
    ongoing = convening_ops.add_action(
        past, "Ask landlords' forum about damp and mould repairs in Knowle West", convenor, owner=residents,
        due_on=today + timedelta(days=14),
    )  # fmt: skip
    convening_ops.set_action_status(ongoing, "in_progress", convenor)
    convening_ops.add_action(past, "Share GP-access waiting figures with the partnership", convenor, owner=health)

    upcoming = convening_ops.create_session(
        partnership,
        NEXT_TITLE,
        today + timedelta(days=7),
        convenor,
        place="Lawrence Hill Community Hall",
        link="https://meet.example.org/bristol-partnership",
        period_start=today - timedelta(days=182),
        period_end=today,
        agenda=["Welcome", "Headline changes since the autumn", "Needs and assets", "Evidence gaps", "Actions"],
        attending=members,
    )
    convening_ops.compose_briefing(upcoming, convenor)
    lines.append(f"Briefings: “{NEXT_TITLE}” drafted for the convenor to review and publish.")
    return lines
