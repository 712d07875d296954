"""Theme curation, the themes' service layer for people: rename, merge, hide, sign off, move an observation to
another theme (or none), split a theme. Each takes the actor, records what it did, flushes and never commits.

The machine's side lives beside it: :mod:`nlp.themes.refit` (new versions), :mod:`nlp.themes.assignment` (new
observations between refits), :mod:`nlp.themes.vectors` (embeddings) and :mod:`nlp.themes.erasure`. Nothing here
logs observation text: ids and counts only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import numpy as np
from sqlalchemy import Table, func, select

from nlp import embeddings as emb
from nlp.themes import similarity
from nlp.themes.models import Theme, ThemeAssignment, ThemeCorrection, active_model
from nlp.themes.vectors import vectors_for
from webapp.extensions import db
from webapp.models import Partnership, User, utcnow
from webapp.operations import OperationError, record

# Curation -------------------------------------------------------------------------------------------------------


def rename_theme(theme: Theme, label: str, actor: User, description: str | None = None) -> None:
    """Give a theme a curated name (and optionally a description); an empty name returns to the automatic label."""
    label = (label or "").strip()
    if len(label) > 200:
        raise OperationError("The name must be at most 200 characters.", "label")
    before = theme.label
    theme.curated_label = label or None
    if description is not None:
        theme.description = description.strip()[:2000]
    db.session.flush()
    record(
        "themes.rename",
        "theme",
        theme.id,
        actor,
        machine_label=theme.auto_label,
        was_curated=before != theme.auto_label,
    )


def merge_themes(source: Theme, target: Theme, actor: User) -> None:
    """Merge ``source`` into ``target``: its observations count towards ``target`` from now on, refits included."""
    if source.id == target.id:
        raise OperationError("Choose a different theme to merge into.", "target")
    if source.partnership_id != target.partnership_id:
        raise OperationError("Themes of different partnerships cannot be merged.", "target")
    if target.canonical().id == source.id:
        raise OperationError("That theme was itself merged into this one.", "target")
    target = target.canonical()
    source.merged_into_id = target.id
    db.session.flush()
    assignments = cast(Table, ThemeAssignment.__table__)
    db.session.execute(assignments.update().where(ThemeAssignment.theme_id == source.id).values(theme_id=target.id))
    # Themes already merged into the source follow it.
    for child in db.session.scalars(select(Theme).where(Theme.merged_into_id == source.id)):
        child.merged_into_id = target.id
    db.session.flush()
    record("themes.merge", "theme", source.id, actor, into=target.id)


def set_hidden(theme: Theme, hidden: bool, actor: User) -> None:
    """Hide a theme from lists and counts (or show it again)."""
    theme.hidden = bool(hidden)
    db.session.flush()
    record("themes.hide" if hidden else "themes.show", "theme", theme.id, actor)


def sign_off(theme: Theme, actor: User) -> None:
    """Record that a convenor checked the theme (name, description and quotes)."""
    if theme.merged_into_id is not None:
        raise OperationError("A merged theme cannot be signed off; sign off the theme it was merged into.", "theme")
    theme.signed_off_by_id, theme.signed_off_at = actor.id, utcnow()
    db.session.flush()
    record("themes.sign_off", "theme", theme.id, actor)


# Corrections: people move observations between themes ----------------------------------------------------------


def _active_assignment(partnership: Partnership, observation_id: int) -> ThemeAssignment:
    model = active_model(partnership.id)
    assignment = None
    if model is not None:
        assignment = db.session.scalar(
            select(ThemeAssignment).where(
                ThemeAssignment.model_id == model.id, ThemeAssignment.observation_id == observation_id
            )
        )
    if assignment is None:
        raise OperationError("That observation is not among this partnership's themed observations.", "observation")
    return assignment


def _correct(partnership: Partnership, assignment: ThemeAssignment, theme: Theme | None, actor: User) -> None:
    """Record a person's correction and apply it to the active version at once (counts follow immediately)."""
    now = utcnow()
    correction = db.session.scalar(
        select(ThemeCorrection).where(
            ThemeCorrection.partnership_id == partnership.id,
            ThemeCorrection.observation_id == assignment.observation_id,
        )
    )
    if correction is None:
        correction = ThemeCorrection(partnership_id=partnership.id, observation_id=assignment.observation_id)
        db.session.add(correction)
    correction.theme_id = theme.id if theme is not None else None
    correction.made_by_id, correction.made_at = actor.id, now
    assignment.theme_id = theme.id if theme is not None else None
    assignment.is_outlier = theme is None
    assignment.assigned_by_id, assignment.assigned_at = actor.id, now


def move_observation(partnership: Partnership, observation_id: int, target: Theme | None, actor: User) -> None:
    """Move an observation to ``target`` (None: to "no theme"). The move outlasts refits: the next fit takes it as a
    partial label and stores it as made (:func:`refit`)."""
    assignment = _active_assignment(partnership, observation_id)
    if target is not None:
        if target.partnership_id != partnership.id:
            raise OperationError("Choose a theme of this partnership.", "target")
        target = target.canonical()
        if target.hidden:
            raise OperationError("That theme is hidden; show it again before moving observations into it.", "target")
    before = assignment.theme_id
    _correct(partnership, assignment, target, actor)
    db.session.flush()
    record("themes.move", "observation", observation_id, actor, partnership_id=partnership.id, from_theme=before,
           to_theme=target.id if target is not None else None)  # fmt: skip


def split_theme(theme: Theme, observation_ids: Iterable[int], label: str, actor: User) -> Theme:
    """Split the chosen observations of ``theme`` off into a new theme named ``label``; every one of them is a
    person's correction (kept across refits). Returns the new theme."""
    label = (label or "").strip()
    if not label:
        raise OperationError("Name the new theme.", "label")
    if len(label) > 200:
        raise OperationError("The name must be at most 200 characters.", "label")
    if theme.merged_into_id is not None:
        raise OperationError("A merged theme cannot be split; split the theme it was merged into.", "theme")
    ids = sorted({int(i) for i in observation_ids})
    if not ids:
        raise OperationError("Choose the observations that belong in the new theme.", "members")
    partnership = theme.partnership
    if partnership is None:  # never: curated themes are a partnership's
        raise OperationError("Only a partnership's themes can be split.", "theme")
    model = active_model(partnership.id)
    assignments = (
        list(
            db.session.scalars(
                select(ThemeAssignment).where(
                    ThemeAssignment.model_id == model.id, ThemeAssignment.observation_id.in_(ids)
                )
            )
        )
        if model is not None
        else []
    )
    members = [a for a in assignments if a.theme_id == theme.id]
    if len(members) != len(ids) or model is None:  # no active version: no member could be chosen
        raise OperationError("Choose only observations that are in this theme now.", "members")
    remaining = db.session.scalar(
        select(func.count()).where(ThemeAssignment.model_id == model.id, ThemeAssignment.theme_id == theme.id)
    )
    if remaining == len(ids):
        raise OperationError("Leave at least one observation in the theme (or rename it instead).", "members")
    vectors = vectors_for(ids)
    centroid = similarity.centroids_of(np.vstack(list(vectors.values())), [0] * len(vectors), 1)[0] if vectors else None
    new = Theme(
        partnership_id=partnership.id,
        auto_label=label,
        auto_label_machine_made=False,
        curated_label=label,
        top_terms=[],
        centroid=emb.to_bytes(centroid) if centroid is not None else None,
        first_model_id=model.id,
        last_model_id=model.id,
    )
    db.session.add(new)
    db.session.flush()
    # Listed with the active version's themes until the next refit makes it one of them
    # (nlp.themes.queries.visible_themes).
    model.changes = {**(model.changes or {}), "split": [*(model.changes or {}).get("split", []), new.id]}
    for assignment in members:
        _correct(partnership, assignment, new, actor)
    db.session.flush()
    record("themes.split", "theme", theme.id, actor, into=new.id, observations=len(ids))
    return new
