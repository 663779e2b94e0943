"""Generated labelled sounds with known answers, shared by the end-to-end tests."""

import csv

import numpy as np
import soundfile as sf

SR = 8000


def make_clip(kind, rng, *, sr=SR, dur=None):
    """One clip of class ``kind``: 'low' (300 Hz tone), 'high' (2.5 kHz tone), 'noise' bursts."""
    dur = dur or rng.uniform(0.6, 1.2)
    t = np.arange(int(dur * sr)) / sr
    if kind == "low":
        y = np.sin(2 * np.pi * rng.uniform(250, 350) * t)
    elif kind == "high":
        y = np.sin(2 * np.pi * rng.uniform(2300, 2700) * t)
    else:
        y = rng.standard_normal(len(t)) * (rng.uniform(size=len(t)) < 0.3)
    y = y * rng.uniform(0.2, 0.8) + 0.01 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def write_dataset(root, *, per_class=16, seed=0, kinds=("low", "high", "noise"), groups=4):
    """Folder dataset with a metadata.csv (fold = group) of generated clips; returns root."""
    rng = np.random.default_rng(seed)
    rows = ["filename,label,fold,group"]
    for kind in kinds:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            name = f"{kind}/{kind}_{i:02d}.wav"
            sf.write(root / name, make_clip(kind, rng), SR, subtype="PCM_16")
            g = i % groups
            rows.append(f"{name},{kind},{g + 1},g{g}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


#: Small, fast settings for tests (8 kHz, 0.5 s windows).
FAST = dict(model="sbcnn", epochs=12, batch_size=16, learning_rate=3e-3, patience=12,
            val_fraction=0.25,
            augment=None, progress=False,
            features=dict(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32, window_s=0.5,
                          hop_s=0.25))


def write_tagging_dataset(root, *, n_clips=36, seed=0, groups=4, sr=SR, seconds=1.0,
                          annotations=False):
    """Clips holding any subset of a 300 Hz tone ('low'), a 2.5 kHz tone ('high') and noise
    bursts ('noise'), each sound in its own part of the clip, with a metadata.csv whose
    ``labels`` column lists them (';'); every subset occurs. With ``annotations`` an
    ``annotations.csv`` gives each sound's onset and offset too. Returns root."""
    rng = np.random.default_rng(seed)
    kinds = ("low", "high", "noise")
    rows = ["filename,labels,fold,group"]
    events = ["filename,onset,offset,event_label"]
    (root / "audio").mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    for i in range(n_clips):
        subset = [k for b, k in enumerate(kinds) if (i + 1) >> b & 1] if i % 8 != 7 else []
        if not subset:
            subset = [kinds[i % 3]]
        y = 0.01 * rng.standard_normal(n).astype(np.float32)
        name = f"audio/clip_{i:02d}.wav"
        for k in subset:
            start = int(rng.uniform(0, seconds - 0.5) * sr)
            part = make_clip(k, rng, sr=sr, dur=0.4)
            y[start:start + len(part)] += part[:n - start]
            events.append(f"{name},{start / sr:.4f},{(start + len(part)) / sr:.4f},{k}")
        sf.write(root / name, np.clip(y, -1, 1), sr, subtype="PCM_16")
        g = (i // 8) % groups        # every group holds every subset
        rows.append(f"{name},{';'.join(subset)},{g + 1},g{g}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    if annotations:
        (root / "annotations.csv").write_text("\n".join(events) + "\n")
    return root


def write_csv(path, header, rows):
    """Write a CSV file (creating its folder); returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
