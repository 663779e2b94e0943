"""Suggestions drawn from a dataset inspection: window length, class balance, sample rates."""

import numpy as np

__all__ = ["suggest_window", "extra_suggestions"]

# Window lengths people actually use; a suggestion snaps to one of them.
_NICE_WINDOWS_S = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0)


def suggest_window(durations_s):
    """Suggest an analysis window length and hop (seconds) from clip durations.

    The window is the shortest common length (0.25, 0.5, 1, 2, 3, 4, 5 or 10 s) that holds the
    median clip (allowing the clip 10 % more than the window), or 10 s for longer clips; the hop
    is half the window. A window that holds the whole of a typical clip keeps an onset and what
    follows it together: shorter clips are zero-padded, which costs little, while cutting
    one-shots into windows shorter than the sound leaves windows of decaying tail labelled as
    the class (on the drums benchmark, 0.5-s windows on clips of about 0.8 s scored 0.66-0.84
    where 1-s windows scored 0.73-0.91 on the same folds).

    Returns
    -------
    (window_s, hop_s, text) or None
        None when there are no positive durations.

    Examples
    --------
    >>> suggest_window([0.7, 0.8, 0.9])[:2]
    (1.0, 0.5)
    >>> suggest_window([2.0, 2.0, 2.1])[:2]
    (2.0, 1.0)
    >>> suggest_window([0.1, 0.1])[:2]
    (0.25, 0.125)
    """
    d = np.asarray([x for x in durations_s if x is not None and x > 0], dtype=float)
    if d.size == 0:
        return None
    median = float(np.median(d))
    p10, p90 = (float(v) for v in np.percentile(d, [10, 90]))
    # a median clip up to 10 % longer than a window still counts as held: 1.05 s gets 1 s
    holding = [w for w in _NICE_WINDOWS_S if 1.1 * w >= median]
    window = holding[0] if holding else _NICE_WINDOWS_S[-1]
    hop = window / 2
    text = (f"Clip durations: median {median:.2f} s "
            f"(10th–90th percentile {p10:.2f}–{p90:.2f} s). "
            f"A window of {window:g} s with a hop of {hop:g} s holds the median clip; shorter "
            "clips are zero-padded, longer ones are scored in several windows and aggregated.")
    if p10 > 0 and p90 / p10 > 8:
        text += (" Durations vary widely: earmark draws one window per clip each epoch, so long "
                 "clips do not outweigh short ones in training.")
    return window, hop, text


def extra_suggestions(inspection):
    """Suggestions the report adds from the per-file table: window length, class imbalance and
    mixed sample rates.

    Examples
    --------
    >>> extra_suggestions({"classes": {"a": {"count": 40}, "b": {"count": 5}},
    ...                    "files": [], "sample_rates": {}})[0][:29]
    'Classes are imbalanced: the l'
    """
    out = []
    window = suggest_window([f.get("duration_s") for f in inspection.get("files", [])])
    if window is not None:
        out.append(window[2])
    counts = {k: v["count"] for k, v in inspection.get("classes", {}).items() if v["count"] > 0}
    if len(counts) > 1:
        big = max(counts, key=lambda k: (counts[k], k))
        small = min(counts, key=lambda k: (counts[k], k))
        ratio = counts[big] / counts[small]
        if ratio >= 3:
            out.append(f"Classes are imbalanced: the largest, '{big}', has {counts[big]} clips and "
                       f"the smallest, '{small}', {counts[small]} (ratio {ratio:.1f}). Judge "
                       "models by balanced accuracy and macro F1, and train with class weights "
                       "or balanced sampling.")
    rates = sorted(int(r) for r, n in (inspection.get("sample_rates") or {}).items() if n)
    if len(rates) > 1:
        out.append(f"Files come at {len(rates)} sample rates ({', '.join(map(str, rates))} Hz). "
                   f"earmark resamples everything to the feature sample_rate; with "
                   f"sample_rate ≤ {rates[0]} Hz every class has content up to the same "
                   "frequency, so the model cannot tell classes apart by their recording "
                   "device's bandwidth.")
    return out
