"""The parameters of a theme fit (:class:`ThemeParams`, one place for every default) and what a fit returns
(:class:`FitResult`, :class:`ThemeResult`). Plain values: no Flask, no database."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

MIN_DOCUMENTS = 40
NO_THEME = -1
LABEL_ASPECT = "KeyBERT"
TOKEN = re.compile(r"(?u)\b\w\w+\b")


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
    # 1 % of the corpus, between 5 and 8. Small themes, then merged where their centroids agree (merge_similarity),
    # then every outlier the rule can place placed (outlier_margin 0), then a sharper c-TF-IDF (tf_power 1.25): on
    # the tune halves NHS NMI +6.0 % and NPMI +0.015, BBC NMI +10.8 % and NPMI +0.004 over the configuration before
    # issue 16 (18, no merging, margin 0.02, tf_power 1); docs/experiments/themes-2026-12-02.md has every run.
    cluster_share: float = 0.01
    max_min_cluster_size: int = 8
    # No theme may hold more than this share of the corpus (HDBSCAN max_cluster_size): without it a small
    # partnership's corpus falls into two blobs (on the 248 demo texts: 2 themes; with it: 16). A quarter keeps
    # BBC's five sections (each about 23 % of the corpus) whole.
    max_cluster_share: float = 0.25
    # HDBSCAN's cluster selection ("eom" or "leaf") and its cluster_selection_epsilon (in UMAP's space).
    cluster_selection: str = "eom"
    cluster_selection_epsilon: float = 0.0
    # BERTopic's topic reduction inside the fit (nr_topics): None - none; "auto" - themes whose c-TF-IDF vectors
    # HDBSCAN groups are merged; a number - merged down to that many.
    nr_topics: int | str | None = None
    # Themes whose centroids (mean of their texts' vectors) have a cosine of at least this are merged after the
    # fit, before the outlier rule (average-linkage agglomeration of the centroids, see merge_similar_topics); the
    # merged theme's words are c-TF-IDF over all its texts. 0: no merging.
    merge_similarity: float = 0.7
    # Themes of one-line answers (median text of at most short_text_words words; 0: off) merged among themselves at
    # this lower floor after that: "Excellent", "Very good service" and "Brilliant staff" differ in wording more
    # than in substance, and each is a theme of its own at the small minimum size. Measured (5 words, 0.5): NHS NPMI
    # +0.025 on halves of the tune half at no NMI cost, but -0.9 % NMI on the whole tune half; not a default (the
    # record, fourth session).
    short_text_words: int = 0
    short_merge_similarity: float = 0.5
    # The c-TF-IDF power (see tf_power) for the words of themes of one-line answers only (the themes
    # short_text_words picks in the final assignment); 0: tf_power for every theme. In a theme of one-line answers
    # each text gives a word or two, and the words most of them share are the theme; in a theme of longer texts the
    # rarer words carry its subject (a sharper power for all themes cost BBC's NPMI in round 2 of the record).
    # Measured (round 3, power 2 / 3 with the merge above): NHS NPMI +0.003 / +0.005 over the merge alone, still lower
    # than before issue 16 in 7 / 6 of 12 halves of the tune half; not a default.
    short_tf_power: float = 0.0
    min_df: int = 1
    ngram_range: tuple[int, int] = (1, 2)
    representation: str = "keybert"  # "keybert" or "ctfidf"
    top_n_words: int = 10
    # c-TF-IDF weighting (BERTopic's ClassTfidfTransformer): square root of the term frequencies, BM25-like idf.
    reduce_frequent_words: bool = False
    bm25_weighting: bool = False
    tf_power: float = 1.25  # the in-theme term frequencies (l1-normalised) raised to this power; 0.5 = reduce_frequent
    outlier_similarity: float = 0.5
    outlier_margin: float = 0.0
    representative_docs: int = 5
    # A term is kept only if it occurs in this many distinct observations (k: the suppression threshold) ...
    term_min_observations: int = 5
    # ... from at least this many sources (organisations; the public form counts as one). See shared_vocabulary.
    term_min_sources: int = 2
    # ... and in at least this share of the observations (a theme word used by a handful of texts of thousands
    # rarely appears beside the theme's other words: it lowers NPMI without telling readers much).
    term_min_share: float = 0.0
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

    def term_min_count(self, n_docs: int) -> int:
        """The fewest distinct observations a term must occur in (see shared_vocabulary)."""
        return max(self.term_min_observations, math.ceil(self.term_min_share * n_docs))

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
    model: Any = field(default=None, repr=False)  # the fitted BERTopic, for saving
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
