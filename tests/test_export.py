"""ONNX export: the front end as matrix products equals FeatureExtractor, exported models score
as the torch models do, the metadata is complete, the CLI writes atomically, unsupported models
are refused, and the documented example script classifies a WAV file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import earmark
from earmark import FeatureConfig
from earmark.cli import main
from earmark.errors import EarmarkError, ParameterError
from earmark.export import ExportFrontEnd, export_onnx, onnx_session, read_metadata
from earmark.export.frontend import dft_factors
from earmark.features import FeatureExtractor, normalize_windows

from _signals import FAST, SR, make_clip, write_dataset, write_tagging_dataset

pytest.importorskip("onnxruntime")
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "classify_onnx.py"


def _windows(fc, rng, n=6):
    """Noise at several levels, a tone, partial silence: (n, window_samples) float32."""
    levels = np.array([1.0, 0.05, 1e-3, 1e-5, 0.3, 0.0])
    y = rng.standard_normal((6, fc.window_samples)) * levels[:, None]
    y[4] = 0.4 * np.sin(2 * np.pi * 700 * np.arange(fc.window_samples) / fc.sample_rate)
    y[2, : fc.window_samples // 3] = 0.0
    return y[:n].astype(np.float32)


# -- the front end ------------------------------------------------------------------------------
@pytest.mark.parametrize("config", [
    dict(),                                                             # 1024 / 512, 32 x 32
    dict(normalize="window", top_db=None),
    dict(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32, window_s=0.5, kind="mfcc",
         n_mfcc=13, normalize="window"),
    dict(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40, window_s=0.5, fmin=50.0,
         fmax=7000.0, normalize="none"),
    dict(sample_rate=16000, n_fft=257, hop_length=100, n_mels=20, window_s=0.3,
         normalize="none"),                                             # prime: plain DFT
    dict(sample_rate=SR, n_fft=512, hop_length=100, n_mels=24, window_s=0.6,
         normalize="dataset"),                                          # hop shares 4 with n_fft
])
def test_front_end_equals_feature_extractor(config, rng):
    fc = FeatureConfig(**{"window_s": 1.0, **config})
    fx = FeatureExtractor(fc)
    y = torch.from_numpy(_windows(fc, rng))
    mean = std = None
    if fc.normalize == "dataset":
        mean = rng.normal(-40, 5, fc.n_features).astype(np.float32)
        std = rng.uniform(5, 20, fc.n_features).astype(np.float32)
    with torch.no_grad():
        want = normalize_windows(fx(y), mode=fc.normalize, mean=mean, std=std)
        got = ExportFrontEnd(fc, mel_basis=fx.mel_basis, norm_mean=mean, norm_std=std)(y)
    assert got.shape == want.shape == (6, 1, fc.n_features, want.shape[-1])
    keep = np.arange(6)
    if fc.top_db is None:
        # without the dB floor, a pure tone's far side-lobes (~150 dB down) are float32
        # rounding noise in any FFT, and differ between two of them
        keep = keep[keep != 4]
    # raw dB (normalize='none', up to ~100 in size) agree to float32's relative precision
    rtol = 1e-4 if fc.normalize == "none" else 0
    np.testing.assert_allclose(got.numpy()[keep], want.numpy()[keep], atol=1e-4, rtol=rtol)


def test_dft_factors_divide_fft_and_hop():
    for n, hop in [(1024, 512), (1024, 256), (400, 160), (512, 100), (257, 64), (2048, 441)]:
        n1, n2 = dft_factors(n, divides=hop)
        assert n1 * n2 == n and hop % n2 == 0


def test_front_end_refuses_missing_statistics_and_wrong_filter_bank():
    fc = FeatureConfig()
    with pytest.raises(ParameterError, match="norm_mean"):
        ExportFrontEnd(fc, mel_basis=FeatureExtractor(fc).mel_basis)
    with pytest.raises(ParameterError, match="mel_basis has shape"):
        ExportFrontEnd(fc.replace(normalize="none"), mel_basis=np.zeros((3, 4)))


# -- a trained classifier, exported -------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("export") / "data", per_class=8)
    clf = earmark.SoundClassifier(**FAST).fit(root)
    folder = tmp_path_factory.mktemp("models")
    path = clf.save(folder / "tones.earmark")
    onnx_path = export_onnx(path, folder / "tones.onnx")
    return clf, Path(path), Path(onnx_path)


def test_onnx_scores_equal_the_model_with_any_batch_size(trained, rng):
    clf, _, onnx_path = trained
    fc = clf.features_
    clips = [make_clip(k, rng, dur=0.5) for k in ("low", "high", "noise")] * 3
    w = np.concatenate([_windows(fc, rng), np.stack(clips[:7])]).astype(np.float32)
    sess = onnx_session(onnx_path)
    want = clf.score_windows(w)
    for n in (1, 7, len(w)):
        got = np.concatenate([sess.run(["scores"], {"waveform": w[i:i + n]})[0]
                              for i in range(0, len(w), n)])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(want.sum(axis=1), 1.0, atol=1e-5)          # softmax


def test_onnx_metadata_says_how_to_use_the_model(trained):
    clf, _, onnx_path = trained
    meta = read_metadata(onnx_path)
    fc = clf.features_
    assert meta["labels"] == list(clf.classes_) == ["high", "low", "noise"]
    assert meta["task"] == "classification" and meta["kind"] == "classifier"
    assert (meta["sample_rate"], meta["window_samples"], meta["hop_samples"]) == \
        (fc.sample_rate, fc.window_samples, fc.hop_samples)
    assert meta["aggregation"] == "mean" and meta["activation"] == "softmax"
    assert meta["earmark_version"] == earmark.__version__
    assert FeatureConfig.from_dict(meta["features"]) == fc
    assert meta["source_model"] == "tones.earmark"
    sess = onnx_session(onnx_path)
    (inp,), outs = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "waveform" and inp.shape[1] == fc.window_samples
    assert not isinstance(inp.shape[0], int)                               # dynamic batch
    assert [o.name for o in outs] == ["scores"]
    # every value is JSON, as the example script reads it
    raw = sess.get_modelmeta().custom_metadata_map
    assert {k: json.loads(v) for k, v in raw.items()}["labels"] == meta["labels"]


def test_example_script_classifies_a_wav_file(trained, tmp_path):
    clf, _, onnx_path = trained
    rng = np.random.default_rng(3)
    for kind in ("high", "low"):
        wav = tmp_path / f"{kind}.wav"
        # 1.3 s at 16 kHz: several windows after resampling to the model's 8 kHz
        y = make_clip(kind, rng, sr=16000, dur=1.3)
        sf.write(wav, y, 16000)
        r = subprocess.run([sys.executable, str(EXAMPLE), str(onnx_path), str(wav)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == kind == clf.predict([str(wav)])[0]
        scores = json.loads(r.stderr.strip().splitlines()[-1])
        np.testing.assert_allclose([scores[c] for c in clf.classes_],
                                   clf.predict_proba([str(wav)])[0], atol=1e-4)


def test_example_script_is_about_thirty_lines():
    code = [ln for ln in EXAMPLE.read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(code) <= 45
    imports = {ln.split()[1].split(".")[0] for ln in code if ln.startswith(("import", "from"))}
    assert imports <= {"json", "sys", "numpy", "onnxruntime", "soundfile"}


def test_export_check_failure_writes_nothing(trained, tmp_path):
    clf, path, _ = trained
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    with pytest.raises(EarmarkError, match="ONNX export check failed.*nothing was written"):
        export_onnx(clf, out, atol=1e-12)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]             # no temporary left


def test_export_refuses_bad_arguments(trained, tmp_path):
    clf, path, _ = trained
    with pytest.raises(ParameterError, match="atol"):
        export_onnx(clf, tmp_path / "m.onnx", atol=-1)
    with pytest.raises(ParameterError, match="cannot write out"):
        export_onnx(path, tmp_path / "m.txt")
    odd = tmp_path / "model.onnx"                   # a model file with an .onnx name
    odd.write_bytes(path.read_bytes())
    with pytest.raises(ParameterError, match="it is the model file"):
        export_onnx(odd, odd)


# -- the command line ---------------------------------------------------------------------------
def test_cli_export_writes_the_file(trained, tmp_path, capsys):
    clf, path, _ = trained
    out = tmp_path / "cli.onnx"
    assert main(["export", str(path), "--format", "onnx", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert read_metadata(out)["labels"] == list(clf.classes_)


def test_cli_export_leaves_an_existing_output_on_error(tmp_path, capsys):
    bad = tmp_path / "bad.earmark"
    bad.write_bytes(b"not a model")
    out = tmp_path / "keep.onnx"
    out.write_bytes(b"old")
    assert main(["export", str(bad), "--out", str(out)]) == 2
    assert "earmark: error:" in capsys.readouterr().err
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.earmark", "keep.onnx"]


def test_cli_export_refuses_wrong_suffix_and_int8_for_onnx(trained, tmp_path, capsys):
    _, path, _ = trained
    assert main(["export", str(path), "--out", str(tmp_path / "m.tflite")]) == 2
    assert main(["export", str(path), "--out", str(tmp_path / "m.onnx"), "--int8"]) == 2
    assert not (tmp_path / "m.onnx").exists()


# -- what is refused ----------------------------------------------------------------------------
def test_ensembles_novelty_and_other_embedders_are_refused(trained, tmp_path):
    clf, _, _ = trained
    ens = earmark.EnsembleClassifier.from_fitted([clf, clf], progress=False)
    with pytest.raises(ParameterError, match="cannot export an ensemble"):
        export_onnx(ens, tmp_path / "e.onnx")
    with pytest.raises(ParameterError, match="'novelty' model"):
        export_onnx(earmark.NoveltyDetector(), tmp_path / "n.onnx")
    root = write_dataset(tmp_path / "d", per_class=4)
    emb = earmark.SoundClassifier(recipe="embed:classic+logreg", progress=False).fit(root)
    with pytest.raises(ParameterError, match="embed:classic\\+logreg.*only yamnet exports"):
        export_onnx(emb, tmp_path / "c.onnx")
    assert not any(p.suffix == ".onnx" for p in tmp_path.iterdir())


# -- other tasks --------------------------------------------------------------------------------
@pytest.mark.slow
def test_tagger_exports_sigmoid_scores_and_thresholds(tmp_path, rng):
    root = write_tagging_dataset(tmp_path / "tags", n_clips=16)
    tagger = earmark.SoundTagger(**{**FAST, "epochs": 2}).fit(root)
    out = export_onnx(tagger, tmp_path / "tags.onnx")
    meta = read_metadata(out)
    assert meta["task"] == "tagging" and meta["activation"] == "sigmoid"
    assert meta["thresholds"] == pytest.approx(list(tagger.thresholds_))
    assert meta["aggregation"] == "lse" and meta["lse_sharpness"] > 0
    w = _windows(tagger.features_, rng)
    got = onnx_session(out).run(["scores"], {"waveform": w})[0]
    np.testing.assert_allclose(got, tagger.score_windows(w), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_crnn_detector_exports_frame_scores(tmp_path, rng):
    from _detection_signals import FAST_DETECTOR, write_detection_dataset

    root = write_detection_dataset(tmp_path / "scenes", n_clips=8)
    det = earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 2}, tune=False).fit(root)
    out = export_onnx(det, tmp_path / "det.onnx")
    meta = read_metadata(out)
    m = det.model_
    assert meta["task"] == "detection"
    assert meta["outputs"]["frame_scores"] == ["batch", m.out_frames, len(det.classes_)]
    assert meta["detection"]["frame_step_samples"] == m.frame_step_samples
    assert set(meta["detection"]["postprocessing"]) == set(det.postprocessing_.to_dict())
    w = _windows(det.features_, rng, n=3)
    scores, frames = onnx_session(out).run(["scores", "frame_scores"], {"waveform": w})
    np.testing.assert_allclose(frames, m.score_frames(w), atol=1e-5, rtol=0)
    np.testing.assert_allclose(scores, m.score_windows(w), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_window_classifier_detector_exports_window_scores(tmp_path, rng):
    from _detection_signals import FAST_DETECTOR, write_detection_dataset

    root = write_detection_dataset(tmp_path / "scenes", n_clips=8)
    det = earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 2}, recipe="cnn",
                                tune=False).fit(root)
    out = export_onnx(det, tmp_path / "det.onnx")
    meta = read_metadata(out)
    assert meta["detection"]["frame_output"] is False and "frame_scores" not in meta["outputs"]
    assert meta["detection"]["window_hop_s"] == pytest.approx(det._window_hop_s(
        det._frame_model()))
    w = _windows(det.features_, rng, n=3)
    got = onnx_session(out).run(["scores"], {"waveform": w})[0]
    np.testing.assert_allclose(got, det.model_.score_windows(w), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_efficientnet_transfer_network_exports(rng):
    """The transfer recipe's network (random weights: the graph, not the training, is under
    test) with its un-normalised 128-band front end."""
    from earmark.export.onnx import _check_against_model, _to_onnx_bytes, export_module
    from earmark.models.neural import NeuralWindowModel
    from earmark.models.transfer import FEATURES

    fc = FEATURES.replace(window_s=0.5, hop_s=0.25)
    torch.manual_seed(0)
    model = NeuralWindowModel(network="efficientnet", n_classes=3, features=fc,
                              activation="softmax").prepare_inference()

    class _Est:
        model_ = model
    module = export_module(_Est())
    diffs = _check_against_model(_to_onnx_bytes(module, fc.window_samples, opset=17), model,
                                 fc, atol=1e-4)
    assert max(diffs.values()) < 1e-4


def test_embedding_heads_that_are_not_matrix_products_are_refused():
    from types import SimpleNamespace

    from earmark.export.embedding import check_embedding_exportable
    for head in ("svm", "rf"):
        with pytest.raises(ParameterError, match=f"embed:yamnet\\+{head}.*not a chain of matrix"):
            check_embedding_exportable(SimpleNamespace(embedder_spec="yamnet", head_kind=head))


@pytest.mark.parametrize("kind", ["logreg", "mlp"])
@pytest.mark.parametrize("n_head_classes", [2, 3])
def test_head_graphs_equal_the_saved_heads(kind, n_head_classes, rng):
    """The head part of an embedding export (MLP heads too, without YAMNet): a 4-class model
    whose head saw classes 0, 2 (and 3)."""
    from types import SimpleNamespace

    from earmark.export.embedding import _head_model
    from earmark.models.heads import head_from_state, head_to_state, make_head

    classes = [0, 2, 3][:n_head_classes]
    y = np.array(classes * 20)
    X = rng.standard_normal((len(y), 8)).astype(np.float32)
    X += y[:, None].astype(np.float32)
    head = head_from_state(*head_to_state(make_head(kind, inner_cv=None).fit(X, y)))
    model = SimpleNamespace(task="classification", n_classes=4, head_=head)
    sess = onnx_session(_head_model(model, 17, 8).SerializeToString())
    got = sess.run(["scores"], {"embedding": X})[0]
    want = np.zeros((len(X), 4), np.float32)
    want[:, classes] = head.predict_proba(X)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def _yamnet_installed():
    home = Path(os.environ.get("EARMARK_HOME", Path.home() / ".cache" / "earmark"))
    return (home / "models" / "yamnet" / "manifest.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not _yamnet_installed(), reason="YAMNet is not installed "
                    "(earmark models install yamnet)")
@pytest.mark.parametrize("estimator,recipe", [("classifier", "embed:yamnet+logreg"),
                                              ("tagger", "embed:yamnet+logreg")])
def test_yamnet_recipes_export_with_their_head(estimator, recipe, tmp_path, rng):
    if estimator == "classifier":
        root = write_dataset(tmp_path / "d", per_class=4)
        est = earmark.SoundClassifier(recipe=recipe, progress=False).fit(root)
    else:
        root = write_tagging_dataset(tmp_path / "d", n_clips=12)
        est = earmark.SoundTagger(recipe=recipe, progress=False).fit(root)
    out = export_onnx(est, tmp_path / "y.onnx")
    meta = read_metadata(out)
    assert meta["sample_rate"] == 16000 and meta["window_samples"] == 15360
    assert "YAMNet" in meta["licence"] or meta["licence"]
    w = _windows(est.features_, rng)
    got = onnx_session(out).run(["scores"], {"waveform": w})[0]
    np.testing.assert_allclose(got, est.score_windows(w), atol=1e-5, rtol=0)


# -- LiteRT (only where the optional litert-torch converter is installed) -----------------------
def test_litert_export_without_the_converter_says_what_to_install(trained, tmp_path,
                                                                  monkeypatch):
    from earmark.export import litert

    clf, path, _ = trained
    monkeypatch.setitem(sys.modules, "litert_torch", None)            # import fails
    with pytest.raises(ParameterError, match="pip install \"litert-torch==0.10.0\""):
        litert.export_litert(path, tmp_path / "m.tflite")
    assert main(["export", str(path), "--format", "tflite", "--out",
                 str(tmp_path / "m.tflite")]) == 2
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_litert_export_scores_equal_the_model(trained, tmp_path, rng):
    pytest.importorskip("litert_torch")
    from earmark.export.litert import export_litert, litert_interpreter, run_litert

    clf, path, _ = trained
    out = tmp_path / "m.tflite"
    report = export_litert(path, out, int8=True)
    assert report["max_abs_diff"] <= 1e-4
    w = _windows(clf.features_, rng)
    got = run_litert(litert_interpreter(out), w)
    np.testing.assert_allclose(got, clf.score_windows(w), atol=1e-4, rtol=0)
    meta = json.loads((tmp_path / "m.tflite.json").read_text())
    assert meta["labels"] == list(clf.classes_) and meta["input"]["shape"] == [1, w.shape[1]]
    q = run_litert(litert_interpreter(tmp_path / "m.int8.tflite"), w)
    assert q.shape == got.shape and np.isfinite(q).all()
    assert report["int8_bytes"] < report["float_bytes"]


@pytest.mark.parametrize("name", ["earmark.export.frontend", "earmark.export.onnx",
                                  "earmark.export.litert"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("rejection", ["maxprob", "energy"])
def test_open_set_classifier_metadata_says_how_unknown_is_decided(rejection, tmp_path):
    root = write_dataset(tmp_path / "d", per_class=6)
    clf = earmark.SoundClassifier(**{**FAST, "epochs": 2}, unknown="20%",
                                  rejection=rejection).fit(root)
    meta = read_metadata(export_onnx(clf, tmp_path / "u.onnx"))
    if rejection == "maxprob":
        assert meta["unknown"]["threshold"] == pytest.approx(clf.rejector_.threshold_)
        assert meta["unknown"]["label"] == "unknown"
    else:
        assert meta["unknown"]["score"] == "energy" and meta["unknown"]["exported"] is False
