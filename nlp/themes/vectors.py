"""Observation vectors: the configured encoder, which observations still need a vector, storing and reading
vectors (:class:`nlp.models.ObservationEmbedding`). Operations flush and never commit."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from flask import current_app
from sqlalchemy import select

from nlp import embeddings as emb
from nlp.models import ObservationEmbedding
from nlp.themes.corpus import Progress, instance_dir, quiet
from submissions.models import Observation
from webapp.extensions import db
from webapp.transactions import dialect_insert

EMBED_BATCH = 64


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
    current: dict[int, str | None] = dict(
        db.session.execute(select(Observation.id, Observation.redacted_text).where(Observation.id.in_(ids)))
        .tuples()
        .all()
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


def embed_texts(texts: dict[int, str], progress: Progress = quiet) -> int:
    """Compute and store the vectors of these redacted texts (id → text) that have none yet, in batches; flushes.
    Returns how many vectors were computed."""
    todo = missing_vector_ids(list(texts))
    for start in range(0, len(todo), EMBED_BATCH * 4):
        chunk = todo[start : start + EMBED_BATCH * 4]
        encoded = emb.encode([texts[i] for i in chunk], batch_size=EMBED_BATCH, model=encoder())
        store_vectors({i: texts[i] for i in chunk}, dict(zip(chunk, encoded, strict=True)))
        progress(int(100 * (start + len(chunk)) / len(todo)), f"embedded {start + len(chunk)} of {len(todo)}")
    return len(todo)


def embed_missing(observations: Iterable[Observation], progress: Progress = quiet) -> int:
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
