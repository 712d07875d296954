"""Erasing a quoted observation withdraws the published versions that quoted it; the CLI builds and publishes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from convening import erasure, publishing
from convening import operations as convening_ops
from convening.cli import briefing_cli
from convening.models import BriefingEdition, BriefingSection, BriefingVersion, SectionKind
from submissions import operations as submission_ops
from tests.convening.conftest import approve_all
from webapp.extensions import db


def test_erasing_a_quoted_observation_republishes_without_it(observed, make_session, client_for):
    convenor = observed["users"]["convenor"]
    session = make_session()
    briefing = convening_ops.compose_briefing(session, convenor)
    approve_all(briefing, convenor)
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    # The convenor edited the quotes section by hand; the quote must go from their text too.
    convening_ops.edit_section(quotes, convenor, body="Our members told us:\n\n" + quotes.body + "\n\nMore next time.")
    v1 = publishing.publish_briefing(briefing, convenor)
    publishing.render_version_pdf(v1)
    db.session.commit()
    v1_id, quoted = v1.id, observed["quoted"]
    assert "skip meals" in str(v1.content)
    counted = v1.content["facts"]["partnership"]["cells"]["total.now"]["n"]

    submission_ops.erase_observation(quoted, observed["users"]["org_admin"])
    db.session.commit()

    versions = list(db.session.scalars(select(BriefingVersion).order_by(BriefingVersion.number)))
    assert [v.number for v in versions] == [1, 2]
    old, new = versions
    assert old.is_withdrawn
    assert all(e.pdf is None for e in old.editions)
    # Erasure reaches the stored copy too: the withdrawn version keeps no trace of the quote, and says why.
    assert "skip meals" not in str(old.content)
    assert "More next time." in str(old.content)
    assert "taken out of this stored copy" in old.withdrawn_reason
    assert "skip meals" not in str(new.content)
    assert "More next time." in str(new.content)  # the rest of the convenor's text stays
    assert "recounted without it" in new.note
    assert new.quoted_observation_ids == []
    assert new.published_by_id is None
    assert new.pdf_ready  # rendered after the erasure committed
    # Every count that included it is one fewer in the republished version.
    assert new.content["facts"]["partnership"]["cells"]["total.now"]["n"] == counted - 1
    assert old.content["facts"]["partnership"]["cells"]["total.now"]["n"] == counted - 1  # the stored copy too
    section = db.session.scalar(select(BriefingSection).where(BriefingSection.kind == SectionKind.QUOTES))
    assert section.briefing.facts["partnership"]["quotes"] == []
    assert "skip meals" not in section.body

    funder = client_for("funder")
    gone = funder.get(f"/convening/versions/{v1_id}")
    assert gone.status_code == 410
    assert "skip meals" not in gone.get_data(as_text=True)
    assert funder.get(f"/convening/versions/{v1_id}/pdf").status_code == 410
    page = funder.get(f"/convening/versions/{new.id}").get_data(as_text=True)
    assert "recounted without it" in page
    pdf = funder.get(f"/convening/versions/{new.id}/pdf")
    assert pdf.status_code == 200
    assert b"skip meals" not in pdf.data
    library = funder.get("/convening/library").get_data(as_text=True)
    assert f"/convening/versions/{new.id}" in library
    assert f'/convening/versions/{v1_id}"' not in library


def test_an_edited_or_copied_quote_is_erased_too(observed, make_session):
    """The convenor trimmed the quote, dropped its redaction marker and copied part of it into a note of their own:
    erasure finds it by a long run of the observation's text, in the draft and in every stored version."""
    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    assert "skip meals" in quotes.body
    convening_ops.edit_section(quotes, convenor, body=(
        "What members heard this month.\n\n"
        "> “Parents tell us they **skip meals** so that the children can eat”\n>\n> — a charity\n\n"
        "> Rent arrears are the other worry we keep hearing about from families.\n\n"
        "More next time."
    ))  # fmt: skip
    note = convening_ops.add_custom_section(briefing, "From the floor", (
        "One member said parents skip meals so that the children can eat before payday, which stayed with us.\n\n"
        "The pantry is busier on Fridays."
    ), convenor)  # fmt: skip
    v1 = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    assert str(v1.content).count("skip meals") >= 2
    v1_id, note_id = v1.id, note.id

    submission_ops.erase_observation(observed["quoted"], observed["users"]["org_admin"])
    db.session.commit()

    old = db.session.get(BriefingVersion, v1_id)
    new = db.session.scalar(select(BriefingVersion).where(BriefingVersion.number == 2))
    for version in (old, new):
        text = str(version.content).casefold()
        assert "skip meals" not in text
        assert "rent arrears are the other worry" in text  # another quote in the same section stays
        assert "the pantry is busier on fridays." in text  # and the rest of the convenor's note
        assert "what members heard this month." in text
    assert old.is_withdrawn
    assert not new.is_withdrawn
    for section in db.session.scalars(select(BriefingSection)):
        assert "skip meals" not in section.body.casefold()
    assert "The pantry is busier on Fridays." in db.session.get(BriefingSection, note_id).body
    assert db.session.get(type(briefing), briefing.id).changed_since_publish


def test_every_version_that_counted_it_is_scrubbed_and_only_the_latest_republished(observed, make_session):
    """Version 1 quoted the observation; version 2 (current) did not quote it but counted it: version 1 is scrubbed
    and withdrawn, version 2 is withdrawn and republished as version 3, recounted without it."""
    from webapp.disclosure import Audience

    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    v1 = publishing.publish_briefing(briefing, convenor)
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    convening_ops.set_included(quotes, False, convenor)
    v2 = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    assert "skip meals" in str(publishing.version_document(v1, Audience.PARTNERSHIP))
    assert "skip meals" not in str(publishing.version_document(v2, Audience.PARTNERSHIP))
    v1_id, v2_id = v1.id, v2.id

    submission_ops.erase_observation(observed["quoted"], observed["users"]["org_admin"])
    db.session.commit()

    versions = list(db.session.scalars(select(BriefingVersion).order_by(BriefingVersion.number)))
    assert [v.number for v in versions] == [1, 2, 3]
    old, previous = db.session.get(BriefingVersion, v1_id), db.session.get(BriefingVersion, v2_id)
    assert old.is_withdrawn
    assert previous.is_withdrawn
    assert "skip meals" not in str(old.content)
    assert "skip meals" not in str(previous.content)
    assert not versions[-1].is_withdrawn
    assert "skip meals" not in str(versions[-1].content)


def test_scrubbing_markdown_keeps_what_does_not_carry_the_text():
    erased = erasure.ErasedText.of(["[redacted] Parents tell us they skip meals so that the children can eat."])
    markdown = "\n".join([
        "Intro paragraph.",
        "",
        "### Families",
        "",
        "> Parents tell us they skip meals so that the children",
        "can eat before payday.",
        ">",
        "> — a charity",
        "",
        "### Housing",
        "",
        "> Damp is the first thing tenants mention.",
        "",
        "| Said | By |",
        "|---|---|",
        "| they skip meals so that the children can eat | a charity |",
        "| damp everywhere | a school |",
    ])  # fmt: skip
    out = erasure.scrub_markdown(markdown, erased)
    assert "skip meals" not in out
    assert "### Families" not in out  # left empty: its heading goes too
    assert "### Housing" in out
    assert "Damp is the first thing" in out
    assert "| damp everywhere | a school |" in out
    assert out.startswith("Intro paragraph.")
    assert erasure.scrub_markdown("Parents skip meals.", erased) == "Parents skip meals."  # a short phrase is not a run
    assert erasure.scrub_markdown(markdown, erasure.ErasedText.of([])) == markdown


def test_a_published_version_content_changes_only_by_erasure(observed, make_session):
    import pytest

    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    version.content = {**version.content, "title": "Changed"}
    with pytest.raises(ValueError, match="cannot be changed"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(ValueError, match="Withdraw"):
        version.erase_from_content({**version.content, "title": "Changed"}, "erased")


def test_erasing_an_unquoted_observation_republishes_the_counts_without_it(observed, make_session):
    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    v1 = publishing.publish_briefing(briefing, convenor)
    db.session.commit()
    counted = v1.content["facts"]["partnership"]["cells"]["total.now"]
    other = db.session.scalar(select(type(observed["quoted"])).where(type(observed["quoted"]).consent_to_quote.is_(
        False), type(observed["quoted"]).id.in_(counted["ids"])).limit(1))  # fmt: skip
    submission_ops.erase_observation(other, observed["users"]["org_admin"])
    db.session.commit()
    versions = list(db.session.scalars(select(BriefingVersion).order_by(BriefingVersion.number)))
    assert [v.number for v in versions] == [1, 2]
    recounted = versions[1].content["facts"]["partnership"]["cells"]["total.now"]
    assert recounted["n"] == counted["n"] - 1
    assert other.id not in recounted["ids"]


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
    briefing = convening_ops.compose_briefing(session, convenor)
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


def test_a_reissued_pdf_is_stored_although_the_database_was_busy(observed, make_session, monkeypatch):
    """Before: after an erasure the new version's PDF render hit "database is locked" when storing, was not tried
    again, and the version stayed "Being prepared" for good."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    v1 = publishing.publish_briefing(briefing, convenor)
    publishing.render_version_pdf(v1)
    db.session.commit()
    real_commit, busy = db.session.commit, []

    def commit_busy_once():
        storing_a_pdf = any(isinstance(o, BriefingEdition) and o.version.number == 2 and o.pdf is not None
                            for o in db.session().identity_map.values())  # fmt: skip
        if storing_a_pdf and not busy:
            busy.append(True)
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
        return real_commit()

    monkeypatch.setattr(db.session, "commit", commit_busy_once)
    submission_ops.erase_observation(observed["quoted"], observed["users"]["org_admin"])
    db.session.commit()  # the reissued version's PDF is rendered after this commit (eagerly here)
    assert busy == [True], "storing the PDF met a busy database once"
    new = db.session.scalar(select(BriefingVersion).where(BriefingVersion.number == 2))
    assert new.pdf_ready


def test_a_version_left_without_its_pdf_is_rendered_by_the_sweep(observed, make_session, app, monkeypatch):
    from datetime import timedelta

    from convening import tasks

    convenor = observed["users"]["convenor"]
    briefing = convening_ops.compose_briefing(make_session(), convenor)
    approve_all(briefing, convenor)
    version = publishing.publish_briefing(briefing, convenor)  # its render message was lost: no job, no PDF
    db.session.commit()
    assert tasks.render_missing_pdfs() == [], "its own task still has time to render it"
    monkeypatch.setattr(tasks, "MISSING_AFTER", timedelta(seconds=-1))  # ... and now it has had it
    sweep = app.extensions["celery"].conf.beat_schedule["convening-render-missing-pdfs"]
    assert app.extensions["celery"].tasks[sweep["task"]].apply().get() == [version.id]
    assert db.session.get(BriefingVersion, version.id).pdf_ready
    assert tasks.render_missing_pdfs() == []
