"""The speed changes of issue 17 change nothing that is computed: spaCy runs only the NER (and any embedding layer it
listens to) with the same entities and redactions as before."""

from __future__ import annotations

import json

import pytest
import spacy

from nlp.redaction import Redactor, needed_components
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
