"""Theme test helpers: small REAL samples (the vendored demo texts: 150 NHS Friends and Family Test answers and 98
community observations), the real MiniLM model and real BERTopic. Vectors are memoised per text for the session
(the real model computes each once) so that the SQLite and PostgreSQL runs do not pay twice."""

from __future__ import annotations

import numpy as np
import pytest

from submissions.demo import demo_texts

_MEMO: dict[tuple[str, str], np.ndarray] = {}


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return demo_texts()


@pytest.fixture(scope="session", autouse=True)
def memoised_encode():
    """Encode each distinct text once per session and encoder version with the real model (patched back
    afterwards)."""
    from nlp import embeddings

    real = embeddings.encode

    def encode(texts, batch_size=embeddings.DEFAULT_BATCH_SIZE, progress=None, model=None):
        version = embeddings.as_encoder(model).version
        todo = [t for t in dict.fromkeys(texts) if (version, t) not in _MEMO]
        if todo:
            for t, v in zip(todo, real(todo, batch_size=batch_size, model=model), strict=True):
                _MEMO[version, t] = v
        if not texts:
            return np.zeros((0, embeddings.DIMENSIONS), np.float32)
        return np.vstack([_MEMO[version, t] for t in texts])

    embeddings.encode = encode
    yield
    embeddings.encode = real


@pytest.fixture(scope="session")
def vectors(texts) -> np.ndarray:
    from nlp import embeddings

    return embeddings.encode(texts)


# c-TF-IDF words keep the DB tests quick; the KeyBERTInspired labels are exercised by the fit tests.
FAST_PARAMS = {"representation": "ctfidf"}
