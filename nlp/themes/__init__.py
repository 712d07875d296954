"""Themes found in observations: BERTopic over MiniLM embeddings, versioned fits with stable theme identity, curation
by convenors, counts released through the disclosure layer.

The algorithm (plain values: no Flask, no database): :mod:`~nlp.themes.params` (parameters and results),
:mod:`~nlp.themes.vocabulary` (the words a theme may use), :mod:`~nlp.themes.similarity` (the outlier rule),
:mod:`~nlp.themes.fitting` (BERTopic), :mod:`~nlp.themes.naming` (names a person would write),
:mod:`~nlp.themes.matching` (identity across refits), :mod:`~nlp.themes.saved` (a version on disk) and
:mod:`~nlp.themes.quality` (coherence, diversity).

The domain package's file set: :mod:`~nlp.themes.models` (tables), :mod:`~nlp.themes.operations` (curation by
people), :mod:`~nlp.themes.refit`, :mod:`~nlp.themes.assignment` and :mod:`~nlp.themes.vectors` (the machine's
operations), :mod:`~nlp.themes.corpus` (what a fit reads), :mod:`~nlp.themes.queries` and :mod:`~nlp.themes.periods`
(figures other packages build on), :mod:`~nlp.themes.views`, :mod:`~nlp.themes.forms`, :mod:`~nlp.themes.tasks`,
:mod:`~nlp.themes.cli` and :mod:`~nlp.themes.demo`. Operations flush and never commit.

The refit lock (:mod:`~nlp.themes.refit_lock`) and what an erasure does to themes (:mod:`~nlp.themes.erasure`) live
here: both are about theme versions only. Embeddings (:mod:`nlp.embeddings`) are in :mod:`nlp` because loading a
model is shared start-up work, not a theme rule.
"""
