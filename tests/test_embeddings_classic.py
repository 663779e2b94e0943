"""The classic baseline embedding: MFCC / log-mel statistics, checked against librosa."""

import librosa
import numpy as np
import pytest

from earmark.models.embeddings import get_embedder


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _librosa_reference(y, sr=22050):
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=64,
                                       center=True, pad_mode="constant", power=2.0)
    db = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=20)
    delta = librosa.feature.delta(mfcc, width=9)
    return np.concatenate([mfcc.mean(1), mfcc.std(1), delta.mean(1), delta.std(1), db.mean(1),
                           db.std(1)])


def test_matches_librosa_statistics(signals, rng):
    emb = get_embedder("classic")
    y = signals.chirp(300, 5000, seconds=1.0) + 0.05 * rng.standard_normal(22050)
    got = emb.embed(y.astype(np.float32)[None])[0]
    assert emb.dim == 208 and got.shape == (208,)
    np.testing.assert_allclose(got, _librosa_reference(y.astype(np.float32)), rtol=1e-3,
                               atol=2e-2)


def test_a_steady_tone_changes_less_than_a_pulsed_one_and_its_band_is_loudest(signals):
    emb = get_embedder("classic")
    steady = signals.tone(1000, seconds=1.0)
    pulsed = steady * (np.arange(22050) // 2205 % 2)          # on/off every 0.1 s
    e = emb.embed(np.stack([steady, pulsed]))
    delta_std = e[:, 60:80]
    assert delta_std[0, 0] * 1.5 < delta_std[1, 0]             # loudness (c0) changes over time
    mel_mean = e[0, 80:144]
    centres = librosa.mel_frequencies(64 + 2, fmax=11025)[1:-1]
    assert abs(centres[mel_mean.argmax()] - 1000) < 150


def test_short_windows_and_batches(signals):
    emb = get_embedder("classic")
    x = np.stack([signals.tone(440, seconds=0.02), signals.tone(880, seconds=0.02)])
    e = emb.embed(x, batch_size=1)
    assert e.shape == (2, 208) and np.isfinite(e).all()
    np.testing.assert_array_equal(e, emb.embed(x))
    assert not np.allclose(e[0], e[1])
