"""What an erasure withdraws from theme labels, asked before the themes are relabelled: briefings ask
:func:`nlp.themes.erasure.labels_withdrawn_by` from the erasure signal, whose receivers run in any order."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from nlp.themes import erasure
from nlp.themes.models import Theme, ThemeModel
from nlp.themes.naming import make_label
from submissions import operations as submission_ops
from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel
from webapp.extensions import db


def test_labels_withdrawn_before_relabelling_name_the_new_label(world, monkeypatch):
    partnership = world["partnership"]
    submission_ops.ensure_default_categories()
    theme = Theme(partnership_id=partnership.id, auto_label="Quorv and buses", top_terms=["quorv", "buses"])
    kept = Theme(partnership_id=partnership.id, auto_label="Late buses", top_terms=["late", "buses"])
    db.session.add_all([theme, kept])
    db.session.flush()
    db.session.add(ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True))
    obs = Observation(
        organisation_id=world["org"].id, partnership_id=partnership.id, kind=ObservationKind.NEED,
        category_id=db.session.scalar(select(Category.id).limit(1)), text="quorv", redacted_text="quorv",
        status=ObservationStatus.SUBMITTED, period_start=date.today(), sharing_level=SharingLevel.PARTNERSHIP,
    )  # fmt: skip
    db.session.add(obs)
    db.session.flush()
    # Without this observation only "late" and "buses" are supported: "quorv" goes, and the label made with it.
    monkeypatch.setattr(erasure, "allowed_terms", lambda *_a, **_kw: frozenset({"late", "buses"}))

    withdrawn = erasure.labels_withdrawn_by([obs.id])

    assert withdrawn == {"Quorv and buses": make_label(["buses"])}
    assert erasure.relabel_without([obs.id]) == [partnership.id]
    assert erasure.labels_withdrawn_by([obs.id]) == withdrawn  # the same answer after relabelling
    assert theme.auto_label == make_label(["buses"])
    assert kept.auto_label == "Late buses"
