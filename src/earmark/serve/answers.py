"""The answer of a loaded estimator for one decoded upload, as JSON-ready dicts.

The estimator's own public methods give every number (``predict_table`` for classifiers,
taggers, ensembles and novelty detectors, ``frame_scores`` / ``events`` for detectors,
``score_windows`` / ``events`` for novelty detectors), so the service answers exactly what the
Python API and ``earmark predict`` / ``earmark detect`` answer for the same file.
"""

import base64
import math

import numpy as np

from ..data.sources import Source
from ..errors import EarmarkError

__all__ = ["describe", "answer", "spectrogram", "MAX_FRAMES"]

#: Most frame-score columns returned to the page (longer recordings are max-pooled).
MAX_FRAMES = 2000
#: Most spectrogram columns returned to the page.
_MAX_SPEC_COLUMNS = 800


def _features(est):
    if hasattr(est, "features_"):
        return est.features_
    return est.members_[0].features_        # an ensemble: its first member's front end


def _task(est):
    return getattr(est, "task", "classification")


def _licence(est):
    licence = getattr(est, "licence_", None)
    if licence is None and hasattr(est, "embedder_"):
        licence = getattr(est.embedder_, "licence", None)
    return licence or None


def describe(name, est):
    """What ``GET /v1/models`` lists for one model."""
    fc = _features(est)
    task = _task(est)
    out = {"name": name, "kind": getattr(est, "kind", "classifier"), "task": task,
           "classes": [str(c) for c in getattr(est, "classes_", ["anomaly"])]
           if task != "novelty" else ["anomaly"],
           "sample_rate": int(fc.sample_rate), "window_s": float(fc.window_s),
           "hop_s": float(fc.hop_s), "licence": _licence(est),
           "recipe": str(getattr(est, "recipe", "")) or None}
    if hasattr(est, "members_"):
        out["members"] = [{"recipe": str(m.recipe), "window_s": float(m.features_.window_s)}
                          for m in est.members_]
        out["windows"] = False      # an ensemble scores whole files only
    else:
        out["windows"] = True
    if task == "tagging":
        out["thresholds"] = {str(c): float(t) for c, t in zip(est.classes_, est.thresholds_)}
    if task == "novelty":
        out["threshold"] = float(est.file_threshold_)
        out["window_threshold"] = float(est.threshold_)
        out["false_alarms"] = str(est.false_alarms)
    return out


def _row_error(table):
    errors = table["error"].dropna()
    if len(errors):
        raise EarmarkError(str(errors.iloc[0]))


def _scores(row, classes):
    return {str(c): float(row[c]) for c in classes}


def _labelled(est, source, windows):
    """Classifier, tagger, ensemble: the answer, its scores, and optionally every window's."""
    classes = list(est.classes_)
    tagging = _task(est) == "tagging"
    column = "labels" if tagging else "label"
    table = est.predict_table([source], progress=False)
    _row_error(table)
    row = table.iloc[0]
    out = {"scores": _scores(row, classes)}
    if tagging:
        out["labels"] = [t for t in str(row["labels"]).split(";") if t]
        out["thresholds"] = {str(c): float(t) for c, t in zip(classes, est.thresholds_)}
    else:
        out["label"] = str(row["label"])
    if windows and not hasattr(est, "members_"):
        wt = est.predict_table([source], windows=True, progress=False)
        _row_error(wt)
        out["windows"] = [
            {"start_s": float(r["start_s"]), "end_s": float(r["end_s"]),
             **({"labels": [t for t in str(r[column]).split(";") if t]} if tagging
                else {"label": str(r[column])}),
             "scores": _scores(r, classes)} for _, r in wt.iterrows()]
    return out


def _pooled(scores, step_s, limit=MAX_FRAMES):
    """Frame scores (n, k) max-pooled to at most ``limit`` frames; returns (scores, step)."""
    n = len(scores)
    if n <= limit:
        return scores, step_s
    factor = math.ceil(n / limit)
    pad = (-n) % factor
    padded = np.concatenate([scores, np.full((pad, scores.shape[1]), -np.inf)])
    return padded.reshape(-1, factor, scores.shape[1]).max(axis=1), step_s * factor


def _events(events):
    return [{"onset": round(float(a), 6), "offset": round(float(b), 6), "label": str(lab),
             "score": round(float(s), 6)} for a, b, lab, s in events]


def _detection(est, source, windows):
    fs = est.frame_scores(source)
    if not np.all(np.isfinite(fs.scores)):
        raise EarmarkError(f"{source[0]}: the model gave NaN or infinite scores for this audio")
    out = {"events": _events(est.events(fs))}
    if windows:
        pooled, step = _pooled(np.asarray(fs.scores, np.float64), fs.frame_step_s)
        out["frames"] = {"frame_step_s": float(step), "classes": [str(c) for c in est.classes_],
                         "scores": np.round(pooled, 5).tolist()}
    return out


def _novelty(est, source, windows):
    table = est.predict_table([source], progress=False)
    _row_error(table)
    row = table.iloc[0]
    out = {"score": float(row["score"]), "tail_probability": float(row["tail_probability"]),
           "anomalous": bool(row["anomalous"]), "threshold": float(est.file_threshold_)}
    if windows:
        starts, scores = est.score_windows(source)
        win = float(est.features_.window_s)
        tail = est.tail_probability(scores)
        out["events"] = _events(est.events(starts, scores))
        out["windows"] = [{"start_s": round(float(s), 6), "end_s": round(float(s) + win, 6),
                           "score": float(v), "tail_probability": float(p),
                           "anomalous": bool(v > est.threshold_)}
                          for s, v, p in zip(starts, scores, tail)]
        out["window_threshold"] = float(est.threshold_)
    return out


def answer(est, path, *, windows=False):
    """The task's answer for the audio file at ``path`` (a dict).

    Classification: ``label``, ``scores``; tagging: ``labels``, ``scores``, ``thresholds``;
    detection: ``events`` (onset, offset, label, score); novelty: ``score``,
    ``tail_probability``, ``anomalous``, ``threshold``. With ``windows`` also the window
    scores (``windows``), the frame scores (detection, ``frames``) or the anomalous stretches
    (novelty, ``events``).

    Raises
    ------
    EarmarkError
        The audio cannot be decoded or scored (the message names ``path``).
    """
    source = Source(path)
    task = _task(est)
    if task == "detection":
        return _detection(est, source, windows)
    if task == "novelty":
        return _novelty(est, source, windows)
    return _labelled(est, source, windows)


def spectrogram(est, path, *, max_s):
    """A small log-mel image of the audio at the model's rate (what the page draws): uint8
    rows (low band first), base64, with the dB range and the column step; None for audio
    longer than ``max_s``."""
    from ..audio import info, load
    from ..features import log_mel

    fc = _features(est)
    if info(path).duration_s > max_s:
        return None
    y, sr = load(path, sample_rate=fc.sample_rate)
    n_fft = 1024 if sr >= 32000 else 512
    hop = n_fft // 2
    db = log_mel(y, sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=64, top_db=80.0)
    step = hop / sr
    if db.shape[1] > _MAX_SPEC_COLUMNS:
        factor = math.ceil(db.shape[1] / _MAX_SPEC_COLUMNS)
        pad = (-db.shape[1]) % factor
        db = np.pad(db, ((0, 0), (0, pad)), constant_values=db.min())
        db = db.reshape(db.shape[0], -1, factor).max(axis=2)
        step *= factor
    hi = float(db.max())
    lo = hi - 80.0
    img = np.clip((db - lo) / 80.0 * 255.0, 0, 255).astype(np.uint8)
    return {"n_mels": int(img.shape[0]), "n_frames": int(img.shape[1]),
            "frame_step_s": float(step), "db_min": lo, "db_max": hi,
            "data": base64.b64encode(np.ascontiguousarray(img).tobytes()).decode("ascii")}
