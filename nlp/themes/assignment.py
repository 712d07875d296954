"""Assigning new observations between refits to the partnership's active themes, by the same outlier rule as a
refit (read, then compute outside any transaction, then store), and forgetting vectors and assignments when a
text changes. Operations flush and never commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, select

from nlp import embeddings as emb
from nlp.models import ObservationEmbedding
from nlp.themes import saved
from nlp.themes.corpus import canonical_id, corrections_made, instance_dir
from nlp.themes.models import ThemeAssignment, ThemeModel, active_model
from nlp.themes.vectors import EMBED_BATCH, encoder, store_vectors, vectors_for
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Partnership, utcnow
from webapp.transactions import dialect_insert

# Assigning new observations between refits -----------------------------------------------------------------------

_saved_cache: dict[str, saved.SavedThemes] = {}


def forget_saved(model: ThemeModel) -> None:
    """Drop the cached copy of a saved version (it was scrubbed or deleted)."""
    _saved_cache.pop(str(instance_dir() / model.path), None)


def saved_version(model_path: str) -> saved.SavedThemes:
    path = str(instance_dir() / model_path)
    if path not in _saved_cache:
        _saved_cache[path] = saved.load(path)
    return _saved_cache[path]


@dataclass
class AssignmentWork:
    """Observations of one partnership to place in its active themes: what was read, then what was computed."""

    model_id: int
    model_path: str
    topic_theme_ids: list[int]  # the theme (followed through merges) of each topic of the model
    texts: dict[int, str]  # id → redacted text, as read
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    new_vectors: dict[int, np.ndarray] = field(default_factory=dict)
    topics: dict[int, tuple[int, float]] = field(default_factory=dict)


def plan_assignments(ids: Iterable[int]) -> tuple[list[AssignmentWork], list[int]]:
    """Read what assigning these observations needs (read only): per partnership with an active model, the live,
    shared, redacted observations among ``ids`` and the vectors they already have. Also returns the ids still
    waiting for redaction."""
    ids = sorted({int(i) for i in ids})
    observations = list(db.session.scalars(select(Observation).where(Observation.id.in_(ids))))
    waiting = [o.id for o in observations if o.redacted_text is None and o.partnership_id is not None]
    by_partnership: dict[int, list[Observation]] = {}
    for obs in observations:
        if obs.partnership_id is not None and (obs.redacted_text or "").strip():
            by_partnership.setdefault(obs.partnership_id, []).append(obs)
    work = []
    for partnership_id, group in by_partnership.items():
        model = active_model(partnership_id)
        if model is None:
            continue
        # Only observations the partnership may use (shared, live): the same rule as the fitted corpus.
        partnership = db.session.get(Partnership, partnership_id)
        if partnership is None:  # deleted meanwhile: its models and observations go with it
            continue
        allowed = set(
            db.session.scalars(
                partnership_observations(partnership)
                .where(Observation.id.in_([o.id for o in group]))
                .with_only_columns(Observation.id)
            )
        )
        texts = {o.id: o.redacted_text or "" for o in group if o.id in allowed}
        if texts:
            themes = [canonical_id(t) for t in model.changes.get("topic_theme_ids", [])]
            work.append(AssignmentWork(model.id, model.path, themes, texts, vectors_for(list(texts))))
    return work, waiting


def compute_assignments(work: list[AssignmentWork]) -> None:
    """Embed what has no vector and place every observation in its model's themes: no database, no transaction."""
    for w in work:
        missing = [i for i in w.texts if i not in w.vectors]
        if missing:
            encoded = emb.encode([w.texts[i] for i in missing], batch_size=EMBED_BATCH, model=encoder())
            w.new_vectors = dict(zip(missing, encoded, strict=True))
        ids = list(w.texts)
        matrix = np.vstack([w.vectors[i] if i in w.vectors else w.new_vectors[i] for i in ids])
        topics, sims = saved_version(w.model_path).assign(matrix)
        w.topics = {i: (int(t), float(s)) for i, t, s in zip(ids, topics, sims, strict=True)}


def store_assignments(work: list[AssignmentWork]) -> int:
    """Store computed vectors and assignments, a statement each; skip observations whose text changed since they
    were read, and models no longer active (the next pass assigns those again). Safe to run again. Returns how many
    were stored."""
    assigned = 0
    for w in work:
        if not db.session.scalar(select(ThemeModel.active).where(ThemeModel.id == w.model_id)):
            continue
        if w.new_vectors:
            store_vectors(w.texts, w.new_vectors)
        current: dict[int, str | None] = dict(
            db.session.execute(
                select(Observation.id, Observation.redacted_text).where(Observation.id.in_(list(w.topics)))
            )
            .tuples()
            .all()
        )
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {"observation_id": oid, "model_id": w.model_id, "theme_id": None if topic < 0 else w.topic_theme_ids[topic],
             "is_outlier": topic < 0, "probability": sim, "assigned_at": now, "assigned_by_id": None}
            for oid, (topic, sim) in w.topics.items()
            if current.get(oid) == w.texts[oid]
        ]  # fmt: skip
        partnership_id = db.session.scalar(select(ThemeModel.partnership_id).where(ThemeModel.id == w.model_id))
        made = corrections_made(partnership_id, list(w.topics)) if partnership_id is not None else {}
        for row in rows:  # a person's correction outlasts an edit of the text
            if row["observation_id"] in made:
                theme_id, by, at = made[row["observation_id"]]
                row.update(theme_id=theme_id, is_outlier=theme_id is None, assigned_by_id=by, assigned_at=at)
        if rows:
            insert = dialect_insert(ThemeAssignment)
            upsert = insert.on_conflict_do_update(
                index_elements=["observation_id", "model_id"],
                set_={name: insert.excluded[name]
                      for name in ("theme_id", "is_outlier", "probability", "assigned_at", "assigned_by_id")},
            )  # fmt: skip
            db.session.execute(upsert, rows)
            assigned += len(rows)
    return assigned


def assign_observations(ids: Iterable[int]) -> tuple[int, list[int]]:
    """Assign these observations to their partnership's active themes (same outlier rule as a refit), in the
    caller's transaction.

    Returns (how many were assigned, ids still waiting for redaction). Observations not shared with a partnership,
    or whose partnership has no theme model yet, are left alone.
    """
    work, waiting = plan_assignments(ids)
    compute_assignments(work)
    return store_assignments(work), waiting


def forget_text(ids: Iterable[int]) -> None:
    """The text of these observations changed: their vectors and assignments no longer hold."""
    ids = [int(i) for i in ids]
    if not ids:
        return
    db.session.execute(delete(ObservationEmbedding).where(ObservationEmbedding.observation_id.in_(ids)))
    db.session.execute(delete(ThemeAssignment).where(ThemeAssignment.observation_id.in_(ids)))
