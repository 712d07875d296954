"""A fitted version on disk: BERTopic's safetensors serialisation plus commintel's metadata and centroids, loading
it back, and scrubbing the terms an erasure withdrew. No Flask, no database: the storage layer passes paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from nlp import embeddings
from nlp.themes.fitting import quiet_imports
from nlp.themes.naming import make_label
from nlp.themes.params import TOKEN, FitResult, ThemeParams
from nlp.themes.similarity import assign

# Saving ---------------------------------------------------------------------------------------------------------

META_FILE = "commintel_themes.json"
CENTROIDS_FILE = "commintel_centroids.safetensors"


def save(result: FitResult, path: str | Path, embedding_model_name: str) -> None:
    """Write the BERTopic model (safetensors serialisation, never pickle) plus commintel's themes and centroids.

    ``path`` must not exist yet: callers write to a fresh directory and switch the active version afterwards.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=False)
    if result.model is not None:
        result.model.save(
            str(path / "bertopic"),
            serialization="safetensors",
            save_ctfidf=True,
            save_embedding_model=embedding_model_name,
        )
    save_file({"centroids": np.ascontiguousarray(result.centroids, dtype=np.float32)}, str(path / CENTROIDS_FILE))
    meta = {
        "params": result.params.to_json(),
        "n_documents": result.n_documents,
        "coherence": result.coherence,
        "diversity": result.diversity,
        "outlier_share": result.outlier_share,
        "versions": result.versions,
        "embedding_model": embedding_model_name,
        "themes": [{"topic": t.topic, "label": t.label, "terms": t.terms, "size": t.size} for t in result.themes],
    }
    (path / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")


@dataclass
class SavedThemes:
    params: ThemeParams
    themes: list[dict]
    centroids: np.ndarray
    meta: dict

    def assign(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return assign(embeddings, self.centroids, self.params.outlier_similarity, self.params.outlier_margin)


def load(path: str | Path) -> SavedThemes:
    """Read what :func:`save` wrote (without loading BERTopic: assignment only needs the centroids)."""
    path = Path(path)
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    centroids = load_file(str(path / CENTROIDS_FILE))["centroids"]
    return SavedThemes(ThemeParams.from_json(meta["params"]), meta["themes"], centroids, meta)


def load_bertopic(path: str | Path, embedding_model=None):
    """The saved BERTopic itself (for inspection or ``transform``); the embedding model object is passed in so that
    nothing is looked up on the network."""
    quiet_imports()
    from bertopic import BERTopic  # noqa: PLC0415 - heavy: loaded only to inspect a saved version

    if embedding_model is None:
        embedding_model = embeddings.load_model()
    return BERTopic.load(str(Path(path) / "bertopic"), embedding_model=embedding_model)


# Scrubbing a saved version ---------------------------------------------------------------------------------------


def label_allowed(label: str, allowed: set[str] | frozenset[str]) -> bool:
    """Whether a machine-made label is allowed: every term of a term label (":func:`make_label`": terms joined by
    ", ") is an allowed term, or every word of a phrase name (:func:`name_themes`) is an allowed word."""
    if not label or label == "Unnamed theme":
        return True
    if all(term.strip().lower() in allowed for term in label.split(",") if term.strip()):
        return True
    words = {w for term in allowed for w in term.split()}
    # "and", "comments like" (and "comments about", which versions before 2026-12-03 wrote): the words name_themes
    # adds itself.
    return all(w in words or w in ("and", "comments", "like", "about") for w in TOKEN.findall(label.lower()))


_DESCRIPTION_WORDS = frozenset({"observations", "comments", "about", "like", "often", "mentioning", "and"})


def description_allowed(description: str, allowed: set[str] | frozenset[str]) -> bool:
    """Whether every word of a machine-made description (:func:`describe`), its template words aside, is allowed."""
    words = {w for term in allowed for w in term.split()}
    return all(w in words or w in _DESCRIPTION_WORDS for w in TOKEN.findall((description or "").lower()))


def scrub_saved(path: str | Path, allowed: set[str] | frozenset[str]) -> int:
    """Take every term not in ``allowed`` out of a saved version, in place: the vectorizer vocabulary and the c-TF-IDF
    matrix columns (``bertopic/ctfidf_config.json``, ``bertopic/ctfidf.safetensors``), the topics' words, labels and
    aspects (``bertopic/topics.json``), and commintel's themes (``commintel_themes.json``: terms, and labels remade
    from what is left). Used after an erasure, with the terms the remaining observations still support
    (:func:`shared_vocabulary`), so that no saved file keeps a word that only erased observations carried.
    Returns how many terms were removed. Files are rewritten whole (never appended to)."""
    path = Path(path)
    removed: set[str] = set()
    bertopic_dir = path / "bertopic"
    config_path = bertopic_dir / "ctfidf_config.json"
    if config_path.exists():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        vocab: dict[str, int] = config["vectorizer_model"]["vocab"]
        keep = sorted((i, t) for t, i in vocab.items() if t in allowed)
        removed |= {t for t in vocab if t not in allowed}
        new_index = {old: new for new, (old, _t) in enumerate(keep)}
        config["vectorizer_model"]["vocab"] = {t: new_index[i] for i, t in keep}
        params = config["vectorizer_model"].get("params", {})
        if params.get("vocabulary") is not None:
            params["vocabulary"] = [t for t in params["vocabulary"] if t in allowed]
        matrix_path = bertopic_dir / "ctfidf.safetensors"
        if matrix_path.exists() and removed:
            tensors = load_file(str(matrix_path))
            indptr, indices, data = tensors["indptr"], tensors["indices"], tensors["data"]
            rows_ptr, rows_idx, rows_data = [0], [], []
            for r in range(len(indptr) - 1):
                for k in range(int(indptr[r]), int(indptr[r + 1])):
                    col = int(indices[k])
                    if col in new_index:
                        rows_idx.append(new_index[col])
                        rows_data.append(data[k])
                rows_ptr.append(len(rows_idx))
            diag = tensors["diag"]
            kept_cols = [old for old, _t in keep]
            tensors = {
                "indptr": np.asarray(rows_ptr, dtype=indptr.dtype),
                "indices": np.asarray(rows_idx, dtype=indices.dtype),
                "data": np.asarray(rows_data, dtype=data.dtype),
                "shape": np.asarray([len(indptr) - 1, len(keep)], dtype=tensors["shape"].dtype),
                "diag": np.asarray(diag[kept_cols] if len(diag) else diag, dtype=diag.dtype),
            }
            matrix_path.unlink()
            save_file(tensors, str(matrix_path))
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    topics_path = bertopic_dir / "topics.json"
    if topics_path.exists():
        topics = json.loads(topics_path.read_text(encoding="utf-8"))
        reps = topics.get("topic_representations") or {}
        for key, words in reps.items():
            removed |= {w for w, _s in words if w and w not in allowed}
            reps[key] = [[w, s] for w, s in words if not w or w in allowed]
            kept_words = [w for w, _s in reps[key] if w][:4]
            if str(key) in (topics.get("topic_labels") or {}):
                topics["topic_labels"][str(key)] = "_".join([str(key), *kept_words])
        for aspect in (topics.get("topic_aspects") or {}).values():
            for key, words in aspect.items():
                if isinstance(words, list):
                    aspect[key] = [entry for entry in words if not isinstance(entry, list) or entry[0] in allowed]
        topics_path.write_text(json.dumps(topics, indent=2), encoding="utf-8")
    meta_path = path / META_FILE
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for theme in meta.get("themes", []):
            terms = [t for t in theme.get("terms", []) if t in allowed]
            removed |= {t for t in theme.get("terms", []) if t not in allowed}
            if terms != theme.get("terms") or not label_allowed(theme.get("label", ""), allowed):
                theme["terms"] = terms
                theme["label"] = make_label(terms)
        meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return len(removed)
