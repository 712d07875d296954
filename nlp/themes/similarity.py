"""Vectors and the outlier rule: normalised embeddings, theme centroids, :func:`assign` (nearest centroid if similar
enough and clearly nearer than the runner-up, else no theme) and :func:`reduce_outliers`; a refit and the
assignment of new observations between refits use the same rule. Plain values: no Flask, no database."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp import embeddings
from nlp.themes.params import NO_THEME, TOKEN, ThemeParams


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def centroids_of(embeddings: np.ndarray, topics: Sequence[int] | np.ndarray, n_topics: int) -> np.ndarray:
    emb = normalise(embeddings)
    labels = np.asarray(topics)
    out = np.zeros((n_topics, emb.shape[1]), dtype=np.float32)
    for t in range(n_topics):
        members = emb[labels == t]
        if len(members):
            out[t] = members.mean(axis=0)
    return normalise(out)


def assign(
    embeddings: np.ndarray, centroids: np.ndarray, min_similarity: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """The outlier rule: nearest centroid if similar enough and clearly nearer than the runner-up, else -1.

    Returns (topics, similarity to the nearest centroid).
    """
    emb = normalise(np.atleast_2d(embeddings))
    if centroids.size == 0:
        return np.full(len(emb), NO_THEME), np.zeros(len(emb), dtype=np.float32)
    sims = emb @ normalise(centroids).T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(emb)), best]
    runner_up = np.partition(sims, -2, axis=1)[:, -2] if sims.shape[1] > 1 else np.full(len(emb), -1.0)
    ok = (best_sim >= min_similarity) & (best_sim - runner_up >= margin)
    return np.where(ok, best, NO_THEME), best_sim.astype(np.float32)


def reduce_outliers(
    embeddings: np.ndarray, topics: Sequence[int] | np.ndarray, n_topics: int, params: ThemeParams
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the outlier rule to HDBSCAN's outliers only; clustered documents keep their theme."""
    labels = np.asarray(topics).copy()
    centroids = centroids_of(embeddings, labels, n_topics)
    new, sim = assign(embeddings, centroids, params.outlier_similarity, params.outlier_margin)
    outliers = labels == NO_THEME
    labels[outliers] = new[outliers]
    own = normalise(embeddings) @ centroids.T
    similarity = np.where(labels >= 0, own[np.arange(len(labels)), np.clip(labels, 0, None)], sim)
    return labels, similarity.astype(np.float32)


def embed(embedding_model, texts: list[str]) -> np.ndarray:
    """Vectors of short texts with whatever encoder the fit has (a BERTopic backend, an nlp.embeddings encoder)."""
    if hasattr(embedding_model, "embed"):
        return embedding_model.embed(texts)
    if isinstance(embedding_model, embeddings.Encoder):
        embedding_model = embedding_model.for_short_texts()
    return embeddings.encode(texts, model=embedding_model)  # by its module: tests memoise encode there


def merge_similar_topics(
    embeddings: np.ndarray, topics: Sequence[int] | np.ndarray, floor: float, among: Sequence[int] | None = None
) -> np.ndarray:
    """Topics whose centroids are at least ``floor`` similar (cosine) merged: average-linkage agglomeration of the
    centroids cut at distance ``1 - floor``, so a merged group's centroids are on average that similar to one
    another (a chain of pairwise-similar themes does not swallow a distinct one). With ``among`` only those topics
    take part (the others stay as they are). Outliers (-1) stay outliers; merged topics are numbered 0..n-1 in the
    order of their lowest original number."""
    labels = np.asarray(topics).copy()
    n = int(labels.max()) + 1 if (labels >= 0).any() else 0
    present = np.array([t for t in range(n) if np.any(labels == t)], dtype=int)
    wanted = None if among is None else set(among)
    taking_part = present if wanted is None else np.array([t for t in present if t in wanted], dtype=int)
    if len(taking_part) < 2 or floor <= 0:
        return labels
    from scipy.cluster.hierarchy import fcluster, linkage  # noqa: PLC0415 - scipy is loaded with hdbscan anyway

    centroids = centroids_of(embeddings, labels, n)[taking_part]
    groups = fcluster(linkage(centroids, method="average", metric="cosine"), t=1.0 - floor, criterion="distance")
    group_of = dict(zip(taking_part.tolist(), (int(g) for g in groups), strict=True))
    first: dict[tuple[str, int], int] = {}
    mapping = np.full(n, NO_THEME)
    for t in present.tolist():
        key = ("group", group_of[t]) if t in group_of else ("own", t)
        mapping[t] = first.setdefault(key, len(first))
    return np.where(labels >= 0, mapping[np.clip(labels, 0, None)], NO_THEME)


def short_topics(topics: Sequence[int] | np.ndarray, texts: Sequence[str], max_words: int) -> list[int]:
    """Topics whose median text has at most ``max_words`` words (``\\w\\w+`` tokens): themes of one-line answers."""
    labels = np.asarray(topics)
    words = np.array([len(TOKEN.findall(t or "")) for t in texts])
    return [int(t) for t in sorted(set(labels[labels >= 0].tolist())) if np.median(words[labels == t]) <= max_words]
