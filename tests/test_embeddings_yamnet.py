"""YAMNet: the front end (known answers), the graph rewrite (a tiny export built here) and, when
the model is installed, class scores on real sounds."""

import shutil
import subprocess
import zipfile

import numpy as np
import pytest

from earmark.models.embeddings import ModelNotInstalledError, get_embedder
from earmark.models.embeddings import yamnet as Y

SR = 16000


def _tone(f, seconds, amp=0.5):
    t = np.arange(int(round(seconds * SR))) / SR
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


# ---------------------------------------------------------------------------- front end ---

def test_silence_is_log_of_the_offset():
    lm = Y.log_mel(np.zeros(15600, np.float32))
    assert lm.shape == (96, 64)
    np.testing.assert_allclose(lm, np.log(0.001), rtol=1e-6)


@pytest.mark.parametrize("samples, frames", [(400, 1), (559, 1), (560, 2), (15600, 96),
                                             (16000, 98)])
def test_frames_are_not_centred(samples, frames):
    assert Y.log_mel(np.zeros(samples)).shape == (frames, 64)


def test_a_click_touches_only_the_frames_that_contain_it():
    # no centring: sample 200 lies in frame 0 (0-399) and frame 1 (160-559) only
    y = np.zeros(15600)
    y[200] = 1.0
    lm = Y.log_mel(y)
    silent = np.log(0.001)
    assert (lm[:2] > silent + 1).any(axis=1).all()
    np.testing.assert_allclose(lm[2:], silent, rtol=1e-6)


@pytest.mark.parametrize("hz", [250, 1000, 2000, 4000, 6000])
def test_a_tone_peaks_in_the_band_whose_htk_centre_is_nearest(hz):
    edges = np.linspace(Y._hz_to_mel(125), Y._hz_to_mel(7500), 66)
    expected = np.abs(edges[1:-1] - Y._hz_to_mel(hz)).argmin()
    assert Y.log_mel(_tone(hz, 1.0)).mean(axis=0).argmax() == expected


def test_magnitude_not_power_spectrum():
    # doubling the amplitude adds log(2) to the log-mel of a loud band (log 4 for power)
    a = Y.log_mel(_tone(1000, 1.0, amp=0.2)).mean(axis=0)
    b = Y.log_mel(_tone(1000, 1.0, amp=0.4)).mean(axis=0)
    band = a.argmax()
    assert b[band] - a[band] == pytest.approx(np.log(2), abs=1e-3)


def test_htk_mel_scale_and_periodic_hann_window():
    import scipy.signal
    assert Y._hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.01)   # HTK: 1000 Hz = 1000 mel
    assert Y._hz_to_mel(700.0) == pytest.approx(1127 * np.log(2))
    # tf.signal.hann_window(400, periodic=True), as scipy's FFT-bin ("periodic") Hann
    np.testing.assert_allclose(Y._hann(), scipy.signal.get_window("hann", 400, fftbins=True),
                               atol=1e-12)


def test_mel_matrix_excludes_dc_and_covers_125_to_7500_hz():
    w = Y.mel_matrix()
    assert w.shape == (257, 64)
    assert w[0].max() == 0.0
    hz = np.linspace(0, 8000, 257)
    used = hz[w.sum(axis=1) > 0]
    assert 125 < used.min() <= 125 + 31.25 and 7500 - 31.25 <= used.max() < 7500


@pytest.mark.parametrize("seconds, n_patches, padded", [
    (0.5, 1, 15600), (0.96, 1, 15600), (0.975, 1, 15600), (0.976, 2, 23280), (1.44, 2, 23280),
    (2.0, 4, 38640)])
def test_padding_and_patching_follow_yamnet(seconds, n_patches, padded):
    y = np.zeros((2, int(round(seconds * SR))), np.float32)
    assert Y.pad_waveform(y).shape == (2, padded)
    p, owner = Y.patches(y)
    assert p.shape == (2 * n_patches, 96, 64)
    assert owner.tolist() == [0] * n_patches + [1] * n_patches


# ------------------------------------------------------------------------ graph rewrite ---

def _tiny_export(folder):
    """A YAMNet-shaped export: uint8 'audio' -> dequantize -> mean over mels -> Reshape [1,-1]
    -> Gemm -> QuantizeLinear 'class_scores', saved with external data and zipped."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, (5, 96)).astype(np.float32)
    b = rng.normal(0, 0.1, 5).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "audio_scale"),
             numpy_helper.from_array(np.array(140, np.uint8), "audio_zero_point"),
             numpy_helper.from_array(np.array([1, -1], np.int64), "shape"),
             numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
             numpy_helper.from_array(np.array(0.5, np.float32), "class_scores_scale"),
             numpy_helper.from_array(np.array(128, np.uint8), "class_scores_zero_point")]
    nodes = [helper.make_node("DequantizeLinear", ["audio", "audio_scale", "audio_zero_point"],
                              ["x"]),
             helper.make_node("ReduceMean", ["x"], ["m"], axes=[3], keepdims=1),
             helper.make_node("Reshape", ["m", "shape"], ["pooled"]),
             helper.make_node("Gemm", ["pooled", "W", "B"], ["class_scores_updated"], transB=1),
             helper.make_node("QuantizeLinear", ["class_scores_updated", "class_scores_scale",
                                                 "class_scores_zero_point"], ["class_scores"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("audio", TensorProto.UINT8, [1, 1, 96, 64])],
        [helper.make_tensor_value_info("class_scores", TensorProto.UINT8, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    job = folder / "job"
    job.mkdir()
    onnx.save(model, job / "model.onnx", save_as_external_data=True, location="model.data",
              size_threshold=0)
    zpath = folder / "YamNet_w8a8.onnx.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(job / "model.onnx", "job/model.onnx")
        zf.write(job / "model.data", "job/model.data")
    return zpath, w, b


def test_rewrite_adds_float_input_dynamic_batch_and_embedding_output(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    zpath, w, b = _tiny_export(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    files = Y.convert({"model": zpath}, out)
    assert files == {"model": "yamnet.onnx"}
    sess = ort.InferenceSession(str(out / files["model"]), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["log_mel"]
    assert [o.name for o in sess.get_outputs()] == ["embedding", "logits"]
    x = np.random.default_rng(1).uniform(-10, 8, (3, 1, 96, 64)).astype(np.float32)
    emb, logits = sess.run(None, {"log_mel": x})
    # quantised exactly as the export expects: round half to even, saturate to [0, 255]
    q = np.clip(np.rint(x / np.float32(0.05)) + 140, 0, 255)
    expected = ((q - 140) * np.float32(0.05)).mean(axis=3).reshape(3, 96)
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, emb @ w.T + b, rtol=1e-5, atol=1e-5)


def test_rewrite_refuses_a_graph_that_is_not_the_export():
    import onnx
    from onnx import TensorProto, helper

    from earmark.errors import ModelFileError
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ModelFileError, match="audio_scale"):
        Y.add_embedding_output(helper.make_model(g))
    assert onnx  # (imported for the helper)


# ------------------------------------------------------------------- the real model ---

@pytest.fixture(scope="module")
def yamnet():
    try:
        return get_embedder("yamnet", num_threads=2)
    except ModelNotInstalledError as exc:
        pytest.skip(f"YAMNet is not installed here ({exc})")


def _top(yamnet, windows, k=3):
    scores = yamnet.class_scores(windows).mean(axis=0)
    return [yamnet.class_names[i] for i in np.argsort(scores)[::-1][:k]]


def test_speech_is_recognised_as_speech(yamnet, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    import earmark.audio
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "The quick brown fox jumps over the lazy dog, "
                    "and then it runs far away into the forest."], check=True)
    y, _ = earmark.audio.load(wav, sample_rate=SR)
    n, hop = 15360, 7680
    windows = np.stack([y[s:s + n] for s in range(0, len(y) - n + 1, hop)])
    assert _top(yamnet, windows, 1) == ["Speech"]


def test_sine_tone_and_silence(yamnet):
    assert "Sine wave" in _top(yamnet, _tone(3000, 0.96)[None])
    assert _top(yamnet, np.zeros((1, 15360), np.float32), 1) == ["Silence"]


def test_embeddings_shape_batch_invariance_and_long_windows(yamnet, rng):
    y = np.concatenate([_tone(500, 0.8), 0.2 * rng.standard_normal(int(0.8 * SR))])
    y = y.astype(np.float32)[:23280]
    assert yamnet.dim == 1024 and yamnet.window_s == 0.96 and yamnet.sample_rate == SR
    w = np.stack([y[:15360], y[7680:23040]])
    together = yamnet.embed(w)
    apart = np.concatenate([yamnet.embed(w[i:i + 1]) for i in range(2)])
    assert together.shape == (2, 1024) and together.dtype == np.float32
    np.testing.assert_array_equal(together, apart)
    assert not np.allclose(together[0], together[1])
    # 1.455 s = two patches exactly: its embedding is the mean of theirs
    long = yamnet.embed(y[None])
    parts = yamnet.embed(np.stack([y[:15600], y[7680:23280]]))
    np.testing.assert_allclose(long[0], parts.mean(axis=0), rtol=1e-6, atol=1e-6)


def test_settings_identify_the_model(yamnet):
    s = yamnet.settings()
    assert s["name"] == "yamnet" and len(s["model_sha256"]) == 64
    assert s["front_end"]["log_offset"] == 0.001 and "Apache-2.0" in yamnet.licence
    assert len(yamnet.class_names) == 521 and yamnet.class_names[0] == "Speech"
