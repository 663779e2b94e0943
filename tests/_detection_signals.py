"""Generated recordings with timed events (known onsets and offsets) for the detection tests."""

import numpy as np
import soundfile as sf

SR = 8000
KINDS = ("low", "high")

#: Small, fast detector settings for tests (8 kHz, 2-s windows, ~64 ms frames).
FAST_DETECTOR = dict(epochs=25, batch_size=16, learning_rate=3e-3, patience=25,
                     val_fraction=0.25, augment=None, progress=False,
                     features=dict(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32,
                                   window_s=2.0, hop_s=1.5))


def burst(kind, n, rng, sr=SR):
    """A tone burst of ``n`` samples: 'low' 300-400 Hz, 'high' 2-2.6 kHz, with a fade."""
    t = np.arange(n) / sr
    f = rng.uniform(300, 400) if kind == "low" else rng.uniform(2000, 2600)
    y = np.sin(2 * np.pi * f * t) * rng.uniform(0.3, 0.7)
    ramp = min(n // 4, int(0.01 * sr))
    if ramp:
        y[:ramp] *= np.linspace(0, 1, ramp)
        y[-ramp:] *= np.linspace(1, 0, ramp)
    return y


def make_scene(rng, *, seconds=4.0, sr=SR, n_events=None):
    """A noise floor with 0-3 bursts; returns (signal, [(onset_s, offset_s, kind)])."""
    n = int(seconds * sr)
    y = 0.01 * rng.standard_normal(n)
    events = []
    for _ in range(rng.integers(0, 4) if n_events is None else n_events):
        kind = KINDS[rng.integers(len(KINDS))]
        dur = rng.uniform(0.3, 1.0)
        on = rng.uniform(0, seconds - dur)
        a, b = int(on * sr), int((on + dur) * sr)
        if any(k == kind and a / sr < off and b / sr > o for o, off, k in events):
            continue               # no overlapping duplicates of one class
        y[a:b] += burst(kind, b - a, rng, sr)
        events.append((a / sr, b / sr, kind))
    return y.astype(np.float32), sorted(events)


def write_detection_dataset(root, *, n_clips=40, seed=0, groups=4, seconds=4.0, sr=SR):
    """``audio/*.wav`` scenes, ``metadata.csv`` (filename, fold, group) and ``annotations.csv``
    (filename, onset, offset, event_label); some scenes have no events. Returns root."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    meta = ["filename,fold,group"]
    ann = ["filename,onset,offset,event_label"]
    for i in range(n_clips):
        name = f"audio/scene_{i:03d}.wav"
        y, events = make_scene(rng, seconds=seconds, sr=sr)
        sf.write(root / name, y, sr, subtype="PCM_16")
        g = i % groups
        meta.append(f"{name},{g + 1},g{g}")
        ann += [f"{name},{on:.4f},{off:.4f},{k}" for on, off, k in events]
    (root / "metadata.csv").write_text("\n".join(meta) + "\n")
    (root / "annotations.csv").write_text("\n".join(ann) + "\n")
    return root
