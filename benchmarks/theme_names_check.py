"""Theme names of this working tree against those of a git revision, on the same fits: identical, and how fast.

    .venv/bin/python benchmarks/theme_names_check.py                      # NHS, BBC, the 10,000 of nlp_throughput
    .venv/bin/python benchmarks/theme_names_check.py --rev ie~3 --corpus nhs
    .venv/bin/python benchmarks/theme_names_check.py --corpus bbc --limit 150      # a quick run (the suite's)

A speed-up of ``nlp.themes.naming.name_themes`` must not change a name or a description. Each corpus is fitted once with
this tree's ``fit_themes`` (the ``onnx-int8`` encoder's cached vectors, as benchmarks/themes.py and
benchmarks/nlp_throughput.py use them); the inputs of its ``name_themes`` are kept, and both versions of
``name_themes`` (the revision's, loaded from ``git show <rev>:nlp/themes/naming.py`` or ``nlp/themes.py``, and this
tree's) name the same themes from them. Prints, per corpus, whether every name and description is identical (the
differences if not; exit status 1) and each version's CPU seconds (the machine is shared: CPU seconds, not wall
time). The spaCy pipeline is loaded before either is timed, as a worker process loads it once.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # prove that nothing is downloaded
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora  # noqa: E402


def module_at(rev: str):
    """The theme-naming module as it was at ``rev`` (``nlp/themes/naming.py``; ``nlp/themes.py`` before issue 18
    split it), imported under another name."""
    for path in ("nlp/themes/naming.py", "nlp/themes.py"):
        shown = subprocess.run(  # noqa: S603 - a fixed git command; rev is the developer's own argument
            ["git", "show", f"{rev}:{path}"],  # noqa: S607 - git from PATH, a developer's tool
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if shown.returncode == 0:
            source = shown.stdout
            break
    else:
        raise SystemExit(f"no theme-naming module at {rev}")
    folder = Path(tempfile.mkdtemp(prefix="themes-at-"))
    path = folder / "themes_at_rev.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("themes_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["themes_at_rev"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def corpus_texts(name: str, encoder, limit: int | None = None) -> tuple[list[str], object]:
    """The texts of ``name`` (its first ``limit``) and their vectors: only those are redacted and embedded."""
    if name == "throughput":
        import nlp_throughput

        texts, _labels = nlp_throughput.typical_observations(limit or 10_000)
        cache = nlp_throughput.CACHE / ("redacted.json" if not limit else f"redacted-{limit}.json")
        if cache.exists():
            redacted = json.loads(cache.read_text(encoding="utf-8"))
        else:
            redactor = nlp_throughput.build_redactor()
            redacted = [r.text for r in redactor.redact_many(texts, batch_size=256, n_process=2)]
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(redacted), encoding="utf-8")
        vectors, _computed = nlp_throughput.cached_embeddings(redacted, encoder, fresh=False, processes=2)
        return redacted, vectors
    corpus = getattr(_corpora, name)()
    if limit:
        corpus.texts, corpus.labels = corpus.texts[:limit], corpus.labels[:limit]
    return corpus.texts, _corpora.embeddings(corpus, encoder)


def captured_inputs(texts, vectors, encoder) -> tuple:
    """The arguments this tree's fit gives ``name_themes`` (the themes as they are before naming)."""
    from nlp.themes import fitting, naming

    kept = {}
    original = fitting.name_themes  # the name the fit calls (imported from nlp.themes.naming)
    assert original is naming.name_themes

    def keep(*args):
        kept["args"] = copy.deepcopy(args[0]), *args[1:]

    fitting.name_themes = keep
    try:
        fitting.fit_themes(texts, vectors, embedding_model=encoder)
    finally:
        fitting.name_themes = original
    return kept["args"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--corpus", action="append", choices=["nhs", "bbc", "throughput"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N texts of each corpus (a quick run)")
    args = parser.parse_args(argv)
    _corpora.require_shared()
    warnings.filterwarnings("ignore", category=FutureWarning)
    from nlp.models_loader import load_spacy
    from nlp.themes import naming

    before = module_at(args.rev)
    encoder = _corpora.encoder("onnx-int8")
    spacy_nlp = load_spacy(naming.DEFAULT_SPACY_NAME, exclude=("ner", "lemmatizer"))
    backend = encoder.bertopic_backend()
    failed = False
    for name in args.corpus or ["nhs", "bbc", "throughput"]:
        texts, vectors = corpus_texts(name, encoder, args.limit)
        named, *rest = captured_inputs(texts, vectors, encoder)
        rest[4] = backend  # the encoder as fit_themes hands it on
        rest[5] = spacy_nlp
        out, cpu = {}, {}
        for label, module in (("before", before), ("after", naming)):
            theme_list = copy.deepcopy(named)
            started = time.process_time()
            module.name_themes(theme_list, *rest)
            cpu[label] = time.process_time() - started
            out[label] = [(t.label, t.description) for t in theme_list]
        diff = [(a, b) for a, b in zip(out["before"], out["after"], strict=True) if a != b]
        failed |= bool(diff)
        verdict = "identical" if not diff else f"DIFFERENT in {len(diff)}: {diff[:5]}"
        print(f"{name}: {len(named)} themes, names and descriptions {verdict}; name_themes "
              f"{cpu['before']:.1f} CPU-s at {args.rev}, {cpu['after']:.1f} CPU-s now "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
