"""Shared fixtures: a seeded RNG, generated test signals with known answers, a small dataset.

Every signal is generated, so each test knows what the right answer is (a tone's frequency, a
click's position, a burst's level) and nothing is downloaded.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

SEED = 20240607


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed: the same test sees the same numbers every run."""
    return np.random.default_rng(SEED)


def tone(freq_hz, *, seconds=1.0, sample_rate=22050, amp=0.5, phase=0.0):
    """A sine of ``freq_hz``."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amp * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def chirp(f0_hz, f1_hz, *, seconds=1.0, sample_rate=22050, amp=0.5):
    """A linear sweep from ``f0_hz`` to ``f1_hz``."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    k = (f1_hz - f0_hz) / seconds
    return (amp * np.sin(2 * np.pi * (f0_hz * t + 0.5 * k * t ** 2))).astype(np.float32)


def noise_burst(rng, *, seconds=0.3, sample_rate=22050, amp=0.3, decay_s=0.05):
    """White noise with an exponential decay (a drum-like one-shot)."""
    n = int(round(seconds * sample_rate))
    env = np.exp(-np.arange(n) / (decay_s * sample_rate))
    return np.clip(amp * rng.standard_normal(n) * env, -1, 1).astype(np.float32)


def clicks(positions_s, *, seconds=1.0, sample_rate=22050, amp=0.9):
    """Silence with a one-sample impulse at each of ``positions_s``."""
    y = np.zeros(int(round(seconds * sample_rate)), np.float32)
    for p in positions_s:
        y[int(round(p * sample_rate))] = amp
    return y


def peak_hz(y, sample_rate):
    """Frequency of the largest FFT bin (Hann-windowed)."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sample_rate)[np.argmax(spectrum)])


@pytest.fixture
def signals():
    """The signal generators above, as one namespace (``signals.tone(440)``)."""
    return SimpleNamespace(tone=tone, chirp=chirp, noise_burst=noise_burst, clicks=clicks,
                           peak_hz=peak_hz)


#: What :func:`labelled_folder` writes: class -> number of clips.
DATASET_COUNTS = {"chirp": 3, "click": 4, "tone": 5}
DATASET_SR = 16000
DATASET_CLIP_S = 0.25


@pytest.fixture
def labelled_folder(tmp_path, rng):
    """A folder with one sub-folder per class of generated 16-bit WAVs (16 kHz, 0.25 s each).

    'tone' clips are sines at 300, 400... Hz, 'chirp' clips sweep up from 200 Hz, 'click' clips
    hold a single click at a different place each: every clip differs from every other.
    """
    root = tmp_path / "dataset"
    sr, secs = DATASET_SR, DATASET_CLIP_S
    for label, n in DATASET_COUNTS.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            if label == "tone":
                y = tone(300 + 100 * i, seconds=secs, sample_rate=sr)
            elif label == "chirp":
                y = chirp(200 + 50 * i, 4000, seconds=secs, sample_rate=sr)
            else:
                y = clicks([0.01 + 0.03 * i], seconds=secs, sample_rate=sr)
            y = y + 1e-3 * rng.standard_normal(len(y)).astype(np.float32)
            sf.write(root / label / f"{label}_{i}.wav", y, sr, subtype="PCM_16")
    return Path(root)


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread: on a shared 2-core machine two OpenMP threads can wait
    on each other for whole scheduler slices at every layer (seconds per call)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
