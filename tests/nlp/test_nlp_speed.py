"""The speed changes of issue 17 change nothing that is computed: spaCy runs only the NER (and any embedding layer it
listens to) with the same entities and redactions as before, and the ONNX encoder's runs of a few texts and its
forked processes give the same vectors, in the same order, as one process."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import spacy

from nlp import embeddings
from nlp.embeddings import encode as real_encode  # imported before tests/nlp/conftest.py memoises encode
from nlp.redaction.redactor import Redactor, needed_components
from tests.nlp.redaction_support import ROOT, bristol_gazetteer, redactor

# The components redaction ran before issue 17: every component but the tagger, parser, attribute ruler and
# lemmatizer, i.e. the shared tok2vec as well as the NER.
BEFORE_DISABLED = ["tagger", "parser", "attribute_ruler", "lemmatizer"]


def test_redaction_runs_only_the_ner_of_the_small_model():
    nlp = redactor().nlp
    # en_core_web_sm's NER embeds tokens itself; the shared tok2vec feeds only the tagger and the parser.
    assert "ner" not in nlp.get_pipe("tok2vec").listening_components
    assert needed_components(nlp) == ("ner",)
    assert set(redactor().disabled) == set(nlp.pipe_names) - {"ner"}


def test_a_shared_embedding_layer_the_ner_listens_to_is_kept():
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    ner_model = {"@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
                 "hidden_width": 64, "maxout_pieces": 2, "use_upper": True, "tok2vec": listener}  # fmt: skip
    nlp.add_pipe("ner", config={"model": ner_model}).add_label("PERSON")
    nlp.add_pipe("sentencizer")
    nlp.initialize()
    assert needed_components(nlp) == ("tok2vec", "ner")
    assert Redactor(nlp).disabled == ["sentencizer"]


@pytest.mark.slow
def test_redactions_are_identical_without_the_shared_tok2vec():
    """Every text of both evaluation sets (1,717 texts): the same entities, so the same redacted text and spans."""
    texts = []
    for name in ("redaction_eval.jsonl", "redaction_hard.jsonl"):
        for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    now = Redactor(redactor().nlp, bristol_gazetteer())
    before = Redactor(redactor().nlp, bristol_gazetteer())
    before.disabled = BEFORE_DISABLED
    assert "tok2vec" in now.disabled
    results_now = list(now.redact_many(texts, batch_size=128))
    results_before = list(before.redact_many(texts, batch_size=128))
    assert sum(len(r.spans) for r in results_now) > 500  # the sets are full of personal data
    assert results_now == results_before


@pytest.fixture(scope="module")
def onnx_encoder():
    # The suite's one export (tests/conftest.py; checked against its sha256 at load). Exporting is tested in
    # test_encoders.py; these tests are about running the exported model (a fresh export took 4 s of their 18).
    encoder = embeddings.load_encoder("onnx-int8", os.environ["COMMINTEL_MODEL_CACHE_DIR"])
    assert encoder.name == "onnx-int8", "the ONNX encoder fell back to torch"
    return encoder


@pytest.mark.slow
def test_onnx_sessions_sleep_instead_of_spinning(onnx_encoder):
    options = onnx_encoder.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    one = embeddings.OnnxEncoder(onnx_encoder.path, onnx_encoder.sha256, threads=1)
    assert one.session.get_session_options().intra_op_num_threads == 1
    assert one.version == onnx_encoder.version  # threads change the speed, not the vectors


@pytest.mark.slow
def test_a_texts_vector_does_not_depend_on_its_batch(onnx_encoder, texts):
    """One text per run: the same vector alone or among 39 others in any order (the attention's activations are
    quantised with one scale per run, so a shared run would move it by ~0.002 of cosine), which is also what lets
    encode() embed a repeated text once."""
    sample = sorted(texts, key=len)[:40]
    whole = onnx_encoder.embed_batch(sample)
    assert whole.shape == (40, embeddings.DIMENSIONS)
    alone = np.vstack([onnx_encoder.embed_batch([text]) for text in sample])
    np.testing.assert_array_equal(whole, alone)
    np.testing.assert_array_equal(whole, onnx_encoder.embed_batch(sample[::-1])[::-1])
    assert np.allclose(np.linalg.norm(whole, axis=1), 1.0, atol=1e-4)


def test_a_repeated_text_is_embedded_once_and_every_copy_gets_its_vector():
    seen: list[str] = []

    class Counting(embeddings.Encoder):
        name, version = "counting", "counting@1"

        def embed_batch(self, texts):
            seen.extend(texts)
            return np.vstack([np.eye(embeddings.DIMENSIONS, dtype=np.float32)[len(t)] for t in texts])

    texts = ["Very good service", "a", "Very good service", "", "bb", "a", "Very good service", ""]
    progress: list[tuple[int, int]] = []
    vectors = real_encode(texts, batch_size=2, model=Counting(), progress=lambda d, t: progress.append((d, t)))
    assert sorted(seen) == sorted({"Very good service", "a", "", "bb"})  # each distinct text once
    assert vectors.shape == (8, embeddings.DIMENSIONS)
    for row, text in enumerate(texts):  # each row is its own text's vector, in the caller's order
        assert vectors[row].argmax() == len(text)
        assert vectors[row].max() == 1.0
    assert progress[-1] == (8, 8)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert real_encode([], model=Counting()).shape == (0, embeddings.DIMENSIONS)


def test_a_repeated_text_is_redacted_once_and_every_copy_gets_its_redaction():
    red = Redactor(redactor().nlp, bristol_gazetteer())
    parsed: list[str] = []
    pipe = red.nlp.pipe

    def counting_pipe(texts, **kwargs):
        texts = list(texts)
        parsed.extend(texts)
        return pipe(texts, **kwargs)

    red.nlp.pipe = counting_pipe
    try:
        texts = ["Call Sarah Jones on 07700 900123.", "Very good service", "Call Sarah Jones on 07700 900123.",
                 "  ", "Very good service"]  # fmt: skip
        results = list(red.redact_many(texts))
    finally:
        red.nlp.pipe = pipe
    assert sorted(parsed) == ["Call Sarah Jones on 07700 900123.", "Very good service"]
    assert [r.text for r in results] == ["Call [NAME] on [PHONE].", "Very good service", "Call [NAME] on [PHONE].",
                                         "  ", "Very good service"]  # fmt: skip
    assert results[0] == results[2]
    assert results[0].spans


@pytest.mark.slow
def test_forked_processes_give_the_same_vectors_in_the_same_order(onnx_encoder, texts):
    sample = texts[:200] + ["", "short", "Mrs [NAME] rang about the damp in her flat again."]
    one = real_encode(sample, batch_size=32, model=onnx_encoder)
    progress = []
    two = real_encode(sample, batch_size=32, model=onnx_encoder, processes=2, progress=lambda d, t: progress.append(d))
    np.testing.assert_allclose(two, one, atol=1e-5)
    assert progress[-1] == len(sample)
    assert progress == sorted(progress)
    # The torch encoder ignores processes (torch has its own threads): same vectors as without.
    torch = embeddings.load_encoder("torch")
    np.testing.assert_allclose(
        real_encode(sample[:20], model=torch, processes=2), real_encode(sample[:20], model=torch), atol=1e-6
    )
