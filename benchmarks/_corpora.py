"""The real corpora the theme benchmarks run on, read from ../shared/data (never needed at run time), and a cache
of their MiniLM embeddings so a rerun does not re-encode (2 slow cores: several minutes per corpus)."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COMMINTEL_SHARED_DATA", ROOT.parent / "shared" / "data"))
NHS_CSV = SHARED / "text" / "nhs_fft_patient_feedback_2021_2022_labelled_v6.csv"
BBC_DIR = SHARED / "benchmarks" / "octis_bbc_news"
# NHS comments of three other trusts, for replication only (not in ../shared/data: place the file there or name it):
# The-Strategy-Unit/pxtextmining, datasets/phase_1/text_data.csv at commit ba6c0a2f10ca9bb3b964b72afe6047b463095c75
# (MIT, NHS England; 10,334 rows, 44 expert subcategories, one per comment).
NHS_PHASE1_CSV = Path(os.environ.get("COMMINTEL_NHS_PHASE1_CSV", SHARED / "text" / "pxtextmining_phase1_text_data.csv"))
CACHE = Path(os.environ.get("COMMINTEL_BENCH_CACHE", "/tmp/commintel_bench_cache"))  # noqa: S108 - a cache, recomputable


@dataclass
class Corpus:
    name: str
    texts: list[str]
    labels: list[str]
    label_rule: str


def require_shared() -> None:
    if not SHARED.is_dir():
        print(f"SKIP: shared data folder {SHARED} is absent; the theme benchmarks need ../shared/data.")
        sys.exit(0)


def nhs() -> Corpus:
    """NHS Friends & Family Test comments (7,394 non-empty). One label per comment for NMI: of the expert
    framework labels a comment carries, the rarest in the corpus (the most specific: "Parking" wins over
    "Positive experience & gratitude"); ties by column order. Comments with no label get "Not assigned"."""
    import pandas as pd

    df = pd.read_csv(NHS_CSV)
    text = df["FFT answer"].fillna("").astype(str).str.strip()
    df = df[text != ""].copy()
    label_cols = list(df.columns[df.columns.get_loc("Not assigned") :])
    onehot = df[label_cols].fillna(0).astype(int)
    freq = onehot.sum(axis=0)
    labels = []
    for _, row in onehot.iterrows():
        present = [c for c in label_cols if row[c] == 1]
        labels.append(min(present, key=lambda c: (freq[c], label_cols.index(c))) if present else "Not assigned")
    return Corpus(
        "NHS FFT comments",
        df["FFT answer"].astype(str).str.strip().tolist(),
        labels,
        "rarest of the expert labels each comment carries (most specific)",
    )


def bbc() -> Corpus:
    """OCTIS preprocessed BBC News: 2,225 lemmatised documents, 5 labels."""
    texts, labels = [], []
    for line in (BBC_DIR / "corpus.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        texts.append(parts[0])
        labels.append(parts[2] if len(parts) > 2 else "")
    return Corpus("OCTIS BBC News", texts, labels, "the OCTIS label (5 classes)")


def nhs_phase1() -> Corpus:
    """NHS FFT comments of three trusts (pxtextmining phase 1), never used to tune anything: 10,302 non-empty
    comments, one expert subcategory each (44). Exits with a SKIP message naming the file when it is absent."""
    import pandas as pd

    if not NHS_PHASE1_CSV.is_file():
        print(f"SKIP: {NHS_PHASE1_CSV} is absent (The-Strategy-Unit/pxtextmining datasets/phase_1/text_data.csv at "
              "ba6c0a2; or set COMMINTEL_NHS_PHASE1_CSV).")  # fmt: skip
        sys.exit(0)
    df = pd.read_csv(NHS_PHASE1_CSV)
    df["feedback"] = df["feedback"].fillna("").astype(str).str.strip()
    df = df[df["feedback"] != ""]
    return Corpus(
        "NHS phase 1 comments",
        df["feedback"].tolist(),
        df["subcategory"].astype(str).str.strip().tolist(),
        "the expert subcategory (one per comment, 44)",
    )


CORPORA = {"nhs": nhs, "bbc": bbc, "nhs1": nhs_phase1}

ENCODERS = ("onnx-int8", "torch")
# Where the app keeps the ONNX export of the encoder too (the COMMINTEL_MODEL_CACHE_DIR setting, else instance/models).
MODEL_CACHE = Path(os.environ.get("COMMINTEL_MODEL_CACHE_DIR") or ROOT / "instance" / "models")


def encoder(name: str):
    """The encoder ``name`` as the app loads it (the ONNX export is made once, into instance/models)."""
    from nlp import embeddings as emb

    started = time.perf_counter()
    model = emb.load_encoder(name, MODEL_CACHE)
    if model.name != name:
        print(f"  encoder {name} unavailable, fell back to {model.name} (see the log line above)", flush=True)
    print(f"  encoder {model.name}: {model.version} (ready in {time.perf_counter() - started:.1f} s)", flush=True)
    return model


def embeddings(corpus: Corpus, model=None) -> np.ndarray:
    """MiniLM vectors for ``corpus`` by ``model`` (an nlp.embeddings encoder; torch by default), cached under CACHE
    keyed by the texts and the encoder version."""
    from nlp import embeddings as emb

    model = emb.as_encoder(model)
    key = hashlib.sha256(("\n".join(corpus.texts) + emb.model_version()).encode()).hexdigest()[:16]
    if model.name != "torch":  # the torch cache keeps its old key, so existing caches stay valid
        key = hashlib.sha256((key + model.version).encode()).hexdigest()[:16]
    path = CACHE / f"{corpus.name.replace(' ', '_')}_{key}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"  embedding {len(corpus.texts)} texts of {corpus.name} with {model.name} (cached in {path})", flush=True)
    vectors = emb.encode(corpus.texts, batch_size=64, model=model)
    print(f"  ... {time.perf_counter() - started:.0f} s", flush=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.rename(path)
    return vectors
