"""The figures of the sound event detection report, drawn like those of :mod:`.plots`.

Two figures: the PSD-ROC curve of each fold, and one figure per example recording that stacks
its log-mel spectrogram, its reference and detected events (a lane per class) and the model's
frame scores per class on one time axis, so a reader sees what was there, what the model found
and how sure it was at each moment.
"""

import numpy as np

from .plots import PALETTE, _figure, _png, _style

__all__ = ["psd_roc_png", "example_figure", "example_png", "class_colours"]


def class_colours(labels):
    """``{label: colour}``: one palette colour per class in ``labels`` order (cycled), so a
    class keeps its colour in every figure of a report.

    Examples
    --------
    >>> class_colours(["dog", "bird"])
    {'dog': '#0072B2', 'bird': '#E69F00'}
    """
    return {str(c): PALETTE[i % len(PALETTE)] for i, c in enumerate(labels)}


def psd_roc_png(folds):
    """The PSD-ROC curve (effective false positive rate per hour against true positive rate)
    of each fold, one colour per fold, as a step curve.

    ``folds`` is a list of dicts with ``fold``, ``psd_roc`` (``{"efpr": [...], "tpr": [...]}``,
    or missing/None for a fold without one) and optionally ``psds1``, shown in the legend.

    Examples
    --------
    >>> psd_roc_png([{"fold": "1", "psds1": 0.4,
    ...               "psd_roc": {"efpr": [0.0, 10.0, 60.0], "tpr": [0.1, 0.5, 0.7]}}])[:22]
    'data:image/png;base64,'
    """
    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    _style(ax)
    right = 0.0
    for i, f in enumerate(folds):
        roc = f.get("psd_roc") or {}
        efpr = np.asarray([] if roc.get("efpr") is None else roc["efpr"], dtype=float)
        tpr = np.asarray([] if roc.get("tpr") is None else roc["tpr"], dtype=float)
        if efpr.size == 0:
            continue
        order = np.argsort(efpr, kind="stable")
        psds = f.get("psds1")
        name = f"fold {f['fold']}" + ("" if psds is None else f" (PSDS1 {psds:.3f})")
        ax.step(efpr[order], tpr[order], where="post", color=PALETTE[i % len(PALETTE)], lw=1.5,
                label=name)
        right = max(right, float(efpr.max()))
    if right == 0.0:
        ax.text(0.5, 0.5, "no PSD-ROC in this result", ha="center", va="center",
                transform=ax.transAxes, color="#5d6b7e")
    ax.set_xlim(0, right if right > 0 else 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("effective false positive rate (per hour)")
    ax.set_ylabel("true positive rate")
    ax.grid(color="#eee")
    if ax.get_legend_handles_labels()[0] and len(folds) <= 10:
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _png(fig)


def _lanes(ax, events, classes, colours, *, title, until_s, with_score=False):
    lane = {c: k for k, c in enumerate(classes)}
    for ev in events:
        onset, offset, label = float(ev[0]), float(ev[1]), str(ev[2])
        if label not in lane or onset >= until_s:
            continue
        offset = min(offset, until_s)
        # a detection's bar is as opaque as the model was sure of it
        score = ev[3] if with_score and len(ev) > 3 else None
        alpha = 0.9 if score is None else 0.35 + 0.65 * min(1.0, max(0.0, float(score)))
        ax.broken_barh([(onset, max(offset - onset, 0.0))], (lane[label] - 0.38, 0.76),
                       facecolors=colours[label], alpha=alpha, edgecolor="none")
    ax.set_yticks(range(len(classes)), labels=classes, fontsize=7.5)
    if not classes:
        ax.text(0.5, 0.5, "no event", ha="center", va="center", fontsize=7.5, color="#5d6b7e",
                transform=ax.transAxes)
    ax.set_ylim(max(1, len(classes)) - 0.5, -0.5)
    ax.set_ylabel(title, fontsize=8)
    ax.grid(axis="x", color="#eee")


def example_figure(*, classes, reference, detected, scores, frame_step_s, duration_s,
                   spectrogram=None, thresholds=None, colours=None, title=None):
    """The figure of one recording: spectrogram, reference and detected events, frame scores.

    Parameters
    ----------
    classes : list of str
        The classes drawn, top to bottom: a lane each in the event panels and a curve each in
        the score panel.
    reference, detected : list of list
        ``[onset_s, offset_s, label]`` and ``[onset_s, offset_s, label, score]``. Events of
        other classes, or starting after ``duration_s``, are not drawn; events running past it
        are cut there.
    scores : dict
        ``{label: [score per frame]}``; frame ``i`` covers ``[i * frame_step_s, (i + 1) *
        frame_step_s)``. Frames starting after ``duration_s`` are not drawn.
    frame_step_s : float
        The time between frames.
    duration_s : float
        The end of the shared time axis.
    spectrogram : dict or None
        ``{"S_db": (n_mels, frames) array, "sample_rate", "hop_length", "fmax"}``: drawn on
        top; None (an unreadable recording) leaves the panel out.
    thresholds : dict or None
        ``{label: onset threshold}``, drawn dashed in the score panel.
    colours : dict or None
        ``{label: colour}`` (default: :func:`class_colours` of ``classes``).

    Returns
    -------
    matplotlib.figure.Figure
        Its axes, top to bottom: spectrogram (when given), reference, detected, scores; all
        share the x axis ``(0, duration_s)``.

    Examples
    --------
    >>> fig = example_figure(classes=["dog"], reference=[[1.0, 2.0, "dog"]],
    ...                      detected=[[1.1, 2.2, "dog", 0.8]], scores={"dog": [0.1, 0.9, 0.2]},
    ...                      frame_step_s=1.0, duration_s=3.0)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['reference', 'detected', 'score']
    """
    classes = [str(c) for c in classes]
    colours = colours or class_colours(classes)
    n = max(1, len(classes))
    lane_h = 0.28 + 0.2 * n
    heights = ([1.9] if spectrogram is not None else []) + [lane_h, lane_h, 1.7]
    fig = _figure(10.6, sum(heights) + 0.7)
    axes = fig.subplots(len(heights), 1, sharex=True,
                        gridspec_kw={"height_ratios": heights})
    k = 0
    if spectrogram is not None:
        import librosa  # only for the mel band centre frequencies

        ax = axes[0]
        _style(ax)
        S_db = np.asarray(spectrogram["S_db"])
        n_mels, frames = S_db.shape
        end = frames * spectrogram["hop_length"] / spectrogram["sample_rate"]
        ax.imshow(S_db, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                  extent=(0, end, -0.5, n_mels - 0.5), vmin=S_db.max() - 80, vmax=S_db.max())
        freqs = librosa.mel_frequencies(n_mels=n_mels, fmin=0.0, fmax=spectrogram["fmax"])
        ticks = np.unique(np.linspace(0, n_mels - 1, 4).round().astype(int))
        ax.set_yticks(ticks, labels=[f"{freqs[t] / 1000:.1f}" for t in ticks])
        ax.set_ylabel("kHz", fontsize=8)
        k = 1
    ref_ax, det_ax, score_ax = axes[k], axes[k + 1], axes[k + 2]
    for ax in (ref_ax, det_ax, score_ax):
        _style(ax)
    _lanes(ref_ax, reference, classes, colours, title="reference", until_s=duration_s)
    _lanes(det_ax, detected, classes, colours, title="detected", until_s=duration_s,
           with_score=True)
    step = float(frame_step_s)
    for label in classes:
        values = scores.get(label)
        values = np.asarray([] if values is None else values, dtype=float)
        values = values[: max(0, int(np.ceil(duration_s / step - 1e-9)))]
        if values.size:
            edges = np.minimum(np.arange(values.size + 1) * step, duration_s)
            score_ax.stairs(values, edges, color=colours[label], lw=1.3, label=label)
        if thresholds and thresholds.get(label) is not None:
            score_ax.axhline(float(thresholds[label]), color=colours[label], lw=0.9, ls="--",
                             alpha=0.8)
    score_ax.set_ylim(-0.02, 1.02)
    score_ax.set_yticks([0, 0.5, 1], labels=["0", "0.5", "1"])
    score_ax.set_ylabel("score", fontsize=8)
    score_ax.set_xlabel("s")
    score_ax.grid(color="#eee")
    if classes and len(classes) <= 10:
        score_ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    score_ax.set_xlim(0, duration_s)
    if title:
        axes[0].set_title(title, loc="left")
    return fig


def example_png(**kwargs):
    """:func:`example_figure` as a PNG ``data:`` URI (same keyword arguments).

    Examples
    --------
    >>> example_png(classes=["dog"], reference=[[1.0, 2.0, "dog"]], detected=[],
    ...             scores={"dog": [0.1, 0.9, 0.2]}, frame_step_s=1.0, duration_s=3.0)[:22]
    'data:image/png;base64,'
    """
    return _png(example_figure(**kwargs), dpi=96)
