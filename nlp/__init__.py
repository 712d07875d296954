"""Redaction of personal data, place detection, embeddings and BERTopic themes.

Two sub-packages, each with a domain package's file set: :mod:`nlp.redaction` (personal data out of the text, place
names found on the way) and :mod:`nlp.themes` (themes fitted, curated and counted). Here, in :mod:`nlp` itself, is
only what both use: loading the spaCy model (:mod:`nlp.models_loader`; redaction's NER, the themes' noun phrases)
and the sentence-embedding model (:mod:`nlp.embeddings`), the pipeline that runs both on every saved observation
(:mod:`nlp.pipeline`, with its work leases and the stored vectors in :mod:`nlp.models`), the signal redaction sends
and the themes receive (:mod:`nlp.signals`), the demo step (:mod:`nlp.demo`) and the app wiring (:mod:`nlp.app`).

Algorithm modules take and return plain Python, numpy and pandas values and import neither Flask nor the database;
a thin storage layer in each sub-package saves their results."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the NLP package with the app (``webapp.create_app`` calls this): see :func:`nlp.app.init_app`."""
    # One import here, not at the top: importing any nlp module (a benchmark's nlp.redaction.redactor, a forked
    # encoder) must not load Flask, the database models and the other packages with the app wiring.
    from nlp.app import init_app as wire  # noqa: PLC0415 - keeps the algorithm modules importable on their own

    wire(app)
