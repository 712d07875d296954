"""What erasing observations does to themes: no theme word, label or saved file may keep a word that only the erased
observations carried.

- In the erasure's transaction (:func:`relabel_without`): every theme of the partnerships the observations fed
  loses the terms the remaining observations no longer support (a term needs k observations from two sources,
  :func:`nlp.themes.vocabulary.shared_vocabulary`), and a machine-made label that used one is made again from what is
  left. Pages, exports and the next briefing read these columns, so they change with the erasure, all or nothing.
- After the commit (:func:`scrub_versions`, the Celery task ``nlp.scrub_theme_versions``): the saved folders of the
  active and the previous version (what a refit or a rollback needs) are scrubbed the same way
  (:func:`nlp.themes.saved.scrub_saved`), and the folders of older versions are deleted (:func:`prune_folders`, also
  run after every refit). A refit is not forced: relabelling is immediate and cheap, and the nightly refit fits
  on the remaining observations anyway.

Nothing here logs text; ids and counts only.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from celery import shared_task
from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession

from nlp.themes.assignment import forget_saved, forget_text
from nlp.themes.corpus import corpus, instance_dir, term_source
from nlp.themes.models import Theme, ThemeAssignment, ThemeModel, active_model
from nlp.themes.naming import make_label
from nlp.themes.params import ThemeParams
from nlp.themes.saved import description_allowed, label_allowed, scrub_saved
from nlp.themes.vocabulary import shared_vocabulary
from submissions.models import Observation
from webapp.extensions import db
from webapp.jobs import RETRY_LOCKED, send_after_commit
from webapp.models import Partnership
from webapp.transactions import end_read

log = logging.getLogger(__name__)

# A saved theme folder without a row is a failed fit's leftover only once it is this old (seconds).
LEFTOVER_AGE_S = 3600


def allowed_terms(partnership: Partnership, model: ThemeModel, without: Iterable[int] = ()) -> frozenset[str]:
    """The terms the partnership's observations (less ``without``) support under ``model``'s rule."""
    skip = set(without)
    observations = [o for o in corpus(partnership) if o.id not in skip]
    params = ThemeParams.from_json(model.params or {})
    return frozenset(
        shared_vocabulary([o.redacted_text or "" for o in observations], [term_source(o) for o in observations], params)
    )


def partnerships_fed_by(observation_ids: Iterable[int]) -> list[Partnership]:
    """Partnerships whose themes may hold words of these observations: theirs, and any whose models assigned them."""
    ids = list(observation_ids)
    found = set(
        db.session.scalars(
            select(Observation.partnership_id).where(Observation.id.in_(ids), Observation.partnership_id.is_not(None))
        )
    )
    found |= set(
        db.session.scalars(
            select(ThemeModel.partnership_id)
            .join(ThemeAssignment, ThemeAssignment.model_id == ThemeModel.id)
            .where(ThemeAssignment.observation_id.in_(ids), ThemeModel.partnership_id.is_not(None))
        )
    )
    return [
        p for p in (db.session.get(Partnership, i) for i in sorted(i for i in found if i is not None)) if p is not None
    ]


_RELABELLED = "nlp.erasure.relabelled"  # a session.info key (its name kept from before the move)


@event.listens_for(OrmSession, "after_commit")
@event.listens_for(OrmSession, "after_rollback")
def _forget_relabelled(session: OrmSession) -> None:
    session.info.pop(_RELABELLED, None)


def _plan(ids: list[int]) -> tuple[list[int], list[tuple[Theme, list[str], str, bool]]]:
    """(partnership ids, [(theme, its terms without the erased-only ones, its new machine label)]) for the themes
    that would change if these observations were gone."""
    partnerships, changes = [], []
    for partnership in partnerships_fed_by(ids):
        model = active_model(partnership.id)
        if model is None:
            continue
        partnerships.append(partnership.id)
        allowed = allowed_terms(partnership, model, without=ids)
        for theme in db.session.scalars(select(Theme).where(Theme.partnership_id == partnership.id)):
            terms = [t for t in (theme.top_terms or []) if t in allowed]
            label_ok = label_allowed(theme.auto_label.lower(), allowed)
            description_ok = description_allowed(theme.auto_description or "", allowed)
            if terms != list(theme.top_terms or []) or not label_ok or not description_ok:
                # A phrase name whose words all remain allowed stays; otherwise the name is made from the terms.
                label = theme.auto_label if label_ok else make_label(terms)[:200]
                changes.append((theme, terms, label, description_ok))
    return partnerships, changes


def relabel_without(observation_ids: Iterable[int]) -> list[int]:
    """Take the words only these (about to be erased) observations supported out of every theme of the partnerships
    they fed; schedule the scrubbing of the saved versions for after the commit. Returns those partnerships' ids."""
    ids = [int(i) for i in observation_ids]
    touched, changes = _plan(ids)
    replaced: dict[str, str] = {}
    for theme, terms, label, description_ok in changes:
        if theme.curated_label is None and theme.auto_label != label:
            replaced[theme.auto_label] = label
        theme.top_terms = terms
        theme.auto_label = label
        theme.auto_label_machine_made = True
        if not description_ok:
            theme.auto_description = ""  # the machine-made sentence used a word only erased observations had
    store = db.session.info.setdefault(_RELABELLED, {})
    for i in ids:
        store[i] = replaced
    log.info("erasure of %s observations: %s themes relabelled in partnerships %s", len(ids), len(changes), touched)
    db.session.flush()
    if touched:
        send_after_commit(scrub_theme_versions, touched)
    return touched


def labels_withdrawn_by(observation_ids: Iterable[int]) -> dict[str, str]:
    """``{label shown until now: label from now on}`` for the themes whose machine-made label used words only these
    observations supported: what briefings must replace. The same answer before or after :func:`relabel_without`
    ran in this transaction (receivers of the erasure signal run in any order)."""
    ids = [int(i) for i in observation_ids]
    store = db.session.info.get(_RELABELLED, {})
    if ids and all(i in store for i in ids):
        out: dict[str, str] = {}
        for i in ids:
            out.update(store[i])
        return out
    _touched, changes = _plan(ids)
    return {
        t.auto_label: label
        for t, _terms, label, _description_ok in changes
        if t.curated_label is None and t.auto_label != label
    }


def kept_versions(partnership_id: int) -> list[ThemeModel]:
    """The versions whose folders are kept: the active one and the one before it."""
    models = list(
        db.session.scalars(
            select(ThemeModel).where(ThemeModel.partnership_id == partnership_id).order_by(ThemeModel.version.desc())
        )
    )
    active = next((m for m in models if m.active), None)
    if active is None:
        return models[:1]
    earlier = [m for m in models if m.version < active.version]
    return [active, *earlier[:1]]


def prune_folders(partnership_id: int) -> int:
    """Delete the saved folders of every version but the active and the previous one. Returns how many went."""
    keep = {m.id for m in kept_versions(partnership_id)}
    removed = 0
    for model in db.session.scalars(select(ThemeModel).where(ThemeModel.partnership_id == partnership_id)):
        folder = instance_dir() / model.path
        if model.id not in keep and folder.exists():
            shutil.rmtree(folder)
            removed += 1
    # The partnership's folder may hold leftovers of fits that failed before their row was stored. A recent one may
    # be a fit another worker saved and is storing right now (its row commits after the folder is written).
    base = instance_dir() / "themes" / f"partnership-{partnership_id}"
    if base.exists():
        known = {Path(m.path).name for m in kept_versions(partnership_id)}
        settled = time.time() - LEFTOVER_AGE_S
        for child in base.iterdir():
            if child.is_dir() and child.name not in known and child.stat().st_mtime < settled:
                shutil.rmtree(child)
                removed += 1
    return removed


def scrub_versions(partnership_id: int) -> int:
    """Scrub the kept versions' folders of terms the partnership's observations no longer support, and delete the
    rest. Returns how many terms were taken out."""
    partnership = db.session.get(Partnership, partnership_id)
    if partnership is None:
        return 0
    removed = 0
    for model in kept_versions(partnership_id):
        folder = instance_dir() / model.path
        if folder.exists():
            removed += scrub_saved(folder, allowed_terms(partnership, model))
            forget_saved(model)
    prune_folders(partnership_id)
    return removed


@shared_task(name="nlp.scrub_theme_versions", **RETRY_LOCKED)
def scrub_theme_versions(partnership_ids: list[int]) -> dict:
    """After an erasure: scrub the saved theme versions of these partnerships (safe to run twice)."""
    out = {}
    for pid in partnership_ids:
        out[str(pid)] = scrub_versions(int(pid))
    end_read()  # read only: files changed, no row
    log.info("theme versions scrubbed after an erasure: %s", out)
    return out


@shared_task(name="nlp.prune_theme_folders", **RETRY_LOCKED)
def prune_theme_folders(partnership_id: int) -> int:
    """After a refit: delete the folders of versions older than the previous one."""
    removed = prune_folders(int(partnership_id))
    end_read()  # read only: files changed, no row
    return removed


def purge_observation(observation_id: int) -> None:
    """Erasure: take the words only this observation supported out of the themes (their saved versions are scrubbed
    after the commit, see :func:`scrub_versions`), and remove its vectors and theme assignments, in the erasure's
    transaction (which submissions audits)."""
    relabel_without([observation_id])
    forget_text([observation_id])
