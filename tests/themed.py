"""Themes stored directly in a test's world, without a model fit: an active theme model, its themes, and observations
assigned to them (for tests about what pages show and release)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from nlp.themes.models import Theme, ThemeAssignment, ThemeModel
from webapp import operations as webapp_ops
from webapp.extensions import db


def theme_model(world: dict, labels: list[str], corpus_size: int = 0) -> tuple[list[Theme], ThemeModel]:
    """An active model of the world's partnership with a theme for each of ``labels`` (person-made labels), after
    the member organisation accepts a data-sharing agreement (so its observations are shared)."""
    from submissions.operations import ensure_default_categories

    ensure_default_categories()
    partnership = world["partnership"]
    agreement = webapp_ops.publish_agreement(partnership, "We share observations at partnership level.", None)
    webapp_ops.accept_agreement(agreement, world["org"], world["users"]["org_admin"])
    themes = [Theme(partnership_id=partnership.id, auto_label=label, auto_label_machine_made=False) for label in labels]
    db.session.add_all(themes)
    db.session.flush()
    model = ThemeModel(partnership_id=partnership.id, embedding_model="test", path="test", active=True,
                       corpus_size=corpus_size, changes={"topic_theme_ids": [t.id for t in themes]})  # fmt: skip
    db.session.add(model)
    return themes, model


def add_themed(world: dict, model: ThemeModel, theme: Theme, n: int, month: date, kind=None, area_id: int | None = None,
               text: str = "Damp") -> None:  # fmt: skip
    """``n`` submitted observations of the member organisation in ``theme``: a need unless ``kind`` says otherwise,
    in the category "housing and homelessness", for ``month``, placed in ``area_id`` (None: the whole area)."""
    from submissions.models import Category, Observation, ObservationKind, ObservationStatus, SharingLevel

    housing = db.session.scalar(select(Category).where(Category.slug == "housing-and-homelessness"))
    for _ in range(n):
        obs = Observation(
            organisation_id=world["org"].id, partnership_id=world["partnership"].id,
            kind=kind or ObservationKind.NEED, area_id=area_id, category_id=housing.id, text=text, redacted_text=text,
            period_start=month, status=ObservationStatus.SUBMITTED, sharing_level=SharingLevel.PARTNERSHIP,
        )  # fmt: skip
        db.session.add(obs)
        db.session.flush()
        db.session.add(ThemeAssignment(observation_id=obs.id, model_id=model.id, theme_id=theme.id))
