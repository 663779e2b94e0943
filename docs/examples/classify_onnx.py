"""Classify (or tag) a WAV file with an earmark ONNX export, no earmark needed.

    python classify_onnx.py model.onnx sound.wav      # needs numpy, soundfile, onnxruntime
"""
import json
import sys

import numpy as np
import onnxruntime as ort
import soundfile as sf

sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
meta = {k: json.loads(v) for k, v in sess.get_modelmeta().custom_metadata_map.items()}
audio, rate = sf.read(sys.argv[2], dtype="float32", always_2d=True)
audio = audio.mean(axis=1)                                   # mono
if rate != meta["sample_rate"]:                              # resample with soxr if it is there
    import soxr
    audio = soxr.resample(audio, rate, meta["sample_rate"]).astype(np.float32)
win, hop = meta["window_samples"], meta["hop_samples"]
starts = list(range(0, max(len(audio) - win, 0) + 1, hop))   # earmark's window placement
if len(audio) > win and starts[-1] + win < len(audio):
    starts.append(len(audio) - win)                          # one more, flush with the end
audio = np.pad(audio, (0, max(0, win - len(audio))))         # short audio: zeros after it
windows = np.stack([audio[s:s + win] for s in starts])
s = sess.run(["scores"], {"waveform": windows})[0].astype(np.float64)
agg, m = meta["aggregation"], s.max(axis=0)                  # window scores -> one clip score
if agg == "mean":
    clip = s.mean(axis=0)
elif agg == "max":
    clip = m / m.sum() if meta["task"] == "classification" and m.sum() > 0 else m
elif agg == "lse":
    r = meta["lse_sharpness"]
    clip = m + np.log(np.mean(np.exp(r * (s - m)), axis=0)) / r
else:                                                        # vote
    clip = np.bincount(s.argmax(axis=1), minlength=s.shape[1]) / len(s) + 1e-9 * s.mean(axis=0)
labels = meta["labels"]
if "thresholds" in meta:                                     # tagging: every class over its own
    print(";".join(c for c, v, t in zip(labels, clip, meta["thresholds"]) if v >= t))
else:                                                        # classification: the top class
    print(labels[int(np.argmax(clip))])
print(json.dumps(dict(zip(labels, np.round(clip, 6).tolist()))), file=sys.stderr)
