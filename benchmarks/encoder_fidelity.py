"""How close the int8 ONNX encoder's vectors are to torch's on this machine's CPU, and what they cost.

    .venv/bin/python benchmarks/encoder_fidelity.py                   # the recipe the app exports
    .venv/bin/python benchmarks/encoder_fidelity.py --signed-weights  # recipe 2's signed attention weights, to compare

Exports the bundled MiniLM afresh into a temporary folder (as the app does on first use), then embeds the vendored
demo texts (248: what tests/nlp/test_encoders.py checks) and, when ../shared/data is there, the first 1,500
distinct NHS comments, with it and with torch. Prints the CPU's 8-bit dot-product instructions (onnxruntime's
signed-weight int8 MatMul saturates in 16 bits without VNNI), each set's cosine to torch (mean, minimum), how often
a text's nearest neighbour is the same under both encoders, and this process's CPU seconds for the ONNX embedding.
``--signed-weights`` exports the attention MatMuls with signed int8 weights (U8S8, recipe 2) instead of unsigned
(U8U8, recipe 3): the same comparison for the recipe before.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _corpora  # noqa: E402


def cpu_features() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return ", ".join(f for f in wanted if f" {f}" in flags) or "none of " + ", ".join(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signed-weights", action="store_true", help="recipe 2's signed attention weights (U8S8)")
    parser.add_argument("--limit", type=int, help="only the first N texts of each set (a quick check)")
    args = parser.parse_args(argv)
    import onnxruntime.quantization as quantization

    from nlp import embeddings
    from submissions.demo import demo_texts

    if args.signed_weights:  # the one argument recipes 2 and 3 differ in, for this comparison only
        real = quantization.quantize_dynamic

        def signed(*a, **kw):
            return real(*a, **{**kw, "weight_type": quantization.QuantType.QInt8})

        quantization.quantize_dynamic = signed
    sets = [("demo texts", demo_texts())]
    if _corpora.SHARED.is_dir():
        # Distinct texts: a comment said 50 times has 49 nearest neighbours at cosine 1, in any order.
        sets.append(("distinct NHS comments", list(dict.fromkeys(_corpora.nhs().texts))[:1500]))
    else:
        print(f"(no {_corpora.SHARED}: the NHS comments are left out)")
    sets = [(name, texts[: args.limit] if args.limit else texts) for name, texts in sets]  # the first N of each
    with tempfile.TemporaryDirectory(prefix="commintel-fidelity-") as folder:
        started = time.perf_counter()
        onnx = embeddings.load_encoder("onnx-int8", folder)
        print(f"CPU: {cpu_features()}; exported {onnx.version} in {time.perf_counter() - started:.0f} s "
              f"({'signed' if args.signed_weights else 'unsigned'} attention weights)")  # fmt: skip
        torch = embeddings.load_encoder("torch")
        for name, texts in sets:
            cpu = time.process_time()
            fast = embeddings.encode(texts, model=onnx)
            seconds = time.process_time() - cpu
            reference = embeddings.encode(texts, model=torch)
            cosine = np.sum(fast * reference, axis=1)
            nearest = np.argsort(-(fast @ fast.T), axis=1)[:, 1] == np.argsort(-(reference @ reference.T), axis=1)[:, 1]
            print(f"  {name} ({len(texts)}): cosine to torch mean {cosine.mean():.5f}, min {cosine.min():.5f}; "
                  f"same nearest neighbour {nearest.mean():.1%}; ONNX {seconds:.1f} CPU-s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
