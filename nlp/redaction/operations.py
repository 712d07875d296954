"""Storing redactions and place suggestions: the thin layer between the redaction rules
(:mod:`nlp.redaction.redactor`) and the database.

- :func:`build_redactor` makes the app's Redactor (spaCy model from settings, the areas in the database as the
  gazetteer, the packaged allow-list plus ``COMMINTEL_REDACTION_KEEP``).
- :func:`redact_observations_now` is the operation: it redacts observations whose ``redacted_text`` is empty, in
  batches, stores the text with the redaction version, and suggests an area where the submitter gave none. It
  flushes, sends :data:`nlp.signals.observations_redacted`, and never commits.
- :func:`store_redactions` stores redactions computed outside the transaction (the background pipeline,
  :mod:`nlp.pipeline`, which :data:`submissions.signals.observations_saved` sets going after commit; the task and the
  signal receiver are in :mod:`nlp.redaction.tasks`).

Nothing here logs observation text: ids and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from flask import Flask, current_app
from sqlalchemy import Table, bindparam, case, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.local import LocalProxy

from nlp.models_loader import load_spacy
from nlp.redaction.places import Gazetteer, bristol_aliases, suggest_area
from nlp.redaction.redactor import Redactor
from nlp.redaction.spans import Redaction
from nlp.redaction.words import default_keep_list
from nlp.signals import observations_redacted
from submissions.models import Observation
from webapp.extensions import db
from webapp.models import Area, AreaLevel, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 256


def _app() -> Flask:
    """The app behind Flask's proxy: a signal's sender must be the app itself."""
    return cast(LocalProxy, current_app)._get_current_object()


def build_gazetteer() -> tuple[Gazetteer, dict[str, int]]:
    """The areas in the database (all but LSOAs, whose names are codes like "Bristol 032A") as a gazetteer, with
    the Bristol neighbourhood names as aliases of their wards; and the area id of every code."""
    try:
        # Asked first, so that a fresh install (`commintel nlp redact` before `commintel db upgrade`) leaves nothing
        # to roll back: no areas table (or no database), no area names to keep.
        has_areas = inspect(db.session.connection()).has_table(Area.__tablename__)
    except SQLAlchemyError:
        has_areas = False
    if has_areas:
        # Current areas first: a name both vintages carry (ward 2019 and ward 2024 "Ashley") suggests the current
        # area; the names only an earlier vintage had are still places, kept from redaction.
        areas = list(
            db.session.execute(
                select(Area.code, Area.name, Area.id)
                .where(Area.level != AreaLevel.LSOA)
                .order_by(Area.current.desc(), Area.id)
            )
        )
    else:
        log.warning("no areas table: redacting without the gazetteer")
        areas = []
    # The local authority's own name ("Bristol, City of") says nothing about where in the city: leave it out.
    named = [(code, name) for code, name, _ in areas if "," not in name]
    return Gazetteer.from_areas(named, bristol_aliases()), {code: area_id for code, _, area_id in areas}


def keep_names() -> list[str]:
    extra = current_app.config.get("COMMINTEL_REDACTION_KEEP") or ""
    return [*default_keep_list(), *(n.strip() for n in extra.split(";") if n.strip())]


def build_redactor() -> tuple[Redactor, dict[str, int]]:
    """The app's Redactor and the area id of every area code its gazetteer can suggest."""
    gazetteer, area_ids = build_gazetteer()
    nlp = load_spacy(current_app.config["COMMINTEL_SPACY_MODEL"])
    return Redactor(nlp, gazetteer, keep_names()), area_ids


def _chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def redact_observations_now(
    ids: Iterable[int] | None = None, *, batch_size: int = BATCH_SIZE, n_process: int = 1, redo: bool = False
) -> int:
    """Redact the observations ``ids`` (all when None) whose redaction is missing, or older than the current rules
    and model when ``redo``; suggest an area for those without one. Flushes; returns how many were redacted."""
    redactor, area_ids = build_redactor()
    stmt = select(Observation.id).order_by(Observation.id)
    if redo:
        stmt = stmt.where(
            Observation.redacted_text.is_(None)
            | Observation.redaction_version.is_(None)
            | (Observation.redaction_version != redactor.version)
        )
    else:
        stmt = stmt.where(Observation.redacted_text.is_(None))
    if ids is not None:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return 0
        todo = [i for chunk in _chunks(wanted, 500) for i in db.session.scalars(stmt.where(Observation.id.in_(chunk)))]
    else:
        todo = list(db.session.scalars(stmt))
    done: list[int] = []
    for chunk in _chunks(todo, batch_size):
        observations = list(db.session.scalars(select(Observation).where(Observation.id.in_(chunk))))
        results = redactor.redact_many([o.text for o in observations], batch_size=batch_size, n_process=n_process)
        now = utcnow()
        for obs, result in zip(observations, results, strict=True):
            _apply(obs, result, redactor.version, area_ids, now)
        db.session.flush()
        done.extend(o.id for o in observations)
        log.info("redacted %s observations (ids %s..%s)", len(observations), chunk[0], chunk[-1])
    if done:
        # Listeners (theme assignment) defer their work until this transaction commits.
        observations_redacted.send(_app(), ids=done)
    return len(done)


def _apply(obs: Observation, result: Redaction, version: str, area_ids: dict[str, int], now: datetime) -> None:
    obs.redacted_text = result.text
    obs.redacted_at = now
    obs.redaction_version = version
    if obs.area_id is None:
        code = suggest_area(result.places)
        obs.suggested_area_id = area_ids.get(code) if code else None


def prepare_redactions(
    texts: dict[int, str], results: Iterable[Redaction], version: str, area_ids: dict[str, int]
) -> list[dict]:
    """The rows :func:`store_redactions` writes, computed before its transaction (so the lock is held only to
    write them). ``texts``: id → the raw text that was redacted, in the order of ``results``."""
    rows = []
    for (oid, text), result in zip(texts.items(), results, strict=True):
        code = suggest_area(result.places)
        rows.append({"b_id": oid, "b_text": text, "b_redacted": result.text, "b_version": version,
                     "b_suggested": area_ids.get(code) if code else None})  # fmt: skip
    return rows


def store_redactions(rows: list[dict]) -> list[int]:
    """Store redactions computed outside the transaction (rows from :func:`prepare_redactions`), in one statement.
    Observations erased, edited or redacted since they were read are left alone (an edit queues its own
    redaction); an area is suggested only where the submitter gave none. Sends
    :data:`nlp.signals.observations_redacted`; returns the ids stored."""
    if not rows:
        return []
    table, now = cast(Table, Observation.__table__), utcnow()
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.redacted_text.is_(None), table.c.text == bindparam("b_text"))
        .values(
            redacted_text=bindparam("b_redacted"),
            redacted_at=now,
            redaction_version=bindparam("b_version"),
            suggested_area_id=case((table.c.area_id.is_(None), bindparam("b_suggested")),
                                   else_=table.c.suggested_area_id),
        )
    )  # fmt: skip
    db.session.execute(statement, rows, execution_options={"synchronize_session": False})
    ids = [r["b_id"] for r in rows]
    stored = select(Observation.id).where(Observation.id.in_(ids), Observation.redacted_at == now)
    done = sorted(db.session.scalars(stored))
    if done:
        observations_redacted.send(_app(), ids=done)
        log.info("redacted %s observations (ids %s..%s)", len(done), done[0], done[-1])
    return done
