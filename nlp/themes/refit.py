"""A refit: fit a new theme model version on a snapshot of the corpus (outside any transaction), save it under the
instance folder, store it as the partnership's next version (themes matched to the previous version's, people's
corrections kept) and make it active. :func:`refit` does it all in the caller's transaction (CLI, demo);
:func:`nlp.themes.tasks.refit_in_steps` does the same in short steps. Operations flush and never commit."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, insert, select

from nlp import embeddings as emb
from nlp.models_loader import load_spacy
from nlp.pipeline import ring_after_commit
from nlp.themes import fitting, matching, params, saved
from nlp.themes.corpus import (
    Progress,
    Snapshot,
    canonical_id,
    corrections_made,
    instance_dir,
    quiet,
    snapshot,
    theme_params,
)
from nlp.themes.erasure import prune_theme_folders
from nlp.themes.models import Theme, ThemeAssignment, ThemeModel, active_model
from nlp.themes.vectors import embed_texts, encoder, vectors_for
from submissions.models import Observation
from webapp.extensions import db
from webapp.jobs import send_after_commit
from webapp.models import Partnership, User, utcnow
from webapp.operations import OperationError, record

if TYPE_CHECKING:
    from spacy.language import Language

log = logging.getLogger(__name__)


# Refit ----------------------------------------------------------------------------------------------------------


@dataclass
class RefitReport:
    partnership_id: int | None
    model_id: int
    version: int
    corpus_size: int
    embedded: int
    theme_ids: list[int]
    new_theme_ids: list[int] = field(default_factory=list)
    vanished_theme_ids: list[int] = field(default_factory=list)
    kept_theme_ids: list[int] = field(default_factory=list)
    coherence: float = float("nan")
    outlier_share: float = 0.0
    # People's corrections stored as they were made, and machine assignments that now name a different theme (or
    # none) than under the previous version (observations in both versions, not corrected by a person).
    kept_corrections: int = 0
    machine_changed: int = 0

    def summary(self) -> str:
        return (
            f"version {self.version}: {len(self.theme_ids)} themes from {self.corpus_size} observations "
            f"({len(self.kept_theme_ids)} kept, {len(self.new_theme_ids)} new, {len(self.vanished_theme_ids)} "
            f"vanished; {self.outlier_share:.0%} unthemed; coherence {self.coherence:.3f}; "
            f"{self.kept_corrections} corrections kept, {self.machine_changed} machine assignments changed)"
        )

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def fit_snapshot(snap: Snapshot, vectors: dict[int, np.ndarray], progress: Progress = quiet) -> params.FitResult:
    """Fit themes on the snapshot's texts and vectors: no database, no transaction (it takes minutes)."""
    matrix = np.vstack([vectors[i] for i in snap.ids])
    try:
        return fitting.fit_themes(
            snap.texts,
            matrix,
            theme_params(),
            embedding_model=encoder(),
            progress=lambda msg: progress(60, msg),
            sources=snap.sources,
            fixed=snap.fixed or None,
            seeds=snap.seeds or None,
            spacy_nlp=_spacy_for_names(),
            fixed_centroids=snap.fixed_centroids or None,
        )
    except params.ThemeFitError as exc:
        raise OperationError(exc.message + " The current themes stay as they are.", "partnership") from exc


def _spacy_for_names() -> Language:
    """The app's spaCy model (COMMINTEL_SPACY_MODEL) for theme names, without the parts names do not need."""
    return load_spacy(exclude=("ner", "lemmatizer"))


def save_fit(partnership_id: int, result: params.FitResult) -> str:
    """Save the fitted model under the instance folder (safetensors); returns its path relative to the folder."""
    relative = Path("themes") / f"partnership-{partnership_id}" / f"fit-{uuid.uuid4().hex[:12]}"
    saved.save(result, instance_dir() / relative, encoder().version)
    return str(relative)


def store_fit(
    partnership: Partnership, snap: Snapshot, result: params.FitResult, path: str, embedded: int, actor: User | None
) -> RefitReport:
    """Store a fit as the partnership's next version and make it active (the previous one stays active until this
    flushes and commits). Observations erased or re-edited since the snapshot get no assignment; those saved since
    are assigned to the new version by the pipeline. Flushes; safe to run again after a rollback."""
    previous = active_model(partnership.id)
    version = (
        db.session.scalar(select(func.max(ThemeModel.version)).where(ThemeModel.partnership_id == partnership.id)) or 0
    ) + 1
    current: dict[int, str | None] = {}
    for i in range(0, len(snap.ids), 500):
        chunk = snap.ids[i : i + 500]
        current.update(
            db.session.execute(select(Observation.id, Observation.redacted_text).where(Observation.id.in_(chunk)))
            .tuples()
            .all()
        )
    keep = [current.get(oid) == text for oid, text in zip(snap.ids, snap.texts, strict=True)]
    report = _store(partnership, previous, version, path, result, snap, keep, embedded)
    record("themes.refit", "theme_model", report.model_id, actor, partnership_id=partnership.id,
           version=version, themes=len(report.theme_ids), new=report.new_theme_ids,
           vanished=report.vanished_theme_ids, corrections_kept=report.kept_corrections,
           machine_changed=report.machine_changed)  # fmt: skip
    log.info("refit partnership %s: %s", partnership.id, report.summary())
    if not all(keep):
        log.info("refit partnership %s: %s observations changed during the fit", partnership.id, keep.count(False))
    ring_after_commit()  # observations saved during the fit: assign them to the new version
    # Once this version is committed, the folders of versions before the previous one are deleted.
    send_after_commit(prune_theme_folders, partnership.id)
    return report


def refit(partnership: Partnership, actor: User | None = None, progress: Progress = quiet) -> RefitReport:
    """Fit a new theme model version for ``partnership`` and make it active, in the caller's one transaction (the
    CLI and the demo; the background job does the same in short steps, :func:`nlp.themes.tasks.refit_in_steps`).

    Embeds what is missing, fits, matches the new topics to the partnership's existing themes (so ids, curated
    names, hidden and sign-off states survive), stores assignments for every observation of the corpus and reports
    new and vanished themes. On any failure (:class:`OperationError` for a too-small corpus) nothing of the new
    version remains and the previous version stays active.
    """
    snap = snapshot(partnership)
    progress(2, "embedding observations")
    embedded = embed_texts(snap.text_of(), lambda pct, msg: progress(2 + pct * 38 // 100, msg))
    progress(40, "finding themes")
    result = fit_snapshot(snap, vectors_for(snap.ids), progress)
    progress(85, "saving the model")
    path = save_fit(partnership.id, result)
    try:
        report = store_fit(partnership, snap, result, path, embedded, actor)
    except Exception:
        shutil.rmtree(instance_dir() / path, ignore_errors=True)
        raise
    progress(100, report.summary())
    return report


def _store(
    partnership: Partnership,
    previous: ThemeModel | None,
    version: int,
    path: str,
    result: params.FitResult,
    snap: Snapshot,
    keep: list[bool],
    embedded: int,
) -> RefitReport:
    ids = snap.ids
    model = ThemeModel(
        partnership_id=partnership.id,
        version=version,
        params=result.params.to_json() | {"versions": result.versions},
        embedding_model=encoder().version,
        corpus_size=result.n_documents,
        theme_count=len(result.themes),
        coherence=None if np.isnan(result.coherence) else float(result.coherence),
        outlier_share=result.outlier_share,
        path=path,
        active=False,
    )
    db.session.add(model)
    db.session.flush()

    # Candidates: every theme of the partnership that has a centroid - merged and vanished ones too, so that a theme
    # that comes back keeps its id, and a topic matching a merged theme lands in the theme it was merged into.
    candidates = list(
        db.session.scalars(
            select(Theme).where(Theme.partnership_id == partnership.id, Theme.centroid.is_not(None)).order_by(Theme.id)
        )
    )
    # A topic that people's corrections made (a group of fit_themes' ``fixed``) is their theme; the rest are matched.
    pinned = {topic: snap.fixed_themes[g] for g, topic in result.group_topics.items() if g < len(snap.fixed_themes)}
    matches = matching.match_themes(
        [matching.PreviousTheme(t.id, emb.from_bytes(t.centroid), list(t.top_terms or []))
         for t in candidates if t.id not in pinned.values() and t.centroid is not None],
        [t for t in result.themes if t.topic not in pinned],
    ) | pinned  # fmt: skip
    by_id = {t.id: t for t in candidates}
    for theme_id in pinned.values():
        if theme_id not in by_id and (pinned_theme := db.session.get(Theme, theme_id)) is not None:
            by_id[theme_id] = pinned_theme
    topic_theme: list[int] = []
    new_ids: list[int] = []
    kept_ids: list[int] = []
    for fitted in result.themes:
        theme = by_id.get(matches.get(fitted.topic, -1))
        if theme is None:
            theme = Theme(partnership_id=partnership.id, first_model_id=model.id)
            db.session.add(theme)
            is_new = True
        else:
            is_new = False
        theme.auto_label = fitted.label[:200]
        theme.auto_label_machine_made = True
        theme.auto_description = fitted.description[:2000]
        theme.top_terms = fitted.terms
        theme.centroid = emb.to_bytes(fitted.centroid)
        theme.last_model_id = model.id
        db.session.flush()
        (new_ids if is_new else kept_ids).append(theme.id)
        topic_theme.append(theme.canonical().id)
    model.changes = {"topic_theme_ids": topic_theme, "new": new_ids, "kept": kept_ids}

    vanished = []
    if previous is not None:
        seen = set(new_ids) | set(kept_ids)
        vanished = sorted(
            db.session.scalars(
                select(Theme.id).where(
                    Theme.partnership_id == partnership.id,
                    Theme.last_model_id == previous.id,
                    Theme.merged_into_id.is_(None),
                )
            )
        )
        vanished = [i for i in vanished if i not in seen]
        model.changes = model.changes | {"vanished": vanished}

    now = utcnow()
    # One statement for every assignment (tens of thousands on a large corpus): the write lock is held briefly.
    rows: list[dict[str, Any]] = [
        {"observation_id": oid, "model_id": model.id, "theme_id": None if topic < 0 else topic_theme[topic],
         "is_outlier": topic < 0, "probability": float(sim), "assigned_at": now, "assigned_by_id": None}
        for oid, still, topic, sim in zip(ids, keep, result.topics, result.similarity, strict=True)
        if still
    ]  # fmt: skip
    # People's corrections as they stand now (one made during the fit included): each is stored as it was made.
    made = corrections_made(partnership.id)
    for row in rows:
        if row["observation_id"] in made:
            corrected_to, by, at = made[row["observation_id"]]
            row.update(theme_id=corrected_to, is_outlier=corrected_to is None, assigned_by_id=by, assigned_at=at)
    machine_changed = _machine_changed(previous, rows) if previous is not None else 0
    if rows:
        db.session.execute(insert(ThemeAssignment), rows)
    if previous is not None:
        previous.active = False
    model.active = True
    db.session.flush()
    return RefitReport(
        partnership_id=partnership.id,
        model_id=model.id,
        version=version,
        corpus_size=result.n_documents,
        embedded=embedded,
        theme_ids=list(dict.fromkeys(topic_theme)),
        new_theme_ids=new_ids,
        vanished_theme_ids=vanished,
        kept_theme_ids=kept_ids,
        coherence=result.coherence,
        outlier_share=result.outlier_share,
        kept_corrections=sum(1 for row in rows if row["observation_id"] in made),
        machine_changed=machine_changed,
    )


def _machine_changed(previous: ThemeModel, rows: list[dict]) -> int:
    """How many machine assignments of the new version name another theme (or none) than under ``previous``."""
    # One read of the previous version (not one query per chunk of ids: a large partnership refits this too).
    before: dict[int, int | None] = dict(
        db.session.execute(
            select(ThemeAssignment.observation_id, ThemeAssignment.theme_id).where(
                ThemeAssignment.model_id == previous.id
            )
        )
        .tuples()
        .all()
    )
    canonical: dict[int, int] = {}

    def canon(theme_id: int | None) -> int | None:
        if theme_id is None:
            return None
        if theme_id not in canonical:
            canonical[theme_id] = canonical_id(theme_id)
        return canonical[theme_id]

    return sum(
        1
        for row in rows
        if row["assigned_by_id"] is None
        and row["observation_id"] in before
        and canon(before[row["observation_id"]]) != row["theme_id"]
    )
