"""User ONNX models as embeddings: tiny graphs built here, with known outputs."""

import json

import librosa
import numpy as np
import pytest

from earmark.errors import ModelFileError, ParameterError
from earmark.models.embeddings import get_embedder
from earmark.models.embeddings.onnx_custom import OnnxEmbedder, load_config

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

W = np.random.default_rng(3).normal(0, 1, (1600, 3)).astype(np.float32)


def _save(tmp_path, name, nodes, inputs, outputs, inits, config):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    if config is not None:
        (tmp_path / f"{name}.json").write_text(json.dumps(config))
    return path


def _waveform_model(tmp_path, *, batch="batch", config=None, name="wave"):
    config = config if config is not None else {"sample_rate": 16000, "window_s": 0.1,
                                                "licence": "MIT (test)"}
    return _save(tmp_path, name, [helper.make_node("MatMul", ["waveform", "W"], ["embedding"])],
                 [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, [batch, 1600])],
                 [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, 3])],
                 [numpy_helper.from_array(W, "W")], config)


def test_waveform_model_gives_its_output(tmp_path, rng):
    path = _waveform_model(tmp_path)
    emb = get_embedder(f"onnx:{path}")
    assert (emb.sample_rate, emb.window_s, emb.hop_s, emb.dim) == (16000, 0.1, 0.05, 3)
    assert emb.licence == "MIT (test)" and emb.name == "onnx:wave.onnx"
    x = rng.standard_normal((5, 1600)).astype(np.float32)
    np.testing.assert_allclose(emb.embed(x, batch_size=2), x @ W, rtol=1e-4, atol=1e-4)
    assert len(emb.settings()["model_sha256"]) == 64


def test_graph_fixed_at_batch_one_is_run_window_by_window(tmp_path, rng):
    emb = OnnxEmbedder(_waveform_model(tmp_path, batch=1))
    x = rng.standard_normal((3, 1600)).astype(np.float32)
    np.testing.assert_allclose(emb.embed(x), x @ W, rtol=1e-4, atol=1e-4)


def test_time_axis_is_pooled(tmp_path, rng):
    shape = numpy_helper.from_array(np.array([0, 4, 400], np.int64), "shape")
    path = _save(tmp_path, "frames", [helper.make_node("Reshape", ["waveform", "shape"], ["out"])],
                 [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["b", 1600])],
                 [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", 4, 400])],
                 [shape], {"sample_rate": 16000, "window_s": 0.1, "pooling": "max"})
    x = rng.standard_normal((2, 1600)).astype(np.float32)
    e = OnnxEmbedder(path).embed(x)
    np.testing.assert_array_equal(e, x.reshape(2, 4, 400).max(axis=1))


FRONT_END = {"kind": "logmel", "n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 64,
             "fmin": 125, "fmax": 7500, "mel_scale": "htk", "mel_norm": None, "power": 1.0,
             "center": False, "log": "log", "log_offset": 0.01, "layout": "n,1,frames,mels"}
LOGMEL_CONFIG = {"sample_rate": 16000, "window_s": 0.982, "front_end": FRONT_END}   # 96 frames


def _logmel_model(tmp_path):
    """Takes (b, 1, 96 frames, 64 mels) and returns the mean of each mel band."""
    return _save(tmp_path, "vggish_like",
                 [helper.make_node("ReduceMean", ["mel"], ["emb"], axes=[1, 2], keepdims=0)],
                 [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["b", 1, 96, 64])],
                 [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["b", 64])],
                 [], LOGMEL_CONFIG)


def test_logmel_front_end_matches_librosa(tmp_path, rng):
    x = (0.3 * rng.standard_normal((2, 15712))).astype(np.float32)
    S = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, hop_length=160, win_length=400,
                                       center=False, power=1.0, n_mels=64, fmin=125, fmax=7500,
                                       htk=True, norm=None)
    expected = np.log(S + 0.01).mean(axis=-1)
    emb = OnnxEmbedder(_logmel_model(tmp_path))
    np.testing.assert_allclose(emb.embed(x), expected, rtol=1e-5, atol=1e-5)


def test_config_errors_are_explained(tmp_path):
    path = _waveform_model(tmp_path, config={})
    (tmp_path / "wave.json").unlink()
    with pytest.raises(ParameterError, match="wave.json"):
        OnnxEmbedder(path)
    with pytest.raises(ParameterError, match="'sample_rate' is required"):
        load_config({"window_s": 1.0})
    with pytest.raises(ParameterError, match="unknown keys \\['samplerate'\\]"):
        load_config({"samplerate": 16000, "sample_rate": 16000, "window_s": 1.0})
    with pytest.raises(ParameterError, match="layout"):
        load_config({"sample_rate": 16000, "window_s": 1.0,
                     "front_end": {"kind": "logmel", "n_fft": 512, "hop_length": 160,
                                   "n_mels": 64, "layout": "n,mels"}})
    with pytest.raises(ModelFileError, match="outputs are \\['embedding'\\]"):
        OnnxEmbedder(_waveform_model(tmp_path, name="w2"),
                     config={"sample_rate": 16000, "window_s": 0.1, "output_name": "emb"})
    with pytest.raises(ModelFileError, match="shape \\(1, 1, 95, 64\\)"):     # one frame short
        OnnxEmbedder(_logmel_model(tmp_path), config={**LOGMEL_CONFIG, "window_s": 0.975})
    with pytest.raises(ModelFileError, match="not found"):
        get_embedder(f"onnx:{tmp_path / 'missing.onnx'}")
