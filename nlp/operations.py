"""Themes service layer: embed, refit, assign, curate and erase. Operations flush and never commit.

The algorithm lives in :mod:`nlp.themes` and :mod:`nlp.embeddings`; this module moves its inputs and results in and
out of the database and the instance folder. Nothing here logs observation text: ids and counts only.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import delete, func, select

from nlp import embeddings as emb
from nlp import themes as th
from nlp.models import ObservationEmbedding, Theme, ThemeAssignment, ThemeModel, active_model
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Partnership, User, utcnow
from webapp.operations import OperationError, record

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]
EMBED_BATCH = 64


def _quiet(_pct: int, _msg: str) -> None:
    return None


# Embeddings -----------------------------------------------------------------------------------------------------


def encoder() -> emb.Encoder:
    """The configured encoder (``COMMINTEL_ENCODER``; its one-off ONNX export goes to ``COMMINTEL_MODEL_CACHE_DIR``,
    by default the instance folder's ``models/``). Loaded once per process."""
    cache = current_app.config.get("COMMINTEL_MODEL_CACHE_DIR") or instance_dir() / "models"
    return emb.load_encoder(current_app.config.get("COMMINTEL_ENCODER", emb.DEFAULT_ENCODER), cache)


def embed_missing(observations: Iterable[Observation], progress: Progress = _quiet) -> int:
    """Store the MiniLM vector of every observation's redacted text that has none for the current encoder version
    (so switching the encoder embeds each observation once more, and only once).

    Unredacted observations are skipped (never embed raw text). Returns how many vectors were computed.
    """
    model = encoder()
    version = model.version
    observations = [o for o in observations if o.redacted_text is not None]
    if not observations:
        return 0
    have = set()
    ids = [o.id for o in observations]
    for i in range(0, len(ids), 500):
        have.update(
            db.session.scalars(
                select(ObservationEmbedding.observation_id).where(
                    ObservationEmbedding.observation_id.in_(ids[i : i + 500]),
                    ObservationEmbedding.model_version == version,
                )
            )
        )
    todo = [o for o in observations if o.id not in have]
    for start in range(0, len(todo), EMBED_BATCH * 4):
        chunk = todo[start : start + EMBED_BATCH * 4]
        vectors = emb.encode([o.redacted_text for o in chunk], batch_size=EMBED_BATCH, model=model)
        for obs, vector in zip(chunk, vectors, strict=True):
            db.session.add(
                ObservationEmbedding(
                    observation_id=obs.id,
                    model_name=emb.MODEL_NAME,
                    model_version=version,
                    vector=emb.to_bytes(vector),
                )
            )
        db.session.flush()
        progress(int(100 * (start + len(chunk)) / len(todo)), f"embedded {start + len(chunk)} of {len(todo)}")
    return len(todo)


def vectors_for(observation_ids: list[int]) -> dict[int, np.ndarray]:
    version = encoder().version
    out: dict[int, np.ndarray] = {}
    for i in range(0, len(observation_ids), 500):
        rows = db.session.execute(
            select(ObservationEmbedding.observation_id, ObservationEmbedding.vector).where(
                ObservationEmbedding.observation_id.in_(observation_ids[i : i + 500]),
                ObservationEmbedding.model_version == version,
            )
        )
        out.update({oid: emb.from_bytes(vec) for oid, vec in rows})
    return out


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

    def summary(self) -> str:
        return (
            f"version {self.version}: {len(self.theme_ids)} themes from {self.corpus_size} observations "
            f"({len(self.kept_theme_ids)} kept, {len(self.new_theme_ids)} new, {len(self.vanished_theme_ids)} "
            f"vanished; {self.outlier_share:.0%} unthemed; coherence {self.coherence:.3f})"
        )

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def corpus(partnership: Partnership) -> list[Observation]:
    """The observations a partnership's themes are fitted on: shared, live, redacted, with some text."""
    return [o for o in db.session.scalars(partnership_observations(partnership)) if (o.redacted_text or "").strip()]


def instance_dir() -> Path:
    return Path(current_app.config["COMMINTEL_INSTANCE_DIR"])


def theme_params() -> th.ThemeParams:
    """The fit's parameters: COMMINTEL_THEME_PARAMS overrides, and a term must occur in at least k observations (the
    suppression threshold, COMMINTEL_SUPPRESSION_K) to be a theme word."""
    overrides = dict(current_app.config.get("COMMINTEL_THEME_PARAMS") or {})
    overrides.setdefault("term_min_observations", int(current_app.config.get("COMMINTEL_SUPPRESSION_K", 5)))
    return th.ThemeParams(**overrides)


PUBLIC_SOURCE = "public"


def term_source(observation: Observation) -> int | str:
    """Where a theme word's evidence comes from: the organisation, or the public form (one source for all
    residents), so that no single organisation can put a word into a theme on its own."""
    return observation.organisation_id if observation.organisation_id is not None else PUBLIC_SOURCE


def refit(partnership: Partnership, actor: User | None = None, progress: Progress = _quiet) -> RefitReport:
    """Fit a new theme model version for ``partnership`` and make it active.

    Embeds what is missing, fits, matches the new topics to the partnership's existing themes (so ids, curated
    names, hidden and sign-off states survive), stores assignments for every observation of the corpus and reports
    new and vanished themes. On any failure (:class:`OperationError` for a too-small corpus) nothing of the new
    version remains and the previous version stays active.
    """
    observations = corpus(partnership)
    if len(observations) < th.MIN_DOCUMENTS:
        raise OperationError(
            f"{partnership.name} has {len(observations)} shared, redacted observations; at least "
            f"{th.MIN_DOCUMENTS} are needed to find themes. The current themes stay as they are.",
            "partnership",
        )
    progress(2, "embedding observations")
    embedded = embed_missing(observations, lambda pct, msg: progress(2 + pct * 38 // 100, msg))
    vectors = vectors_for([o.id for o in observations])
    matrix = np.vstack([vectors[o.id] for o in observations])
    progress(40, "finding themes")
    try:
        result = th.fit_themes(
            [o.redacted_text for o in observations],
            matrix,
            theme_params(),
            embedding_model=encoder(),
            progress=lambda msg: progress(60, msg),
            sources=[term_source(o) for o in observations],
        )
    except th.ThemeFitError as exc:
        raise OperationError(exc.message + " The current themes stay as they are.", "partnership") from exc

    previous = active_model(partnership.id)
    version = (
        db.session.scalar(select(func.max(ThemeModel.version)).where(ThemeModel.partnership_id == partnership.id)) or 0
    ) + 1
    relative = Path("themes") / f"partnership-{partnership.id}" / f"v{version}-{uuid.uuid4().hex[:8]}"
    target = instance_dir() / relative
    progress(85, "saving the model")
    th.save(result, target, encoder().version)
    try:
        report = _store(partnership, previous, version, str(relative), result, observations, embedded)
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
    from nlp.erasure import prune_theme_folders
    from webapp.jobs import send_after_commit

    # Once this version is committed, the folders of versions before the previous one are deleted.
    send_after_commit(prune_theme_folders, partnership.id)
    record("themes.refit", "theme_model", report.model_id, actor, partnership_id=partnership.id,
           version=version, themes=len(report.theme_ids), new=report.new_theme_ids,
           vanished=report.vanished_theme_ids)  # fmt: skip
    progress(100, report.summary())
    log.info("refit partnership %s: %s", partnership.id, report.summary())
    return report


def _store(partnership, previous, version, path, result: th.FitResult, observations, embedded) -> RefitReport:
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
    matches = th.match_themes(
        [th.PreviousTheme(t.id, emb.from_bytes(t.centroid), list(t.top_terms or [])) for t in candidates],
        result.themes,
    )
    by_id = {t.id: t for t in candidates}
    topic_theme: list[int] = []
    new_ids, kept_ids = [], []
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
    db.session.add_all(
        ThemeAssignment(
            observation_id=obs.id,
            model_id=model.id,
            theme_id=None if topic < 0 else topic_theme[topic],
            is_outlier=topic < 0,
            probability=float(sim),
            assigned_at=now,
        )
        for obs, topic, sim in zip(observations, result.topics, result.similarity, strict=True)
    )
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
    )


# Assigning new observations between refits -----------------------------------------------------------------------

_saved_cache: dict[str, th.SavedThemes] = {}


def forget_saved(model: ThemeModel) -> None:
    """Drop the cached copy of a saved version (it was scrubbed or deleted)."""
    _saved_cache.pop(str(instance_dir() / model.path), None)


def _saved(model: ThemeModel) -> th.SavedThemes:
    path = str(instance_dir() / model.path)
    if path not in _saved_cache:
        _saved_cache[path] = th.load(path)
    return _saved_cache[path]


def assign_observations(ids: Iterable[int]) -> tuple[int, list[int]]:
    """Assign these observations to their partnership's active themes (same outlier rule as a refit).

    Returns (how many were assigned, ids still waiting for redaction). Observations not shared with a partnership,
    or whose partnership has no theme model yet, are left alone.
    """
    ids = sorted({int(i) for i in ids})
    observations = list(db.session.scalars(select(Observation).where(Observation.id.in_(ids))))
    waiting = [o.id for o in observations if o.redacted_text is None and o.partnership_id is not None]
    by_partnership: dict[int, list[Observation]] = {}
    for obs in observations:
        if obs.redacted_text is not None and obs.partnership_id is not None and (obs.redacted_text or "").strip():
            by_partnership.setdefault(obs.partnership_id, []).append(obs)
    assigned = 0
    for partnership_id, group in by_partnership.items():
        model = active_model(partnership_id)
        if model is None:
            continue
        # Only observations the partnership may use (shared, live): the same rule as the fitted corpus.
        partnership = db.session.get(Partnership, partnership_id)
        allowed = set(
            db.session.scalars(
                partnership_observations(partnership)
                .where(Observation.id.in_([o.id for o in group]))
                .with_only_columns(Observation.id)
            )
        )
        group = [o for o in group if o.id in allowed]
        if not group:
            continue
        embed_missing(group)
        vectors = vectors_for([o.id for o in group])
        topics, sims = _saved(model).assign(np.vstack([vectors[o.id] for o in group]))
        topic_theme = model.changes.get("topic_theme_ids", [])
        for obs, topic, sim in zip(group, topics, sims, strict=True):
            row = db.session.scalar(
                select(ThemeAssignment).where(
                    ThemeAssignment.observation_id == obs.id, ThemeAssignment.model_id == model.id
                )
            )
            if row is None:
                row = ThemeAssignment(observation_id=obs.id, model_id=model.id)
                db.session.add(row)
            row.theme_id = None if topic < 0 else _canonical_id(topic_theme[int(topic)])
            row.is_outlier = bool(topic < 0)
            row.probability = float(sim)
            row.assigned_at = utcnow()
            assigned += 1
    db.session.flush()
    return assigned, waiting


def _canonical_id(theme_id: int) -> int:
    theme = db.session.get(Theme, theme_id)
    return theme.canonical().id if theme else theme_id


def forget_text(ids: Iterable[int]) -> None:
    """The text of these observations changed: their vectors and assignments no longer hold."""
    ids = [int(i) for i in ids]
    if not ids:
        return
    db.session.execute(delete(ObservationEmbedding).where(ObservationEmbedding.observation_id.in_(ids)))
    db.session.execute(delete(ThemeAssignment).where(ThemeAssignment.observation_id.in_(ids)))


def purge_observation(observation_id: int) -> None:
    """Erasure: take the words only this observation supported out of the themes (their saved versions are scrubbed
    after the commit, see :mod:`nlp.erasure`), and remove its vectors and theme assignments, in the erasure's
    transaction (which submissions audits)."""
    from nlp.erasure import relabel_without

    relabel_without([observation_id])
    forget_text([observation_id])


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
    db.session.execute(
        ThemeAssignment.__table__.update().where(ThemeAssignment.theme_id == source.id).values(theme_id=target.id)
    )
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
