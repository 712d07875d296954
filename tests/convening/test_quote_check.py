"""A quote that singles a person out (exact age, condition, small place) stops approval and publishing until the
convenor generalises it (one click, audited) or edits it out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from convening import operations as convening_ops
from convening import publishing, quote_check
from convening.models import SectionKind
from tests.convening.conftest import approve_all
from webapp.extensions import db
from webapp.models import AuditEvent
from webapp.operations import OperationError

RISKY = "94-year-old widower with dementia living alone in Stoke Bishop, nobody has visited him for weeks."


@pytest.fixture
def risky_briefing(observed, make_observation, make_session):
    make_observation(consent_to_quote=True, people_affected="95", text=RISKY)
    session = make_session()
    briefing = convening_ops.compose_briefing(session, observed["users"]["convenor"])
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    assert "Stoke Bishop" in quotes.body
    return briefing, quotes


def test_approval_and_publishing_are_refused_while_a_quote_could_identify_someone(risky_briefing, observed):
    briefing, quotes = risky_briefing
    convenor = observed["users"]["convenor"]
    with pytest.raises(OperationError, match="could identify someone.*exact age.*small place"):
        convening_ops.approve_section(quotes, convenor)
    for section in briefing.sections:
        if section.machine_written and section is not quotes:
            convening_ops.approve_section(section, convenor)
    convening_ops.edit_section(quotes, convenor, body=quotes.body)  # reviewed by hand, the quote still in it
    with pytest.raises(OperationError, match="could identify someone"):
        publishing.publish_briefing(briefing, convenor)


def test_one_click_generalisation_resolves_it_and_is_audited(risky_briefing, observed, client_for):
    briefing, quotes = risky_briefing
    convenor = observed["users"]["convenor"]
    client = client_for("convenor")
    page = client.get(f"/convening/sessions/{briefing.session_id}/briefing").get_data(as_text=True)
    assert "could identify someone" in page
    index = next(i for i, q in enumerate(quote_check.section_quotes(quotes)) if "Stoke Bishop" in q["text"]) + 1
    response = client.post(f"/convening/sections/{quotes.id}", data={"do": "generalise", "quote": str(index)})
    assert response.status_code == 302
    db.session.expire_all()
    quotes = db.session.get(type(quotes), quotes.id)
    assert "Stoke Bishop" not in quotes.body
    assert "an older man with a health condition" in quotes.body.lower()
    assert "nobody has visited him for weeks" in quotes.body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "briefing.quote_generalise"))
    assert event is not None
    assert "Stoke Bishop" not in str(event.detail)
    briefing = quotes.briefing
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    assert "Stoke Bishop" not in str(version.content)
