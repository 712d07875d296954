"""A published briefing has a partnership's and a funders' edition: funders read only the funders' edition of the
partnerships they fund, never text their organisations did not allow them, and the counts of each edition are those
of the observations shared with its audience (released through webapp.disclosure, like the area pages)."""

from __future__ import annotations

import subprocess

from convening import operations as cops
from tests.convening.conftest import approve_all
from webapp.disclosure import Audience, Tally, release
from webapp.extensions import db
from webapp.models import OrgKind


def _publish(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = cops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    version = cops.publish_briefing(briefing, convenor)
    db.session.commit()
    return version


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "edition.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60).stdout  # noqa: S607


def test_funders_read_the_funders_edition_without_partnership_text(
    observed, make_observation, make_session, client_for, make_user, make_org, tmp_path
):
    for_funders = make_observation(
        sharing_level="funders_aggregate",
        consent_to_quote=True,
        consent_to_quote_funders=True,
        text="The warm space on Tuesdays is full by noon.",
    )
    version = _publish(observed, make_session)
    partnership_only = observed["quoted"].redacted_text  # shared with the partnership, consent to quote there only
    convenor_page = client_for("convenor").get(f"/convening/versions/{version.id}").get_data(as_text=True)
    assert "skip meals" in convenor_page

    funder = client_for("funder")
    page = funder.get(f"/convening/versions/{version.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Funders&#39; edition" in text or "Funders' edition" in text
    assert "skip meals" not in text
    assert partnership_only not in text
    assert "warm space on Tuesdays" in text  # level and consent both include funders
    pdf = funder.get(f"/convening/versions/{version.id}/pdf")
    if pdf.status_code == 200:
        pdf_text = _pdf_text(pdf.data, tmp_path)
        assert "skip meals" not in pdf_text
    # The funders' edition counts only observations shared with funders: here one, "fewer than k".
    doc = cops.version_document(version, Audience.FUNDERS)
    headlines = next(s for s in doc["sections"] if s["kind"] == "headlines")
    assert str(release(Tally.of([for_funders]))) in headlines["markdown"]
    assert "fewer than 5" in headlines["markdown"]

    elsewhere = make_user("funder", make_org("Elsewhere Fund", OrgKind.FUNDER))
    from tests.conftest import sign_in

    other = sign_in(funder.application.test_client(), elsewhere)
    assert other.get(f"/convening/versions/{version.id}").status_code == 404
    assert other.get(f"/convening/versions/{version.id}/pdf").status_code == 404


def test_briefing_counts_are_the_area_pages_counts_of_the_same_observations(observed, make_session):
    """The partnership's edition releases a ward's count from the same (count, key sum) as the area page would."""
    version = _publish(observed, make_session)
    facts = version.content["facts"]["partnership"]["cells"]
    ward_cells = {key: cell for key, cell in facts.items() if key.startswith("ward.")}
    assert ward_cells
    from submissions.models import Observation

    for _key, cell in ward_cells.items():
        observations = [db.session.get(Observation, i) for i in cell["ids"]]
        assert Tally.of(observations) == Tally.from_json(cell)
