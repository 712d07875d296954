"""Themes: BERTopic over precomputed MiniLM embeddings, with stable identity across refits.

Plain values in, plain values out (lists, numpy arrays, dataclasses): no Flask, no database. The storage layer
(:mod:`nlp.themes.refit`) persists what :func:`fit_themes` returns. Around it: the parameters and results
(:mod:`nlp.themes.params`), the words a theme may use (:mod:`nlp.themes.vocabulary`), the outlier rule
(:mod:`nlp.themes.similarity`), names (:mod:`nlp.themes.naming`), identity across refits
(:mod:`nlp.themes.matching`), saving (:mod:`nlp.themes.saved`) and the quality measures (:mod:`nlp.themes.quality`).

One module of about 530 lines, a third of it this docstring: building the sub-models and fitting them is one job,
and the choices below are read beside the code that makes them.

Choices, each measured in ``benchmarks/themes.py`` against BERTopic's default configuration:

- Sub-models are built in one place (:func:`build_topic_model`) from :class:`ThemeParams` and can be injected.
  UMAP is seeded (``random_state``; UMAP is unseeded by default) so a fit is reproducible on the same machine.
- HDBSCAN's ``min_cluster_size`` grows with the corpus (:meth:`ThemeParams.cluster_size`): 1 % of it, between 5
  and 18 (a partnership of 300 observations gets themes of at least 5); ``min_samples`` is a fifth of that (at
  least 3); no theme may exceed a quarter of the corpus.
- Words: CountVectorizer with English stop words and 1-2-grams. BERTopic fits the vectorizer on one *joined document
  per topic*, so ``min_df`` counts topics, not observations: ``min_df=1`` keeps words that only one theme uses (the
  most distinctive ones); the benchmark showed ``min_df=2`` lowers coherence.
- **Words that cannot carry a person** (:func:`shared_vocabulary`): a word or two-word term may be a theme word, a
  label word or part of the saved vocabulary only if it occurs in at least ``term_min_observations`` (k, the
  suppression threshold) distinct observations from at least ``term_min_sources`` (2) sources: organisations, the
  public form counting as one. The vectorizer gets that vocabulary and nothing else, so BERTopic's c-TF-IDF, its
  KeyBERTInspired candidates, its labels and the saved ``ctfidf_config.json`` hold only such terms: a name that
  redaction missed in one or two notes, or one organisation's in-house word, never becomes a theme word.
  Redaction placeholders ("[NAME]", "[NHS_NUMBER]") are taken out of the text the words come from, so "name",
  "nhs_number" or "date_of_birth" are never terms (they would tell readers which identifiers the notes held).
- Words and labels: a theme's words are its c-TF-IDF top terms (the most coherent by NPMI on both benchmarks); its
  name is a noun phrase from its texts (:func:`naming.name_themes`); with ``naming="terms"`` its label comes from a
  KeyBERTInspired aspect (candidates re-ranked by closeness in meaning to the theme), the first three terms that
  share no word.
- **Outlier rule** (documented, applied in :func:`~nlp.themes.similarity.reduce_outliers`): an HDBSCAN outlier joins
  its nearest theme only when the cosine similarity of its embedding to that theme's centroid is at least
  ``outlier_similarity`` (0.5 by default - about the similarity of two paraphrases with MiniLM) *and* that theme is
  nearer than the runner-up by ``outlier_margin`` (0 by default: the nearest theme; 0.02 before issue 16's tuning).
  Everything else stays unthemed (-1): short comments unlike every theme ("ok", "no comment") are not forced in.
  New observations between refits are assigned by the same rule (:func:`~nlp.themes.similarity.assign`), so a
  refit and a transform agree.

One module of about 520 lines: :func:`fit_themes`, the sub-models it builds and the corrections and guidance it
applies to them are one job (each helper here serves only the fit).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from nlp import embeddings as emb
from nlp.themes import naming
from nlp.themes.naming import make_label, name_themes
from nlp.themes.params import (
    LABEL_ASPECT,
    MIN_DOCUMENTS,
    NO_THEME,
    FitResult,
    ThemeFitError,
    ThemeParams,
    ThemeResult,
    library_versions,
)
from nlp.themes.quality import npmi_coherence, top_words, topic_diversity
from nlp.themes.similarity import (
    centroids_of,
    embed,
    merge_similar_topics,
    normalise,
    reduce_outliers,
    short_topics,
)
from nlp.themes.vocabulary import shared_vocabulary, vectorizer, without_placeholders

log = logging.getLogger(__name__)


# Building -------------------------------------------------------------------------------------------------------


# BERTopic's optional parts that import transformers and sentence-transformers when those are installed (they are,
# for the torch encoder and the one-off ONNX export): images and names written by a language model, none of which
# commintel uses. BERTopic imports each inside ``try: ... except ModuleNotFoundError`` and marks it not installed;
# a None in sys.modules is Python's way of saying so (the import raises ModuleNotFoundError). Measured: quiet_imports
# in a fresh process took 16.2 s of CPU, 11.7 s without them (docs/themes.md).
UNUSED_BERTOPIC_PARTS = (
    "bertopic.backend._multimodal",
    "bertopic.representation._textgeneration",
    "bertopic.representation._zeroshot",
    "bertopic.representation._visual",
)


def quiet_imports() -> None:
    """Import umap (and BERTopic, which imports it) with umap's ImportWarning about the optional TensorFlow
    (ParametricUMAP, which commintel does not use) silenced: the app runs with warnings as errors in tests, and
    without BERTopic's unused optional parts (:data:`UNUSED_BERTOPIC_PARTS`); then keep their numba compilations on
    disk (:func:`cache_jit_compilations`). Every import of BERTopic in commintel goes through here."""
    import sys  # noqa: PLC0415 - only here

    if "bertopic" not in sys.modules:
        for name in UNUSED_BERTOPIC_PARTS:
            sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: not installed
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ImportWarning, message=".*Tensorflow not installed.*")
        import bertopic  # noqa: F401, PLC0415 - heavy (torch, numba): imported only for a fit
        import umap  # noqa: F401, PLC0415 - heavy (numba): imported only for a fit
    cache_jit_compilations()


# The packages whose numba functions a fit compiles: umap declares almost none of them cache=True, pynndescent half.
JIT_PACKAGES = ("umap", "pynndescent")


@functools.cache
def cache_jit_compilations() -> int:
    """Give every numba function of umap and pynndescent numba's on-disk cache, as ``cache=True`` would; returns
    how many were switched on.

    umap compiled its functions on the first fit in every process: 20-40 s of CPU on a 2-core machine, in each
    worker process and each command that fits. With the cache, only the first process on an installation compiles
    them (numba keys its cache by the source file, the signature and the CPU, and writes it beside the package, or
    in a user cache folder where that is read-only); the machine code, so the layout, is the same
    (tests/nlp/test_themes.py). Only modules already imported are touched (umap.plot and umap.parametric_umap need
    packages commintel does not install); the few functions with explicit signatures compile on import, before
    this runs, in microseconds. Best effort: if numba's API moves, only the time is lost again.
    """
    import sys  # noqa: PLC0415 - only here

    try:
        from numba.core.caching import NullCache  # noqa: PLC0415 - numba is imported by umap already
        from numba.core.dispatcher import Dispatcher  # noqa: PLC0415
    except ImportError:  # pragma: no cover - a numba without these names: compile per process as before
        log.warning("numba's cache could not be switched on for umap: its functions compile in each process")
        return 0
    switched = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in JIT_PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                try:
                    value.enable_caching()
                except RuntimeError as exc:  # numba found no writable cache folder (a read-only install and home)
                    log.warning("numba's cache is not available (%s): umap compiles in each process", exc)
                    return switched
                switched += 1
    return switched


def build_topic_model(
    params: ThemeParams,
    n_docs: int,
    embedding_model=None,
    vocabulary: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
):
    """commintel's BERTopic: seeded UMAP, HDBSCAN sized to the corpus, stop-word 1-2-gram vectorizer.

    With ``embeddings`` (the documents' vectors) and a corpus between 4,096 and ``params.exact_neighbours_up_to``
    documents, UMAP gets exact nearest neighbours computed here (see :func:`exact_neighbours`). The representation
    model is applied after outlier reduction (see :func:`fit_themes`), so it is not set here.

    ``distinct`` (:func:`distinct_rows`: the first document of each distinct text, and each document's place among
    them), when some texts repeat: UMAP is fitted on the distinct texts only and every copy gets its original's
    coordinates (:class:`DistinctRowsUMAP`); HDBSCAN still clusters every document.
    """
    quiet_imports()
    from bertopic import BERTopic  # noqa: PLC0415 - heavy: loaded only for a fit
    from hdbscan import HDBSCAN  # noqa: PLC0415 - heavy: loaded only for a fit
    from umap import UMAP  # noqa: PLC0415 - heavy (numba): loaded only for a fit

    n_distinct = n_docs if distinct is None else len(distinct[0])
    n_neighbors = min(params.n_neighbors, n_distinct - 1)
    knn: tuple[np.ndarray, np.ndarray] | tuple[None, None, None] = (None, None, None)
    if embeddings is not None and UMAP_EXACT_BELOW <= n_distinct <= params.exact_neighbours_up_to:
        knn = exact_neighbours(embeddings if distinct is None else embeddings[distinct[0]], n_neighbors)
    umap_model = UMAP(
        n_neighbors=n_neighbors,
        n_components=params.n_components,
        min_dist=params.min_dist,
        metric="cosine",
        random_state=params.seed,
        n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so avoids its warning
        low_memory=False,
        n_epochs=params.large_corpus_epochs if n_docs >= params.large_corpus else None,
        precomputed_knn=knn,
    )
    if distinct is not None:
        umap_model = DistinctRowsUMAP(umap_model, *distinct)
    hdbscan_model = HDBSCAN(
        min_cluster_size=params.cluster_size(n_docs),
        min_samples=params.samples(n_docs),
        metric="euclidean",
        cluster_selection_method=params.cluster_selection,
        cluster_selection_epsilon=params.cluster_selection_epsilon,
        max_cluster_size=int(params.max_cluster_share * n_docs) if params.max_cluster_share else 0,
        prediction_data=True,
    )
    return BERTopic(
        embedding_model=embedding_model,
        umap_model=umap_model,
        hdbscan_model=hdbscan_model,
        vectorizer_model=vectorizer(params, vocabulary),
        ctfidf_model=ctfidf_model(params),
        top_n_words=params.top_n_words,
        nr_topics=params.nr_topics,
        calculate_probabilities=False,
        verbose=False,
    )


def ctfidf_model(params: ThemeParams):
    """BERTopic's c-TF-IDF with the weighting of ``params`` (BERTopic's defaults: all off)."""
    from bertopic.vectorizers import ClassTfidfTransformer  # noqa: PLC0415 - heavy: loaded only for a fit

    kwargs = {"reduce_frequent_words": params.reduce_frequent_words, "bm25_weighting": params.bm25_weighting}
    if params.tf_power == 1.0:
        return ClassTfidfTransformer(**kwargs)

    class PoweredTfidf(ClassTfidfTransformer):
        """c-TF-IDF whose in-theme frequencies are raised to ``tf_power`` before the idf weighting."""

        def transform(self, X):
            from sklearn.preprocessing import normalize  # noqa: PLC0415 - sklearn is loaded by BERTopic already

            X = normalize(X, axis=1, norm="l1", copy=True)
            X.data = np.power(X.data, params.tf_power)
            if self.reduce_frequent_words:
                X.data = np.sqrt(X.data)
            return X * self._idf_diag

    return PoweredTfidf(**kwargs)


def sharpen_short_theme_words(
    model, word_texts: Sequence[str], topics: np.ndarray, short: Sequence[int], params: ThemeParams
) -> None:
    """Re-rank the c-TF-IDF words of the themes in ``short`` with ``params.short_tf_power`` in place of
    ``tf_power``: the same vocabulary, the same idf (the fitted model's), each theme's texts joined as BERTopic joins
    them. Only the theme's words change (``model.topic_representations_``); its texts stay where they are."""
    if not short:
        return
    from sklearn.preprocessing import normalize  # noqa: PLC0415 - sklearn is loaded by BERTopic already

    joined = [" ".join(word_texts[int(i)] for i in np.flatnonzero(topics == t)) for t in short]
    counts = normalize(model.vectorizer_model.transform(joined).astype(np.float64), axis=1, norm="l1")
    counts.data = np.power(counts.data, params.short_tf_power)
    if params.reduce_frequent_words:
        counts.data = np.sqrt(counts.data)
    scores = (counts * model.ctfidf_model._idf_diag).toarray()
    vocabulary = model.vectorizer_model.get_feature_names_out()
    for row, t in enumerate(short):
        order = [j for j in np.argsort(-scores[row], kind="stable") if scores[row, j] > 0][: params.top_n_words]
        model.topic_representations_[t] = [(str(vocabulary[j]), float(scores[row, j])) for j in order]


def distinct_rows(
    texts: Sequence[str], labels: Sequence[int] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(the first document of each distinct (text, partial label), each document's index among those firsts)."""
    first: dict[tuple[str, int], int] = {}
    rows: list[int] = []
    inverse = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        key = (text, -1 if labels is None else int(labels[i]))
        if key not in first:
            first[key] = len(rows)
            rows.append(i)
        inverse[i] = first[key]
    return np.asarray(rows, dtype=np.int64), inverse


class DistinctRowsUMAP:
    """UMAP fitted on distinct texts only; each document gets the coordinates of its text's first copy.

    Why (issue 17): a text repeated more than ``n_neighbors`` times (answers such as "Very good service", or the
    benchmark corpus's 17 texts copied 100-206 times each) makes a component of the neighbour graph of its own, a
    clique whose Laplacian has one eigenvalue many times over. ARPACK then fails to converge on UMAP's spectral
    initialisation now and then, depending on the last bits of the vectors, and UMAP falls back to a random
    initialisation of the whole layout ("Spectral initialisation failed ... too small an eigengap"): measured, -5.8 %
    NMI for the int8 encoder's vectors of the 10,000 typical observations, where torch's converged. Copies add
    nothing to UMAP's picture of the neighbourhoods (a copy's neighbours are its copies), so they are left out of
    its fit and put back, at the same place, for HDBSCAN, which still counts them all (a text said 200 times is a
    dense cluster)."""

    def __init__(self, umap_model, rows: np.ndarray, inverse: np.ndarray):
        self.umap = umap_model
        self.rows = np.asarray(rows)
        self.inverse = np.asarray(inverse)

    def __getattr__(self, name):  # parameters and fitted attributes are the inner UMAP's
        if name == "umap":
            raise AttributeError(name)
        return getattr(self.umap, name)

    def fit_transform(self, X, y=None):
        X = np.asarray(X)
        if len(X) != len(self.inverse):
            raise ValueError("DistinctRowsUMAP was built for another number of documents")
        y_rows = None if y is None else np.asarray(y)[self.rows]
        self.embedding_ = np.asarray(self.umap.fit_transform(X[self.rows], y=y_rows))[self.inverse]
        return self.embedding_

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def transform(self, X):
        if len(X) == len(self.inverse) and hasattr(self, "embedding_"):
            return self.embedding_
        raise NotImplementedError("new documents are assigned by centroid (see assign), never by UMAP.transform")


@functools.cache
def _labeller_class():
    """KeyBERTInspired, taking its representative documents' vectors from the fit (built lazily: BERTopic is a slow
    import)."""
    quiet_imports()
    from bertopic.representation import KeyBERTInspired  # noqa: PLC0415 - heavy: loaded only for a fit

    class Labeller(KeyBERTInspired):
        def __init__(self, *args, document_vectors: dict[str, np.ndarray] | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.document_vectors = document_vectors or {}

        def _extract_embeddings(self, topic_model, topics, representative_docs, repr_doc_indices, repr_embeddings=None):
            # KeyBERTInspired's own precomputed-embeddings path indexes documents by their place in the flat list
            # of representative documents (BERTopic 0.17.4), so the vectors are looked up by text here instead.
            if repr_embeddings is None and all(doc in self.document_vectors for doc in representative_docs):
                repr_embeddings = np.vstack([self.document_vectors[doc] for doc in representative_docs])
            return super()._extract_embeddings(
                topic_model, topics, representative_docs, repr_doc_indices, repr_embeddings
            )

    return Labeller


UMAP_EXACT_BELOW = 4096  # UMAP's own switch from exact pairwise distances to NNDescent


def exact_neighbours(embeddings: np.ndarray, k: int, block: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours by cosine distance, each document first (distance 0), as UMAP's
    ``precomputed_knn`` wants them: (indices int32, distances float32), by blocks of rows (memory: block x n)."""
    x = normalise(embeddings)
    n = len(x)
    indices = np.empty((n, k), dtype=np.int32)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = x[start : start + block] @ x.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = np.inf  # itself first, even beside an identical text
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near_sims = np.take_along_axis(sims, nearest, axis=1)
        order = np.argsort(-near_sims, axis=1, kind="stable")
        indices[start : start + block] = np.take_along_axis(nearest, order, axis=1)
        dist = 1.0 - np.take_along_axis(near_sims, order, axis=1)
        dist[:, 0] = 0.0
        distances[start : start + block] = np.clip(dist, 0.0, 2.0)
    return indices, distances


def representation_model(params: ThemeParams, document_vectors: dict[str, np.ndarray] | None = None):
    """ "keybert": c-TF-IDF top terms (the theme's words; the most coherent, see the benchmark) plus a KeyBERTInspired
    aspect from which the readable label is made. "keybert-words": KeyBERTInspired as the words too (measured:
    lower NPMI). "ctfidf": c-TF-IDF only, label from the top terms.

    ``document_vectors`` (text -> its vector from the fit) spare KeyBERTInspired re-embedding its representative
    documents, which it otherwise does on every fit (most of a 10,000-observation fit's time with the torch encoder).

    With phrase names (``naming="phrase"``, the default) "keybert" computes no aspect: :func:`naming.name_themes`
    replaces the aspect's label of every theme it can name, and a theme it cannot name keeps a label of its c-TF-IDF
    terms. The aspect cost 7 of a 10,000-observation fit's 30 CPU-s (embedding 100 candidate words per theme).
    """
    if params.representation == "keybert" and params.naming == "phrase":
        return None
    if params.representation in ("keybert", "keybert-words"):
        keybert = _labeller_class()(
            top_n_words=params.top_n_words,
            nr_candidate_words=params.label_candidates,
            random_state=params.seed,
            document_vectors=document_vectors,
        )
        return {LABEL_ASPECT: keybert} if params.representation == "keybert" else keybert
    if params.representation == "ctfidf":
        return None
    raise ValueError(f"unknown representation {params.representation!r}")


def fit_themes(
    texts: Sequence[str],
    embeddings: np.ndarray,
    params: ThemeParams | None = None,
    embedding_model=None,
    topic_model=None,
    progress: Callable[[str], None] | None = None,
    sources: Sequence[object] | None = None,
    fixed: Sequence[int] | None = None,
    seeds: Sequence[str] | None = None,
    spacy_nlp=None,
    fixed_centroids: Sequence[np.ndarray | None] | None = None,
) -> FitResult:
    """Fit themes on ``texts`` with their precomputed ``embeddings`` (rows aligned with texts).

    ``sources`` (one per text: the organisation, one value for the public form) decides which words may be theme
    words (:func:`shared_vocabulary`); the words come from the texts without redaction placeholders.

    ``embedding_model`` (an :mod:`nlp.embeddings` encoder or a SentenceTransformer) is needed for the
    KeyBERTInspired labels (it embeds candidate words). ``topic_model`` may be
    injected (a BERTopic with its own sub-models); by default :func:`build_topic_model` makes commintel's.

    ``fixed`` (one per text) holds people's corrections: ``-1`` for a machine assignment, ``FIXED_NO_THEME`` for
    "no theme", else a group number (0, 1, ...: one per theme a person moved observations into). The groups are
    partial labels of UMAP (semi-supervised: BERTopic's ``y=``, -1 for unknown); after clustering each corrected
    text is put where the person put it (its group becomes the fitted topic nearest the theme's previous centroid,
    ``fixed_centroids``, one per group, or else one it fills, or a topic of its own: :func:`apply_fixed`), and its
    near-paraphrases follow it (:func:`follow_corrections`).
    ``seeds`` (the category taxonomy: one text per category) guide the fit (``params.guided``,
    :func:`guide_embeddings`) without one theme per category being forced.
    ``spacy_nlp`` (a spaCy pipeline with a parser) makes the names (``params.naming`` "phrase",
    :func:`name_themes`); without one, the default model is loaded.
    Raises :class:`ThemeFitError` when the corpus is too small or no theme is found.
    """
    params = params or ThemeParams()
    texts = list(texts)
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if len(texts) != len(embeddings):
        raise ValueError("texts and embeddings must have the same length")
    usable = sum(1 for t in texts if t and t.strip())
    if usable < MIN_DOCUMENTS:
        raise ThemeFitError(
            f"Too few observations to find themes: {usable} with text, at least {MIN_DOCUMENTS} are needed."
        )
    say = progress or (lambda _msg: None)
    if params.representation == "keybert" and embedding_model is None:
        embedding_model = emb.load_model()
    if isinstance(embedding_model, emb.Encoder):
        embedding_model = embedding_model.bertopic_backend()
    vocabulary = shared_vocabulary(texts, sources, params)
    if not vocabulary:
        raise ThemeFitError(
            f"No word occurs in at least {params.term_min_count(len(texts))} observations from "
            f"{params.term_min_sources} or more organisations, so no theme could be named without risking a "
            "person's details; more observations are needed."
        )
    word_texts = [without_placeholders(t) for t in texts]
    fixed_arr = np.full(len(texts), -1) if fixed is None else np.asarray(fixed, dtype=int)
    if len(fixed_arr) != len(texts):
        raise ValueError("texts and fixed must have the same length")
    fit_vectors, target = embeddings, None
    seed_y = None
    if seeds and params.guided != "none":
        fit_vectors, seed_y = guide_embeddings(embeddings, seeds, embedding_model, params.seed_weight)
    if (fixed_arr >= 0).any() or (seed_y is not None and params.guided == "supervised"):
        target = np.full(len(texts), -1)
        if seed_y is not None and params.guided == "supervised":
            target = seed_y.copy()
        offset = len(seeds or [])
        target[fixed_arr >= 0] = fixed_arr[fixed_arr >= 0] + offset
    distinct = distinct_rows(texts, target)
    model = topic_model or build_topic_model(
        params,
        len(texts),
        embedding_model=embedding_model,
        vocabulary=vocabulary,
        embeddings=fit_vectors,
        distinct=distinct if params.umap_distinct_texts and len(distinct[0]) < len(texts) else None,
    )
    if target is not None and topic_model is None:
        model.umap_model.set_params(target_weight=params.target_weight)
    say("clustering")
    try:
        with warnings.catch_warnings():
            # Exact neighbours come without an NNDescent index, which only UMAP.transform needs (never called:
            # new observations are assigned by centroid, see assign()).
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
            raw_topics, _ = model.fit_transform(
                word_texts, embeddings=fit_vectors, y=None if target is None else target.tolist()
            )
    except (ValueError, TypeError) as exc:  # UMAP/HDBSCAN on degenerate input (all texts identical, ...)
        raise ThemeFitError(f"Themes could not be fitted on this corpus ({exc}).") from exc
    raw_topics = np.asarray(raw_topics)
    fitted_topics = raw_topics
    if params.merge_similarity > 0:
        say("merging similar themes")
        raw_topics = merge_similar_topics(embeddings, raw_topics, params.merge_similarity)
    if params.short_text_words > 0:
        short = short_topics(raw_topics, texts, params.short_text_words)
        raw_topics = merge_similar_topics(embeddings, raw_topics, params.short_merge_similarity, among=short)
    n_topics = int(raw_topics.max()) + 1 if raw_topics.size else 0
    if n_topics < 2:
        raise ThemeFitError(
            f"No distinct themes found in {len(texts)} observations (found {max(n_topics, 0)}); "
            "more varied observations are needed."
        )
    say("reducing outliers")
    topics, similarity = reduce_outliers(embeddings, raw_topics, n_topics, params)
    group_topics: dict[int, int] = {}
    if (fixed_arr != -1).any():
        machine_centroids = centroids_of(embeddings, topics, n_topics)
        topics, group_topics = apply_fixed(topics, fixed_arr, machine_centroids, fixed_centroids)
        topics = follow_corrections(embeddings, topics, fixed_arr, params.follow_similarity)
        topics, group_topics = _renumber(topics, group_topics)
        n_topics = int(topics.max()) + 1 if (topics >= 0).any() else 0
        centroids = centroids_of(embeddings, topics, n_topics)
        own = normalise(embeddings) @ centroids.T
        similarity = np.where(topics >= 0, own[np.arange(len(topics)), np.clip(topics, 0, None)], own.max(axis=1))
        similarity = similarity.astype(np.float32)
    parses = None
    if params.naming == "phrase":
        # The names' spaCy parse of each theme's typical texts runs while BERTopic computes its words and labels.
        parses = naming.Parses(spacy_nlp if spacy_nlp is not None else naming.load_names_pipeline())
        parses.prefetch(naming.typical_texts(range(n_topics), word_texts, topics, similarity, params.name_texts)[0])
    say("labelling")
    rep = representation_model(params, document_vectors=dict(zip(word_texts, embeddings, strict=True)))
    if rep is not None or not np.array_equal(topics, fitted_topics):
        # BERTopic warns that custom topic lists break later topic reduction; we never reduce afterwards.
        bertopic_log = logging.getLogger("BERTopic")
        level = bertopic_log.level
        bertopic_log.setLevel(logging.ERROR)
        try:
            model.update_topics(
                word_texts,
                topics=topics.tolist(),
                vectorizer_model=vectorizer(params, vocabulary),
                ctfidf_model=ctfidf_model(params),
                representation_model=rep,
            )
        finally:
            bertopic_log.setLevel(level)
    if params.short_text_words > 0 and params.short_tf_power > 0:
        short = short_topics(topics, texts, params.short_text_words)
        sharpen_short_theme_words(model, word_texts, topics, short, params)
    centroids = centroids_of(embeddings, topics, n_topics)
    themes = []
    for t in range(n_topics):
        terms = [w for w, _score in (model.get_topic(t) or []) if w][: params.top_n_words]
        label_terms = [w for w, _score in getattr(model, "topic_aspects_", {}).get(LABEL_ASPECT, {}).get(t, []) if w]
        members = np.flatnonzero(topics == t)
        order = members[np.argsort(-similarity[members], kind="stable")]
        themes.append(
            ThemeResult(
                topic=t,
                label=make_label(label_terms or terms),
                terms=terms,
                size=int(len(members)),
                representative=order[: params.representative_docs].tolist(),
                centroid=centroids[t],
            )
        )
    if params.naming == "phrase":
        say("naming")
        name_themes(themes, word_texts, topics, similarity, vocabulary, embedding_model, spacy_nlp, params, parses)
    words = [top_words(t.terms) for t in themes]
    return FitResult(
        topics=topics.tolist(),
        similarity=similarity.tolist(),
        themes=themes,
        coherence=npmi_coherence(words, texts),
        diversity=topic_diversity(words),
        outlier_share=float(np.mean(topics == NO_THEME)),
        params=params,
        n_documents=len(texts),
        versions=library_versions(),
        model=model,
        group_topics=group_topics,
    )


FIXED_NO_THEME = -2  # fit_themes ``fixed``: a person said "no theme"


def apply_fixed(
    topics: np.ndarray,
    fixed: np.ndarray,
    centroids: np.ndarray,
    references: Sequence[np.ndarray | None] | None = None,
    min_cosine: float = 0.7,
) -> tuple[np.ndarray, dict[int, int]]:
    """Put every corrected text where a person put it. Each group (largest first) becomes: the fitted topic whose
    centroid is nearest the group's reference (the theme's previous centroid; cosine at least ``min_cosine``, as
    identity across refits asks), else a topic the group's members make at least half of, else a topic of its own;
    never a topic already another group's. Texts marked ``FIXED_NO_THEME`` are unthemed.
    Returns (topics, {group: topic}); topic numbers may have gaps (see :func:`_renumber`)."""
    topics = np.asarray(topics).copy()
    n = int(topics.max()) + 1 if (topics >= 0).any() else 0
    groups = sorted({int(g) for g in fixed if g >= 0}, key=lambda g: (-int(np.sum(fixed == g)), g))
    taken: dict[int, int] = {}
    for g in groups:
        members = fixed == g
        best = -1
        reference = references[g] if references is not None and g < len(references) else None
        if reference is not None and n:
            sims = normalise(centroids[:n]) @ normalise(np.asarray(reference)[None, :])[0]
            for t in np.argsort(-sims, kind="stable"):
                if sims[t] < min_cosine:
                    break
                if int(t) not in taken.values():
                    best = int(t)
                    break
        if best < 0:
            found = topics[members & (topics >= 0)]
            if found.size:
                counts = np.bincount(found, minlength=n)
                t = int(counts.argmax())
                if t not in taken.values() and counts[t] * 2 >= np.sum(topics == t):
                    best = t
        if best < 0:
            best, n = n, n + 1
        taken[g] = best
        topics[members] = best
    topics[fixed == FIXED_NO_THEME] = NO_THEME
    return topics, taken


def follow_corrections(embeddings: np.ndarray, topics: np.ndarray, fixed: np.ndarray, similarity: float) -> np.ndarray:
    """A machine-assigned text follows its nearest corrected text when it is at least ``similarity`` similar to it
    and nearer to it than to its own theme's centroid: a near-paraphrase of a moved comment moves with it."""
    corrected = np.flatnonzero(fixed != -1)
    machine = np.flatnonzero(fixed == -1)
    if not len(corrected) or not len(machine):
        return topics
    topics = np.asarray(topics).copy()
    emb = normalise(embeddings)
    n = int(topics.max()) + 1 if (topics >= 0).any() else 0
    centroids = centroids_of(embeddings, np.where(fixed == -1, topics, NO_THEME), n) if n else np.zeros((0, 1))
    out = topics.copy()
    for start in range(0, len(machine), 2048):
        rows = machine[start : start + 2048]
        sims = emb[rows] @ emb[corrected].T
        nearest = sims.argmax(axis=1)
        best = sims[np.arange(len(rows)), nearest]
        own = np.where(
            topics[rows] >= 0,
            np.einsum("ij,ij->i", emb[rows], centroids[np.clip(topics[rows], 0, None)]) if n else -1.0,
            -1.0,
        )
        follow = (best >= similarity) & (best > own)
        out[rows[follow]] = topics[corrected[nearest[follow]]]
    return out


def _renumber(topics: np.ndarray, group_topics: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """Topics left empty dropped, the rest numbered 0..n-1 in order."""
    present = sorted({int(t) for t in topics if t >= 0})
    renumber = {old: new for new, old in enumerate(present)}
    topics = np.array([renumber.get(int(t), NO_THEME) for t in topics])
    return topics, {g: renumber[t] for g, t in group_topics.items() if t in renumber}


def guide_embeddings(
    embeddings: np.ndarray, seeds: Sequence[str], embedding_model, weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """BERTopic's guided topic modelling, done here so that it combines with people's corrections (BERTopic's own
    replaces any ``y``): each seed (a category's name and description) is embedded; a document more similar to a
    seed than to the average document is moved ``weight`` of the way to that seed's vector. Returns the vectors to
    cluster (the originals stay the themes' centroids and the outlier rule's) and each document's seed (-1:
    none)."""
    seed_vectors = normalise(np.asarray(embed(embedding_model, list(seeds)), dtype=np.float32))
    docs = normalise(embeddings)
    anchors = np.vstack([seed_vectors, normalise(docs.mean(axis=0, keepdims=True))])
    nearest = (docs @ anchors.T).argmax(axis=1)
    seed_y = np.where(nearest == len(seeds), -1, nearest)
    out = docs.copy()
    guided = seed_y >= 0
    out[guided] = docs[guided] * (1 - weight) + seed_vectors[seed_y[guided]] * weight
    return normalise(out), seed_y
