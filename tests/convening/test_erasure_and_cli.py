"""Erasing a quoted observation withdraws the published versions that quoted it; the CLI builds and publishes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from convening import operations as cops
from convening.cli import briefing_cli
from convening.models import BriefingSection, BriefingVersion, SectionKind
from submissions import operations as sops
from tests.convening.conftest import approve_all
from webapp.extensions import db


def test_erasing_a_quoted_observation_republishes_without_it(observed, make_session, client_for):
    convenor = observed["users"]["convenor"]
    session = make_session()
    briefing = cops.compose_briefing(session, convenor)
    approve_all(briefing, convenor)
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    # The convenor edited the quotes section by hand; the quote must go from their text too.
    cops.edit_section(quotes, convenor, body="Our members told us:\n\n" + quotes.body + "\n\nMore next time.")
    v1 = cops.publish_briefing(briefing, convenor)
    cops.render_version_pdf(v1)
    db.session.commit()
    v1_id, quoted = v1.id, observed["quoted"]
    assert "skip meals" in str(v1.content)

    sops.erase_observation(quoted, observed["users"]["org_admin"])
    db.session.commit()

    versions = list(db.session.scalars(select(BriefingVersion).order_by(BriefingVersion.number)))
    assert [v.number for v in versions] == [1, 2]
    old, new = versions
    assert old.is_withdrawn
    assert old.pdf is None
    assert "skip meals" not in str(new.content)
    assert "More next time." in str(new.content)  # the rest of the convenor's text stays
    assert "A quote was withdrawn" in new.note
    assert new.quoted_observation_ids == []
    assert new.published_by_id is None
    assert new.pdf_ready  # rendered after the erasure committed
    section = db.session.scalar(select(BriefingSection).where(BriefingSection.kind == SectionKind.QUOTES))
    assert section.data["quotes"] == []
    assert "skip meals" not in section.body

    funder = client_for("funder")
    assert funder.get(f"/convening/versions/{v1_id}").status_code == 410
    assert funder.get(f"/convening/versions/{v1_id}/pdf").status_code == 410
    page = funder.get(f"/convening/versions/{new.id}").get_data(as_text=True)
    assert "A quote was withdrawn" in page
    pdf = funder.get(f"/convening/versions/{new.id}/pdf")
    assert pdf.status_code == 200
    assert b"skip meals" not in pdf.data
    library = funder.get("/convening/library").get_data(as_text=True)
    assert f"/convening/versions/{new.id}" in library
    assert f'/convening/versions/{v1_id}"' not in library


def test_erasing_an_unquoted_observation_changes_no_version(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = cops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    cops.publish_briefing(briefing, convenor)
    db.session.commit()
    other = db.session.scalar(select(type(observed["quoted"])).where(type(observed["quoted"]).consent_to_quote.is_(
        False)).limit(1))  # fmt: skip
    sops.erase_observation(other, observed["users"]["org_admin"])
    db.session.commit()
    assert [v.number for v in db.session.scalars(select(BriefingVersion))] == [1]


def test_cli_build_writes_a_draft_pdf_and_stores_nothing(app, observed, make_session, tmp_path):
    session = make_session()
    out = tmp_path / "briefing.pdf"
    runner = app.test_cli_runner()
    result = runner.invoke(briefing_cli, ["build", "--partnership", observed["partnership"].slug,
                                          "--session", str(session.id), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    assert "draft, not published" in result.output
    assert db.session.get(type(session), session.id).briefing is None


def test_cli_build_without_data_fails_clearly(app, cworld, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "x.pdf"
    result = runner.invoke(briefing_cli, ["build", "--partnership", cworld["partnership"].slug, "--out", str(out)])
    assert result.exit_code != 0
    assert "has no shared observations" in result.output
    assert not out.exists()
    result = runner.invoke(briefing_cli, ["build", "--partnership", "no-such", "--out", str(out)])
    assert result.exit_code == 2
    assert "no partnership with short name" in result.output


def test_cli_publish(app, observed, make_session):
    convenor = observed["users"]["convenor"]
    session = make_session(held_on=date(2025, 4, 2))
    briefing = cops.compose_briefing(session, convenor)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(briefing_cli, ["publish", str(session.id)])
    assert result.exit_code == 1
    assert "Review or edit the machine-written sections" in result.output
    approve_all(db.session.get(type(briefing), briefing.id), convenor)
    db.session.commit()
    result = runner.invoke(briefing_cli, ["publish", str(session.id)])
    assert result.exit_code == 0, result.output
    assert "Published version 1" in result.output
    version = db.session.scalar(select(BriefingVersion))
    assert version.pdf_ready
