"""The fast scoring paths give today's answers: front end, window scores, streaming, tables.

The references below are copies of the code earmark ran before the speed work (issue 23): the
log-mel front end through ``torch.stft`` and a dense mel matmul, and window scoring one batch of
32 at a time through the trained network (batch-norm not folded). The fast paths must equal
them within float rounding, with the same top label for every window.
"""

import threading

import numpy as np
import pytest
import soundfile as sf
import torch

import earmark
from earmark.config import FeatureConfig
from earmark.errors import AudioError
from earmark.features import FeatureExtractor, normalize_windows
from earmark.models.neural import NeuralWindowModel
from earmark.predict import predict_table, score_source
from earmark.windows import frame_windows

from _signals import make_clip, write_dataset

AMIN = 1e-10


# -- the reference: today's implementation, copied ------------------------------------------------
def _reference_features(config, mel_basis, y):
    """FeatureExtractor.forward before issue 23 (torch.stft, dense mel, dB, top_db, MFCC)."""
    c = config
    y = torch.as_tensor(y)
    if y.ndim == 1:
        y = y[None]
    window = torch.hann_window(c.n_fft, periodic=True)
    spec = torch.stft(y, n_fft=c.n_fft, hop_length=c.hop_length, window=window, center=True,
                      pad_mode="constant", return_complex=True)
    power = spec.real.square() + spec.imag.square()
    db = 10.0 * torch.log10(torch.clamp(torch.matmul(torch.as_tensor(mel_basis), power),
                                        min=AMIN))
    if c.top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - c.top_db)
    if c.kind == "mfcc":
        import scipy.fft
        dct = torch.from_numpy(scipy.fft.dct(np.eye(c.n_mels), type=2, norm="ortho",
                                             axis=0)[:c.n_mfcc].astype(np.float32))
        db = torch.matmul(dct, db)
    return db.unsqueeze(1)


def _reference_scores(model, windows, batch=32):
    """NeuralWindowModel.score_windows before issue 23, on the unfolded trained network."""
    windows = np.asarray(windows, dtype=np.float32)
    net = model.net.eval()
    mel = model.frontend.mel_basis.cpu().numpy()
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            x = _reference_features(model.features, mel, torch.from_numpy(windows[i:i + batch]))
            x = normalize_windows(x, mode=model.features.normalize, mean=model.norm_mean,
                                  std=model.norm_std)
            logits = net(x)
            scores = (torch.softmax(logits, dim=1) if model.activation == "softmax"
                      else torch.sigmoid(logits))
            out.append(scores.float().numpy())
    return np.concatenate(out)


# -- front end ------------------------------------------------------------------------------------
FRONT_ENDS = [
    dict(),                                                                 # the default
    dict(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, fmin=50.0, fmax=7000.0),
    dict(sample_rate=22050, n_fft=2048, hop_length=256, n_mels=128, fmin=20.0, fmax=10000.0),
    dict(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32, window_s=0.5),
    dict(sample_rate=8000, n_fft=255, hop_length=100, n_mels=24, window_s=0.3),   # odd n_fft
    dict(kind="mfcc", n_mfcc=20),
    dict(top_db=None),
]


def _batch(config, n, rng):
    """Windows of tones, noise bursts, silence and a near-silent one."""
    sr, length = config.sample_rate, config.window_samples
    t = np.arange(length) / sr
    out = np.zeros((n, length), np.float32)
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out[i] = 0.5 * np.sin(2 * np.pi * rng.uniform(100, sr / 3) * t)
        elif kind == 1:
            out[i] = 0.3 * rng.standard_normal(length) * (rng.uniform(size=length) < 0.2)
        elif kind == 2:
            out[i] = 1e-4 * rng.standard_normal(length)
    return out


def _assert_db_close(got, want, top_db):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    # float32 rounding of two FFT algorithms: tiny near each window's peak, larger only far
    # below it (where the reference itself carries float32 noise)
    peak = want.max(axis=(-2, -1), keepdims=True)
    near = want >= peak - 60.0
    np.testing.assert_allclose(got[near], want[near], rtol=0, atol=2e-3)
    # without a floor, values 80-100 dB below the peak are float32 noise in both
    np.testing.assert_allclose(got, want, rtol=0, atol=0.2 if top_db is None else 1e-2)


@pytest.mark.parametrize("kwargs", FRONT_ENDS, ids=lambda k: ",".join(map(str, k.values())) or
                         "default")
def test_front_end_equals_reference(rng, kwargs):
    config = FeatureConfig(**kwargs)
    fx = FeatureExtractor(config)
    x = _batch(config, 13, rng)
    with torch.inference_mode():
        got = fx(torch.from_numpy(x))
    want = _reference_features(config, fx.mel_basis.numpy(), x)
    assert got.dtype == torch.float32
    if config.kind == "mfcc":
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=5e-3)
    else:
        _assert_db_close(got.numpy(), want.numpy(), config.top_db)


def test_front_end_one_dimensional_and_long_input(rng):
    # one long signal (a report's spectrogram): chunked along its frames
    config = FeatureConfig(window_s=30.0)
    fx = FeatureExtractor(config)
    y = _batch(config, 1, rng)[0]
    with torch.inference_mode():
        got = fx(torch.from_numpy(y))
    want = _reference_features(config, fx.mel_basis.numpy(), y)
    assert got.shape == want.shape == (1, 1, 64, 1 + len(y) // 512)
    _assert_db_close(got.numpy(), want.numpy(), config.top_db)


def test_front_end_torch_path_for_gradients(rng):
    # a waveform that needs gradients (or lives on a GPU) goes through torch.stft
    config = FeatureConfig()
    fx = FeatureExtractor(config)
    x = torch.from_numpy(_batch(config, 3, rng)).requires_grad_(True)
    got = fx(x)
    assert got.requires_grad
    with torch.inference_mode():
        fast = fx(x.detach())
    _assert_db_close(got.detach().numpy(), fast.numpy(), config.top_db)


@pytest.mark.parametrize("kwargs", [dict(), dict(window_s=1024 / 22050),
                                    dict(sample_rate=8000, n_fft=256, hop_length=128,
                                         n_mels=32, window_s=0.5)])
def test_a_window_has_the_same_features_in_any_batch(rng, kwargs):
    # bit for bit: embedding caches and batch-size settings rely on it
    config = FeatureConfig(**kwargs)
    fx = FeatureExtractor(config)
    x = _batch(config, 9, rng)
    with torch.inference_mode():
        together = fx(torch.from_numpy(x)).numpy()
        for i in range(len(x)):
            np.testing.assert_array_equal(fx(torch.from_numpy(x[i:i + 1])).numpy()[0],
                                          together[i])
        np.testing.assert_array_equal(fx(torch.from_numpy(x[3:7])).numpy(), together[3:7])


def test_front_end_threads_agree(rng):
    config = FeatureConfig()
    fx = FeatureExtractor(config)
    x = torch.from_numpy(_batch(config, 40, rng))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fx(x)
        torch.set_num_threads(2)
        two = fx(x)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(one.numpy(), two.numpy())
    assert torch.get_num_threads() == before


# -- window scores --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny SB-CNN classifier on generated classes (8 kHz, 0.5-s windows)."""
    root = write_dataset(tmp_path_factory.mktemp("speed") / "data", per_class=6)
    features = dict(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32, window_s=0.5,
                    hop_s=0.25)
    clf = earmark.SoundClassifier(model="sbcnn", epochs=2, augment=None, progress=False,
                                  batch_size=16, features=features)
    return clf.fit(root)


def _windows(config, n, seed=0):
    rng = np.random.default_rng(seed)
    kinds = ("low", "high", "noise")
    clips = [make_clip(kinds[i % 3], rng, sr=config.sample_rate,
                       dur=config.window_s)[:config.window_samples] for i in range(n)]
    return np.stack([np.pad(c, (0, config.window_samples - len(c))) for c in clips])


def test_trained_scores_equal_reference(trained):
    model = trained.model_
    w = _windows(model.features, 150)
    got = model.score_windows(w)
    want = _reference_scores(model, w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))


@pytest.mark.parametrize("network, activation, kwargs", [
    ("sbcnn", "sigmoid", dict(normalize="window")),
    ("cnn", "softmax", dict(kind="mfcc", n_mfcc=20, normalize="none")),
])
def test_untrained_scores_equal_reference(network, activation, kwargs):
    features = FeatureConfig(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32,
                             window_s=0.5, **kwargs)
    torch.manual_seed(0)
    model = NeuralWindowModel(network=network, n_classes=4, features=features,
                              activation=activation)
    model.net.eval()
    # non-trivial batch-norm statistics, so folding them is tested
    for m in model.net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    model.prepare_inference()
    w = _windows(features, 70, seed=1)
    got = model.score_windows(w)
    want = _reference_scores(model, w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))


def test_scores_same_with_one_or_two_threads(trained):
    model = trained.model_
    w = _windows(model.features, 100, seed=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = model.score_windows(w)
        torch.set_num_threads(2)
        two = model.score_windows(w)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(one, two, rtol=0, atol=1e-6)
    assert torch.get_num_threads() == before


def test_scoring_from_several_threads_keeps_thread_count(trained):
    # the HTTP service scores from several threads at once: answers and torch's global thread
    # count must come out as they went in
    model = trained.model_
    w = _windows(model.features, 64, seed=3)
    want = model.score_windows(w)
    before = torch.get_num_threads()
    results = [None] * 4

    def work(i):
        results[i] = model.score_windows(w)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_allclose(r, want, rtol=0, atol=1e-6)
    assert torch.get_num_threads() == before


# -- streaming a file, and the table ---------------------------------------------------------------
def _recording(path, sr, seconds, seed=0):
    rng = np.random.default_rng(seed)
    parts, n = [], 0
    while n < seconds * sr:
        y = make_clip(("low", "high", "noise")[int(rng.integers(3))], rng, sr=sr,
                      dur=float(rng.uniform(0.5, 3)))
        parts.append(y)
        n += len(y)
    y = np.concatenate(parts)[:int(seconds * sr)]
    sf.write(path, y, sr, subtype="FLOAT")
    return y


def test_streamed_file_scores_equal_reference(trained, tmp_path):
    model = trained.model_
    fc = model.features
    y = _recording(tmp_path / "long.wav", fc.sample_rate, 40.0)
    starts, scores = score_source(model, (str(tmp_path / "long.wav"), None, None), block_s=3.0)
    w, s = frame_windows(y, fc.window_samples, fc.hop_samples)
    np.testing.assert_allclose(starts, s / fc.sample_rate)
    want = _reference_scores(model, w)
    np.testing.assert_allclose(scores, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(scores.argmax(1), want.argmax(1))


def test_window_table_equals_reference(trained, tmp_path):
    model = trained.model_
    fc = model.features
    y = _recording(tmp_path / "rec.wav", fc.sample_rate, 12.0, seed=4)
    table = trained.predict_table([str(tmp_path / "rec.wav")], windows=True, progress=False)
    w, s = frame_windows(y, fc.window_samples, fc.hop_samples)
    want = _reference_scores(model, w)
    labels = list(trained.classes_)
    assert list(table.columns) == ["path", "start_s", "end_s", "label", *labels, "error"]
    np.testing.assert_allclose(table["start_s"], np.round(s / fc.sample_rate, 6))
    np.testing.assert_allclose(table["end_s"], np.round(s / fc.sample_rate + fc.window_s, 6))
    np.testing.assert_allclose(table[labels].to_numpy(), want, rtol=0, atol=1e-5)
    assert table["label"].tolist() == [labels[i] for i in want.argmax(1)]
    assert table["error"].isna().all()
    assert table["path"].eq(str(tmp_path / "rec.wav")).all()


def test_bad_block_in_the_middle_is_reported(trained, tmp_path):
    # decoding runs ahead of scoring: its error must still reach the caller, naming the file
    fc = trained.model_.features
    y = np.zeros(fc.sample_rate * 20, np.float32)
    y[fc.sample_rate * 15] = np.nan
    sf.write(tmp_path / "nan.wav", y, fc.sample_rate, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav"):
        score_source(trained.model_, (str(tmp_path / "nan.wav"), None, None), block_s=2.0)
    table = predict_table(trained.model_, trained.classes_, [str(tmp_path / "nan.wav")],
                          windows=True, progress=False)
    assert len(table) == 1 and "NaN" in table["error"][0]


@pytest.mark.parametrize("name", ["earmark.features", "earmark.predict"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
