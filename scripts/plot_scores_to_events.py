"""Draw how frame scores become events (docs/images/scores-to-events.png).

    python scripts/plot_scores_to_events.py [out.png]

A synthetic score curve of one class, its median-filtered version, the onset and offset
thresholds, and the events earmark's decoder finds: a dip between the thresholds does not end
an event (hysteresis), a one-frame spike is filtered away, two parts separated by a short gap
are merged, and a too-short event is dropped. The events come from
``earmark.inference.decode_events`` itself, so the picture shows what the code does.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.ndimage import median_filter  # noqa: E402

from earmark.inference import PostProcessing, decode_events  # noqa: E402

STEP = 0.05
ONSET, OFFSET, MEDIAN_S, MIN_DUR_S, MIN_GAP_S = 0.6, 0.35, 0.25, 0.3, 0.3
BOX = dict(boxstyle="square,pad=0.15", fc="white", ec="none", alpha=0.85)
ARROW = dict(arrowstyle="->", lw=0.8, relpos=(0.5, 0.0), shrinkA=2)
OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "scores-to-events.png"


def curve():
    t = np.arange(160) * STEP                     # 8 s at 20 frames per second
    rng = np.random.default_rng(3)
    x = 0.08 + 0.04 * rng.standard_normal(len(t))

    def bump(a, b, level):
        x[(t >= a - 1e-9) & (t < b - 1e-9)] = level + 0.04 * rng.standard_normal(
            int(np.sum((t >= a - 1e-9) & (t < b - 1e-9))))

    bump(0.8, 2.6, 0.85)
    bump(1.5, 1.8, 0.47)                          # a dip between the thresholds
    x[int(round(3.4 / STEP))] = 0.92              # a one-frame spike
    bump(4.0, 4.9, 0.8)
    bump(5.1, 5.9, 0.75)                          # after a 0.2 s gap: merged
    bump(6.8, 7.05, 0.7)                          # 0.25 s: too short
    return t, np.clip(x, 0, 1)


def main(out=OUT):
    t, x = curve()
    n = len(x)
    k = 5                                         # 0.25 s at 0.05 s per frame
    filtered = median_filter(x, size=k, mode="nearest")
    pp = PostProcessing((ONSET,), (OFFSET,), (MEDIAN_S,), (MIN_DUR_S,), (MIN_GAP_S,))
    loose = PostProcessing((ONSET,), (OFFSET,), (MEDIAN_S,), (0.0,), (0.0,))
    events = decode_events(x[:, None], frame_step_s=STEP, classes=["bird"], postprocessing=pp)
    parts = decode_events(x[:, None], frame_step_s=STEP, classes=["bird"], postprocessing=loose)

    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=100)
    edges = np.arange(n + 1) * STEP
    ax.stairs(x, edges, color="0.6", lw=1, label="frame scores")
    ax.stairs(filtered, edges, color="tab:blue", lw=2, label=f"median filter ({MEDIAN_S} s)")
    ax.axhline(ONSET, color="tab:red", ls="--", lw=1)
    ax.axhline(OFFSET, color="tab:orange", ls="--", lw=1)
    ax.text(8.05, ONSET, "onset\nthreshold", color="tab:red", va="center", fontsize=8)
    ax.text(8.05, OFFSET, "offset\nthreshold", color="tab:orange", va="center", fontsize=8)
    for i, (on, off, _, _) in enumerate(events):
        ax.axvspan(on, off, color="tab:green", alpha=0.18, lw=0,
                   label="events" if i == 0 else None)
    kept = [(on, off) for on, off, _, _ in events]
    for on, off, _, _ in parts:
        inside = [e for e in kept if e[0] <= on and off <= e[1]]
        if not inside:
            ax.axvspan(on, off, facecolor="none", edgecolor="tab:red", hatch="///", lw=0,
                       label="dropped")
            ax.annotate(f"shorter than {MIN_DUR_S} s:\ndropped", xy=((on + off) / 2, 0.72),
                        xytext=((on + off) / 2, 0.98), ha="center", fontsize=8,
                        va="bottom", arrowprops=ARROW, bbox=BOX)
    for a, b in zip(parts[:-1], parts[1:]):
        gap = (a[1], b[0])
        if any(e[0] <= gap[0] and gap[1] <= e[1] for e in kept):
            ax.annotate(f"gap < {MIN_GAP_S} s:\nmerged", xy=(sum(gap) / 2, 0.3),
                        xytext=(sum(gap) / 2, 0.98), ha="center", fontsize=8,
                        va="bottom", arrowprops=ARROW, bbox=BOX)
    ax.annotate("dip above the offset\nthreshold: goes on", xy=(1.65, 0.47), xytext=(1.65, 0.98),
                ha="center", fontsize=8, va="bottom", arrowprops=ARROW, bbox=BOX)
    ax.annotate("one-frame spike:\nfiltered away", xy=(3.43, 0.9), xytext=(3.2, 0.98),
                ha="center", fontsize=8, va="bottom", arrowprops=ARROW, bbox=BOX)
    ax.set_xlim(0, n * STEP)
    ax.set_ylim(0, 1.22)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return events


if __name__ == "__main__":
    for event in main(*sys.argv[1:]):
        print(event)
