"""The two encoders of MiniLM: the int8 ONNX export (offline, verified by hash, close to torch), the fallback to
torch, and re-embedding exactly once when the encoder setting changes."""

from __future__ import annotations

import json
import logging
import socket
from collections import Counter

import numpy as np
import onnx
import pytest
from sqlalchemy import func, select

from nlp import embeddings
from nlp.models import ObservationEmbedding
from nlp.themes import refit as theme_refit
from nlp.themes import vectors as theme_vectors
from nlp.themes.models import ThemeModel
from tests.nlp.test_theme_operations import add_observations, theme_world  # noqa: F401 - the fixture
from webapp.config import ConfigError, load_config
from webapp.extensions import db


def test_encoder_setting_is_validated_at_start_up():
    assert load_config({"COMMINTEL_ENV": "testing"}, environ={})["COMMINTEL_ENCODER"] == "onnx-int8"
    assert load_config({"COMMINTEL_ENV": "testing"}, environ={"COMMINTEL_ENCODER": "Torch"})["COMMINTEL_ENCODER"] == (
        "torch"
    )
    with pytest.raises(ConfigError, match="COMMINTEL_ENCODER: must be one of onnx-int8, torch"):
        load_config({"COMMINTEL_ENV": "testing"}, environ={"COMMINTEL_ENCODER": "onnx-fp16"})
    with pytest.raises(ValueError, match="unknown encoder"):
        embeddings.load_encoder("gpu")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (the export and load must be wholly local)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_onnx_export_is_offline_verified_and_close_to_torch(tmp_path, no_network, texts, caplog):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    encoder = embeddings.load_encoder("onnx-int8", tmp_path)
    # onnxruntime's MatMulNBits quantiser calls logging.basicConfig(level=INFO) when imported: undone.
    assert (root.handlers, root.level) == (handlers, level)
    assert encoder.name == "onnx-int8", "the ONNX encoder fell back to torch"
    folder = embeddings.onnx_cache_path(tmp_path)
    manifest = json.loads((folder / embeddings.MANIFEST_FILE).read_text())
    assert manifest["sha256"] == embeddings._sha256(folder / embeddings.ONNX_FILE)
    assert encoder.version == f"{embeddings.model_version()}+onnx-int8-{manifest['sha256'][:12]}"
    assert encoder.version != embeddings.model_version()  # stored vectors of the two encoders never mix

    # Real texts of every length (one-word answers to long comments): each vector close to torch's.
    fast = embeddings.encode(texts, model=encoder)
    reference = embeddings.encode(texts, model=embeddings.load_encoder("torch"))
    cosine = np.sum(fast * reference, axis=1)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    assert cosine.mean() >= 0.997, cosine.mean()
    assert cosine.min() >= 0.99, cosine.min()
    # Same pieces of meaning stay nearest: the nearest neighbour of most texts is the same under both encoders.
    same = np.mean(np.argsort(-(fast @ fast.T), axis=1)[:, 1] == np.argsort(-(reference @ reference.T), axis=1)[:, 1])
    assert same >= 0.95, same
    # The recipe: every weight MatMul is int8; the 12 feed-forward ones 8-bit MatMulNBits, the 24 attention ones
    # dynamic int8; no weight MatMul left in float.
    graph = onnx.load(str(folder / embeddings.ONNX_FILE)).graph
    kinds = Counter(node.op_type for node in graph.node)
    assert kinds["MatMulNBits"] == 12, kinds
    assert kinds["MatMulInteger"] == 24, kinds
    weights = {tensor.name for tensor in graph.initializer}
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]

    # A damaged file fails its hash check and is exported again, to the same bytes (so the same version everywhere).
    with (folder / embeddings.ONNX_FILE).open("ab") as fh:
        fh.write(b"damage")
    caplog.set_level(logging.WARNING, logger="nlp.embeddings")
    model_file, digest = embeddings.ensure_onnx_model(tmp_path)
    assert "does not match its recorded sha256" in caplog.text
    assert digest == manifest["sha256"]
    assert embeddings._sha256(model_file) == digest


def test_onnx_runtime_missing_falls_back_to_torch_with_a_clear_log_line(tmp_path, monkeypatch, caplog):
    import builtins

    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
    caplog.set_level(logging.WARNING, logger="nlp.embeddings")
    encoder = embeddings.load_encoder("onnx-int8", tmp_path / "no-runtime")
    assert encoder.name == "torch"
    assert encoder.version == embeddings.model_version()
    assert "encoder onnx-int8 unavailable (ImportError: No module named 'onnxruntime" in caplog.text
    assert "falling back to the torch encoder" in caplog.text


def test_an_onnx_file_that_does_not_load_falls_back_to_torch(tmp_path, caplog):
    # A file that matches its manifest (so it is not re-exported) but is not a model onnxruntime can load.
    folder = embeddings.onnx_cache_path(tmp_path)
    folder.mkdir(parents=True)
    (folder / embeddings.ONNX_FILE).write_bytes(b"not an onnx graph")
    digest = embeddings._sha256(folder / embeddings.ONNX_FILE)
    (folder / embeddings.MANIFEST_FILE).write_text(json.dumps({"sha256": digest}))
    caplog.set_level(logging.WARNING, logger="nlp.embeddings")
    encoder = embeddings.load_encoder("onnx-int8", tmp_path)
    assert encoder.name == "torch"
    assert "encoder onnx-int8 unavailable" in caplog.text
    assert "falling back to the torch encoder all-MiniLM-L6-v2@" in caplog.text


@pytest.mark.slow
def test_switching_the_encoder_embeds_each_observation_once_more(theme_world, texts, app, monkeypatch):  # noqa: F811
    observations = add_observations(theme_world, texts[:120])
    monkeypatch.setitem(app.config, "COMMINTEL_ENCODER", "torch")
    torch_version = theme_vectors.encoder().version
    report = theme_refit.refit(theme_world["partnership"])
    assert report.embedded == 120
    assert theme_vectors.embed_missing(observations) == 0  # nothing twice under the same encoder

    monkeypatch.setitem(app.config, "COMMINTEL_ENCODER", "onnx-int8")
    onnx_version = theme_vectors.encoder().version
    assert onnx_version != torch_version
    assert "+onnx-int8-" in onnx_version
    report = theme_refit.refit(theme_world["partnership"])
    assert report.embedded == 120  # the switch embeds every observation once more...
    again = theme_refit.refit(theme_world["partnership"])
    assert again.embedded == 0  # ...and only once
    counts = dict(
        db.session.execute(
            select(ObservationEmbedding.model_version, func.count()).group_by(ObservationEmbedding.model_version)
        ).all()
    )
    assert counts == {torch_version: 120, onnx_version: 120}
    model = db.session.get(ThemeModel, again.model_id)
    assert model.embedding_model == onnx_version  # each theme version says which encoder made its vectors
