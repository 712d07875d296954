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
from sqlalchemy import delete, func, insert, select

from nlp import embeddings as emb
from nlp import themes as th
from nlp.models import ObservationEmbedding, Theme, ThemeAssignment, ThemeCorrection, ThemeModel, active_model
from submissions.models import Observation
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Partnership, User, utcnow
from webapp.operations import OperationError, record
from webapp.transactions import dialect_insert

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]
EMBED_BATCH = 64


def _quiet(_pct: int, _msg: str) -> None:
    return None


# Embeddings -----------------------------------------------------------------------------------------------------


def encoder() -> emb.Encoder:
    """The configured encoder (``COMMINTEL_ENCODER``; its one-off ONNX export goes to ``COMMINTEL_MODEL_CACHE_DIR``,
    by default the instance folder's ``models/``). Loaded once per process: the first call may export the model for
    a minute, so background work calls it before any transaction (:func:`nlp.pipeline.process_pending`)."""
    cache = current_app.config.get("COMMINTEL_MODEL_CACHE_DIR") or instance_dir() / "models"
    return emb.load_encoder(current_app.config.get("COMMINTEL_ENCODER", emb.DEFAULT_ENCODER), cache)


def missing_vector_ids(observation_ids: list[int]) -> list[int]:
    """Those of ``observation_ids`` without a vector for the current encoder version (read only)."""
    version = encoder().version
    have: set[int] = set()
    for i in range(0, len(observation_ids), 500):
        have.update(
            db.session.scalars(
                select(ObservationEmbedding.observation_id).where(
                    ObservationEmbedding.observation_id.in_(observation_ids[i : i + 500]),
                    ObservationEmbedding.model_version == version,
                )
            )
        )
    return [i for i in observation_ids if i not in have]


def store_vectors(texts: dict[int, str], vectors: dict[int, np.ndarray]) -> list[int]:
    """Store computed vectors of redacted texts in one statement; skip observations erased, re-edited or embedded
    since the texts were read (``texts``: id → the redacted text the vector was computed from). Returns the ids
    stored."""
    version = encoder().version
    ids = sorted(vectors)
    current = dict(
        db.session.execute(select(Observation.id, Observation.redacted_text).where(Observation.id.in_(ids))).all()
    )
    missing = set(missing_vector_ids(ids))
    stored = [oid for oid in ids if oid in missing and current.get(oid) == texts[oid]]
    if stored:
        rows = [{"observation_id": oid, "model_name": emb.MODEL_NAME, "model_version": version,
                 "vector": emb.to_bytes(vectors[oid])} for oid in stored]  # fmt: skip
        insert = dialect_insert(ObservationEmbedding).on_conflict_do_nothing(
            index_elements=["observation_id", "model_version"]
        )
        db.session.execute(insert, rows)
    return stored


def embed_texts(texts: dict[int, str], progress: Progress = _quiet) -> int:
    """Compute and store the vectors of these redacted texts (id → text) that have none yet, in batches; flushes.
    Returns how many vectors were computed."""
    todo = missing_vector_ids(list(texts))
    for start in range(0, len(todo), EMBED_BATCH * 4):
        chunk = todo[start : start + EMBED_BATCH * 4]
        encoded = emb.encode([texts[i] for i in chunk], batch_size=EMBED_BATCH, model=encoder())
        store_vectors({i: texts[i] for i in chunk}, dict(zip(chunk, encoded, strict=True)))
        progress(int(100 * (start + len(chunk)) / len(todo)), f"embedded {start + len(chunk)} of {len(todo)}")
    return len(todo)


def embed_missing(observations: Iterable[Observation], progress: Progress = _quiet) -> int:
    """Store the MiniLM vector of every observation's redacted text that has none for the current encoder version
    (so switching the encoder embeds each observation once more, and only once).

    Unredacted observations are skipped (never embed raw text). Returns how many vectors were computed.
    """
    return embed_texts({o.id: o.redacted_text for o in observations if o.redacted_text is not None}, progress)


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


@dataclass
class Snapshot:
    """What a refit fits on, read once: the corpus's ids and redacted texts, in order."""

    partnership_id: int
    ids: list[int]
    texts: list[str]
    sources: list[int | str]  # where each text's theme words come from (:func:`term_source`)
    # People's corrections as the fit uses them: per text -1 (machine), th.FIXED_NO_THEME, or the index of its theme
    # in ``fixed_themes`` (theme ids, followed through merges).
    fixed: list[int] = field(default_factory=list)
    fixed_themes: list[int] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)  # the category taxonomy, one text per category
    fixed_centroids: list = field(default_factory=list)  # per fixed theme: its centroid from the last fit, or None

    def text_of(self) -> dict[int, str]:
        return dict(zip(self.ids, self.texts, strict=True))


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


def snapshot(partnership: Partnership) -> Snapshot:
    """The corpus as it is now (read only); OperationError when it is too small to find themes."""
    observations = corpus(partnership)
    if len(observations) < th.MIN_DOCUMENTS:
        raise OperationError(
            f"{partnership.name} has {len(observations)} shared, redacted observations; at least "
            f"{th.MIN_DOCUMENTS} are needed to find themes. The current themes stay as they are.",
            "partnership",
        )
    ids = [o.id for o in observations]
    corrected = corrections(partnership.id)
    fixed_themes = sorted({t for t in corrected.values() if t is not None})
    group = {theme_id: g for g, theme_id in enumerate(fixed_themes)}
    fixed = [
        -1 if oid not in corrected else th.FIXED_NO_THEME if corrected[oid] is None else group[corrected[oid]]
        for oid in ids
    ]
    return Snapshot(
        partnership.id,
        ids,
        [o.redacted_text or "" for o in observations],
        [term_source(o) for o in observations],
        fixed=fixed,
        fixed_themes=fixed_themes,
        seeds=category_seeds(),
        fixed_centroids=[
            emb.from_bytes(c) if (c := db.session.scalar(select(Theme.centroid).where(Theme.id == t))) else None
            for t in fixed_themes
        ],
    )


def category_seeds() -> list[str]:
    """The taxonomy that guides a fit: each active category's name and description (the 14 defaults and any an
    admin added)."""
    from submissions.models import Category

    return [
        f"{c.name}: {c.description}".strip(": ")
        for c in db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.position))
    ]


def corrections(partnership_id: int, observation_ids: Iterable[int] | None = None) -> dict[int, int | None]:
    """``{observation id: theme id (followed through merges) or None for "no theme"}``: people's corrections."""
    stmt = select(ThemeCorrection.observation_id, ThemeCorrection.theme_id).where(
        ThemeCorrection.partnership_id == partnership_id
    )
    if observation_ids is not None:
        stmt = stmt.where(ThemeCorrection.observation_id.in_(list(observation_ids)))
    return {oid: None if tid is None else _canonical_id(tid) for oid, tid in db.session.execute(stmt)}


def fit_snapshot(snap: Snapshot, vectors: dict[int, np.ndarray], progress: Progress = _quiet) -> th.FitResult:
    """Fit themes on the snapshot's texts and vectors: no database, no transaction (it takes minutes)."""
    matrix = np.vstack([vectors[i] for i in snap.ids])
    try:
        return th.fit_themes(
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
    except th.ThemeFitError as exc:
        raise OperationError(exc.message + " The current themes stay as they are.", "partnership") from exc


def _spacy_for_names():
    """The app's spaCy model (COMMINTEL_SPACY_MODEL) for theme names, without the parts names do not need."""
    from nlp.models_loader import load_spacy

    return load_spacy(exclude=("ner", "lemmatizer"))


def save_fit(partnership_id: int, result: th.FitResult) -> str:
    """Save the fitted model under the instance folder (safetensors); returns its path relative to the folder."""
    relative = Path("themes") / f"partnership-{partnership_id}" / f"fit-{uuid.uuid4().hex[:12]}"
    th.save(result, instance_dir() / relative, encoder().version)
    return str(relative)


def store_fit(
    partnership: Partnership, snap: Snapshot, result: th.FitResult, path: str, embedded: int, actor: User | None
) -> RefitReport:
    """Store a fit as the partnership's next version and make it active (the previous one stays active until this
    flushes and commits). Observations erased or re-edited since the snapshot get no assignment; those saved since
    are assigned to the new version by the pipeline. Flushes; safe to run again after a rollback."""
    previous = active_model(partnership.id)
    version = (
        db.session.scalar(select(func.max(ThemeModel.version)).where(ThemeModel.partnership_id == partnership.id)) or 0
    ) + 1
    current = {}
    for i in range(0, len(snap.ids), 500):
        chunk = snap.ids[i : i + 500]
        current.update(db.session.execute(select(Observation.id, Observation.redacted_text)
                                          .where(Observation.id.in_(chunk))).all())  # fmt: skip
    keep = [current.get(oid) == text for oid, text in zip(snap.ids, snap.texts, strict=True)]
    report = _store(partnership, previous, version, path, result, snap, keep, embedded)
    record("themes.refit", "theme_model", report.model_id, actor, partnership_id=partnership.id,
           version=version, themes=len(report.theme_ids), new=report.new_theme_ids,
           vanished=report.vanished_theme_ids, corrections_kept=report.kept_corrections,
           machine_changed=report.machine_changed)  # fmt: skip
    log.info("refit partnership %s: %s", partnership.id, report.summary())
    if not all(keep):
        log.info("refit partnership %s: %s observations changed during the fit", partnership.id, keep.count(False))
    from nlp.erasure import prune_theme_folders
    from nlp.pipeline import ring_after_commit
    from webapp.jobs import send_after_commit

    ring_after_commit()  # observations saved during the fit: assign them to the new version
    # Once this version is committed, the folders of versions before the previous one are deleted.
    send_after_commit(prune_theme_folders, partnership.id)
    return report


def refit(partnership: Partnership, actor: User | None = None, progress: Progress = _quiet) -> RefitReport:
    """Fit a new theme model version for ``partnership`` and make it active, in the caller's one transaction (the
    CLI and the demo; the background job does the same in short steps, :func:`nlp.theme_tasks.refit_in_steps`).

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


def _store(partnership, previous, version, path, result: th.FitResult, snap: Snapshot, keep, embedded) -> RefitReport:
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
    matches = th.match_themes(
        [th.PreviousTheme(t.id, emb.from_bytes(t.centroid), list(t.top_terms or []))
         for t in candidates if t.id not in pinned.values()],
        [t for t in result.themes if t.topic not in pinned],
    ) | pinned  # fmt: skip
    by_id = {t.id: t for t in candidates}
    for theme_id in pinned.values():
        if theme_id not in by_id and (pinned_theme := db.session.get(Theme, theme_id)) is not None:
            by_id[theme_id] = pinned_theme
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
    rows = [
        {"observation_id": oid, "model_id": model.id, "theme_id": None if topic < 0 else topic_theme[topic],
         "is_outlier": topic < 0, "probability": float(sim), "assigned_at": now, "assigned_by_id": None}
        for oid, still, topic, sim in zip(ids, keep, result.topics, result.similarity, strict=True)
        if still
    ]  # fmt: skip
    # People's corrections as they stand now (one made during the fit included): each is stored as it was made.
    made = _corrections_made(partnership.id)
    for row in rows:
        if row["observation_id"] in made:
            theme_id, by, at = made[row["observation_id"]]
            row.update(theme_id=theme_id, is_outlier=theme_id is None, assigned_by_id=by, assigned_at=at)
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


def _corrections_made(
    partnership_id: int, observation_ids: list[int] | None = None
) -> dict[int, tuple[int | None, int | None, object]]:
    """``{observation id: (theme id followed through merges or None, made by, made at)}``."""
    stmt = select(ThemeCorrection.observation_id, ThemeCorrection.theme_id, ThemeCorrection.made_by_id,
                  ThemeCorrection.made_at).where(ThemeCorrection.partnership_id == partnership_id)  # fmt: skip
    if observation_ids is not None:
        stmt = stmt.where(ThemeCorrection.observation_id.in_(observation_ids))
    return {oid: (None if tid is None else _canonical_id(tid), by, at) for oid, tid, by, at in db.session.execute(stmt)}


def _machine_changed(previous: ThemeModel, rows: list[dict]) -> int:
    """How many machine assignments of the new version name another theme (or none) than under ``previous``."""
    # One read of the previous version (not one query per chunk of ids: a large partnership refits this too).
    before: dict[int, int | None] = dict(
        db.session.execute(
            select(ThemeAssignment.observation_id, ThemeAssignment.theme_id).where(
                ThemeAssignment.model_id == previous.id
            )
        ).all()
    )
    canonical: dict[int, int] = {}

    def canon(theme_id: int | None) -> int | None:
        if theme_id is None:
            return None
        if theme_id not in canonical:
            canonical[theme_id] = _canonical_id(theme_id)
        return canonical[theme_id]

    return sum(
        1
        for row in rows
        if row["assigned_by_id"] is None
        and row["observation_id"] in before
        and canon(before[row["observation_id"]]) != row["theme_id"]
    )


# Assigning new observations between refits -----------------------------------------------------------------------

_saved_cache: dict[str, th.SavedThemes] = {}


def forget_saved(model: ThemeModel) -> None:
    """Drop the cached copy of a saved version (it was scrubbed or deleted)."""
    _saved_cache.pop(str(instance_dir() / model.path), None)


def _saved(model_path: str) -> th.SavedThemes:
    path = str(instance_dir() / model_path)
    if path not in _saved_cache:
        _saved_cache[path] = th.load(path)
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
        allowed = set(
            db.session.scalars(
                partnership_observations(partnership)
                .where(Observation.id.in_([o.id for o in group]))
                .with_only_columns(Observation.id)
            )
        )
        texts = {o.id: o.redacted_text or "" for o in group if o.id in allowed}
        if texts:
            themes = [_canonical_id(t) for t in model.changes.get("topic_theme_ids", [])]
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
        matrix = np.vstack([w.vectors.get(i, w.new_vectors.get(i)) for i in ids])
        topics, sims = _saved(w.model_path).assign(matrix)
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
        current = dict(db.session.execute(select(Observation.id, Observation.redacted_text)
                                          .where(Observation.id.in_(list(w.topics)))).all())  # fmt: skip
        now = utcnow()
        rows = [
            {"observation_id": oid, "model_id": w.model_id, "theme_id": None if topic < 0 else w.topic_theme_ids[topic],
             "is_outlier": topic < 0, "probability": sim, "assigned_at": now, "assigned_by_id": None}
            for oid, (topic, sim) in w.topics.items()
            if current.get(oid) == w.texts[oid]
        ]  # fmt: skip
        partnership_id = db.session.scalar(select(ThemeModel.partnership_id).where(ThemeModel.id == w.model_id))
        made = _corrections_made(partnership_id, list(w.topics)) if partnership_id is not None else {}
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
    if len(members) != len(ids):
        raise OperationError("Choose only observations that are in this theme now.", "members")
    remaining = db.session.scalar(
        select(func.count()).where(ThemeAssignment.model_id == model.id, ThemeAssignment.theme_id == theme.id)
    )
    if remaining == len(ids):
        raise OperationError("Leave at least one observation in the theme (or rename it instead).", "members")
    vectors = vectors_for(ids)
    centroid = th.centroids_of(np.vstack(list(vectors.values())), [0] * len(vectors), 1)[0] if vectors else None
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
    # Listed with the active version's themes until the next refit makes it one of them (nlp.queries.visible_themes).
    model.changes = {**(model.changes or {}), "split": [*(model.changes or {}).get("split", []), new.id]}
    for assignment in members:
        _correct(partnership, assignment, new, actor)
    db.session.flush()
    record("themes.split", "theme", theme.id, actor, into=new.id, observations=len(ids))
    return new
