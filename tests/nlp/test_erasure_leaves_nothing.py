"""Erasure leaves nothing: a word planted in observations reaches the themes, their saved versions, a published
briefing and its PDF; once those observations are erased, no file under the instance folder (the database, its WAL
and shared memory, the embedded queue's files, every model folder) holds the word as bytes, and no theme label, term
or briefing version carries it.

A real app on its own SQLite file in WAL mode (not the rolled-back test transaction: the files are the subject)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import app_config
from tests.nlp.conftest import FAST_PARAMS, demo_texts

WORD = "quorvantaly"  # in no demo text, no word list, no template
PLANTED = 8  # more than k (5), from two organisations: the word becomes a theme word before the erasure


def files_holding(folder: Path, needle: bytes) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and needle in path.read_bytes().lower():
            hits.append(str(path.relative_to(folder)))
    return sorted(hits)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "briefing.pdf"
    source.write_bytes(pdf)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is needed to read the PDF"
    return subprocess.run([pdftotext, str(source), "-"], capture_output=True, text=True, check=True).stdout  # noqa: S603


@pytest.fixture
def erasure_app(tmp_path):
    from webapp import create_app
    from webapp.extensions import db

    instance = tmp_path / "instance"
    app = create_app(app_config(f"sqlite:///{instance}/commintel.db", instance, COMMINTEL_THEME_PARAMS=FAST_PARAMS))
    with app.app_context():
        db.create_all()
        yield app, instance
        db.session.remove()
        db.engine.dispose()


@pytest.mark.slow
def test_erased_observations_leave_no_byte_in_any_instance_file(erasure_app, tmp_path):
    from convening import operations as convening_ops
    from convening import publishing
    from convening.models import BriefingVersion, SectionKind
    from nlp.themes import refit as theme_refit
    from nlp.themes.models import Theme, ThemeModel
    from submissions import operations as submission_ops
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
    from webapp import operations as webapp_ops
    from webapp.extensions import db
    from webapp.models import Organisation, OrgKind, OrgRole, PlatformRole

    app, instance = erasure_app
    needle = WORD.encode()
    food_share = webapp_ops.create_organisation("Lawrence Hill Food Share", OrgKind.CHARITY)
    mutual_aid = webapp_ops.create_organisation("Hartcliffe Mutual Aid", OrgKind.MUTUAL_AID)
    admin = webapp_ops.create_user("admin@example.org", "a long password here", "Admin",
                                   platform_role=PlatformRole.ADMIN)  # fmt: skip
    convenor = webapp_ops.create_user("convenor@example.org", "a long password here", "Convenor",
                                      platform_role=PlatformRole.CONVENOR)  # fmt: skip
    org_admin = webapp_ops.create_user("orgadmin@example.org", "a long password here", "Org admin",
                                       organisation=food_share, org_role=OrgRole.ADMIN)  # fmt: skip
    partnership = webapp_ops.create_partnership("Test Partnership", "test-partnership",
                                                members=[food_share, mutual_aid], convenors=[convenor])  # fmt: skip
    agreement = webapp_ops.publish_agreement(partnership, "We share partnership-level observations safely.")
    webapp_ops.accept_agreement(agreement, food_share, org_admin)
    webapp_ops.accept_agreement(agreement, mutual_aid, admin)
    submission_ops.ensure_default_categories()
    category = db.session.scalar(select(Category).order_by(Category.id))
    today = date.today()
    planted_ids = []
    for i, text in enumerate(demo_texts()[:160]):
        org: Organisation = (food_share, mutual_aid)[i % 2]
        if i < PLANTED:
            text = f"{text} The {WORD} scheme ran out of vouchers again this week."
        obs = Observation(
            organisation_id=org.id, partnership_id=partnership.id, kind=ObservationKind.NEED,
            category_id=category.id, text=text, redacted_text=text, period_start=today - timedelta(days=10 + i % 40),
            sharing_level=SharingLevel.PARTNERSHIP, consent_to_quote=i < PLANTED, external_ref=f"t{i}",
            people_affected=200 - i, status=ObservationStatus.SUBMITTED,
        )  # fmt: skip
        db.session.add(obs)
        db.session.flush()
        if i < PLANTED:
            planted_ids.append(obs.id)
    db.session.commit()

    # Two fits, so that an older version and a previous one exist; a third fit prunes the oldest folder.
    for _ in range(3):
        theme_refit.refit(partnership)
        db.session.commit()
    versions = list(db.session.scalars(select(ThemeModel).order_by(ThemeModel.version)))
    assert [v.version for v in versions] == [1, 2, 3]
    assert not (instance / versions[0].path).exists()  # superseded twice: deleted
    assert (instance / versions[1].path).exists()
    assert (instance / versions[2].path).exists()
    # Before the erasure the word is everywhere: stored text, the saved vocabularies, a published briefing.
    assert any(p.startswith("themes/") for p in files_holding(instance, needle))
    assert any(p.startswith("commintel.db") for p in files_holding(instance, needle))

    session = convening_ops.create_session(partnership, "Partnership meeting", today, convenor)
    briefing = convening_ops.compose_briefing(session, convenor)
    for section in briefing.sections:
        if section.machine_written:
            convening_ops.approve_section(section, convenor)
    quotes = next(s for s in briefing.sections if s.kind is SectionKind.QUOTES)
    assert WORD in quotes.body.lower()
    version = publishing.publish_briefing(briefing, convenor)
    publishing.render_version_pdf(version)
    db.session.commit()
    from webapp.disclosure import Audience

    assert WORD in pdf_text(version.edition(Audience.PARTNERSHIP).pdf, tmp_path).lower()  # the partnership's edition

    for obs_id in planted_ids:
        submission_ops.erase_observation(db.session.get(Observation, obs_id), admin)
        db.session.commit()

    assert files_holding(instance, needle) == []
    for theme in db.session.scalars(select(Theme)):
        assert WORD not in theme.label.lower()
        assert not any(WORD in term for term in theme.top_terms)
    for v in db.session.scalars(select(BriefingVersion)):
        assert WORD not in str(v.content).lower()
        for edition in v.editions:
            if edition.pdf is not None:
                assert WORD not in pdf_text(edition.pdf, tmp_path).lower()
    # Only what the active and the previous version need is kept, both scrubbed (checked by the byte search).
    kept = {p.name for p in (instance / "themes" / f"partnership-{partnership.id}").iterdir()}
    assert kept == {Path(versions[1].path).name, Path(versions[2].path).name}
    assert not (instance / "commintel.db-wal").exists() or (instance / "commintel.db-wal").stat().st_size == 0
