"""The figures of the novelty detection report, drawn like those of :mod:`.plots`.

Two figures: the anomaly scores of each test fold as histograms of normal and anomalous clips
with the fold's file threshold marked (scores of different folds come from different scorers,
so each fold has its own panel), and each fold's ROC curve with the operating point at its
threshold.
"""

import numpy as np

from .plots import PALETTE, _figure, _png, _style

__all__ = ["score_histograms_png", "roc_curves_png", "NORMAL_COLOUR", "ANOMALY_COLOUR"]

NORMAL_COLOUR = PALETTE[0]
ANOMALY_COLOUR = PALETTE[3]


def score_histograms_png(panels, *, bins=24):
    """Small multiples, one per fold: histograms of the normal and the anomalous clips' scores
    and a vertical line at the threshold.

    ``panels`` is a list of dicts with ``fold``, ``normal`` and ``anomalous`` (lists of
    scores) and ``threshold`` (float or None).

    Examples
    --------
    >>> score_histograms_png([{"fold": "1", "normal": [0.1, 0.2], "anomalous": [0.9],
    ...                        "threshold": 0.5}])[:22]
    'data:image/png;base64,'
    """
    n = max(1, len(panels))
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(0.4 + 3.1 * cols, 0.5 + 2.3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, p in zip(axes.flat, panels):
        _style(ax)
        normal = np.asarray(p["normal"], float)
        anomalous = np.asarray(p["anomalous"], float)
        both = np.concatenate([normal, anomalous])
        if not both.size:
            ax.text(0.5, 0.5, "no clips", ha="center", va="center", transform=ax.transAxes)
            continue
        lo, hi = float(both.min()), float(both.max())
        if p.get("threshold") is not None:
            lo, hi = min(lo, float(p["threshold"])), max(hi, float(p["threshold"]))
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        if normal.size:
            ax.hist(normal, bins=edges, color=NORMAL_COLOUR, alpha=0.6,
                    label=f"normal ({normal.size})")
        if anomalous.size:
            ax.hist(anomalous, bins=edges, color=ANOMALY_COLOUR, alpha=0.6,
                    label=f"anomalous ({anomalous.size})")
        if p.get("threshold") is not None:
            ax.axvline(float(p["threshold"]), color="#1c2430", lw=1.4, ls="--",
                       label="threshold")
        ax.set_title(f"fold {p['fold']}")
        ax.set_xlabel("anomaly score")
        ax.set_ylabel("clips")
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    return _png(fig)


def roc_curves_png(curves):
    """The ROC curve of each fold, one colour per fold, its operating point (false-alarm rate,
    recall at the threshold) as a dot, and the chance diagonal.

    ``curves`` is a list of dicts with ``fold``, ``fpr`` and ``tpr`` (arrays of
    :func:`sklearn.metrics.roc_curve`, or None for a fold without both kinds of clip),
    ``roc_auc`` and ``operating_point`` (``(fpr, tpr)`` or None).

    Examples
    --------
    >>> roc_curves_png([{"fold": "1", "fpr": [0, 0, 1], "tpr": [0, 1, 1], "roc_auc": 1.0,
    ...                  "operating_point": (0.0, 1.0)}])[:22]
    'data:image/png;base64,'
    """
    fig = _figure(4.8, 3.8)
    ax = fig.add_subplot()
    _style(ax)
    ax.plot([0, 1], [0, 1], color="#bbb", lw=1, ls=":")
    for i, c in enumerate(curves):
        colour = PALETTE[i % len(PALETTE)]
        if c.get("fpr") is None:
            continue
        auc = c.get("roc_auc")
        ax.plot(c["fpr"], c["tpr"], color=colour, lw=1.5, drawstyle="steps-post",
                label=f"fold {c['fold']}" + ("" if auc is None else f" (AUC {auc:.3f})"))
        point = c.get("operating_point")
        if point is not None:
            ax.scatter([point[0]], [point[1]], s=28, color=colour, edgecolor="#1c2430",
                       linewidth=0.8, zorder=4, clip_on=False)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.03)
    ax.set_xlabel("false-alarm rate (normal clips flagged)")
    ax.set_ylabel("recall (anomalous clips flagged)")
    ax.grid(color="#eee")
    if any(c.get("fpr") is not None for c in curves):
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(fig)
