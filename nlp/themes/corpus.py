"""What a fit reads and where versions live: a partnership's corpus (shared, live, redacted observations), the
source of each text's theme words, people's corrections, the category taxonomy, a :class:`Snapshot` of all of
that read once, the fit's parameters from the config and the instance folder. Read only: nothing here writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from nlp import embeddings as emb
from nlp.themes import fitting, params
from nlp.themes.models import Theme, ThemeCorrection
from submissions.models import Category, Observation
from submissions.queries import partnership_observations
from webapp.extensions import db
from webapp.models import Partnership
from webapp.operations import OperationError

Progress = Callable[[int, str], None]


def quiet(_pct: int, _msg: str) -> None:
    return None


@dataclass
class Snapshot:
    """What a refit fits on, read once: the corpus's ids and redacted texts, in order."""

    partnership_id: int
    ids: list[int]
    texts: list[str]
    sources: list[int | str]  # where each text's theme words come from (:func:`term_source`)
    # People's corrections as the fit uses them: per text -1 (machine), fitting.FIXED_NO_THEME, or the index of its
    # theme in ``fixed_themes`` (theme ids, followed through merges).
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


def theme_params() -> params.ThemeParams:
    """The fit's parameters: COMMINTEL_THEME_PARAMS overrides, and a term must occur in at least k observations (the
    suppression threshold, COMMINTEL_SUPPRESSION_K) to be a theme word."""
    overrides = dict(current_app.config.get("COMMINTEL_THEME_PARAMS") or {})
    overrides.setdefault("term_min_observations", int(current_app.config.get("COMMINTEL_SUPPRESSION_K", 5)))
    return params.ThemeParams(**overrides)


PUBLIC_SOURCE = "public"


def term_source(observation: Observation) -> int | str:
    """Where a theme word's evidence comes from: the organisation, or the public form (one source for all
    residents), so that no single organisation can put a word into a theme on its own."""
    return observation.organisation_id if observation.organisation_id is not None else PUBLIC_SOURCE


def snapshot(partnership: Partnership) -> Snapshot:
    """The corpus as it is now (read only); OperationError when it is too small to find themes."""
    observations = corpus(partnership)
    if len(observations) < params.MIN_DOCUMENTS:
        raise OperationError(
            f"{partnership.name} has {len(observations)} shared, redacted observations; at least "
            f"{params.MIN_DOCUMENTS} are needed to find themes. The current themes stay as they are.",
            "partnership",
        )
    ids = [o.id for o in observations]
    corrected = corrections(partnership.id)
    fixed_themes = sorted({t for t in corrected.values() if t is not None})
    group = {theme_id: g for g, theme_id in enumerate(fixed_themes)}

    def fixed_of(oid: int) -> int:
        if oid not in corrected:
            return -1
        theme_id = corrected[oid]
        return fitting.FIXED_NO_THEME if theme_id is None else group[theme_id]

    fixed = [fixed_of(oid) for oid in ids]
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
    return {oid: None if tid is None else canonical_id(tid) for oid, tid in db.session.execute(stmt)}


def canonical_id(theme_id: int) -> int:
    theme = db.session.get(Theme, theme_id)
    return theme.canonical().id if theme else theme_id


def corrections_made(
    partnership_id: int, observation_ids: list[int] | None = None
) -> dict[int, tuple[int | None, int | None, object]]:
    """``{observation id: (theme id followed through merges or None, made by, made at)}``."""
    stmt = select(ThemeCorrection.observation_id, ThemeCorrection.theme_id, ThemeCorrection.made_by_id,
                  ThemeCorrection.made_at).where(ThemeCorrection.partnership_id == partnership_id)  # fmt: skip
    if observation_ids is not None:
        stmt = stmt.where(ThemeCorrection.observation_id.in_(observation_ids))
    return {oid: (None if tid is None else canonical_id(tid), by, at) for oid, tid, by, at in db.session.execute(stmt)}
