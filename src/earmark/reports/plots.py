"""The report's figures, drawn with matplotlib (Agg) and returned as PNG ``data:`` URIs.

Figures are built with :class:`matplotlib.figure.Figure` rather than ``pyplot``: no global figure
state, no interactive backend, nothing left open when a report is written from a notebook or a
server thread.
"""

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .html import data_uri

__all__ = ["confusion_matrix_png", "reliability_png", "fold_spread_png", "training_curves_png",
           "spectrogram_png", "class_balance_png", "histogram_png", "history_curves_png",
           "precision_recall_png", "PALETTE"]

#: Colour-blind-safe categorical palette (Okabe & Ito) used for folds and classes.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#8C564B", "#7F7F7F"]

_RC = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
       "axes.titlesize": 10, "axes.titleweight": "semibold", "axes.labelcolor": "#333",
       "xtick.color": "#444", "ytick.color": "#444", "axes.edgecolor": "#888"}


def _figure(w_in, h_in):
    fig = Figure(figsize=(w_in, h_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig, *, dpi=100):
    buf = io.BytesIO()
    # No 'Software' metadata: the same data gives byte-identical images.
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return data_uri(buf.getvalue(), "image/png")


def _style(ax):
    for key, value in _RC.items():
        if key.startswith("axes.spines."):
            ax.spines[key.rsplit(".", 1)[1]].set_visible(value)
    ax.tick_params(labelsize=8)


def confusion_matrix_png(cm, labels, *, normalize=False):
    """Heat map of a confusion matrix (rows true, columns predicted).

    ``normalize=True`` divides each row by its total, so the diagonal is each class's recall.
    """
    cm = np.asarray(cm, dtype=float)
    n = len(labels)
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        shown = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    else:
        shown = cm
    side = float(np.clip(1.6 + 0.42 * n, 3.6, 15))
    fig = _figure(side + 0.9, side)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(1.0, shown.max()))
    ax.set_xticks(range(n), labels=labels, rotation=45 if n > 3 else 0,
                  ha="right" if n > 3 else "center", fontsize=8)
    ax.set_yticks(range(n), labels=labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("row-normalised (recall on the diagonal)" if normalize else "counts")
    if n <= 25:
        thresh = (1 if normalize else max(1.0, shown.max())) * 0.55
        for i in range(n):
            for j in range(n):
                v = shown[i, j]
                if not normalize and v == 0:
                    continue
                text = f"{v:.2f}" if normalize else f"{int(v)}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7 if n > 12 else 8,
                        color="white" if v > thresh else "#1c2430")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _png(fig)


def reliability_png(bins):
    """Reliability diagram (accuracy against confidence per bin) above a confidence histogram.

    ``bins`` is what :func:`earmark.reports.evaluation.reliability_bins` returns.
    """
    edges = np.asarray(bins["edges"])
    acc = np.asarray([np.nan if a is None else a for a in bins["accuracy"]], dtype=float)
    counts = np.asarray(bins["count"])
    centers = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    fig = _figure(4.6, 4.6)
    gs = fig.add_gridspec(2, 1, height_ratios=[3, 1])
    ax = fig.add_subplot(gs[0])
    _style(ax)
    ax.plot([0, 1], [0, 1], ls="--", color="#999", lw=1, label="perfectly calibrated")
    ok = ~np.isnan(acc)
    ax.bar(centers[ok], acc[ok], width=width * 0.92, color="#2f6fdf", alpha=0.85,
           label="accuracy in bin")
    conf = np.asarray([np.nan if c is None else c for c in bins["confidence"]], dtype=float)
    ax.bar(centers[ok], conf[ok] - acc[ok], bottom=acc[ok], width=width * 0.92, color="#d2453a",
           alpha=0.25, label="gap to confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability (ECE {bins['ece']:.3f})")
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    ax2 = fig.add_subplot(gs[1], sharex=ax)
    _style(ax2)
    ax2.bar(centers, counts, width=width * 0.92, color="#7a8aa6")
    ax2.set_xlabel("confidence (top-1 score)")
    ax2.set_ylabel("clips")
    return _png(fig)


def fold_spread_png(folds, metrics):
    """Each fold's value of each metric as a dot, with the mean ± std as a bar."""
    fig = _figure(1.6 + 1.3 * len(metrics), 2.6)
    ax = fig.add_subplot()
    _style(ax)
    for k, (key, name) in enumerate(metrics):
        values = np.asarray([f[key] for f in folds], dtype=float)
        if len(values) == 0:
            continue
        offsets = np.linspace(-0.18, 0.18, len(values)) if len(values) > 1 else np.zeros(1)
        for i, v in enumerate(values):
            ax.scatter(k + offsets[i], v, s=26, color=PALETTE[i % len(PALETTE)], zorder=3,
                       label=str(folds[i]["fold"]) if k == 0 else None)
        m, s = values.mean(), values.std()
        ax.errorbar(k, m, yerr=s, fmt="_", markersize=28, color="#1c2430", capsize=6, zorder=2)
    ax.set_xticks(range(len(metrics)), labels=[name for _, name in metrics])
    ax.set_xlim(-0.6, len(metrics) - 0.4)
    lowest = min((f[key] for f in folds for key, _ in metrics), default=0.0)
    # Zoom on the range the folds span (in steps of 0.1) so a small spread stays visible.
    ax.set_ylim(max(0.0, np.floor((lowest - 0.05) * 10) / 10), 1.02)
    ax.set_ylabel("score")
    ax.grid(axis="y", color="#eee")
    if 1 < len(folds) <= 10:
        ax.legend(title="fold", fontsize=7, title_fontsize=7, frameon=False,
                  loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


#: The panels of a classification history: loss, and accuracy on a fixed 0-1 axis.
_CLASSIFICATION_PANELS = (("loss", "train_loss", "val_loss"),
                          ("accuracy", "train_accuracy", "val_accuracy", (0, 1.02)))


def training_curves_png(folds):
    """Loss and accuracy per epoch, one colour per fold; solid train, dashed validation.

    A third panel shows the learning rate when it changes during training. This is
    :func:`history_curves_png` with the loss and accuracy panels (accuracy on a fixed 0-1 axis).
    """
    return history_curves_png(folds, _CLASSIFICATION_PANELS, integer_epochs=False)


def spectrogram_png(S_db, *, sample_rate, hop_length, fmax, title=None, width_in=4.2,
                    height_in=1.9):
    """Log-mel spectrogram (n_mels, frames) in dB with a time axis in seconds and a frequency axis
    in kHz at the mel band centres."""
    import librosa  # only for the mel band centre frequencies

    S_db = np.asarray(S_db)
    n_mels, frames = S_db.shape
    fig = _figure(width_in, height_in)
    ax = fig.add_subplot()
    _style(ax)
    duration = frames * hop_length / sample_rate
    ax.imshow(S_db, origin="lower", aspect="auto", cmap="magma",
              extent=(0, duration, -0.5, n_mels - 0.5), interpolation="nearest",
              vmin=S_db.max() - 80, vmax=S_db.max())
    freqs = librosa.mel_frequencies(n_mels=n_mels, fmin=0.0, fmax=fmax)
    ticks = np.unique(np.linspace(0, n_mels - 1, 5).round().astype(int))
    ax.set_yticks(ticks, labels=[f"{freqs[t] / 1000:.1f}" for t in ticks])
    ax.set_ylabel("kHz")
    ax.set_xlabel("s")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    if title:
        ax.set_title(title)
    return _png(fig, dpi=90)


def class_balance_png(counts):
    """Horizontal bars of clips per class, largest first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    n = len(items)
    fig = _figure(6.0, float(np.clip(0.6 + 0.28 * n, 1.6, 16)))
    ax = fig.add_subplot()
    _style(ax)
    y = np.arange(n)
    values = [v for _, v in items]
    ax.barh(y, values, color="#2f6fdf", height=0.7)
    ax.set_yticks(y, labels=[k for k, _ in items], fontsize=8 if n < 40 else 6)
    ax.invert_yaxis()
    ax.set_xlabel("clips")
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v}", va="center", fontsize=7, color="#333")
    ax.set_xlim(0, max(values or [1]) * 1.12)
    return _png(fig)


def histogram_png(groups, *, xlabel, bins=30, title=None, log_x=False):
    """Histogram of values, stacked by group when there are at most 10 groups.

    ``groups`` maps a name to a list of finite values.
    """
    fig = _figure(4.6, 2.8)
    ax = fig.add_subplot()
    _style(ax)
    all_values = np.concatenate([np.asarray(v, float) for v in groups.values()] or [np.zeros(0)])
    if all_values.size == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return _png(fig)
    lo, hi = float(all_values.min()), float(all_values.max())
    if log_x and lo > 0 and hi / lo > 20:
        edges = np.geomspace(lo, hi, bins + 1)
        ax.set_xscale("log")
    else:
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
    if 1 < len(groups) <= 10:
        names = sorted(groups)
        ax.hist([groups[k] for k in names], bins=edges, stacked=True, label=names,
                color=[PALETTE[i % len(PALETTE)] for i in range(len(names))])
        ax.legend(fontsize=7, frameon=False)
    else:
        ax.hist(all_values, bins=edges, color="#2f6fdf")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("files")
    if title:
        ax.set_title(title)
    return _png(fig)


def history_curves_png(folds, panels, *, integer_epochs=True):
    """Per-epoch curves, one panel per metric and one colour per fold; solid train, dashed
    validation.

    ``panels`` is a list of ``(title, train_key, val_key)``, or ``(title, train_key, val_key,
    (y_min, y_max))`` for a fixed y axis: the keys of the history dicts drawn in that panel (a
    missing or None value leaves a gap). A last panel shows the learning rate when it changes
    during training. ``integer_epochs`` puts the epoch ticks on whole numbers.
    :func:`training_curves_png` is this with the loss and accuracy panels.
    """
    with_history = [f for f in folds if f.get("history")]
    lr_varies = any(len({h.get("lr") for h in f["history"]}) > 1 for f in with_history)
    n_axes = len(panels) + lr_varies
    fig = _figure(3.6 * max(1, n_axes), 3.0)
    axes = fig.subplots(1, max(1, n_axes), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        name, train_key, val_key = panel[:3]
        _style(ax)
        for i, f in enumerate(with_history):
            color = PALETTE[i % len(PALETTE)]
            ep = [h["epoch"] for h in f["history"]]
            tr = [np.nan if h.get(train_key) is None else h[train_key] for h in f["history"]]
            va = [np.nan if h.get(val_key) is None else h[val_key] for h in f["history"]]
            ax.plot(ep, tr, color=color, lw=1.4, label=str(f["fold"]))
            if not np.all(np.isnan(va)):
                ax.plot(ep, va, color=color, lw=1.4, ls="--")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(color="#eee")
        if len(panel) > 3:
            ax.set_ylim(*panel[3])
        if integer_epochs:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if lr_varies:
        ax = axes[-1]
        _style(ax)
        for i, f in enumerate(with_history):
            ax.plot([h["epoch"] for h in f["history"]], [h.get("lr") for h in f["history"]],
                    color=PALETTE[i % len(PALETTE)], lw=1.4)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("learning rate")
        ax.grid(color="#eee")
    handles, names = axes[0].get_legend_handles_labels()
    if len(with_history) <= 10:
        from matplotlib.lines import Line2D
        handles += [Line2D([], [], color="#555", lw=1.4), Line2D([], [], color="#555", ls="--")]
        names += ["train", "validation"]
        fig.legend(handles, names, loc="outside right center", fontsize=7, frameon=False,
                   title="fold", title_fontsize=7)
    return _png(fig)


def _short(text, n=24):
    text = str(text)
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def precision_recall_png(curves):
    """Small multiples of precision-recall curves, one panel per class, in the order given.

    ``curves`` is a list of dicts with ``label``; ``recall`` and ``precision`` (the arrays of
    ``sklearn.metrics.precision_recall_curve``, or None for a class without a positive clip);
    ``ap`` (float or None); ``prevalence`` (the share of positive clips: the precision of
    tagging every clip, drawn dotted); and optionally ``operating_point`` ``(recall,
    precision)`` with its ``threshold``, drawn as a red dot.
    """
    n = len(curves)
    cols = max(1, min(n, 4 if n <= 16 else 6))
    rows = max(1, -(-n // cols))
    w, h = (2.55, 2.25) if cols <= 4 else (2.1, 1.9)
    fig = _figure(0.5 + cols * w, 0.45 + rows * h)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, c in zip(axes.flat, curves):
        _style(ax)
        ax.set_xlim(-0.02, 1.03)
        ax.set_ylim(-0.02, 1.05)
        ax.grid(color="#eee")
        ax.set_xticks([0, 0.5, 1], labels=["0", "0.5", "1"])
        ax.set_yticks([0, 0.5, 1], labels=["0", "0.5", "1"])
        ap, name = c.get("ap"), _short(c["label"], 22 if cols <= 4 else 15)
        ax.set_title(f"{name}  AP {ap:.3f}" if ap is not None else name, fontsize=8.5)
        if c.get("recall") is None:
            ax.text(0.5, 0.5, "no positive clip", ha="center", va="center", fontsize=8,
                    color="#5d6b7e", transform=ax.transAxes)
            continue
        ax.plot(c["recall"], c["precision"], drawstyle="steps-post", color=PALETTE[0], lw=1.5)
        ax.fill_between(c["recall"], c["precision"], step="post", color=PALETTE[0], alpha=0.08)
        if c.get("prevalence") is not None:
            ax.axhline(c["prevalence"], color="#999", lw=1, ls=":")
        point = c.get("operating_point")
        if point is not None and point[1] is not None:
            ax.scatter([point[0]], [point[1]], s=30, color="#d2453a", edgecolor="white",
                       linewidth=0.8, zorder=4, clip_on=False)
            if c.get("threshold") is not None:
                ha = "right" if point[0] > 0.6 else "left"
                ax.annotate(f"{c['threshold']:.2f}", (point[0], point[1]), fontsize=7,
                            color="#a3281e", xytext=(-5 if ha == "right" else 5, -9),
                            textcoords="offset points", ha=ha)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    if n == 0:
        axes[0, 0].text(0.5, 0.5, "no classes", ha="center", va="center")
    fig.supxlabel("recall", fontsize=9)
    fig.supylabel("precision", fontsize=9)
    # many classes: a coarser image keeps the report small (the panels stay legible)
    return _png(fig, dpi=100 if n <= 48 else 72)
